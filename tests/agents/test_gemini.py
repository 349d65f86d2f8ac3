"""The Gemini CLI preset: its pure parts against a captured `--output-format json` answer,
and the real CLI (the pinned version from npm) run as IssuePilot runs it, as a sandbox user
of its own in a real checkout, against the scripted Gemini API on loopback."""

import json
from pathlib import Path

import pytest

from issuepilot.agents.base import IssueText
from issuepilot.agents.presets import PRESETS, Invocation, Role
from issuepilot.models import Plan
from issuepilot.testing.fake_gemini import (
    Contents,
    FakeGemini,
    Usage,
    function_names,
    function_responses,
)
from issuepilot.testing.fake_llm import Answer, Calls

from .contract import (
    Ran,
    assert_only_the_key_went_out,
    checkout_of,
    commit_all,
    git,
    plan_file_in,
    run_cli,
)

GEMINI = PRESETS["gemini"]
SAMPLES = Path(__file__).parent / "samples"
KEY = "gm-gemini-key-3b7a"
FIX = {
    "file_path": "src/greet.py",
    "old_string": "'Helo, '",
    "new_string": "'Hello, '",
    "instruction": "Correct the spelling of the greeting.",
}
PLAN = Plan(
    summary="Fix the greeting's spelling.",
    steps=["Correct 'Helo' to 'Hello' in src/greet.py"],
    files=[{"path": "src/greet.py", "action": "modify", "why": "the typo is there"}],
)
ISSUE = IssueText(5, "Greeting misspelt", "`greet` in `src/greet.py` says 'Helo'.")
FILES = {"src/greet.py": "def greet(name):\n    return 'Helo, ' + name\n", "README.md": "# greet\n"}


def run_for(**fields: str) -> Invocation:
    values = {
        "role": "execute",
        "binary": "/opt/gemini/bin/gemini",
        "prompt_file": "/w/.git/run/prompt.md",
        "plan_file": "/w/.issuepilot-plan-5e1f.json",
        "output_file": "/w/.git/run/output",
        "workspace": "/w",
        "home": "/home/run",
        "key": KEY,
        **fields,
    }
    return Invocation(**values)  # type: ignore[arg-type]


# --- the pure parts ------------------------------------------------------------------


def test_it_runs_headless_with_the_prompt_on_stdin_editing_files_only() -> None:
    argv = GEMINI.argv(run_for(model="gemini-2.5-pro"))
    assert argv[:3] == ["/opt/gemini/bin/gemini", "--prompt", ""]
    assert argv[argv.index("--output-format") + 1] == "json"
    assert argv[argv.index("--approval-mode") + 1] == "auto_edit"
    assert argv[-2:] == ["--model", "gemini-2.5-pro"] and "--yolo" not in argv
    assert "--model" not in GEMINI.argv(run_for())  # the CLI's own choice


def test_the_endpoint_is_always_named_so_no_env_file_can_move_the_key() -> None:
    assert GEMINI.env(run_for(base_url="http://127.0.0.1:9")) == {
        "GEMINI_API_KEY": KEY,
        "GOOGLE_GEMINI_BASE_URL": "http://127.0.0.1:9",
        "GEMINI_CLI_NO_RELAUNCH": "1",
    }
    assert GEMINI.env(run_for())["GOOGLE_GEMINI_BASE_URL"].startswith("https://generative")


def test_its_settings_sign_in_with_the_key_and_turn_off_the_rest() -> None:
    settings = json.loads(GEMINI.home_files(run_for())[".gemini/settings.json"])
    assert settings["security"]["auth"]["selectedType"] == "gemini-api-key"
    assert settings["privacy"]["usageStatisticsEnabled"] is False
    assert settings["telemetry"]["enabled"] is False
    assert settings["general"]["enableAutoUpdate"] is False
    assert {"web_fetch", "google_web_search"} <= set(settings["tools"]["exclude"])


