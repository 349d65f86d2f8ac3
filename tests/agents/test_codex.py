"""The Codex preset: its pure parts against a captured `codex exec --json` output, and the
real CLI (the pinned version from npm) run as IssuePilot runs it, as a sandbox user of its
own in a real checkout, against the scripted Responses endpoint on loopback."""

import json
import subprocess
import tomllib
from pathlib import Path

import pytest

from issuepilot.agents.base import IssueText
from issuepilot.agents.presets import PRESETS, Invocation, Preset, Role
from issuepilot.agents.presets.codex import Codex
from issuepilot.models import Plan
from issuepilot.testing.fake_llm import Answer, Calls
from issuepilot.testing.fake_responses import FakeResponses, Items, Usage, tool_outputs

from .contract import Ran, assert_only_the_key_went_out, checkout_of, git, plan_file_in, run_cli

CODEX = PRESETS["codex"]
PLAN_FILE = ".issuepilot-plan-5e1f.json"
SAMPLES = Path(__file__).parent / "samples"
KEY = "sk-codex-key-5d1e"
FIX = (
    "*** Begin Patch\n*** Update File: src/greet.py\n@@\n"
    "-    return 'Helo, ' + name\n+    return 'Hello, ' + name\n*** End Patch\n"
)
PLAN = Plan(
    summary="Fix the greeting's spelling.",
    steps=["Correct 'Helo' to 'Hello' in src/greet.py"],
    files=[{"path": "src/greet.py", "action": "modify", "why": "the typo is there"}],
)
ISSUE = IssueText(5, "Greeting misspelt", "`greet` in `src/greet.py` says 'Helo'.")
FILES = {"src/greet.py": "def greet(name):\n    return 'Helo, ' + name\n", "README.md": "# greet\n"}


def run_for(role: str = "execute", **fields: str) -> Invocation:
    values = {
        "role": role,
        "binary": "/opt/codex/bin/codex",
        "prompt_file": "/w/.git/run/prompt.md",
        "plan_file": f"/w/{PLAN_FILE}",
        "output_file": "/w/.git/run/output.jsonl",
        "workspace": "/w",
        "home": "/home/run",
        "key": KEY,
        **fields,
    }
    return Invocation(**values)


# --- the pure parts ------------------------------------------------------------------


def test_the_settings_name_the_endpoint_model_and_key_variable_and_turn_off_the_rest() -> None:
    run = run_for(base_url="http://127.0.0.1:9/v1", model='gpt-"5"')
    config = tomllib.loads(CODEX.home_files(run)[".codex/config.toml"])
    provider = config["model_providers"][config["model_provider"]]
    assert provider["base_url"] == "http://127.0.0.1:9/v1"
    assert provider["wire_api"] == "responses"
    assert provider["env_key"] in CODEX.env(run) and CODEX.env(run)[provider["env_key"]] == KEY
    assert config["model"] == 'gpt-"5"'
    assert config["web_search"] == "disabled" and config["approval_policy"] == "never"
    assert config["features"]["plugins"] is False and config["analytics"]["enabled"] is False
    assert {config["otel"][k] for k in ("exporter", "metrics_exporter", "trace_exporter")} == {
        "none"
    }
    assert config["shell_environment_policy"]["ignore_default_excludes"] is False


def test_without_a_model_or_endpoint_it_keeps_codex_s_model_and_openai() -> None:
    config = tomllib.loads(CODEX.home_files(run_for())[".codex/config.toml"])
    assert "model" not in config
    assert config["model_providers"]["issuepilot"]["base_url"] == "https://api.openai.com/v1"


def test_codex_home_is_the_fresh_home_whatever_the_runner_says() -> None:
    assert CODEX.env(run_for(home="/tmp/h"))["CODEX_HOME"] == "/tmp/h/.codex"


def test_the_command_reads_the_prompt_from_stdin_and_prints_json_lines() -> None:
    argv = CODEX.argv(run_for())
    assert argv[:2] == ["bash", "-c"] and argv[3] == "/opt/codex/bin/codex"
    assert argv[-1] == "-" and "--json" in argv and "--ignore-rules" in argv


def choose(tmp_path: Path, sandbox_starts: bool) -> tuple[list[str], str]:
    """Run the preset's command line with a stand-in `codex` that records its arguments."""
    stub = tmp_path / "codex"
    stub.write_text(
        '#!/bin/sh\nif [ "$1" = sandbox ]; then exit ' + ("0" if sandbox_starts else "1") + "; fi\n"
        'printf "%s\\n" "$@" > "$(dirname "$0")/args"\n'
    )
    stub.chmod(0o755)
    argv = CODEX.argv(run_for(binary=str(stub)))
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    return (tmp_path / "args").read_text().splitlines(), done.stderr


def test_codex_runs_in_its_own_sandbox_where_it_can_start(tmp_path: Path) -> None:
    args, said = choose(tmp_path, sandbox_starts=True)
    assert args[:2] == ["exec", "--sandbox=workspace-write"] and args[-1] == "-"
    assert said == ""


def test_where_it_cannot_codex_runs_in_issuepilot_s_sandbox_only_and_says_so(
    tmp_path: Path,
) -> None:
    args, said = choose(tmp_path, sandbox_starts=False)
    assert args[:2] == ["exec", "--dangerously-bypass-approvals-and-sandbox"]
    assert "sandbox cannot start" in said


