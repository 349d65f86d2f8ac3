"""Loading a task: from the store, or rebuilt from its status comment when the store lost it.
Only IssuePilot's own comments count; an issue without a state label never had a task."""

from issuepilot.github.status import MARKER
from issuepilot.machine import TaskState
from issuepilot.models import Task

from .harness import Sim, plan_of

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
