"""The scheduled sweep: recovers dead steps, repairs drifted labels, renews the file leases
of open pull requests, dispatches tasks whose next step needs no human, wakes waiters."""

from collections.abc import Sequence

import pytest

from issuepilot.config import RepoConfig
from issuepilot.errors import GitHubError
from issuepilot.github.status import render
from issuepilot.keys import Keys
from issuepilot.machine import TaskState

from .harness import REPO, Sim, also_write, plan_of

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


# -- finished tasks: what their last run left undone ------------------------------------


async def test_a_task_whose_finishing_run_died_after_its_commit_is_finished_by_the_sweep(
    sim: Sim,
) -> None:
    holder = await issue_in(sim, S.PR_OPEN)
    waiter = await issue_in(sim, S.APPROVED)
    await sim.run(sim.dispatch_event(waiter))  # waits for the holder's file
    assert (await sim.task(waiter)).waiting_on == {"src/app.py": str(holder)}
    sim.github.dispatches.clear()
    sim.store.overwrite(holder, state=S.DONE, settled=False)  # committed, then the run died
    assert holder in await sim.store.live(), "unsettled, it stays where the sweep looks"
    await sim.run(sim.schedule_event())
    done = await sim.task(holder)
    assert done.state is S.DONE and done.settled and holder not in await sim.store.live()
    assert sim.labels(holder) == {"issuepilot", "issuepilot:done"}
    assert sim.shown_record(holder).state is S.DONE
    assert await sim.locks.holders(["src/app.py"]) == {}
    assert sim.dispatched == [waiter], "the task waiting for its file is woken"


