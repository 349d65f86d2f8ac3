"""`issuepilot init` as a user runs it: the token and the API from the environment, the
labels made on the fake GitHub over loopback, one line and exit 2 for a file it will not
replace."""

import subprocess
import sys
from pathlib import Path

from issuepilot import release
from issuepilot.labels import Labels
from issuepilot.testing.github import FakeGitHub

from .harness import passthrough


def init(root: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "issuepilot", "init", "--dir", str(root), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**passthrough(), **env},
    )


def test_init_sets_a_repository_up_and_a_second_run_changes_nothing(tmp_path: Path) -> None:
    with FakeGitHub("octo/app") as github:
        env = {"GITHUB_TOKEN": "ghs_fake", "GITHUB_API_URL": github.url}
        done = init(tmp_path, "--config", "--repo", "octo/app", env=env)
        assert done.returncode == 0, done.stderr
        assert set(github.labels) == set(Labels().definitions())
        workflow = (tmp_path / ".github" / "workflows" / "issuepilot.yml").read_text()
        assert f"uses: {release.workflow_ref()}" in workflow
        assert "https://github.com/octo/app/settings/actions" in done.stdout
        again = init(tmp_path, "--config", "--repo", "octo/app", env=env)
        assert again.returncode == 0, again.stderr
        assert "the files are already as init writes them" in again.stdout
        assert "labels: all present" in again.stdout
        assert not github.unknown


def test_a_file_init_would_replace_is_one_line_and_exit_2(tmp_path: Path) -> None:
    settings = tmp_path / ".github" / "issuepilot.yml"
    settings.parent.mkdir()
    settings.write_text("max-files: 5\n")
    done = init(tmp_path, "--config", env={})
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        f"issuepilot: error: {settings} exists and differs: pass --force to replace it"
    ]
    assert settings.read_text() == "max-files: 5\n"
    assert not (tmp_path / ".github" / "workflows").exists()
