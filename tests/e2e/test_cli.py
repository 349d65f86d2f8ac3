"""The CLI as users meet it: one-line errors, exit codes, `explain` offline."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from issuepilot.testing.redis_server import free_port

from .harness import passthrough


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = passthrough()
    return subprocess.run(
        [sys.executable, "-m", "issuepilot", *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        timeout=60,
    )


def event(tmp_path: Path, payload: object) -> str:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload))
    return str(path)


def test_explain_prints_one_json_decision(tmp_path: Path) -> None:
    payload = {
        "action": "labeled",
        "label": {"name": "issuepilot"},
        "sender": {"login": "octocat"},
        "issue": {"number": 12, "title": "t", "labels": []},
    }
    done = cli("explain", "--event-name", "issues", "--event-path", event(tmp_path, payload))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "event": "issues.labeled",
        "action": "enqueue",
        "issue": 12,
        "actor": "octocat",
        "reason": "label 'issuepilot' added",
    }


def test_explain_ignores_any_other_wellformed_event(tmp_path: Path) -> None:
    done = cli("explain", "--event-name", "push", "--event-path", event(tmp_path, {"ref": "x"}))
    assert done.returncode == 0 and json.loads(done.stdout)["action"] == "ignore"


def test_explain_reads_the_config(tmp_path: Path) -> None:
    config = tmp_path / "c.yml"
    config.write_text("label-prefix: bot\n")
    payload = {"action": "labeled", "label": {"name": "bot"}, "issue": {"number": 1}}
    done = cli(
        "explain",
        "--event-name",
        "issues",
        "--event-path",
        event(tmp_path, payload),
        "--config",
        str(config),
    )
    assert json.loads(done.stdout)["action"] == "enqueue"


@pytest.mark.parametrize("word", ["fix", "rebase"])
def test_explain_says_how_a_command_on_a_pull_request_finds_its_task(
    tmp_path: Path, word: str
) -> None:
    config = tmp_path / "c.yml"
    config.write_text("label-prefix: bot\n")
    pull = {"number": 31, "title": "t", "labels": [], "pull_request": {"url": "u"}}
    comment = {"id": 5, "body": f"/issuepilot {word}"}
    payload = {"action": "created", "issue": pull, "comment": comment}
    path = event(tmp_path, payload)
    done = cli(
        "explain", "--event-name", "issue_comment", "--event-path", path, "--config", str(config)
    )
    decision = json.loads(done.stdout)
    assert (
        decision["action"] == word
        and decision["reason"] == f"/issuepilot {word} on pull request #31"
    )
    assert decision["issue"] == (
        "found at run time from pull request #31's branch, which must be bot/issue-<n>: "
        "the task of issue <n>"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read the event payload"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"action": "labeled"}', "without an issue"),
    ],
)
def test_explain_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "event.json"
    if content is not None:
        path.write_text(content)
    done = cli("explain", "--event-name", "issues", "--event-path", str(path))
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr


def step_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    payload = {
        "action": "labeled",
        "label": {"name": "issuepilot"},
        "sender": {"login": "octocat"},
        "issue": {"number": 3, "labels": []},
    }
    return {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "issues",
        "GITHUB_EVENT_PATH": event(tmp_path, payload),
        "GITHUB_REPOSITORY": "o/r",
        "GITHUB_TOKEN": "t",
        "GITHUB_API_URL": "http://127.0.0.1:9",
        "GITHUB_WORKSPACE": str(tmp_path),
        **extra,
    }


def test_step_without_redis_url_keeps_its_tasks_in_the_repository(tmp_path: Path) -> None:
    # No Redis: the store is the repository's ledger, read through the GitHub API, which
    # here does not answer: a recoverable failure that names GitHub, not a missing input.
    done = cli("step", env=step_env(tmp_path))
    assert done.returncode == 1, done.stdout
    assert "contents/ledger.json: no answer from 127.0.0.1" in done.stdout


def test_step_with_unreachable_redis_fails_recoverably(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    done = cli("step", env=step_env(tmp_path, ISSUEPILOT_REDIS_URL=url))
    assert done.returncode == 1
    assert "cannot reach Redis at 127.0.0.1" in done.stdout and "Traceback" not in done.stderr


def test_step_with_a_bad_config_names_key_and_file(tmp_path: Path) -> None:
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "issuepilot.yml").write_text("max-files: lots\n")
    done = cli("step", env=step_env(tmp_path, ISSUEPILOT_REDIS_URL="redis://127.0.0.1:1"))
    assert done.returncode == 2
    assert "issuepilot.yml: setting 'max-files'" in done.stdout


def test_flags_override_inputs(tmp_path: Path) -> None:
    env = step_env(tmp_path, ISSUEPILOT_MAX_STEPS="3", ISSUEPILOT_REDIS_URL="redis://x")
    done = cli("step", "--max-steps", "99", env=env)
    assert (
        done.returncode == 2
        and "max-steps must be a whole number from 1 to 20, not '99'" in done.stdout
    )
