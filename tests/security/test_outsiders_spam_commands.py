"""Anyone may comment: an outsider's commands never act, cost no comment on an issue
without a task, and change a task's status comment at most once per state."""

from ..steps.harness import Sim


async def test_an_outsider_gets_one_note_per_state_and_no_action(sim: Sim) -> None:
    quiet = sim.github.open_issue("No task here")
    since = sim.mark()
    for _ in range(3):
        await sim.run(sim.github.comment_event(quiet, "/issuepilot approve", sender="mallory"))
    assert [c for c in sim.calls(since) if not c.startswith("GET")] == []
    issue = sim.github.open_issue("Greet", "Edit `src/app.py`.")
    await sim.to_plan_review(issue)
    since = sim.mark()
    for word in ("approve", "retry", "cancel", "approve"):
        await sim.run(sim.github.comment_event(issue, f"/issuepilot {word}", sender="mallory"))
    assert len([c for c in sim.calls(since) if c.startswith("PATCH")]) == 1
    assert (await sim.task(issue)).approved_hash == ""


async def test_the_author_of_an_issue_may_cancel_by_closing_it(sim: Sim) -> None:
    issue = sim.github.open_issue("Mine", "Edit `src/app.py`.", user="rita")
    await sim.to_plan_review(issue)
    await sim.run(sim.github.close_issue_event(issue, sender="rita"))
    assert (await sim.task(issue)).state.value == "cancelled"
