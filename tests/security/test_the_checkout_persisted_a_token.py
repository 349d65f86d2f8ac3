"""actions/checkout (v6 on) with `persist-credentials: true`: its token lies in a file of
its own in the runner's temporary folder, included from `.git/config` for the checkout's
git directory and its worktrees, as the runner and as a container see them (and from each
submodule's config). IssuePilot unsets those includes before any git call of its own and
before agent commands and checks run, then verifies nothing is left. The file itself is
never deleted (its path is read from a file an agent can write); it stays in the folder
the sandbox closes. Any other include is refused, as before."""

import base64
import subprocess
from pathlib import Path

import pytest

from issuepilot.agents.command import CommandAgent, scrub_credentials
from issuepilot.agents.tools import ToolBox
from issuepilot.checks import Checks
from issuepilot.config import RepoConfig
from issuepilot.errors import ModelError
from issuepilot.github.untrusted import Redactor
from issuepilot.models import Plan, PlannedFile
from issuepilot.workspace import CheckoutWorkspace

from ..test_command_agent import ISSUE
from .test_agent_reads_the_jobs_secrets import can_sandbox

UUID = "0b9c3c3e-1f2a-4b3c-8d4e-5f60718293a4"
TOKEN = "ghs_persistedByCheckout0123456789abcdef"
HEADER = "AUTHORIZATION: basic " + base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
KEY = "http.https://github.com/.extraheader"
NO_SANDBOX = can_sandbox()


def sh(cwd: Path, *args: str) -> str:
    return subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True).stdout


def v6_checkout(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """A checkout as actions/checkout v6 leaves it with persisted credentials (and one
    submodule): (the checkout, the credentials file, the runner's environment)."""
    repo, runner_temp = tmp_path / "work" / "my repo", tmp_path / "_temp"
    (repo / "src").mkdir(parents=True)
    runner_temp.mkdir()
    (repo / "src" / "a.py").write_text("A = 1\n")
    sh(repo, "git", "init", "-q")
    sh(repo, "git", "-c", "user.name=t", "-c", "user.email=t@t", "add", ".")
    sh(repo, "git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    credentials = runner_temp / f"git-credentials-{UUID}.config"
    sh(repo, "git", "config", "--file", str(credentials), KEY, HEADER)
    in_container = f"/github/runner_temp/{credentials.name}"
    includes = [
        (f"{repo}/.git", str(credentials)),
        (f"{repo}/.git/worktrees/*", str(credentials)),
        ("/github/workspace/.git", in_container),
        ("/github/workspace/.git/worktrees/*", in_container),
    ]
    for gitdir, path in includes:
        sh(repo, "git", "config", "--local", f"includeIf.gitdir:{gitdir}.path", path)
    module = repo / ".git" / "modules" / "lib"
    module.mkdir(parents=True)
    (module / "config").write_text("[core]\n\tbare = false\n")
    sh(
        module,
        "git",
        "config",
        "--file",
        "config",
        f"includeIf.gitdir:{module}.path",
        str(credentials),
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "RUNNER_TEMP": str(runner_temp)}
    return repo, credentials, env


def test_the_layout_hands_git_the_token(tmp_path: Path) -> None:
    """The layout is checkout's: plain git in the checkout reads the token through it."""
    repo, _, _ = v6_checkout(tmp_path)
    assert sh(repo, "git", "config", "--get", KEY).strip() == HEADER


async def test_issuepilots_own_git_unsets_the_includes_first(tmp_path: Path) -> None:
    repo, credentials, _ = v6_checkout(tmp_path)
    before = credentials.read_text()
    assert await CheckoutWorkspace(repo).files() == ["src/a.py"]
    config = (repo / ".git" / "config").read_text()
    assert "includeIf" not in config and "git-credentials" not in config
    assert subprocess.run(["git", "config", "--get", KEY], cwd=repo).returncode == 1
    assert credentials.read_text() == before, "the file is left as it was"


async def test_a_scrub_reaches_the_submodules_and_leaves_nothing(tmp_path: Path) -> None:
    repo, credentials, _ = v6_checkout(tmp_path)
    sh(repo, "git", "config", "--local", KEY, HEADER)  # and checkout v4's header as well
    await scrub_credentials(repo)
    for config in (repo / ".git" / "config", repo / ".git" / "modules" / "lib" / "config"):
        text = config.read_text()
        assert "includeIf" not in text and "extraheader" not in text and TOKEN not in text
    assert credentials.exists()


@pytest.mark.skipif(bool(NO_SANDBOX), reason=NO_SANDBOX or "sandbox available")
async def test_an_agent_command_runs_and_finds_no_token(tmp_path: Path) -> None:
    repo, credentials, env = v6_checkout(tmp_path)
    script = (
        "echo 'A = 2' > src/a.py && git status --short > status.txt"
        " && git config --list --show-origin > seen.txt"
        f" && {{ cat '{credentials}' > leaked.txt 2>&1; true; }}"
    )
    agent = CommandAgent(script, repo, env, [], 60, 100_000)
    plan = Plan(summary="s", files=[PlannedFile(path="src/a.py")])
    await agent.execute(ISSUE, plan, ToolBox(CheckoutWorkspace(repo), "execute"))
    files = {c.path: c.content or "" for c in await CheckoutWorkspace(repo).change()}
    assert files["src/a.py"] == "A = 2\n" and " M src/a.py" in files["status.txt"]
    for name in ("seen.txt", "leaked.txt"):
        assert TOKEN not in files[name] and "AUTHORIZATION" not in files[name], name
    assert "git-credentials" not in files["seen.txt"]


@pytest.mark.skipif(bool(NO_SANDBOX), reason=NO_SANDBOX or "sandbox available")
async def test_a_check_runs_git_and_finds_no_token(tmp_path: Path) -> None:
    repo, _, env = v6_checkout(tmp_path)
    config = RepoConfig(checks={"git": "git status --short && git config --list"})
    result = await Checks(repo, config, env, Redactor()).run("git")
    assert result.passed, result.tail
    assert "core.bare=false" in result.tail and TOKEN not in result.tail
    assert "extraheader" not in result.tail


async def test_another_include_is_refused_and_no_file_it_names_is_deleted(
    tmp_path: Path,
) -> None:
    repo, credentials, _ = v6_checkout(tmp_path)
    elsewhere = tmp_path / "keep" / credentials.name  # named like checkout's, elsewhere
    elsewhere.parent.mkdir()
    elsewhere.write_text("[user]\n\tname = kept\n")
    evil = tmp_path / "evil.cfg"
    evil.write_text(f"[core]\n\tfsmonitor = touch {tmp_path}/pwned\n")
    sh(repo, "git", "config", "--local", "includeIf.gitdir:/x/.git.path", str(elsewhere))
    sh(repo, "git", "config", "--local", "--add", "include.path", str(evil))
    with pytest.raises(ModelError, match=r"run programs \(include\.path\)"):
        await CheckoutWorkspace(repo).files()
    assert elsewhere.exists() and evil.exists() and credentials.exists()
    assert not (tmp_path / "pwned").exists()
    assert str(evil) in (repo / ".git" / "config").read_text(), "refused, not removed"
