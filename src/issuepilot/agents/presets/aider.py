"""Aider (`aider-chat` from PyPI) on an OpenAI-compatible chat-completions endpoint.

Aider has no headless mode of its own: `--message-file` sends one request (with the
reflections aider makes when an edit fails to apply) and exits, `--yes-always` answers its
questions. It reads settings from the checkout (`.aider.conf.yml`, `.env`,
`.aider.model.settings.yml`), so every option that matters is pinned on the command line,
which wins over those files, and the endpoint is pinned in a model-settings file of its
own, read last. Without these options it commits its edits, adds `.aider*` to
`.gitignore`, offers to fetch every URL of the prompt (`--yes-always` accepts) and to open
URLs of error messages in a browser, downloads the model price list, and checks for
updates.

Aider prints its token counts rounded ("2.5k sent"); its local analytics log has them
exactly. The command prints that log after aider's own output, below a marker line.
"""

import json
import posixpath

from .base import Install, Invocation, Preset, Report, json_lines

MARKER = "=== aider usage ==="
# Runs aider on the plan's existing files (executing), then prints its usage log. The
# arguments: aider, its Python, the role, the plan file, the log, the plan reader, flags...
WRAPPER = f"""\
aider=$1 python=$2 role=$3 plan=$4 log=$5 read_plan=$6
shift 6
files=()
if [ "$role" = execute ]; then
  mapfile -t files < <("$python" -c "$read_plan" "$plan")
fi
"$aider" "$@" "${{files[@]/#/--file=}}"
code=$?
echo "{MARKER}"
cat "$log" 2>/dev/null
exit $code
"""
READ_PLAN = """\
import json, os, sys
for planned in json.load(open(sys.argv[1], encoding="utf-8"))["files"]:
    if os.path.isfile(planned["path"]):
        print(planned["path"])
"""
OPENAI = "https://api.openai.com/v1"
SETTINGS = ".aider/issuepilot.model.settings.yml"
# A price list in the cache, so that aider takes the one litellm ships instead of
# downloading it (an empty list would be downloaded again).
PRICE_CACHE = ".aider/caches/model_prices_and_context_window.json"
PINNED = (
    "--yes-always",
    "--no-auto-commits",
    "--no-dirty-commits",
    "--no-gitignore",
    "--no-detect-urls",
    "--disable-playwright",
    "--no-check-update",
    "--no-show-release-notes",
    "--no-analytics",
    "--analytics-disable",
    "--no-show-model-warnings",
    "--no-pretty",
    "--no-stream",  # whole answers carry the endpoint's usage figures
    "--no-fancy-input",
    "--no-auto-lint",
    "--no-auto-test",
    "--no-suggest-shell-commands",
    "--no-watch-files",
    "--no-copy-paste",
    "--no-notifications",
    "--no-gui",
    "--no-restore-chat-history",
    "--verify-ssl",
    "--load",
    "/dev/null",
)


class Aider(Preset):
    name = "aider"
    title = "Aider"
    install = Install("pypi", "aider-chat", "0.86.2", "aider", ("3.12", "3.11", "3.10"))
    keys = ("OPENAI_API_KEY",)
    endpoint = OPENAI
    leftovers = (".aider*",)  # its repository-map cache, `.aider.tags.cache.v4/`

    def argv(self, run: Invocation) -> list[str]:
        # Its own Python reads the plan; for a CLI found on PATH (a recipe), any python3.
        folder = posixpath.dirname(run.binary)
        python = posixpath.join(folder, "python") if folder else "python3"
        home = run.home.rstrip("/")
        models = []
        if run.model:
            for option in ("--model", "--weak-model", "--editor-model"):
                models += [option, f"openai/{run.model}"]
        return [
            "bash",
            "-c",
            WRAPPER,
            "aider",
            run.binary,
            python,
            run.role,
            run.plan_file,
            f"{home}/.aider/usage.jsonl",
            READ_PLAN,
            *models,
            "--openai-api-base",
            run.base_url or OPENAI,
            "--model-settings-file",
            f"{home}/{SETTINGS}",
            "--message-file",
            run.prompt_file,
            "--analytics-log",
            f"{home}/.aider/usage.jsonl",
            "--chat-history-file",
            f"{home}/.aider/chat.history.md",
            "--input-history-file",
            f"{home}/.aider/input.history",
            *PINNED,
        ]

    def env(self, run: Invocation) -> dict[str, str]:
        return {
            "OPENAI_API_KEY": run.key,
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # litellm's own price list, not fetched
            "BROWSER": "true",  # "open this URL?" answered yes opens nothing
        }

    def home_files(self, run: Invocation) -> dict[str, str]:
        base = json.dumps(run.base_url or OPENAI)
        # Extra parameters of every model, applied last: a settings file in the checkout
        # cannot send the requests (and the key) elsewhere.
        pin = f"- name: aider/extra_params\n  extra_params:\n    api_base: {base}\n"
        return {SETTINGS: pin + f"    base_url: {base}\n", PRICE_CACHE: '{"sample_spec": {}}\n'}

    def report(self, output: str) -> Report:
        text, _, log = output.rpartition(MARKER + "\n")
        if not _:
            text, log = output, ""
        events = json_lines(log)
        sent = [e.get("properties") or {} for e in events if e.get("event") == "message_send"]
        started = sum(e.get("event") == "message_send_starting" for e in events)
        failed = ""
        if started > len(sent):  # the last request failed, and aider gave up
            errors = [line for line in text.splitlines() if line.startswith("litellm.")]
            failed = errors[-1] if errors else "aider's last request to the model failed"
        return Report(
            turns=len(sent),
            tokens=sum(_count(p.get("total_tokens")) for p in sent),
            cost=sum(_amount(p.get("cost")) for p in sent),
            message=text.strip(),
            failed=failed,
        )


def _count(value: object) -> int:
    """A figure of the log, never negative: a forged line cannot lower the total."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _amount(value: object) -> float:
    return float(value) if isinstance(value, int | float) and value > 0 else 0.0
