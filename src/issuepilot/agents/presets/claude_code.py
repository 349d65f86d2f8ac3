"""Claude Code (`@anthropic-ai/claude-code`, the `claude` command) as a governed planner or
executor.

A headless run is `claude --print` with the prompt on stdin and JSON lines on stdout
(`--output-format stream-json --verbose`), ending with a `result` event: `num_turns`,
`usage` and `modelUsage` (tokens), `total_cost_usd`, `result` (the final message) and
`is_error`. What it may do:

- `--restricted`: the checkout's `.claude/settings*.json`, `.mcp.json` and `CLAUDE.md` are
  ignored (a repository's settings can point `ANTHROPIC_BASE_URL` at another host, which
  then receives the key, or add hooks and MCP servers that run commands), the file tools
  stay inside the working directory, and writes to settings, `.git/` and tool
  configuration are refused.
- `--tools`: only the file tools. No shell (the checks are IssuePilot's, run after the
  agent; a shell would let the model run the repository's code, `git commit` and `curl`
  with the key in its environment), no web tools, no subagents. A tool not named is neither
  offered to the model nor run when it asks for it.
- executing, `--permission-mode acceptEdits`: edits inside the working directory go through
  without asking; anything that would ask is refused, since nobody answers in `--print`.
- planning, `--permission-mode dontAsk`: reading, and writing the plan file only (an
  `Edit(...)` rule, which governs every tool that writes a file).

`CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC` stops every request but the model's (without it
the CLI sends telemetry to api.anthropic.com, and may send `HEAD /api/hello` to the
endpoint); the narrower switches are set too, in case a later version splits them off.
"""

import posixpath
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from .base import Install, Invocation, Preset, Report, json_lines

QUIET = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "DISABLE_AUTOUPDATER": "1",
}
READ_TOOLS = "Read,Glob,Grep"


class Tokens(BaseModel):
    """A `usage` object of the Messages API: `input_tokens` leaves out the input read from
    or written to the prompt cache, which is counted, as OpenAI's `prompt_tokens` counts
    it, since it is processed all the same (its lower price is in the cost)."""

    input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    output_tokens: int = 0

    def total(self) -> int:
        return (
            self.input_tokens
            + self.cache_creation_input_tokens
            + self.cache_read_input_tokens
            + self.output_tokens
        )


class ModelTokens(Tokens):
    """One model's share in `modelUsage` (side calls to another model included)."""

    model_config = ConfigDict(alias_generator=to_camel)


class Result(BaseModel):
    """The last line of a run: what it did in all."""

    usage: Tokens = Field(default_factory=Tokens)
    model_usage: dict[str, ModelTokens] = Field(default_factory=dict, alias="modelUsage")
    total_cost_usd: float = 0.0
    result: str | None = None
    is_error: bool = False
    subtype: str = ""
    errors: list[str] | None = None

    def tokens(self) -> int:
        if self.model_usage:
            return sum(model.total() for model in self.model_usage.values())
        return self.usage.total()

    def failure(self) -> str:
        if not self.is_error:
            return ""
        return "; ".join(self.errors or []) or self.result or self.subtype or "error"


class ClaudeCode(Preset):
    name = "claude-code"
    title = "Claude Code"
    install = Install(
        registry="npm", package="@anthropic-ai/claude-code", version="2.1.332", binary="claude"
    )
    keys = ("ANTHROPIC_API_KEY",)
    endpoint = "https://api.anthropic.com"  # the origin: it appends /v1/messages
    # Its project state (`settings.local.json`, worktrees): in this mode it refuses to write
    # under `.claude/` itself, so nothing new there is ever the change.
    leftovers = (".claude/",)

    def argv(self, run: Invocation) -> list[str]:
        argv = [
            run.binary,
            "--print",
            "--output-format=stream-json",
            "--verbose",  # stream-json needs it with --print
            "--restricted",
            "--no-session-persistence",
        ]
        if run.role == "execute":
            argv += [f"--tools={READ_TOOLS},Edit,Write", "--permission-mode=acceptEdits"]
        else:
            plan = posixpath.relpath(run.plan_file, run.workspace)
            argv += [
                f"--tools={READ_TOOLS},Write",
                "--permission-mode=dontAsk",
                f"--allowedTools=Edit(./{plan})",
            ]
        if run.model:
            argv.append(f"--model={run.model}")
        if run.max_turns is not None:
            argv.append(f"--max-turns={run.max_turns}")
        return argv

    def env(self, run: Invocation) -> dict[str, str]:
        env = dict(QUIET)
        if run.key:
            env["ANTHROPIC_API_KEY"] = run.key
        if run.base_url:
            env["ANTHROPIC_BASE_URL"] = run.base_url  # the origin: it appends /v1/messages
        return env

    def report(self, output: str) -> Report:
        events = json_lines(output)
        calls = model_calls(events)
        result = last_result(events)
        if result is None:  # killed or crashed (its exit says why): the calls it streamed
            return Report(turns=len(calls), tokens=sum(t.total() for t in calls.values()))
        return Report(
            turns=len(calls),
            tokens=result.tokens(),
            cost=result.total_cost_usd,
            message=result.result or "",
            failed=result.failure(),
        )


def model_calls(events: list[dict[str, Any]]) -> dict[str, Tokens]:
    """The usage of each model call, by message id, as the call started (its output tokens
    are only in the result). The count is exact where `num_turns` is not: a run stopped at
    `--max-turns` counts the turn it did not take."""
    calls: dict[str, Tokens] = {}
    for event in events:
        message = event.get("message")
        if event.get("type") == "assistant" and isinstance(message, dict):
            try:
                calls[str(message.get("id"))] = Tokens.model_validate(message.get("usage") or {})
            except ValidationError:
                continue
    return calls


def last_result(events: list[dict[str, Any]]) -> Result | None:
    for event in reversed(events):
        if event.get("type") == "result":
            try:
                return Result.model_validate(event)
            except ValidationError:
                return None
    return None
