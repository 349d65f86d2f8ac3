"""The scheduled sweep: recovers dead steps, repairs drifted labels, renews the file leases
of open pull requests, dispatches tasks whose next step needs no human, wakes waiters."""

from collections.abc import Sequence

import pytest

from issuepilot.config import RepoConfig
from issuepilot.machine import TaskState

from .harness import Sim, also_write, plan_of

S = TaskState
DAY = 24 * 3600
# What every sweep reads: the open issues with the trigger label, the issues with it closed
# since the last sweep, the pull requests closed since.
LISTS = ["GET /issues", "GET /issues", "GET /pulls"]
BODY = "The greeting in `src/app.py` needs a `!`."


async def issue_in(sim: Sim, state: TaskState, path: str = "src/app.py", **changes: object) -> int:
    issue = sim.github.open_issue(f"Task in {state}", f"Change `{path}`.")
    await sim.seed(issue, state, plan=plan_of(path), **changes)
    return issue


async def test_the_sweep_returns_a_dead_planning_step_to_queued_and_dispatches_it(
    sim: Sim,
) -> None:
    issue = await issue_in(sim, S.PLANNING)
    sim.clock.advance(sim.config.lease_s + 1)
    outcome = await sim.run(sim.schedule_event())
    task = await sim.task(issue)
    assert outcome.message == "swept: woke 1 task(s)" and outcome.task is None
    assert task.state is S.QUEUED and task.attempts == 1 and task.lease_until == 0.0
    assert task.history[-1].note == "the run holding the step's lease died"
    assert sim.dispatched == [issue]
    assert sim.labels(issue) == {"issuepilot", "issuepilot:queued"}


async def test_the_sweep_returns_a_dead_execute_step_to_approved_and_frees_its_files(
    sim: Sim,
) -> None:
    issue = await issue_in(sim, S.EXECUTING, lease_until=sim.clock() + 60)
    sim.clock.advance(61)  # the step's lease is over; its locks would last longer
    assert await sim.locks.holders(["src/app.py"]) == {"src/app.py": str(issue)}
    await sim.run(sim.schedule_event())
    task = await sim.task(issue)
    assert task.state is S.APPROVED and task.attempts == 1 and task.lock_token == ""
    assert await sim.locks.holders(["src/app.py"]) == {}
    assert sim.dispatched == [issue]


async def test_the_sweep_leaves_a_running_step_alone_without_a_call(sim: Sim) -> None:
    issue = await issue_in(sim, S.PLANNING)
    before = await sim.task(issue)
    since = sim.mark()
    outcome = await sim.run(sim.schedule_event())
    assert outcome.message == "swept: woke 0 task(s)"
    assert await sim.task(issue) == before and sim.calls(since) == LISTS


@pytest.mark.parametrize(
    ("state", "dispatched"),
    [
        (S.QUEUED, True),
        (S.APPROVED, True),
        (S.PLAN_REVIEW, False),
        (S.PR_OPEN, False),
        (S.FAILED, False),
    ],
    ids=str,
)
async def test_the_sweep_dispatches_only_tasks_whose_next_step_needs_no_human(
    sim: Sim, state: TaskState, dispatched: bool
) -> None:
    issue = await issue_in(sim, state)
    await sim.run(sim.schedule_event())
    assert sim.dispatched == ([issue] if dispatched else [])
    assert (await sim.task(issue)).state is state


async def test_the_sweep_does_not_visit_finished_tasks(sim: Sim) -> None:
    await issue_in(sim, S.DONE)
    await issue_in(sim, S.CANCELLED)
    since = sim.mark()
    outcome = await sim.run(sim.schedule_event())
    assert outcome.message == "swept: woke 0 task(s)" and sim.calls(since) == LISTS


