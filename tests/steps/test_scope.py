"""Scope: the change is compared with the approved plan, the protected paths and the size
limits before anything is committed; files outside the plan are refused, or locked too."""

import pytest

from issuepilot.config import RepoConfig
from issuepilot.errors import ModelError
from issuepilot.machine import TaskState
from issuepilot.models import ChangeSet, FileChange

from .harness import Sim, also_write

S = TaskState
BODY = "The greeting in `src/app.py` needs a `!`."


async def approved(sim: Sim) -> int:
    """An issue whose plan to change `src/app.py` is approved, its execute step not yet run."""
    issue = sim.github.open_issue("Greet politely", BODY)
    await sim.seed(issue, S.APPROVED)
    return issue


def writes(*files: tuple[str, str | None]) -> ChangeSet:
    return ChangeSet(files=[FileChange(path=p, content=c) for p, c in files], message="m")


@pytest.mark.parametrize(
    ("config", "change", "why"),
    [
        (
            RepoConfig(),
            [("src/app.py", "x\n"), (".github/workflows/ci.yml", "on: push\n")],
            "the change touches protected paths: .github/workflows/ci.yml",
        ),
        (
            RepoConfig(),
            [("src/app.py", "x\n"), ("src/util.py", "Y = 2\n")],
            "the change touches files outside the approved plan: src/util.py",
        ),
        (
            RepoConfig(max_files=1, out_of_scope="lock"),
            [("src/app.py", "x\n"), ("src/util.py", "Y = 2\n")],
            "the change touches 2 files; the limit is 1",
        ),
        (
            RepoConfig(max_changed_lines=3),
            [("src/app.py", "a\nb\nc\nd\n")],
            "the change adds or removes 6 lines; the limit is 3",
        ),
    ],
    ids=["protected-path", "out-of-scope-refused", "max-files", "max-changed-lines"],
)
async def test_a_change_beyond_the_plan_or_the_limits_fails_before_anything_is_pushed(
    sim: Sim, config: RepoConfig, change: list[tuple[str, str]], why: str
) -> None:
    sim.config = config
    issue = await approved(sim)
    sim.writes.append(lambda plan, files: writes(*change))
    since = sim.mark()
    with pytest.raises(ModelError, match=why):
        await sim.run(sim.dispatch_event(issue))
    task = await sim.task(issue)
    assert task.state is S.FAILED and task.error.startswith(why)
    assert not [c for c in sim.calls(since) if "/git/" in c or "/pulls" in c]
    assert await sim.locks.holders(["src/app.py", "src/util.py"]) == {}


async def test_protected_paths_may_be_changed_when_allowed(sim: Sim) -> None:
    sim.config = RepoConfig(allow_protected=True, token_can_write_workflows=True)
    issue = sim.github.open_issue("CI", "Fix `.github/workflows/ci.yml`.")
    await sim.to_pr_open(issue)
    task = await sim.task(issue)
    assert task.state is S.PR_OPEN
    assert ".github/workflows/ci.yml" in sim.github.files_at(task.branch)


async def test_files_outside_the_plan_are_locked_too_when_configured(sim: Sim) -> None:
    sim.config = RepoConfig(out_of_scope="lock")
    issue = await approved(sim)
    sim.writes.append(also_write("src/util.py"))
    await sim.run(sim.dispatch_event(issue))
    task = await sim.task(issue)
    assert task.state is S.PR_OPEN and task.extra_paths == ["src/util.py"]
    assert await sim.locks.holders(["src/app.py", "src/util.py"]) == {
        "src/app.py": str(issue),
        "src/util.py": str(issue),
    }
    assert (
        "Also changed, outside the plan (locked too):\n- `src/util.py`"
        in (sim.github.pulls[task.pr]["body"])
    )
    assert "Also changed outside the plan: `src/util.py`" in sim.status_comments(issue)[0]


async def test_files_outside_the_plan_held_by_another_task_fail_the_change(sim: Sim) -> None:
    sim.config = RepoConfig(out_of_scope="lock")
    other = sim.github.open_issue("Other", "Change `src/util.py`.")
    await sim.to_pr_open(other)
    issue = await approved(sim)
    sim.writes.append(also_write("src/util.py"))
    with pytest.raises(ModelError, match=rf"other tasks hold: src/util.py \(#{other}\)"):
        await sim.run(sim.dispatch_event(issue))
    assert (await sim.task(issue)).state is S.FAILED
    assert await sim.locks.holders(["src/app.py", "src/util.py"]) == {"src/util.py": str(other)}
