"""A maintainer approves what they read; meanwhile someone revises the plan. The approval
must not carry over to the plan nobody read."""

from issuepilot.machine import TaskState

from ..steps.harness import Sim, plan_of

S = TaskState
BODY = "The greeting in `src/app.py` needs a `!`."


async def in_review(sim: Sim) -> int:
    issue = sim.github.open_issue("Greet politely", BODY)
    await sim.to_plan_review(issue)
    return issue


async def revised(sim: Sim, issue: int) -> str:
    """Revise to plan v2 and return its hash."""
    await sim.run(sim.github.comment_event(issue, "/issuepilot revise touch util too"))
    wider = plan_of("src/app.py", "src/util.py")
    sim.plans.append(wider)
    await sim.drain()
    task = await sim.task(issue)
    assert task.state is S.PLAN_REVIEW and task.plan == wider and task.plan_version == 2
    return task.plan_hash


async def test_an_approval_sent_before_a_revision_was_shown_approves_nothing(sim: Sim) -> None:
    issue = await in_review(sim)
    approval = sim.github.label_event(issue, "issuepilot:approved")  # sent, not yet handled
    sim.github.issues[issue].labels.remove("issuepilot:approved")
    await revised(sim, issue)
    outcome = await sim.run(approval)
    task = await sim.task(issue)
    assert task.state is S.PLAN_REVIEW and task.approved_hash == ""
    assert "sent before plan v2" in outcome.message
    assert "issuepilot:approved" not in sim.labels(issue)
    assert sim.github.dispatches == []


async def test_approve_with_a_hash_approves_that_plan_only(sim: Sim) -> None:
    issue = await in_review(sim)
    old = (await sim.task(issue)).plan_hash
    new = await revised(sim, issue)
    await sim.run(sim.github.comment_event(issue, f"/issuepilot approve {old}"))
    assert (await sim.task(issue)).state is S.PLAN_REVIEW
    await sim.run(sim.github.comment_event(issue, f"/issuepilot approve {new[:8]}"))
    task = await sim.task(issue)
    assert task.state is S.APPROVED and task.approved_hash == new


async def test_a_bare_approval_after_the_plan_was_shown_approves_it(sim: Sim) -> None:
    issue = await in_review(sim)
    new = await revised(sim, issue)
    await sim.run(sim.github.comment_event(issue, "/issuepilot approve"))
    assert (await sim.task(issue)).approved_hash == new
