"""Codex (`@openai/codex`): `codex exec`, the prompt on stdin, its events as JSON lines.

Codex speaks the OpenAI Responses API. Its settings live in `.codex/config.toml` of the
fresh home (`CODEX_HOME` is pinned there, whatever the runner sets): a model provider of
IssuePilot's own with the endpoint and the key's variable, the model, approvals off, the
hosted web search, plugin sync, analytics, feedback and OpenTelemetry export off (each of
them otherwise calls an OpenAI or GitHub host), and the key kept out of the environment
of the commands the model runs. Project settings from the checkout (`.codex/`, rules) are
not loaded: `codex exec` ignores them in an untrusted project and `--ignore-rules` drops
the rest.

Codex runs the model's commands and patches in its own Linux sandbox (bubblewrap), which
keeps writes inside the checkout (`.git/` and `.codex/` excepted) and cuts the network.
That sandbox needs unprivileged user namespaces; where the machine forbids them (Ubuntu
24.04's AppArmor restriction, `user.max_user_namespaces=0`) every command and patch would
fail, so the run first asks `codex sandbox` whether it can start one and otherwise runs
with `--dangerously-bypass-approvals-and-sandbox`, the mode Codex documents for runs that
are sandboxed from outside: IssuePilot's sandbox user is that boundary (no credential but
this key, the runner's files closed, every process killed at the end).
"""

import json
from typing import Any

from .base import Install, Invocation, Preset, Report, json_lines

VERSION = "0.171.0"
PROVIDER = "issuepilot"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
KEY_VARIABLE = "CODEX_API_KEY"
# Chooses Codex's own sandbox when it can start here, else says so and runs without it.
CHOOSE_SANDBOX = (
    'if "$0" sandbox -- true >/dev/null 2>&1; then mode=--sandbox=workspace-write; else '
    'echo "codex: its Linux sandbox cannot start on this machine (no unprivileged user '
    "namespaces); running inside IssuePilot's sandbox only\" >&2; "
    "mode=--dangerously-bypass-approvals-and-sandbox; fi; "
    'exec "$0" exec "$mode" "$@"'
)
# The items of `codex exec --json` that stand for a tool call the model asked for: each
# answered call means one more model request in the turn.
TOOL_ITEMS = {
    "command_execution",
    "file_change",
    "mcp_tool_call",
    "web_search",
    "todo_list",
    "collab_tool_call",
}


class Codex(Preset):
    name = "codex"
    title = "Codex"
    install = Install("npm", "@openai/codex", VERSION, "codex")
    keys = (KEY_VARIABLE, "OPENAI_API_KEY")
    endpoint = DEFAULT_BASE_URL

    def argv(self, run: Invocation) -> list[str]:
        flags = ["--json", "--ephemeral", "--strict-config", "--ignore-rules"]
        flags += ["--skip-git-repo-check", "--color", "never", "-"]
        return ["bash", "-c", CHOOSE_SANDBOX, run.binary, *flags]

    def env(self, run: Invocation) -> dict[str, str]:
        return {KEY_VARIABLE: run.key, "CODEX_HOME": f"{run.home}/.codex"}

    def home_files(self, run: Invocation) -> dict[str, str]:
        return {".codex/config.toml": config_toml(run)}

    def report(self, output: str) -> Report:
        turns = tokens = 0
        message = failed = ""
        for event in json_lines(output):
            kind = event.get("type")
            item = event.get("item")
            item = item if isinstance(item, dict) else {}
            if kind == "turn.completed":
                usage = event.get("usage") or {}
                turns += 1
                tokens += _count(usage, "input_tokens") + _count(usage, "output_tokens")
            elif kind == "turn.failed":
                turns += 1
                failed = str((event.get("error") or {}).get("message") or "the turn failed")
            elif kind == "item.completed" and item.get("type") in TOOL_ITEMS:
                turns += 1
            elif kind == "item.completed" and item.get("type") == "agent_message":
                message = str(item.get("text") or "")
        return Report(turns=turns, tokens=tokens, message=message, failed=failed)


def _count(usage: dict[str, Any], name: str) -> int:
    value = usage.get(name)
    return value if isinstance(value, int) else 0


def config_toml(run: Invocation) -> str:
    """`config.toml`: top-level keys first (TOML puts every key after a table header in
    that table)."""
    lines = [f"model = {_string(run.model)}"] if run.model else []
    lines += [
        f'model_provider = "{PROVIDER}"',
        'approval_policy = "never"',
        'web_search = "disabled"',
        "check_for_update_on_startup = false",
        "",
        f"[model_providers.{PROVIDER}]",
        'name = "IssuePilot"',
        f"base_url = {_string(run.base_url or DEFAULT_BASE_URL)}",
        f'env_key = "{KEY_VARIABLE}"',
        'wire_api = "responses"',
        "",
        "[sandbox_workspace_write]",
        "network_access = false",
        "",
        "[shell_environment_policy]",
        "ignore_default_excludes = false",  # no *KEY*, *SECRET*, *TOKEN* in its commands
        "",
        "[features]",
        "plugins = false",
        "",
        "[analytics]",
        "enabled = false",
        "",
        "[feedback]",
        "enabled = false",
        "",
        "[otel]",
        'exporter = "none"',
        'metrics_exporter = "none"',
        'trace_exporter = "none"',
    ]
    return "\n".join(lines) + "\n"


def _string(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(value)