def test_the_report_counts_requests_and_tokens_and_keeps_the_answer() -> None:
    report = GEMINI.report((SAMPLES / "gemini-exec.json").read_text())
    # three requests (read, replace, answer) of 1,500 in + 60 out + 20 thinking
    assert (report.turns, report.tokens, report.cost) == (3, 3 * 1580, 0.0)
    assert report.message == "Fixed the greeting's spelling in src/greet.py."
    assert report.failed == ""


def test_an_error_it_reports_is_a_failure_with_its_reason() -> None:
    report = GEMINI.report("Warning: no colours\n" + (SAMPLES / "gemini-failed.json").read_text())
    assert "scripted error 401" in report.failed and report.turns == 0


def test_output_that_is_not_json_reports_nothing() -> None:
    assert GEMINI.report("Error: unknown option\n{not json") == GEMINI.report("")


# --- the real CLI, through the command backend (tests/agents/contract.py) -------------


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    return checkout_of(tmp_path, FILES)


async def gemini(checkout: Path, fake: FakeGemini, role: Role = "execute") -> Ran:
    return await run_cli(GEMINI, checkout, role, ISSUE, KEY, fake.url, PLAN, "gemini-2.5-pro")


@pytest.mark.story
async def test_gemini_makes_exactly_the_scripted_change_and_reports_its_usage(
    checkout: Path,
) -> None:
    # A checkout's own `.env` that would send the key elsewhere.
    (checkout / ".gemini").mkdir()
    (checkout / ".gemini" / ".env").write_text("GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:9\n")
    commit_all(checkout, "env")
    head = git(checkout, "rev-parse", "HEAD")
    script: list[Answer | int] = [
        Calls([("read_file", {"file_path": "src/greet.py"})]),
        Calls([("replace", FIX)]),
        "Fixed the greeting's spelling in src/greet.py.",
    ]
    with FakeGemini(script=script, usage=Usage(1500, 300, 60, 20)) as fake:
        ran = await gemini(checkout, fake)
    assert ran.error == "", ran.log
    assert git(checkout, "status", "--porcelain") == " M src/greet.py\n"
    assert git(checkout, "diff", "HEAD", "--numstat") == "1\t1\tsrc/greet.py\n"
    assert "+    return 'Hello, ' + name" in git(checkout, "diff")
    assert git(checkout, "rev-parse", "HEAD") == head  # nothing committed
    assert (ran.report.turns, ran.report.tokens) == (3, 3 * 1580)
    assert ran.report.message == "Fixed the greeting's spelling in src/greet.py."
    assert_only_the_key_went_out(fake, "x-goog-api-key", KEY, ran.elsewhere)
    # no usage statistics
    assert not [r for r in fake.requests if "x-gemini-api-privileged-user-id" in r.headers]
    [read] = function_responses(fake.requests[1].body["contents"])
    assert "Helo" in json.dumps(read)
    offered = set(function_names(fake.requests[0].body))
    assert {"replace", "write_file"} <= offered
    assert not offered & {"web_fetch", "google_web_search", "run_shell_command"}


def write_the_plan(contents: Contents, functions: list[str]) -> Answer:
    """Write the plan file the prompt names, then answer that it is there."""
    if function_responses(contents):
        return "The plan is in the plan file."
    name = plan_file_in(json.dumps(contents))
    return Calls([("write_file", {"file_path": name, "content": PLAN.model_dump_json()})])


@pytest.mark.story
async def test_gemini_as_planner_writes_the_plan_file(checkout: Path) -> None:
    with FakeGemini(reply=write_the_plan) as fake:
        ran = await gemini(checkout, fake, role="plan")
    assert ran.error == "", ran.log
    assert ran.plan == PLAN  # from the file: its answer holds none
    assert git(checkout, "status", "--porcelain", "--untracked-files=all") == ""
    assert_only_the_key_went_out(fake, "x-goog-api-key", KEY, ran.elsewhere)
    # no usage statistics
    assert not [r for r in fake.requests if "x-gemini-api-privileged-user-id" in r.headers]
