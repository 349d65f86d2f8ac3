"""Writing the change in a checkout: the repository's checks after each round, a failure
sent back to the agent, the last verdict (a draft, or a failed task), and the refusals."""

import subprocess
from pathlib import Path

import pytest

from issuepilot.agents.base import RepoFiles
from issuepilot.config import RepoConfig
from issuepilot.errors import ModelError
from issuepilot.machine import TaskState as S
from issuepilot.models import ChangeSet, FileChange, Plan
from issuepilot.steps.change import ChecksFailed

from .harness import Sim

BODY = "The greeting in `src/app.py` needs a `!`."
FIXED = 'def greet(name):\n    return "Hello " + name + "!"\n'


@pytest.fixture
def checkout(sim: Sim, tmp_path: Path) -> Path:
    """The job's checkout of the base branch."""
    root = tmp_path / "checkout"
    for path, text in sim.github.files_at("main").items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    commit = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base"]
    subprocess.run(commit, cwd=root, check=True)
    sim.workspace = root
    return root


def checks(**more: object) -> RepoConfig:
    """A check that passes once the greeting ends with `!`; run without a sandbox user."""
    return RepoConfig(checks={"greeting": "grep -q '\"!\"' src/app.py"}, sandbox="none", **more)


def greeting(text: str):  # type: ignore[no-untyped-def]
    def write(plan: Plan, files: RepoFiles) -> ChangeSet:
        return ChangeSet(files=[FileChange(path="src/app.py", content=text)], message="greet")

    return write


async def test_a_failing_check_goes_back_to_the_agent_and_the_next_round_passes(
    sim: Sim, checkout: Path
) -> None:
    sim.config = checks()
    sim.writes += [greeting("def greet(name):\n    return 'Hi'\n"), greeting(FIXED)]
    issue = sim.github.open_issue("Greet politely", BODY)
    task = await sim.to_pr_open(issue)
    assert task.state is S.PR_OPEN
    assert [(c.name, c.passed) for c in task.checks] == [("greeting", True)]
    assert sim.feedback[0] == "" and "Check 'greeting' failed (exit 1)" in sim.feedback[1]
    assert any("round 1: greeting failed" in line for line in sim.said)
    assert any("round 2: greeting passed" in line for line in sim.said)
    assert sim.github.files_at(task.branch)["src/app.py"] == FIXED
    assert not sim.github.pulls[task.pr]["draft"]


async def test_checks_still_failing_open_a_draft_that_says_so(sim: Sim, checkout: Path) -> None:
    sim.config = checks(check_rounds=1)
    sim.writes += [greeting("A = 1\n"), greeting("A = 2\n")]
    issue = sim.github.open_issue("Greet politely", BODY)
    task = await sim.to_pr_open(issue)
    pull = sim.github.pulls[task.pr]
    assert pull["draft"] and "greeting" in pull["body"]
    assert [(c.name, c.passed) for c in task.checks] == [("greeting", False)]
    assert len(sim.executed) == 2  # one round, and one more after the failure


async def test_checks_still_failing_fail_the_task_when_configured(sim: Sim, checkout: Path) -> None:
    sim.config = checks(check_rounds=0, on_check_failure="fail")
    sim.writes.append(greeting("A = 1\n"))
    issue = sim.github.open_issue("Greet politely", BODY)
    with pytest.raises(ChecksFailed):
        await sim.to_pr_open(issue)
    task = await sim.task(issue)
    assert task.state is S.FAILED and task.pr == 0
    assert "the change still fails its checks: greeting failed" in task.error


async def test_an_agent_that_changes_nothing_fails_the_step(sim: Sim, checkout: Path) -> None:
    sim.writes.append(greeting(sim.github.files_at("main")["src/app.py"]))  # as it was
    issue = sim.github.open_issue("Greet politely", BODY)
    with pytest.raises(ModelError, match="the agent changed no files"):
        await sim.to_pr_open(issue)
    assert (await sim.task(issue)).state is S.FAILED


async def test_checks_without_a_checkout_are_refused_with_what_to_do(sim: Sim) -> None:
    sim.config = checks()
    issue = sim.github.open_issue("Greet politely", BODY)
    with pytest.raises(ModelError, match="they need a checkout: add actions/checkout"):
        await sim.to_pr_open(issue)
    assert (await sim.task(issue)).state is S.FAILED
