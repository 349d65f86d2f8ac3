"""Finish: PR_OPEN -> DONE when the pull request is merged, CANCELLED when it is closed
unmerged; either way the task's files are freed and the tasks waiting for them woken."""

import pytest

from issuepilot.machine import TaskState
from issuepilot.models import Task

from .harness import Sim

S = TaskState
BODY = "The greeting in `src/app.py` needs a `!`."


async def opened_task(sim: Sim, reviewed: bool = False) -> Task:
    """A task with its pull request open: seeded, or `reviewed` through the real steps."""
    issue = sim.github.open_issue("Greet politely", BODY)
    if reviewed:
        return await sim.to_pr_open(issue)
    return await sim.seed(issue, S.PR_OPEN)


async def test_a_merged_pull_request_finishes_the_task(sim: Sim) -> None:
    opened = await opened_task(sim, reviewed=True)
    issue = opened.issue
    outcome = await sim.run(sim.github.merge_pull(opened.pr))
    task = await sim.task(issue)
    assert outcome.message == f"pull request #{opened.pr} merged" and not outcome.automatic
    assert task.state is S.DONE and task.history[-1].note == outcome.message
    assert sim.labels(issue) == {"issuepilot", "issuepilot:done"}
    assert await sim.locks.holders(["src/app.py"]) == {}
    assert sim.shown_record(issue).state is S.DONE and len(sim.status_comments(issue)) == 1
    assert sim.github.dispatches == []


async def test_a_pull_request_closed_unmerged_cancels_the_task(sim: Sim) -> None:
    opened = await opened_task(sim)
    issue = opened.issue
    outcome = await sim.run(sim.github.merge_pull(opened.pr, merged=False))
    task = await sim.task(issue)
    assert outcome.message == f"pull request #{opened.pr} closed without merging"
    assert task.state is S.CANCELLED
    assert sim.labels(issue) == {"issuepilot", "issuepilot:cancelled"}
    assert await sim.locks.holders(["src/app.py"]) == {}


async def test_finish_stays_within_four_calls(sim: Sim) -> None:
    opened = await opened_task(sim, reviewed=True)
    issue = opened.issue
    since = sim.mark()
    await sim.run(sim.github.merge_pull(opened.pr))
    calls = sim.calls(since)
    assert sorted(calls) == sorted(
        [
            f"POST /issues/{issue}/labels",
            f"DELETE /issues/{issue}/labels/issuepilot%3Apr-open",
            f"PATCH /issues/comments/{opened.comment_id}",
        ]
    )
    assert len(calls) <= 4


@pytest.mark.parametrize("merged", [True, False], ids=["merged", "closed"])
async def test_finishing_wakes_the_task_waiting_for_the_files(sim: Sim, merged: bool) -> None:
    holder = sim.github.open_issue("Holder", BODY)
    opened = await sim.to_pr_open(holder)
    waiter = sim.github.open_issue("Waiter", BODY)
    await sim.to_approved(waiter)
    await sim.drain()
    assert (await sim.task(waiter)).waiting_on == {"src/app.py": str(holder)}
    await sim.run(sim.github.merge_pull(opened.pr, merged=merged))
    assert sim.dispatched == [waiter]
    assert [d["inputs"] for d in sim.github.dispatches] == [{"issue": str(waiter)}]


async def test_closing_another_pull_request_of_the_branch_changes_nothing(sim: Sim) -> None:
    opened = await opened_task(sim)
    issue = opened.issue
    event = sim.github.merge_pull(opened.pr)
    sim.github.pulls[opened.pr].update(state="open", merged=False)
    event[1]["pull_request"]["number"] = opened.pr + 10
    outcome = await sim.run(event)
    assert outcome.message == f"pull request #{opened.pr + 10} is not the open PR of this task"
    assert (await sim.task(issue)) == opened


@pytest.mark.parametrize("state", [S.PLAN_REVIEW, S.APPROVED, S.DONE, S.CANCELLED], ids=str)
async def test_a_closed_pull_request_finishes_only_a_task_with_its_pr_open(
    sim: Sim, state: TaskState
) -> None:
    opened = await opened_task(sim)
    issue = opened.issue
    sim.store.overwrite(issue, state=state)
    before = await sim.task(issue)
    outcome = await sim.run(sim.github.merge_pull(opened.pr))
    assert outcome.message == f"pull request #{opened.pr} is not the open PR of this task"
    assert await sim.task(issue) == before


async def test_a_pull_request_on_a_branch_that_is_not_ours_is_ignored(sim: Sim) -> None:
    number = sim.open_pull("feature", "A person's change")
    since = sim.mark()
    outcome = await sim.run(sim.github.merge_pull(number))
    assert outcome.task is None
    assert outcome.message == "branch 'feature' is not an IssuePilot branch"
    assert sim.calls(since) == []


async def test_a_merge_for_an_issue_without_a_task_says_so(sim: Sim) -> None:
    opened = await opened_task(sim)
    issue = opened.issue
    sim.store.records.clear()
    sim.github.comments.clear()
    outcome = await sim.run(sim.github.merge_pull(opened.pr))
    assert outcome.task is None
    assert outcome.message == f"issue #{issue} has no IssuePilot task: add the label 'issuepilot'"


async def test_a_finish_that_loses_the_race_changes_nothing(sim: Sim) -> None:
    opened = await opened_task(sim)
    issue = opened.issue
    sim.rival(issue, error="noted by another run")
    since = sim.mark()
    outcome = await sim.run(sim.github.merge_pull(opened.pr))
    assert (outcome.task, outcome.message) == (None, "already advanced by another run")
    assert (await sim.task(issue)).state is S.PR_OPEN and sim.calls(since) == []
    assert await sim.locks.holders(["src/app.py"]) == {"src/app.py": str(issue)}


async def test_a_merge_of_the_pull_request_a_dead_execute_step_opened_finishes_the_task(
    sim: Sim,
) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    await sim.to_approved(issue)
    sim.github.dispatches.clear()
    sim.kill_after("POST", r"/pulls$")  # open, and the record never says so
    await sim.run_until_killed(sim.dispatch_event(issue))
    [pr] = sim.github.pulls
    sim.clock.advance(sim.config.lease_s + 1)
    outcome = await sim.run(sim.github.merge_pull(pr))
    task = await sim.task(issue)
    assert outcome.message == f"pull request #{pr} merged"
    assert task.state is S.DONE and task.pr == pr
    assert [h.state for h in task.history[-3:]] == [S.EXECUTING, S.PR_OPEN, S.DONE]
    assert await sim.locks.holders(["src/app.py"]) == {}


async def test_a_merge_while_the_execute_step_still_runs_is_left_to_it(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    await sim.to_approved(issue)
    sim.github.dispatches.clear()
    sim.kill_after("POST", r"/pulls$")
    await sim.run_until_killed(sim.dispatch_event(issue))
    [pr] = sim.github.pulls
    outcome = await sim.run(sim.github.merge_pull(pr))  # its lease still runs
    assert outcome.message == f"pull request #{pr} is not the open PR of this task"
    assert (await sim.task(issue)).state is S.EXECUTING