async def test_the_sweep_puts_back_a_state_label_that_was_removed(sim: Sim) -> None:
    issue = await issue_in(sim, S.PLAN_REVIEW)
    sim.github.issues[issue].labels = ["issuepilot"]
    since = sim.mark()
    await sim.run(sim.schedule_event())
    assert sim.labels(issue) == {"issuepilot", "issuepilot:plan-review"}
    assert not [c for c in sim.calls(since) if "comments" in c], "labels only: no comment"
    assert f"#{issue}: repairing labels for plan-review" in sim.said


async def test_the_sweep_takes_off_stray_state_labels(sim: Sim) -> None:
    issue = await issue_in(sim, S.PR_OPEN)
    sim.github.issues[issue].labels += ["issuepilot:approved", "issuepilot:done", "bug"]
    await sim.run(sim.schedule_event())
    assert sim.labels(issue) == {"issuepilot", "issuepilot:pr-open", "bug"}


async def test_the_sweep_reads_but_does_not_touch_correct_labels(sim: Sim) -> None:
    await issue_in(sim, S.PLAN_REVIEW)
    since = sim.mark()
    await sim.run(sim.schedule_event())
    assert sim.calls(since) == LISTS


async def test_the_sweep_renews_the_file_leases_of_open_pull_requests(sim: Sim) -> None:
    issue = await issue_in(sim, S.PR_OPEN)
    for _ in range(4):
        sim.clock.advance(10 * DAY)
        await sim.run(sim.schedule_event())
    assert await sim.locks.holders(["src/app.py"]) == {"src/app.py": str(issue)}
    sim.clock.advance(15 * DAY)
    assert await sim.locks.holders(["src/app.py"]) == {}, "without the sweep the lease ends"


async def test_the_sweep_reports_a_lapsed_pr_lease_and_goes_on(sim: Sim) -> None:
    lapsed = await issue_in(sim, S.PR_OPEN)
    queued = await issue_in(sim, S.QUEUED)
    sim.clock.advance(15 * DAY)
    outcome = await sim.run(sim.schedule_event())
    assert any(s.startswith(f"#{lapsed}: the open PR's file lease had lapsed") for s in sim.said)
    assert outcome.message == "swept: woke 1 task(s)" and sim.dispatched == [queued]


async def test_the_sweep_renews_the_leases_of_files_changed_outside_the_plan(sim: Sim) -> None:
    sim.config = RepoConfig(out_of_scope="lock")
    issue = sim.github.open_issue("Greet politely", BODY)
    sim.writes.append(also_write("src/util.py"))
    await sim.to_pr_open(issue)
    for _ in range(4):
        sim.clock.advance(10 * DAY)
        await sim.run(sim.schedule_event())
    assert await sim.locks.holders(["src/app.py", "src/util.py"]) == {
        "src/app.py": str(issue),
        "src/util.py": str(issue),
    }


async def test_the_sweep_leaves_a_waiter_whose_files_are_still_held(sim: Sim) -> None:
    await sim.locks.acquire("77", ["src/app.py"], ttl_s=3600)
    waiter = await issue_in(sim, S.APPROVED)
    await sim.run(sim.dispatch_event(waiter))
    assert (await sim.task(waiter)).waiting_on == {"src/app.py": "77"}
    await sim.run(sim.schedule_event())
    assert sim.dispatched == []


async def test_the_sweep_wakes_a_waiter_whose_holder_let_its_lock_expire(sim: Sim) -> None:
    await sim.locks.acquire("77", ["src/app.py"], ttl_s=3600)
    waiter = await issue_in(sim, S.APPROVED)
    await sim.run(sim.dispatch_event(waiter))
    sim.clock.advance(3601)
    outcome = await sim.run(sim.schedule_event())
    assert outcome.message == "swept: woke 1 task(s)" and sim.dispatched == [waiter]
    await sim.drain()
    assert (await sim.task(waiter)).state is S.PR_OPEN


