"""OpenCode (`opencode-ai` from npm, a native binary) on an OpenAI-compatible
chat-completions endpoint.

`opencode run --format json` runs one prompt (read from stdin) to the end and prints JSON
events. Its settings come from one file in its fresh home, named by `OPENCODE_CONFIG`: a
provider of IssuePilot's own through the bundled `@ai-sdk/openai-compatible` (nothing is
installed at run time), permissions that allow reading and editing inside the checkout and
deny everything else (shell, web, sub-agents, skills, files outside it; in a headless run
OpenCode rejects whatever would ask), no snapshots, formatters or language servers, no
sharing and no update checks. The checkout's own `opencode.json` is not read (it could add
plugins, MCP servers or another endpoint), nor Claude Code's files. A `.opencode/` folder
is another matter: OpenCode 1.18 runs the plugins in it and reads its settings whatever
`OPENCODE_DISABLE_PROJECT_CONFIG` says, so a checkout that has one is refused.

At start OpenCode installs its plugin SDK from npm into each settings folder whose
`package-lock.json` does not list it; the home folder's lists it, so nothing is fetched.

Usage is read from its `step_finish` events: one per model call, with the tokens of the
call and its cost. OpenCode prices only the models it knows from its own catalogue, which a
custom endpoint is not part of: the cost it reports here is 0.
"""

import json
import posixpath
from typing import Any

from .base import Install, Invocation, Preset, Report, json_lines

DEFAULT_MODEL = "gpt-4.1"
OPENAI = "https://api.openai.com/v1"
PROVIDER = "issuepilot"
CONFIG = ".config/opencode/opencode.json"
REFUSE = (
    "if [ -e .opencode ]; then echo 'IssuePilot does not run OpenCode in a checkout with a"
    " .opencode folder: OpenCode would run the plugins and read the settings in it' >&2;"
    ' exit 2; fi; exec "$@"'
)
# What makes OpenCode take its plugin SDK as installed (it checks the names alone).
LOCK = {"packages": {"": {"dependencies": {"@opencode-ai/plugin": "*"}}}}
# Tools that read and edit files; every other permission is denied.
ALLOWED = ("read", "glob", "grep", "list", "todoread", "todowrite")
QUIET = {
    "OPENCODE_DISABLE_AUTOUPDATE": "1",
    "OPENCODE_DISABLE_MODELS_FETCH": "1",  # the model catalogue from the web
    "OPENCODE_DISABLE_SHARE": "1",
    "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
    "OPENCODE_DISABLE_DEFAULT_PLUGINS": "1",  # plugins installed from npm at start
    "OPENCODE_DISABLE_PROJECT_CONFIG": "1",  # the checkout's opencode.json and .opencode/
    "OPENCODE_DISABLE_CLAUDE_CODE": "1",  # ~/.claude, CLAUDE.md, .claude/skills
    "OPENCODE_DISABLE_EXTERNAL_SKILLS": "1",
}


class OpenCode(Preset):
    name = "opencode"
    title = "OpenCode"
    install = Install("npm", "opencode-ai", "1.18.33", "opencode")
    keys = ("OPENAI_API_KEY",)
    endpoint = OPENAI
    leftovers = ()  # it keeps its sessions and logs in its home folder

    def argv(self, run: Invocation) -> list[str]:
        # A title of its own: OpenCode would otherwise ask the model for one, unreported.
        opencode = [run.binary, "run", "--format", "json", "--pure", "--title", "IssuePilot"]
        return ["bash", "-c", REFUSE, "opencode", *opencode]

    def env(self, run: Invocation) -> dict[str, str]:
        home = run.home.rstrip("/")
        return {
            "OPENAI_API_KEY": run.key,
            "OPENCODE_CONFIG": f"{home}/{CONFIG}",
            # Its folders in its own home, whatever the runner's XDG_* say.
            "XDG_CONFIG_HOME": f"{home}/.config",
            "XDG_DATA_HOME": f"{home}/.local/share",
            "XDG_CACHE_HOME": f"{home}/.cache",
            "XDG_STATE_HOME": f"{home}/.local/state",
            **QUIET,
        }

    def home_files(self, run: Invocation) -> dict[str, str]:
        model = run.model or DEFAULT_MODEL
        edit: str | dict[str, str] = "allow"
        if run.role == "plan":  # the plan file alone
            edit = {"*": "deny", posixpath.relpath(run.plan_file, run.workspace): "allow"}
        config: dict[str, Any] = {
            "$schema": "https://opencode.ai/config.json",
            "provider": {
                PROVIDER: {
                    "npm": "@ai-sdk/openai-compatible",
                    "name": "IssuePilot",
                    "options": {
                        "baseURL": run.base_url or OPENAI,
                        "apiKey": "{env:OPENAI_API_KEY}",
                    },
                    "models": {model: {"name": model}},
                }
            },
            "enabled_providers": [PROVIDER],
            "model": f"{PROVIDER}/{model}",
            "small_model": f"{PROVIDER}/{model}",
            "autoupdate": False,
            "share": "disabled",
            "snapshot": False,  # a copy of the checkout in its home, for undo
            "formatter": False,  # edits exactly as the model made them
            "lsp": False,
            "permission": {
                "*": "deny",
                **dict.fromkeys(ALLOWED, "allow"),
                "edit": edit,
                "external_directory": "deny",
            },
        }
        folder = posixpath.dirname(CONFIG)
        return {
            CONFIG: json.dumps(config, indent=2) + "\n",
            f"{folder}/package-lock.json": json.dumps(LOCK) + "\n",
            f"{folder}/node_modules/.issuepilot": "OpenCode's plugin SDK is not needed here.\n",
        }

    def report(self, output: str) -> Report:
        events = json_lines(output)
        steps = [_part(e) for e in events if e.get("type") == "step_finish"]
        texts = [str(_part(e).get("text") or "") for e in events if e.get("type") == "text"]
        errors = [_error(e) for e in events if e.get("type") == "error"]
        return Report(
            turns=len(steps),
            tokens=sum(_tokens(step) for step in steps),
            cost=sum(_amount(step.get("cost")) for step in steps),
            message=texts[-1].strip() if texts else "",
            failed=errors[-1] if errors else "",
        )


def _field(value: dict[str, Any], name: str) -> dict[str, Any]:
    found = value.get(name)
    return found if isinstance(found, dict) else {}


def _part(event: dict[str, Any]) -> dict[str, Any]:
    return _field(event, "part")


def _tokens(step: dict[str, Any]) -> int:
    """The call's total as the endpoint counted it: input (cached or not) and output."""
    total = _field(step, "tokens").get("total")
    return total if isinstance(total, int) and not isinstance(total, bool) and total > 0 else 0


def _amount(value: object) -> float:
    return float(value) if isinstance(value, int | float) and value > 0 else 0.0


def _error(event: dict[str, Any]) -> str:
    error = _field(event, "error")
    data = _field(error, "data")
    return str(data.get("message") or error.get("name") or "OpenCode reported an error")
