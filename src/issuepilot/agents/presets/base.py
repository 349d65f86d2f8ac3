"""What an agent preset is: the data and small pure functions that run one coding agent CLI
headless as a governed planner or executor.

A preset says how to install the pinned CLI, the argv and permission mode of a headless
run scoped to the checkout, which environment variables carry its key, model and endpoint,
the settings files it reads from its home folder (telemetry and update checks off, no
auto-commit, no URL fetching), the files it leaves for itself in the checkout, and how to
read its machine output into a `Report` (turns, tokens, cost, final message) that the
task's budget counts. Everything else (the sandbox, the prompt, the plan's validation, the
read-back of the change, the budget) is the command backend's, the same for every preset.

Presets do no I/O: `agents/command.py` runs what they describe.
"""

import json
from dataclasses import dataclass
from typing import Any, Literal

Role = Literal["plan", "execute"]


@dataclass(frozen=True, slots=True)
class Install:
    """Where the CLI comes from. npm packages install with `npm install --prefix <dir>`
    (the command is then `<dir>/node_modules/.bin/<binary>`), PyPI ones into a virtual
    environment at `<dir>` (`<dir>/bin/<binary>`)."""

    registry: Literal["npm", "pypi"]
    package: str
    version: str  # the version IssuePilot is tested with; `agent-version` overrides it
    binary: str
    pythons: tuple[str, ...] = ()  # PyPI: the Python versions it runs on, preferred first

    def command_in(self, folder: str) -> str:
        """The CLI's path inside an install folder."""
        if self.registry == "npm":
            return f"{folder}/node_modules/.bin/{self.binary}"
        return f"{folder}/bin/{self.binary}"


@dataclass(frozen=True, slots=True)
class Invocation:
    """One run of the CLI, with every path as the sandboxed command sees it."""

    role: Role
    binary: str  # the CLI's command
    prompt_file: str  # the whole prompt (rules, the issue as quoted data, the plan, feedback)
    plan_file: str  # planning: where the CLI may write the plan, inside the checkout
    output_file: str  # where its machine output (stdout) goes; read back by IssuePilot
    workspace: str  # the checkout: its working directory, and all it may write
    home: str  # its HOME, a fresh folder holding `home_files`
    key: str  # its API key ("" when none was given)
    model: str = ""  # `agent-model`; "" keeps the CLI's default
    base_url: str = ""  # `agent-base-url`; "" keeps the CLI's default endpoint
    max_turns: int | None = None  # what the task's budget leaves, where the CLI can cap itself


@dataclass(frozen=True, slots=True)
class Report:
    """What the CLI's machine output says it did. `turns` count as model calls."""

    turns: int = 0
    tokens: int = 0
    cost: float = 0.0
    message: str = ""  # its final message
    failed: str = ""  # why the CLI itself reports failure (exit code 0 notwithstanding)


class Preset:
    """One agent CLI. Subclasses set the data and override what differs."""

    name: str  # the value of `agent:` (e.g. "claude-code")
    title: str  # how people call it (e.g. "Claude Code")
    install: Install
    keys: tuple[str, ...]  # the runner variables its key may come from, in order
    endpoint: str  # the API it talks to when `agent-base-url` is unset
    leftovers: tuple[str, ...] = ()  # globs of files it leaves for itself in the checkout
    plans: bool = True  # whether it can play the planner

    def argv(self, run: Invocation) -> list[str]:
        """The headless command line. Its stdin is the prompt file; its stdout goes to
        `run.output_file`; its stderr is kept, capped, for the step log."""
        raise NotImplementedError

    def env(self, run: Invocation) -> dict[str, str]:
        """Its environment on top of the filtered runner environment: the key under the
        names it reads, the model and endpoint, telemetry and update checks off."""
        raise NotImplementedError

    def home_files(self, run: Invocation) -> dict[str, str]:
        """Settings files in its fresh home folder (relative path -> text)."""
        return {}

    def report(self, output: str) -> Report:
        """Read its machine output (what it printed to stdout)."""
        raise NotImplementedError


def json_lines(output: str) -> list[dict[str, Any]]:
    """The JSON objects of a JSON-lines stream, skipping lines that are not one."""
    found = []
    for line in output.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                found.append(value)
    return found