async def test_a_finished_task_costs_the_sweep_nothing_once_settled(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    opened = await sim.to_pr_open(issue)
    await sim.run(sim.github.merge_pull(opened.pr))
    assert (await sim.task(issue)).settled and issue not in await sim.store.live()
    since = sim.mark()
    await sim.run(sim.schedule_event())
    assert sim.calls(since) == LISTS


async def test_the_sweep_repairs_the_labels_of_a_finished_task_it_sees(sim: Sim) -> None:
    issue = await issue_in(sim, S.CANCELLED)  # the issue stays open
    sim.github.issues[issue].labels.append("issuepilot:pr-open")  # a late label write
    await sim.run(sim.schedule_event())
    assert sim.labels(issue) == {"issuepilot", "issuepilot:cancelled"}


# -- labels the sweep read before it changed them --------------------------------------


async def test_after_a_rebuild_the_sweep_acts_on_the_labels_it_left_not_those_it_read(
    sim: Sim,
) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    await sim.to_plan_review(issue)
    sim.github.issues[issue].labels = ["issuepilot", "issuepilot:approved"]  # the comment lags
    sim.store.records.clear()  # and the store lost the task
    sim.github.close_issue_event(issue)  # closed while no run saw it
    await sim.run(sim.schedule_event())
    assert (await sim.task(issue)).state is S.CANCELLED
    assert sim.labels(issue) == {"issuepilot", "issuepilot:cancelled"}, "one state label"


async def test_the_sweep_repairs_no_label_of_a_task_another_run_moved_meanwhile(
    sim: Sim,
) -> None:
    queued = await issue_in(sim, S.QUEUED)
    moved = await issue_in(sim, S.APPROVED, path="src/util.py")
    sim.github.issues[moved].labels = ["issuepilot", "issuepilot:plan-review"]  # lags

    def another_run_moves_it() -> None:  # executes it and shows it, while the sweep works
        sim.store.overwrite(moved, state=S.PR_OPEN)
        sim.github.issues[moved].labels = ["issuepilot", "issuepilot:pr-open"]

    sim.on_request("POST", r"/dispatches$", another_run_moves_it)  # the queued task's
    await sim.run(sim.schedule_event())
    assert queued in sim.dispatched
    assert sim.labels(moved) == {"issuepilot", "issuepilot:pr-open"}, "not the older state's"


# -- tasks the sweep could not see -----------------------------------------------------


async def test_an_issue_whose_first_run_died_before_it_queued_the_task_is_queued(
    sim: Sim,
) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    sim.github.label_event(issue, "issuepilot")  # its run died before it did anything
    await sim.run(sim.schedule_event())
    task = await sim.task(issue)
    assert task.state is S.QUEUED and "queued by @octocat" in task.history[-1].note
    assert sim.labels(issue) == {"issuepilot", "issuepilot:queued"} and sim.dispatched == [issue]


async def test_an_issue_labelled_by_someone_who_may_not_is_not_queued(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    sim.github.label_event(issue, "issuepilot", sender="mallory")
    await sim.run(sim.schedule_event())
    assert sim.store.records == {} and sim.dispatched == []


async def test_a_task_rebuilt_without_its_pull_request_finds_it_by_its_branch(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    opened = await sim.to_pr_open(issue)
    lagging = sim.shown_record(issue).model_copy(update={"state": S.APPROVED, "pr": 0})
    [comment] = [c for c in sim.github.comments.values() if c["id"] == opened.comment_id]
    comment["body"] = render(lagging, sim.config.rules.labels)  # unsigned, and behind
    sim.store.records.clear()
    sim.github.merge_pull(opened.pr)  # merged while its event was lost
    await sim.run(sim.schedule_event())
    task = await sim.task(issue)
    assert task.state is S.DONE and task.pr == opened.pr, "merged, not cancelled"
    assert sim.labels(issue) == {"issuepilot", "issuepilot:done"}


async def test_a_dead_execute_step_whose_pull_request_was_merged_finishes(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    await sim.to_approved(issue)
    sim.github.dispatches.clear()
    sim.kill_after("POST", r"/pulls$")  # the pull request is open; the record never says so
    await sim.run_until_killed(sim.dispatch_event(issue))
    [pr] = sim.github.pulls
    sim.github.merge_pull(pr)  # merged while its event was lost
    sim.clock.advance(sim.config.lease_s + 1)
    await sim.run(sim.schedule_event())
    task = await sim.task(issue)
    assert task.state is S.DONE and task.pr == pr, "merged, not cancelled"
    assert list(sim.github.pulls) == [pr] and await sim.locks.holders(["src/app.py"]) == {}


async def test_a_closed_issue_the_sweep_failed_on_is_looked_at_again(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    opened = await sim.to_pr_open(issue)
    sim.store.records.clear()
    sim.github.merge_pull(opened.pr)  # merged while its event was lost
    sim.clock.advance(3600)
    sim.github.fail("GET", rf"/issues/{issue}/comments$", times=4)
    failed = await sim.run(sim.schedule_event())
    assert failed.message == "swept: woke 0 task(s); 1 failed"
    sim.clock.advance(3600)  # the next sweep, an hour later
    await sim.run(sim.schedule_event())
    assert (await sim.task(issue)).state is S.DONE


async def test_a_closed_pull_request_of_a_running_execute_step_is_left_to_it(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    await sim.to_approved(issue)
    sim.github.dispatches.clear()
    sim.kill_after("POST", r"/pulls$")
    await sim.run_until_killed(sim.dispatch_event(issue))
    [pr] = sim.github.pulls
    sim.github.merge_pull(pr)
    sim.github.reopen_issue_event(issue)  # so that only the pull request could decide
    await sim.run(sim.schedule_event())  # the step's lease still runs: its run may be alive
    assert (await sim.task(issue)).state is S.EXECUTING


async def test_an_issue_with_a_state_label_and_nothing_to_rebuild_from_is_left_alone(
    sim: Sim,
) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    sim.github.label_event(issue, "issuepilot")
    sim.github.label_event(issue, "issuepilot:plan-review")  # no comment, no record
    await sim.run(sim.schedule_event())
    assert sim.store.records == {} and sim.dispatched == []


async def test_a_pull_request_closed_before_the_sweeps_window_still_decides(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    opened = await sim.to_pr_open(issue)
    sim.github.merge_pull(opened.pr)  # merged, its event lost, long before this sweep
    sim.store.flags[Keys(REPO).swept] = ("2099-01-01T00:00:00+00:00", None)
    await sim.run(sim.schedule_event())
    assert (await sim.task(issue)).state is S.DONE


async def test_a_trigger_label_removed_by_someone_who_may_not_is_put_back(sim: Sim) -> None:
    issue = await issue_in(sim, S.PLAN_REVIEW)
    sim.github.label_event(issue, "issuepilot", sender="mallory", add=False)
    await sim.run(sim.schedule_event())
    assert (await sim.task(issue)).state is S.PLAN_REVIEW
    assert "issuepilot" in sim.labels(issue)


async def test_an_unsettled_task_whose_issue_the_sweep_did_not_list_is_read(sim: Sim) -> None:
    issue = await issue_in(sim, S.PR_OPEN)
    sim.github.issues[issue].labels.remove("issuepilot")  # so no list shows it
    sim.store.overwrite(issue, state=S.DONE, settled=False)
    await sim.run(sim.schedule_event())
    assert (await sim.task(issue)).settled
    assert sim.labels(issue) == {"issuepilot:done"}


async def test_an_approval_label_nobody_is_known_to_have_added_is_taken_off(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    await sim.to_plan_review(issue)
    sim.github.issues[issue].labels.append("issuepilot:approved")  # no event says who
    await sim.run(sim.schedule_event())
    assert (await sim.task(issue)).state is S.PLAN_REVIEW
    assert "issuepilot:approved" not in sim.labels(issue)


async def test_a_task_that_failed_before_its_first_comment_is_queued_again(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    await sim.run(sim.github.label_event(issue, "issuepilot"))
    sim.github.fail("GET", rf"/issues/{issue}$", times=4)  # the plan step fails at once
    sim.github.fail("POST", rf"/issues/{issue}/comments$", times=4)  # and shows it nowhere
    with pytest.raises(GitHubError):
        await sim.drain()
    assert sim.labels(issue) == {"issuepilot", "issuepilot:failed"}
    assert sim.status_comments(issue) == []
    sim.store.records.clear()  # and the store loses it: no comment to rebuild it from
    await sim.run(sim.schedule_event())
    assert (await sim.task(issue)).state is S.QUEUED and sim.dispatched == [issue]
