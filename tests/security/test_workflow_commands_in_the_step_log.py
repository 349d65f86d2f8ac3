"""An error message carries text from a user or a model, with a newline and a workflow
command after it (`::add-mask::`, `::set-env::`...). It stays one escaped line; every
action is pinned by commit SHA, so no tag can be moved under the workflow."""

import re
from pathlib import Path

import pytest

from issuepilot.cli import mask, report_error

ROOT = Path(__file__).parents[2]
FILES = [ROOT / "action.yml", *sorted((ROOT / ".github" / "workflows").glob("*.yml"))]


def test_an_error_cannot_start_another_workflow_command(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    report_error("bad plan %0A\r\n::add-mask::x\n::error::owned 100%")
    mask("line1\nline%2")
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("::error title=IssuePilot::") and "%25" in out[0]
    assert [line for line in out if line.startswith("::")] == out  # nothing else started
    assert out[1:] == ["::add-mask::line1", "::add-mask::line%252"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_action_is_pinned_by_commit_sha(path: Path) -> None:
    for line in path.read_text().splitlines():
        if match := re.search(r"uses:\s*([^\s#]+)", line):
            used = match.group(1)
            if used.startswith("./"):
                continue
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", used), f"{path.name}: {used}"
            assert re.search(r"#\s*v\d", line), f"{path.name}: {used} names no version"
