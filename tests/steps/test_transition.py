"""The one way a task changes state: ask the table, compare-and-set, record the history,
free what the new state no longer holds, mirror the task to GitHub."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from issuepilot.agents.base import RepoFiles
from issuepilot.errors import IllegalTransition, ModelError, Superseded
from issuepilot.locks import LockConflict
from issuepilot.machine import Move, TaskState
from issuepilot.models import ChangeSet, Plan
from issuepilot.steps.context import Context
from issuepilot.steps.transition import restart, transition

from .harness import Event, Sim

S = TaskState
BODY = "The greeting in `src/app.py` needs a `!`."
RUN = "https://github.com/octo/app/actions/runs/1"


@asynccontextmanager
async def step(sim: Sim, event: Event) -> AsyncIterator[Context]:
    ctx = sim.context(event)
    try:
        yield ctx
    finally:
        await ctx.gh.aclose()


async def test_a_move_the_table_lacks_is_never_carried_out(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    task = await sim.seed(issue, S.QUEUED)
    since = sim.mark()
    async with step(sim, sim.dispatch_event(issue)) as ctx:
        with pytest.raises(IllegalTransition, match="a task cannot merged when it is queued"):
            await transition(ctx, task, Move.MERGED)
    assert await sim.task(issue) == task and sim.calls(since) == []


async def test_a_transition_is_one_compare_and_set_with_its_history_entry(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    reviewed = await sim.to_plan_review(issue)
    sim.clock.advance(3 * 3600)
    await sim.run(sim.github.label_event(issue, "issuepilot:approved"))
    task = await sim.task(issue)
    assert task.version == reviewed.version + 1
    entry = task.history[-1]
    assert (entry.state, entry.run, entry.note) == (
        S.APPROVED,
        RUN,
        "plan v1 approved by @octocat",
    )
    assert entry.at == "2027-01-15 11:00 UTC" and reviewed.history[-1].at != entry.at
    assert f"#{issue}: plan-review -> approved (plan v1 approved by @octocat)" in sim.said


async def test_the_resting_state_is_kept_through_work_and_failure_for_retry(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    await sim.to_approved(issue)

    def gives_up(plan: Plan, files: RepoFiles) -> ChangeSet:
        raise ModelError("the agent gave up")

    sim.writes.append(gives_up)
    with pytest.raises(ModelError):
        await sim.drain()
    failed = await sim.task(issue)
    assert (failed.state, failed.resting) == (S.FAILED, S.APPROVED)
    await sim.run(sim.github.comment_event(issue, "/issuepilot retry"))
    retried = await sim.task(issue)
    assert (retried.state, retried.resting) == (S.APPROVED, S.APPROVED)


async def test_entering_a_working_state_without_a_comment_touches_github_not_at_all(
    sim: Sim,
) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    task = await sim.seed(issue, S.APPROVED)
    labels = sim.labels(issue)
    since = sim.mark()
    async with step(sim, sim.dispatch_event(issue)) as ctx:
        working = await transition(ctx, task, Move.START, comment=False, lease_until=1.0)
    assert working.state is S.EXECUTING and working.resting is S.APPROVED
    assert working.version == task.version + 1
    assert sim.calls(since) == [] and sim.labels(issue) == labels


async def test_a_working_state_shows_the_label_of_where_it_rested(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    task = await sim.seed(issue, S.APPROVED)
    async with step(sim, sim.dispatch_event(issue)) as ctx:
        working = await transition(ctx, task, Move.START, lease_until=1.0)
    assert working.state is S.EXECUTING and working.comment_id
    assert sim.labels(issue) == {"issuepilot", "issuepilot:approved"}
    assert sim.shown_record(issue).state is S.EXECUTING


async def test_a_lost_compare_and_set_raises_superseded_and_mirrors_nothing(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    task = await sim.seed(issue, S.PLAN_REVIEW)
    sim.rival(issue, error="another run")
    since = sim.mark()
    async with step(sim, sim.dispatch_event(issue)) as ctx:
        with pytest.raises(Superseded, match="^lost to the rival$"):
            await transition(ctx, task, Move.APPROVE, lost="lost to the rival")
    assert (await sim.task(issue)).state is S.PLAN_REVIEW and sim.calls(since) == []


async def test_waiting_for_files_keeps_the_place_in_line(sim: Sim) -> None:
    await sim.locks.acquire("77", ["src/app.py"], ttl_s=600)
    issue = sim.github.open_issue("Greet politely", BODY)
    await sim.seed(issue, S.APPROVED)
    await sim.run(sim.dispatch_event(issue))
    line = dict(sim.locks.waiting)
    assert str(issue) in line
    await sim.run(sim.dispatch_event(issue))  # still waiting: the same place
    assert sim.locks.waiting[str(issue)] == line[str(issue)]


@pytest.mark.parametrize(
    ("state", "command"),
    [(S.APPROVED, "revise"), (S.APPROVED, "cancel"), (S.EXECUTING, "cancel")],
    ids=str,
)
async def test_leaving_the_claim_on_files_frees_them_and_the_place_in_line(
    sim: Sim, state: TaskState, command: str
) -> None:
    await sim.locks.acquire("77", ["src/util.py"], ttl_s=600)
    issue = sim.github.open_issue("Greet politely", BODY)
    await sim.seed(issue, state)
    if state is S.APPROVED:
        with pytest.raises(LockConflict):
            await sim.locks.acquire(str(issue), ["src/util.py"], ttl_s=60)
        assert str(issue) in sim.locks.waiting
    await sim.run(sim.github.comment_event(issue, f"/issuepilot {command}"))
    assert str(issue) not in sim.locks.waiting
    assert await sim.locks.holders(["src/app.py", "src/util.py"]) == {"src/util.py": "77"}


async def test_a_restart_without_a_record_starts_at_version_one_without_a_comment(
    sim: Sim,
) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    async with step(sim, sim.github.label_event(issue, "issuepilot")) as ctx:
        queued = await restart(ctx, issue, None, "Greet politely")
    assert (queued.state, queued.version, queued.comment_id) == (S.QUEUED, 1, 0)
    assert sim.comments(issue) == []
    assert sim.labels(issue) == {"issuepilot", "issuepilot:queued"}


async def test_a_restart_over_a_record_shows_itself_in_the_old_status_comment(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    task = await sim.to_pr_open(issue)
    await sim.run(sim.github.merge_pull(task.pr))
    done = await sim.task(issue)
    async with step(sim, sim.dispatch_event(issue, command="plan")) as ctx:
        queued = await restart(ctx, issue, done, "Greet politely")
    assert queued.version == done.version + 1 and queued.comment_id == done.comment_id
    assert sim.shown_record(issue).state is S.QUEUED
    assert sim.labels(issue) == {"issuepilot", "issuepilot:queued"}
