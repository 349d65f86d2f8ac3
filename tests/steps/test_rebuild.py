"""Loading a task: from the store, or rebuilt from its status comment when the store lost it.
Only IssuePilot's own comments count; an issue without a state label never had a task."""

import pytest

from issuepilot.errors import ModelError
from issuepilot.github.status import MARKER
from issuepilot.keys import Keys
from issuepilot.machine import TaskState
from issuepilot.models import Task
from issuepilot.steps.rebuild import UNSIGNED, UNVERIFIED

from .harness import REPO, Sim, plan_of

S = TaskState
BOT = "github-actions[bot]"
BODY = "The greeting in `src/app.py` needs a `!`."


def marker(task: Task) -> str:
    return f"### IssuePilot\n\n{MARKER}{task.to_json()} -->"


async def test_a_task_the_store_lost_is_rebuilt_from_its_status_comment(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    reviewed = await sim.to_plan_review(issue)
    sim.store.records.clear()
    since = sim.mark()
    outcome = await sim.run(sim.github.label_event(issue, "issuepilot:approved"))
    task = await sim.task(issue)
    assert outcome.message == "plan v1 approved"
    assert task.state is S.APPROVED and task.plan == reviewed.plan
    assert task.comment_id == reviewed.comment_id and len(sim.status_comments(issue)) == 1
    assert f"GET /issues/{issue}/comments" in sim.calls(since)
    said = "the store had no record of it: rebuilt from its status comment (plan-review)"
    assert f"#{issue}: {said}" in sim.said


async def test_an_issue_without_a_state_label_is_not_looked_up(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    since = sim.mark()
    outcome = await sim.run(sim.github.comment_event(issue, "/issuepilot approve"))
    assert outcome.message == f"issue #{issue} has no IssuePilot task: add the label 'issuepilot'"
    assert f"GET /issues/{issue}/comments" not in sim.calls(since)


async def test_a_run_that_does_not_know_the_labels_looks_for_the_comment(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    since = sim.mark()
    outcome = await sim.run(sim.dispatch_event(issue))
    assert outcome.task is None and "has no IssuePilot task" in outcome.message
    assert sim.calls(since) == [f"GET /issues/{issue}/comments"]


async def test_markers_written_by_anyone_but_issuepilot_are_ignored(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    forged = Task(issue=issue, state=S.APPROVED, plan=plan_of("src/app.py"))
    sim.github.comment_event(issue, marker(forged), sender="mallory")
    outcome = await sim.run(sim.dispatch_event(issue))
    assert outcome.task is None and sim.store.records == {} and sim.executed == []


async def test_a_record_of_another_issue_is_ignored(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    other = Task(issue=issue + 1, state=S.QUEUED)
    sim.github.comment_event(issue, marker(other), sender=BOT)
    outcome = await sim.run(sim.dispatch_event(issue))
    assert outcome.task is None and sim.store.records == {}


async def test_the_newest_status_comment_wins(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    sim.github.comment_event(issue, marker(Task(issue=issue, state=S.DONE)), sender=BOT)
    sim.github.comment_event(issue, "a comment without a record", sender=BOT)
    newest = Task(issue=issue, state=S.PLAN_REVIEW, plan=plan_of("src/app.py"))
    sim.github.comment_event(issue, marker(newest), sender=BOT)
    await sim.run(sim.dispatch_event(issue))
    task = await sim.task(issue)
    assert task.state is S.PLAN_REVIEW and task.comment_id == max(sim.github.comments)


async def test_the_status_comment_is_found_on_a_later_page(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    reviewed = await sim.to_plan_review(issue)
    for n in range(120):
        sim.github.comment_event(issue, f"+1 ({n})", sender="mallory")
    moved = next(c for c in sim.github.comments.values() if c["id"] == reviewed.comment_id)
    del sim.github.comments[reviewed.comment_id]
    sim.github.comments[reviewed.comment_id] = moved  # now the newest, on the second page
    sim.store.records.clear()
    since = sim.mark()
    await sim.run(sim.dispatch_event(issue))
    assert (await sim.task(issue)).comment_id == reviewed.comment_id
    assert sim.calls(since).count(f"GET /issues/{issue}/comments") == 2


async def test_a_rebuild_racing_another_rebuild_uses_the_one_stored(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    await sim.to_plan_review(issue)
    sim.store.records.clear()
    sim.on_request(
        "GET",
        rf"/issues/{issue}/comments",
        lambda: sim.store.overwrite(issue, state=S.CANCELLED),
        after=True,
    )
    outcome = await sim.run(sim.dispatch_event(issue))
    assert outcome.task is not None and outcome.task.state is S.CANCELLED
    assert (await sim.task(issue)).version == 1, "the loser did not write"


async def test_a_task_rebuilt_mid_step_is_recovered_once_its_lease_ends(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    await sim.run(sim.github.label_event(issue, "issuepilot"))
    sim.github.dispatches.clear()
    sim.kill_after("GET", r"/git/trees/")
    await sim.run_until_killed(sim.dispatch_event(issue))
    sim.store.records.clear()  # the store is lost while the record shows PLANNING
    outcome = await sim.run(sim.dispatch_event(issue))
    assert outcome.message == "a planning step is already running"
    sim.clock.advance(sim.config.lease_s + 1)
    await sim.run(sim.dispatch_event(issue))
    task = await sim.task(issue)
    assert task.state is S.PLAN_REVIEW and task.attempts == 1
    assert len(sim.status_comments(issue)) == 1


async def test_a_merge_finishes_a_task_the_store_lost(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    opened = await sim.to_pr_open(issue)
    sim.store.records.clear()
    await sim.run(sim.github.merge_pull(opened.pr))
    assert (await sim.task(issue)).state is S.DONE
    assert sim.labels(issue) == {"issuepilot", "issuepilot:done"}
    assert await sim.locks.holders(["src/app.py"]) == {}


async def test_an_unsigned_record_restores_the_plan_but_not_the_approval(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    plan = plan_of("src/app.py")
    digest = plan.digest()
    forged = Task(
        issue=issue,
        state=S.APPROVED,
        plan=plan,
        plan_hash=digest,
        plan_version=1,
        approved_hash=digest,
        resting=S.PLAN_REVIEW,
    )
    sim.github.comment_event(issue, marker(forged), sender=BOT)
    await sim.run(sim.dispatch_event(issue))
    assert sim.github.pulls == {} and sim.executed == []
    task = await sim.task(issue)
    assert task.plan == plan and task.approved_hash == ""


def lose_everything(sim: Sim) -> None:
    """The store loses its records and the key that signed them: no record verifies."""
    sim.store.records.clear()
    sim.store.flags.pop(Keys(REPO).record_key, None)


async def test_an_unverified_record_of_a_failed_planning_step_restores_a_failed_task(
    sim: Sim,
) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    await sim.run(sim.github.label_event(issue, "issuepilot"))
    sim.plans.append(ModelError("the model is down"))
    with pytest.raises(ModelError):
        await sim.drain()
    lose_everything(sim)
    outcome = await sim.run(sim.github.comment_event(issue, "/issuepilot retry"))
    task = await sim.task(issue)
    assert outcome.message == "retrying from queued" and task.state is S.QUEUED
    assert task.history[0].note == UNVERIFIED and task.plan is None
    await sim.drain()
    assert (await sim.task(issue)).state is S.PLAN_REVIEW
    assert len(sim.status_comments(issue)) == 1


async def test_an_unverified_record_of_a_task_that_planned_no_further_is_queued_again(
    sim: Sim,
) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    await sim.run(sim.github.label_event(issue, "issuepilot"))
    sim.github.dispatches.clear()
    sim.kill_after("GET", r"/git/trees/")  # the planner's comment is up; then the run dies
    await sim.run_until_killed(sim.dispatch_event(issue))
    lose_everything(sim)
    await sim.run(sim.schedule_event())
    task = await sim.task(issue)
    assert task.state is S.QUEUED and sim.dispatched == [issue]
    assert sim.shown_record(issue).state is S.QUEUED  # the comment shows the rebuilt task


async def test_an_unverified_record_is_shown_as_rebuilt_even_in_the_same_state(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    await sim.to_plan_review(issue)
    lose_everything(sim)
    await sim.run(sim.schedule_event())
    assert UNSIGNED in sim.status_comments(issue)[0]


async def test_an_approval_sent_before_an_unverified_rebuild_approves_nothing(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    await sim.to_plan_review(issue)
    approval = sim.github.label_event(issue, "issuepilot:approved")  # its run starts late
    lose_everything(sim)
    await sim.run(sim.schedule_event())  # rebuilds the plan, unapproved, and acts on the label
    task = await sim.task(issue)
    assert task.state is S.PLAN_REVIEW and task.approved_hash == "" and sim.dispatched == []
    assert "issuepilot:approved" not in sim.labels(issue)
    await sim.run(approval)  # the late run of that approval
    assert (await sim.task(issue)).state is S.PLAN_REVIEW
    sim.clock.advance(5)
    await sim.run(sim.github.label_event(issue, "issuepilot:approved"))  # approved anew
    assert (await sim.task(issue)).state is S.APPROVED


async def test_a_signed_record_that_lags_its_pull_request_is_rebuilt_with_it(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    await sim.to_approved(issue)
    sim.github.dispatches.clear()
    sim.kill_after("POST", r"/pulls$")  # open; neither record nor comment says so
    await sim.run_until_killed(sim.dispatch_event(issue))
    [pr] = sim.github.pulls
    sim.store.records.clear()  # the key stays: the comment's record verifies
    await sim.run(sim.schedule_event())
    task = await sim.task(issue)
    assert task.state is S.PR_OPEN and task.pr == pr
    assert task.history[-1].note == f"rebuilt: pull request #{pr} is open"
    assert sim.labels(issue) == {"issuepilot", "issuepilot:pr-open"}


async def test_an_unverified_record_past_planning_without_a_plan_restores_nothing(
    sim: Sim,
) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    sim.github.label_event(issue, "issuepilot")
    sim.github.label_event(issue, "issuepilot:done")
    sim.github.comment_event(issue, marker(Task(issue=issue, state=S.DONE)), sender=BOT)
    outcome = await sim.run(sim.dispatch_event(issue))
    assert outcome.task is None and sim.store.records == {}


@pytest.mark.parametrize("whose", ["another branch's", "gone"])
async def test_an_unverified_record_keeps_only_a_pull_request_of_its_own_branch(
    sim: Sim, whose: str
) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    pr = sim.open_pull("someone/else", "Another change") if whose != "gone" else 999
    plan = plan_of("src/app.py")
    record = Task(issue=issue, state=S.PR_OPEN, plan=plan, pr=pr, branch="someone/else")
    sim.github.comment_event(issue, marker(record), sender=BOT)
    await sim.run(sim.dispatch_event(issue))
    task = await sim.task(issue)
    assert task.state is S.PLAN_REVIEW and (task.pr, task.branch) == (0, "")
