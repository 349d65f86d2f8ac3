"""Installing a preset's CLI: once per version, marked complete last, readable by every
user; with clear errors where the runner lacks what the install needs. npm is played by a
script on PATH that records its calls (no registry is reached)."""

import asyncio
import os
import stat
from pathlib import Path

import pytest

from issuepilot.agents.install import DONE, _everyone_runs, ensure, folder, installed
from issuepilot.agents.presets import Install, Invocation, Preset, Report
from issuepilot.errors import InputError

from ..security.test_agent_reads_the_jobs_secrets import can_sandbox
from .contract import REQUIRED, real_cli

NPM = """#!/bin/sh
echo "$@" >> "$NPM_LOG"
prefix=$3
mkdir -p "$prefix/node_modules/.bin"
printf '#!/bin/sh\\necho hi\\n' > "$prefix/node_modules/.bin/tool"
chmod 700 "$prefix/node_modules/.bin/tool"
"""


class Tool(Preset):
    name, title = "tool", "Tool"
    install = Install("npm", "@acme/tool", "1.2.3", "tool")
    keys = ()

    def argv(self, run: Invocation) -> list[str]:
        return [run.binary]

    def env(self, run: Invocation) -> dict[str, str]:
        return {}

    def report(self, output: str) -> Report:
        return Report()


@pytest.fixture
def npm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "npm").write_text(NPM)
    (bin_dir / "npm").chmod(0o755)
    log = tmp_path / "npm.log"
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("NPM_LOG", str(log))
    return log


async def test_a_version_is_installed_once_marked_and_readable_by_everyone(
    tmp_path: Path, npm: Path
) -> None:
    cache = tmp_path / "cache"
    first, again = await asyncio.gather(ensure(cache, Tool()), ensure(cache, Tool()))
    assert first.command == again.command == f"{cache}/tool-1.2.3/node_modules/.bin/tool"
    assert npm.read_text().count("@acme/tool@1.2.3") == 1  # the second waited, then found it
    assert (folder(cache, Tool()) / DONE).is_file()
    assert os.stat(first.command).st_mode & stat.S_IXOTH  # the sandbox's user may run it
    assert (await ensure(cache, Tool(), "2.0.0")).version == "2.0.0"  # another version
    assert npm.read_text().count("@acme/tool@2.0.0") == 1


async def test_an_install_that_died_half_way_is_done_again(tmp_path: Path, npm: Path) -> None:
    cache = tmp_path / "cache"
    half = folder(cache, Tool()) / "node_modules" / ".bin"
    half.mkdir(parents=True)
    (half / "tool").write_text("partial")
    assert installed(cache, Tool()) is None  # no mark: not installed
    await ensure(cache, Tool())
    assert len(npm.read_text().splitlines()) == 1 and installed(cache, Tool()) is not None
    assert (half / "tool").read_text() != "partial"


async def test_without_npm_the_error_says_what_to_add(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no npm anywhere
    with pytest.raises(InputError, match="add actions/setup-node"):
        await ensure(tmp_path / "cache", Tool())


def test_a_program_under_a_closed_folder_is_not_everyones(tmp_path: Path) -> None:
    closed = tmp_path / "home"
    closed.mkdir(mode=0o700)
    (closed / "python").write_text("")
    (closed / "python").chmod(0o755)
    tmp_path.chmod(0o755)
    assert not _everyone_runs(str(closed / "python"))
    closed.chmod(0o711)
    assert _everyone_runs(str(closed / "python")) == all(
        p.stat().st_mode & stat.S_IXOTH for p in tmp_path.parents
    )


def test_a_missing_cli_skips_its_tests_naming_the_install_or_fails_them_in_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if why := can_sandbox():
        pytest.skip(why)
    monkeypatch.delenv(REQUIRED, raising=False)
    with pytest.raises(pytest.skip.Exception, match="run `issuepilot agents install tool`"):
        real_cli(Tool())
    monkeypatch.setenv(REQUIRED, "1")
    with pytest.raises(pytest.fail.Exception, match="issuepilot agents install tool.*is set"):
        real_cli(Tool())
