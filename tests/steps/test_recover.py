"""Recover and fail: a working state whose lease expired goes back to where it rested,
counting an attempt; a step that errors leaves its task FAILED with the reason shown."""

import pytest

from issuepilot.agents.base import RepoFiles
from issuepilot.errors import BackendError, ModelError
from issuepilot.locks import Released
from issuepilot.machine import TaskState
from issuepilot.models import ChangeSet, Plan

from .harness import Killed, Sim

S = TaskState
BODY = "The greeting in `src/app.py` needs a `!`."


async def dead_planning_step(sim: Sim) -> int:
    """An issue whose planning run died after claiming the task."""
    issue = sim.github.open_issue("Greet politely", BODY)
    await sim.run(sim.github.label_event(issue, "issuepilot"))
    sim.github.dispatches.clear()
    sim.kill_after("GET", r"/git/trees/")
    with pytest.raises(Killed):
        await sim.run(sim.dispatch_event(issue))
    assert (await sim.task(issue)).state is S.PLANNING
    return issue


async def test_a_step_whose_lease_is_running_is_not_started_twice(sim: Sim) -> None:
    issue = await dead_planning_step(sim)
    before = await sim.task(issue)
    sim.clock.advance(sim.config.lease_s - 1)
    since = sim.mark()
    outcome = await sim.run(sim.dispatch_event(issue))
    assert outcome.message == "a planning step is already running"
    assert await sim.task(issue) == before and sim.calls(since) == []


async def test_an_expired_planning_lease_is_recovered_and_planned_again(sim: Sim) -> None:
    issue = await dead_planning_step(sim)
    sim.clock.advance(sim.config.lease_s)  # the lease ends at its deadline
    outcome = await sim.run(sim.dispatch_event(issue))
    task = await sim.task(issue)
    assert outcome.message == "plan v1 posted for review"
    assert task.state is S.PLAN_REVIEW and task.attempts == 1
    assert [h.state for h in task.history] == [
        S.QUEUED,
        S.PLANNING,
        S.QUEUED,
        S.PLANNING,
        S.PLAN_REVIEW,
    ]
    assert task.history[2].note == "the run holding the step's lease died"
    assert len(sim.status_comments(issue)) == 1
    assert sim.labels(issue) == {"issuepilot", "issuepilot:plan-review"}


async def test_every_recovery_counts_an_attempt(sim: Sim) -> None:
    issue = await dead_planning_step(sim)
    sim.clock.advance(sim.config.lease_s + 1)
    sim.kill_after("GET", r"/git/trees/")
    with pytest.raises(Killed):
        await sim.run(sim.dispatch_event(issue))
    sim.clock.advance(sim.config.lease_s + 1)
    await sim.run(sim.dispatch_event(issue))
    assert (await sim.task(issue)).attempts == 2


