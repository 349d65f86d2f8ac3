"""`issuepilot --help` and each command's: written for the people who run them, each with
an example of the command, and none of the code's own vocabulary."""

import re
import subprocess
import sys

import pytest

from issuepilot import release
from issuepilot.usage import EXAMPLES, build_parser

COMMANDS = sorted(name for name in EXAMPLES if name)
# Words of the code, not of its users: module and class names, how things are wired.
INTERNAL = re.compile(
    r"\bmodule\b|\bwir(es|ing)\b|docstring|\b(cli|usage|config|wiring|scaffold)\.py\b|pydantic|TaskStore|LockManager|Settings\(|"
    r"\bargv\b|\bdef\b|TODO",
    re.IGNORECASE,
)


def help_of(*argv: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args([*argv, "--help"])
    assert done.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_explains_itself_with_an_example(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = help_of(command, capsys=capsys)
    assert text.startswith(f"usage: issuepilot {command}")
    examples = text.split("example", 1)[1]
    assert re.search(rf"^\s+.*\bissuepilot {command}\b", examples, re.MULTILINE), examples
    assert not INTERNAL.search(text), INTERNAL.search(text)


def test_every_command_has_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_of(capsys=capsys)
    listed = re.findall(r"^    ([\w-]+)(?: {2,}|$)", text, re.MULTILINE)
    assert sorted(listed) == COMMANDS
    assert "examples:" in text and not INTERNAL.search(text)


def test_the_installed_command_shows_its_help_and_version() -> None:
    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "issuepilot", *argv]
        return subprocess.run(command, capture_output=True, text=True, timeout=60)

    shown = run("--help")
    assert shown.returncode == 0 and "issuepilot init" in shown.stdout
    assert "the only module" not in shown.stdout
    version = run("--version")
    assert version.returncode == 0 and version.stdout == f"issuepilot {release.version()}\n"