def test_the_report_counts_turns_tokens_and_keeps_the_final_message() -> None:
    report = CODEX.report((SAMPLES / "codex-exec.jsonl").read_text())
    # three model requests: the command, the patch, the answer; 3 x (1200 in + 40 out)
    assert (report.turns, report.tokens, report.cost) == (3, 3720, 0.0)
    assert report.message == "Fixed the greeting's spelling in src/greet.py."
    assert report.failed == ""


def test_a_failed_turn_is_reported_with_its_reason() -> None:
    report = CODEX.report((SAMPLES / "codex-failed.jsonl").read_text())
    assert "401 Unauthorized" in report.failed and report.tokens == 0 and report.message == ""


def test_output_that_is_not_json_lines_reports_nothing() -> None:
    assert CODEX.report("Error: no such option\n{not json\n") == CODEX.report("")


# --- the real CLI, through the command backend (tests/agents/contract.py) -------------


# Runs a command where no user namespace can be created, as on a machine that forbids
# them: in a user namespace of its own (same uid) whose limit of further ones is 0.
NO_USER_NAMESPACES = """
import ctypes, os, sys
uid, gid = os.getuid(), os.getgid()
assert ctypes.CDLL(None, use_errno=True).unshare(0x10000000) == 0  # CLONE_NEWUSER
for path, text in [
    ("/proc/self/setgroups", "deny"),
    ("/proc/self/uid_map", f"{uid} {uid} 1"),
    ("/proc/self/gid_map", f"{gid} {gid} 1"),
    ("/proc/sys/user/max_user_namespaces", "0"),
]:
    with open(path, "w") as f:
        f.write(text)
os.execvp(sys.argv[1], sys.argv[1:])
"""


class CodexWithoutUserNamespaces(Codex):
    """Codex on a machine that forbids unprivileged user namespaces (its own install)."""

    def argv(self, run: Invocation) -> list[str]:
        return ["/usr/bin/python3", "-c", NO_USER_NAMESPACES, *super().argv(run)]


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    return checkout_of(tmp_path, FILES)


async def codex(
    checkout: Path, fake: FakeResponses, role: Role = "execute", preset: Preset = CODEX
) -> Ran:
    env = {"LANG": "C.UTF-8"}
    return await run_cli(preset, checkout, role, ISSUE, KEY, fake.url, PLAN, "gpt-5.5", env)


@pytest.mark.story
@pytest.mark.parametrize("no_user_namespaces", [False, True], ids=["own-sandbox", "no-userns"])
async def test_codex_makes_exactly_the_scripted_change_and_reports_its_usage(
    checkout: Path, no_user_namespaces: bool
) -> None:
    head = git(checkout, "rev-parse", "HEAD")
    script: list[Answer | int] = [
        Calls([("exec_command", {"cmd": "env; cat src/greet.py"})]),
        Calls([("apply_patch", FIX)]),
        "Fixed the greeting's spelling in src/greet.py.",
    ]
    preset = CodexWithoutUserNamespaces() if no_user_namespaces else CODEX
    with FakeResponses(script=script, usage=Usage(1200, 200, 40, 10)) as fake:
        ran = await codex(checkout, fake, preset=preset)
    assert ran.error == "", ran.log
    assert git(checkout, "status", "--porcelain") == " M src/greet.py\n"
    assert "+    return 'Hello, ' + name" in git(checkout, "diff")
    assert git(checkout, "diff", "--numstat") == "1\t1\tsrc/greet.py\n"
    assert git(checkout, "rev-parse", "HEAD") == head  # nothing committed
    assert (ran.report.turns, ran.report.tokens) == (3, 3 * 1240)
    assert ran.report.message == "Fixed the greeting's spelling in src/greet.py."
    assert_only_the_key_went_out(fake, "authorization", f"Bearer {KEY}", ran.elsewhere)
    shown = tool_outputs(fake.requests[1].body["input"])
    assert "Helo" in "".join(shown.values()) and KEY not in "".join(shown.values())
    offered = {t.get("name") or t["type"] for t in fake.requests[0].body["tools"]}
    assert "apply_patch" in offered and "web_search" not in offered
    assert ("sandbox cannot start" in ran.log) is no_user_namespaces


def write_the_plan(items: Items, tools: list[str]) -> Answer:
    """Add the plan file the prompt names, then answer that it is there."""
    if any(item.get("type", "").endswith("_output") for item in items):
        return "The plan is in the plan file."
    body = "".join(f"+{line}\n" for line in PLAN.model_dump_json(indent=1).splitlines())
    name = plan_file_in(json.dumps(items))
    return Calls([("apply_patch", f"*** Begin Patch\n*** Add File: {name}\n{body}*** End Patch\n")])


@pytest.mark.story
async def test_codex_as_planner_writes_the_plan_file(checkout: Path) -> None:
    with FakeResponses(reply=write_the_plan) as fake:
        ran = await codex(checkout, fake, role="plan")
    assert ran.error == "", ran.log
    assert ran.plan == PLAN  # from the file: its answer holds none
    assert git(checkout, "status", "--porcelain", "--untracked-files=all") == ""
    assert_only_the_key_went_out(fake, "authorization", f"Bearer {KEY}", ran.elsewhere)