async def test_an_expired_execute_lease_returns_to_approved_and_executes_again(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    await sim.to_approved(issue)
    sim.github.dispatches.clear()
    sim.kill_after("POST", r"/git/trees$")
    with pytest.raises(Killed):
        await sim.run(sim.dispatch_event(issue))
    assert await sim.locks.holders(["src/app.py"]) == {"src/app.py": str(issue)}
    sim.clock.advance(sim.config.lease_s + 1)
    await sim.run(sim.dispatch_event(issue))
    task = await sim.task(issue)
    assert task.state is S.PR_OPEN and task.attempts == 1
    assert S.APPROVED in [h.state for h in task.history[-3:]]


async def test_an_execute_step_that_died_after_opening_its_pull_request_goes_on_with_it(
    sim: Sim,
) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    await sim.to_approved(issue)
    sim.github.dispatches.clear()
    sim.kill_after("POST", r"/pulls$")  # open, and the record never says so
    await sim.run_until_killed(sim.dispatch_event(issue))
    [pr] = sim.github.pulls
    sim.clock.advance(sim.config.lease_s + 1)
    await sim.run(sim.dispatch_event(issue))
    task = await sim.task(issue)
    assert task.state is S.PR_OPEN and task.pr == pr and task.attempts == 1
    assert task.history[-1].note == (
        f"pull request #{pr}, opened before run holding the step's lease died"
    )
    assert sim.labels(issue) == {"issuepilot", "issuepilot:pr-open"}
    assert list(sim.github.pulls) == [pr] and len(sim.executed) == 1, "not executed again"


async def test_a_pull_request_of_an_earlier_task_on_the_issue_is_not_taken(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    earlier = sim.open_pull(sim.config.rules.labels.branch(issue), "An earlier task's")
    sim.github.merge_pull(earlier)
    sim.clock.advance(3600)
    await sim.to_approved(issue)
    sim.github.dispatches.clear()
    sim.kill_after("POST", r"/git/trees$")
    await sim.run_until_killed(sim.dispatch_event(issue))
    sim.clock.advance(sim.config.lease_s + 1)
    await sim.run(sim.dispatch_event(issue))
    task = await sim.task(issue)
    assert task.state is S.PR_OPEN and task.pr not in (0, earlier)


async def test_a_recovery_that_loses_the_race_changes_nothing(sim: Sim) -> None:
    issue = await dead_planning_step(sim)
    sim.clock.advance(sim.config.lease_s + 1)
    sim.rival(issue, state=S.CANCELLED)
    outcome = await sim.run(sim.dispatch_event(issue))
    assert (outcome.task, outcome.message) == (None, "already advanced by another run")
    assert (await sim.task(issue)).state is S.CANCELLED and len(sim.planned) == 0


# -- failure ------------------------------------------------------------------------------


async def test_a_failed_step_shows_its_reason_and_keeps_where_it_rested(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    await sim.run(sim.github.label_event(issue, "issuepilot"))
    sim.plans.append(ModelError("no plan <b>today</b>"))
    with pytest.raises(ModelError):
        await sim.drain()
    task = await sim.task(issue)
    assert task.state is S.FAILED and task.resting is S.QUEUED
    assert task.error == "no plan <b>today</b>" and task.history[-1].note == "step failed"
    [comment] = sim.status_comments(issue)
    assert "> [!WARNING]\n> no plan &lt;b&gt;today&lt;/b&gt;" in comment, "the error is escaped"
    assert "`issuepilot:retry`" in comment
    assert sim.labels(issue) == {"issuepilot", "issuepilot:failed"}


async def test_a_failure_after_another_run_moved_the_task_ends_as_superseded(sim: Sim) -> None:
    """The task was cancelled while its step failed: the failure is not the news."""
    issue = sim.github.open_issue("Greet politely", BODY)
    await sim.run(sim.github.label_event(issue, "issuepilot"))
    sim.plans.append(ModelError("the model is down"))
    sim.rival(issue, skip=2, state=S.CANCELLED)  # after the claim and the comment id
    [outcome] = await sim.drain()
    assert outcome.task is None and outcome.message == "already advanced by another run"
    assert (await sim.task(issue)).state is S.CANCELLED


async def test_a_failure_whose_files_cannot_be_freed_still_surfaces_the_error(
    sim: Sim, monkeypatch: pytest.MonkeyPatch
) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    await sim.seed(issue, S.APPROVED)

    def gives_up(plan: Plan, files: RepoFiles) -> ChangeSet:
        raise ModelError("the agent gave up")

    async def unreachable(task: str) -> Released:
        raise BackendError("Redis is unreachable")

    sim.writes.append(gives_up)
    monkeypatch.setattr(sim.locks, "release_task", unreachable)
    with pytest.raises(ModelError, match="the agent gave up"):
        await sim.run(sim.dispatch_event(issue))
    assert (await sim.task(issue)).state is S.FAILED
    assert f"#{issue}: could not record the failure: Redis is unreachable" in sim.said


async def test_a_github_error_while_recording_a_failure_does_not_hide_the_error(
    sim: Sim,
) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    await sim.run(sim.github.label_event(issue, "issuepilot"))
    sim.plans.append(ModelError("the model is down"))
    sim.github.fail("POST", rf"/issues/{issue}/labels$", 502, times=4)
    with pytest.raises(ModelError, match="the model is down"):
        await sim.drain()