async def test_the_sweep_wakes_a_waiter_whose_place_in_line_was_lost(sim: Sim) -> None:
    waiter = await issue_in(sim, S.APPROVED, waiting_on={"src/app.py": "77"})
    assert str(waiter) not in sim.locks.waiting
    await sim.run(sim.schedule_event())
    assert sim.dispatched == [waiter]


async def test_the_sweep_goes_on_when_another_run_moves_a_task_first(sim: Sim) -> None:
    raced = await issue_in(sim, S.PLANNING)
    queued = await issue_in(sim, S.QUEUED, path="src/util.py")
    sim.clock.advance(sim.config.lease_s + 1)
    sim.rival(raced, state=S.CANCELLED)
    outcome = await sim.run(sim.schedule_event())
    assert outcome.message == "swept: woke 1 task(s)" and sim.dispatched == [queued]
    assert (await sim.task(raced)).state is S.CANCELLED


async def test_one_broken_task_does_not_stop_the_sweep(sim: Sim) -> None:
    broken = await issue_in(sim, S.QUEUED)
    queued = await issue_in(sim, S.QUEUED, path="src/util.py")
    sim.github.issues[broken].labels.remove("issuepilot")  # so the sweep must look at it
    sim.github.fail("GET", rf"/issues/{broken}$", 404)
    outcome = await sim.run(sim.schedule_event())
    assert outcome.message == "swept: woke 1 task(s); 1 failed"
    assert sim.dispatched == [queued]
    assert any(s.startswith(f"#{broken}: sweep failed:") for s in sim.said)


async def test_a_github_error_while_repairing_one_task_does_not_stop_the_sweep(sim: Sim) -> None:
    broken = await issue_in(sim, S.QUEUED)
    queued = await issue_in(sim, S.QUEUED, path="src/util.py")
    sim.github.issues[broken].labels = ["issuepilot"]
    sim.github.fail("POST", rf"/issues/{broken}/labels$", 502, times=4)
    outcome = await sim.run(sim.schedule_event())
    assert outcome.message == "swept: woke 1 task(s); 1 failed"
    assert sim.dispatched == [queued]


