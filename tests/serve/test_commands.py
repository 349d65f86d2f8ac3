"""The commands say in one line what is missing, and exit 2 (1 for a server out of reach),
before anything starts."""

import os
import subprocess
import sys

import pytest

from issuepilot.cli import main

from ..e2e.harness import passthrough, rsa_key

SECRET = {"ISSUEPILOT_WEBHOOK_SECRET": "s" * 20}
NO_REDIS = {"ISSUEPILOT_REDIS_URL": "redis://127.0.0.1:9"}


def app() -> dict[str, str]:
    return {"ISSUEPILOT_APP_ID": "1", "ISSUEPILOT_APP_PRIVATE_KEY": rsa_key()[0]}


def run(
    argv: list[str],
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, str]:
    for name in list(os.environ):
        if name.startswith(("ISSUEPILOT_", "GITHUB_")):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as done:
        main(argv)
    return int(done.value.code or 0), capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "env", "code", "said"),
    [
        (["serve"], {}, 2, "set ISSUEPILOT_WEBHOOK_SECRET"),
        (["serve"], SECRET, 2, "acts as a GitHub App"),
        (["serve"], {**SECRET, "APP": "y"}, 2, "keeps its queue in Redis"),
        (["serve", "--port", "http"], {**SECRET, **NO_REDIS, "APP": "y"}, 2, "port"),
        (["serve", "--port", "0"], {**SECRET, **NO_REDIS, "APP": "y"}, 1, "cannot reach Redis"),
        (["worker", "--redis-url", "redis://127.0.0.1:9"], {}, 2, "acts as a GitHub App"),
    ],
)
def test_a_command_without_what_it_needs_says_so(
    argv: list[str],
    env: dict[str, str],
    code: int,
    said: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    given = {k: v for k, v in env.items() if k != "APP"} | (app() if "APP" in env else {})
    exit_code, err = run(argv, given, monkeypatch, capsys)
    assert exit_code == code, err
    [line] = err.splitlines()
    assert line.startswith("issuepilot: error:") and said in line


@pytest.mark.story  # the real CLI as a process
def test_the_installed_command_says_it_in_one_line_too() -> None:
    command = [sys.executable, "-m", "issuepilot", "serve", "--port", "0"]
    env = {**passthrough(), **app(), **SECRET, **NO_REDIS}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert "cannot reach Redis at 127.0.0.1" in line