async def test_the_sweep_skips_an_indexed_task_whose_record_is_gone(
    sim: Sim, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued = await issue_in(sim, S.QUEUED)

    async def live() -> Sequence[int]:
        return [queued, 404]

    monkeypatch.setattr(sim.store, "live", live)
    outcome = await sim.run(sim.schedule_event())
    assert outcome.message == "swept: woke 1 task(s)" and sim.dispatched == [queued]


@pytest.mark.parametrize("command", ["", "sweep"])
async def test_a_dispatch_without_an_issue_or_with_sweep_sweeps(sim: Sim, command: str) -> None:
    queued = await issue_in(sim, S.QUEUED)
    event = sim.dispatch_event(queued if command else None, command=command)
    outcome = await sim.run(event)
    assert outcome.message == "swept: woke 1 task(s)" and sim.dispatched == [queued]


async def test_a_sweep_without_a_workflow_to_dispatch_wakes_nothing(sim: Sim) -> None:
    await issue_in(sim, S.QUEUED)
    sim.workflow_ref = ""
    outcome = await sim.run(sim.schedule_event())
    assert outcome.message == "swept: woke 0 task(s)" and sim.github.dispatches == []


async def test_the_sweep_finishes_a_task_whose_merge_event_was_lost(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    opened = await sim.to_pr_open(issue)
    sim.github.merge_pull(opened.pr)  # the event never reaches a run
    await sim.run(sim.schedule_event())
    assert (await sim.task(issue)).state is S.DONE
    assert await sim.locks.holders(["src/app.py"]) == {}


async def test_the_sweep_costs_pages_not_tasks(sim: Sim) -> None:
    for n in range(6):
        await issue_in(sim, S.PLAN_REVIEW, path=f"src/f{n}.py")
    since = sim.mark()
    await sim.run(sim.schedule_event())
    assert sim.calls(since) == LISTS  # 6 tasks, one page


async def test_the_sweep_rebuilds_a_task_the_store_forgot(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    await sim.to_approved(issue)
    sim.github.dispatches.clear()
    sim.store.records.clear()
    await sim.run(sim.schedule_event())
    assert (await sim.task(issue)).state is S.APPROVED
    assert sim.dispatched == [issue]


async def test_a_task_whose_issue_was_closed_while_its_event_was_lost_is_cancelled(
    sim: Sim,
) -> None:
    issue = await issue_in(sim, S.PLAN_REVIEW)
    sim.github.close_issue_event(issue)  # the event never reaches a run
    since = sim.mark()
    await sim.run(sim.schedule_event())
    assert (await sim.task(issue)).state is S.CANCELLED
    assert not [c for c in sim.calls(since) if c == f"GET /issues/{issue}"], "listed, not read"


async def test_a_pr_closed_unmerged_while_its_event_was_lost_cancels_and_frees(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    opened = await sim.to_pr_open(issue)
    sim.github.merge_pull(opened.pr, merged=False)
    await sim.run(sim.schedule_event())
    assert (await sim.task(issue)).state is S.CANCELLED
    assert await sim.locks.holders(["src/app.py"]) == {}


async def test_a_closed_issue_of_an_open_pr_waits_for_the_pr(sim: Sim) -> None:
    issue = await issue_in(sim, S.PR_OPEN)
    sim.github.close_issue_event(issue)
    await sim.run(sim.schedule_event())
    assert (await sim.task(issue)).state is S.PR_OPEN


async def test_a_fresh_approval_label_before_its_event_approves_as_its_author(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    await sim.to_plan_review(issue)
    sim.github.label_event(issue, "issuepilot:approved")  # its run has not happened yet
    await sim.run(sim.schedule_event())
    task = await sim.task(issue)
    assert task.state is S.APPROVED and task.approved_hash == task.plan_hash
    assert "issuepilot:approved" in sim.labels(issue) and sim.dispatched == [issue]
    assert "approved by @octocat" in task.history[-1].note


async def test_an_approval_label_by_someone_who_may_not_is_taken_off(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    await sim.to_plan_review(issue)
    sim.github.label_event(issue, "issuepilot:approved", sender="mallory")
    await sim.run(sim.schedule_event())
    assert (await sim.task(issue)).state is S.PLAN_REVIEW
    assert "issuepilot:approved" not in sim.labels(issue)


async def test_a_trigger_label_removed_while_its_event_was_lost_cancels(sim: Sim) -> None:
    issue = await issue_in(sim, S.QUEUED)
    sim.github.label_event(issue, "issuepilot", add=False)
    await sim.run(sim.schedule_event())
    assert (await sim.task(issue)).state is S.CANCELLED


async def test_a_rebuilt_open_pr_takes_its_files_again_under_a_new_token(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    opened = await sim.to_pr_open(issue)
    sim.store.records.clear()
    await sim.locks.release_task(str(issue))  # the store lost the locks too
    await sim.run(sim.schedule_event())
    task = await sim.task(issue)
    assert task.state is S.PR_OPEN and task.lock_token and task.lock_token != opened.lock_token
    assert await sim.locks.holders(["src/app.py"]) == {"src/app.py": str(issue)}


async def test_a_rate_limit_stops_the_sweep_at_once_and_says_when_it_resumes(sim: Sim) -> None:
    for n in range(3):
        issue = await issue_in(sim, S.PLAN_REVIEW, path=f"src/f{n}.py")
        sim.github.issues[issue].labels.remove("issuepilot:plan-review")  # each needs a repair
    sim.github.rate_limit("POST", r"/labels$", retry_after=3600, times=10)
    since = sim.mark()
    outcome = await sim.run(sim.schedule_event())
    assert "rate limit stopped the sweep after 0 of 3" in outcome.message
    assert len([c for c in sim.calls(since) if c.startswith("POST")]) == 1, "stopped at once"
