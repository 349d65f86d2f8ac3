"""One run: load -> decide -> act -> commit -> mirror -> dispatch. The event only says which
task to look at and what a person asked for; the stored state decides what happens."""

import pytest

from issuepilot.machine import TaskState

from .harness import Event, Sim

S = TaskState
BODY = "The greeting in `src/app.py` needs a `!`."


async def test_an_event_with_nothing_to_do_touches_nothing(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    since = sim.mark()
    outcome = await sim.run(sim.github.comment_event(issue, "Looks good to me!"))
    assert (outcome.task, outcome.message) == (None, "the comment holds no /issuepilot command")
    assert sim.calls(since) == [] and sim.store.records == {}


@pytest.mark.parametrize(
    ("body", "sender", "why"),
    [
        ("/issuepilot approve", "github-actions[bot]", "caused by IssuePilot itself"),
        ("/issuepilot deploy", "octocat", "unknown command 'deploy'"),
    ],
    ids=["own-comment", "unknown-command"],
)
async def test_ignored_comments_do_nothing(sim: Sim, body: str, sender: str, why: str) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    await sim.seed(issue, S.PLAN_REVIEW)
    before = await sim.task(issue)
    since = sim.mark()
    outcome = await sim.run(sim.github.comment_event(issue, body, sender=sender))
    assert outcome.task is None and outcome.message.startswith(why)
    assert sim.calls(since) == [] and await sim.task(issue) == before


async def test_a_scheduled_run_sweeps(sim: Sim) -> None:
    outcome = await sim.run(sim.schedule_event())
    assert (outcome.task, outcome.message) == (None, "swept: woke 0 task(s)")


@pytest.mark.parametrize("word", ["approve", "revise", "retry", "cancel", "advance"])
async def test_a_command_for_an_issue_without_a_task_says_how_to_start_one(
    sim: Sim, word: str
) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    outcome = await sim.run(sim.dispatch_event(issue, command=word))
    assert outcome.task is None
    assert outcome.message == f"issue #{issue} has no IssuePilot task: add the label 'issuepilot'"
    assert sim.store.records == {}


async def test_the_plan_command_starts_and_plans_a_new_task_in_one_run(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    outcome = await sim.run(sim.dispatch_event(issue, command="plan"))
    task = await sim.task(issue)
    assert outcome.message == "plan v1 posted for review"
    assert [h.state for h in task.history] == [S.QUEUED, S.PLANNING, S.PLAN_REVIEW]
    assert task.title == "Greet politely", "the title comes from the issue the plan step read"
    assert sim.github.dispatches == []


async def test_the_plan_command_plans_a_queued_task_without_queueing_it_again(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    await sim.run(sim.github.label_event(issue, "issuepilot"))
    await sim.run(sim.dispatch_event(issue, command="plan"))
    task = await sim.task(issue)
    assert [h.state for h in task.history] == [S.QUEUED, S.PLANNING, S.PLAN_REVIEW]


async def test_the_plan_command_restarts_an_ended_task(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    await sim.seed(issue, S.CANCELLED)
    await sim.run(sim.dispatch_event(issue, command="plan"))
    task = await sim.task(issue)
    assert task.state is S.PLAN_REVIEW
    assert [h.state for h in task.history] == [S.QUEUED, S.PLANNING, S.PLAN_REVIEW]


@pytest.mark.parametrize("state", [S.PLAN_REVIEW, S.APPROVED, S.PR_OPEN], ids=str)
async def test_the_plan_command_leaves_a_live_task_that_is_past_planning(
    sim: Sim, state: TaskState
) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    before = await sim.seed(issue, state)
    outcome = await sim.run(sim.dispatch_event(issue, command="plan"))
    assert outcome.message == f"issue #{issue} already has a task ({state})"
    assert await sim.task(issue) == before and sim.planned == []


@pytest.mark.parametrize("state", [S.PLAN_REVIEW, S.PR_OPEN, S.FAILED, S.DONE], ids=str)
async def test_advancing_a_task_that_waits_for_a_person_does_nothing(
    sim: Sim, state: TaskState
) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    before = await sim.seed(issue, state)
    since = sim.mark()
    outcome = await sim.run(sim.dispatch_event(issue))
    assert outcome.message == f"the task is {state}: nothing to do until a person acts"
    assert await sim.task(issue) == before and sim.calls(since) == []


async def test_dispatched_commands_act_for_the_workflow_without_a_permission_check(
    sim: Sim,
) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    await sim.to_plan_review(issue)
    since = sim.mark()
    await sim.run(sim.dispatch_event(issue, command="revise be brief"))
    task = await sim.task(issue)
    assert task.state is S.QUEUED and task.feedback == ["be brief"]
    assert not [c for c in sim.calls(since) if "/collaborators/" in c]


async def test_a_refused_actor_does_not_reach_the_step(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    await sim.seed(issue, S.PLAN_REVIEW)
    await sim.run(sim.github.comment_event(issue, "/issuepilot cancel", sender="mallory"))
    assert (await sim.task(issue)).state is S.PLAN_REVIEW


@pytest.mark.parametrize(
    ("max_steps", "dispatched", "state"),
    [(1, True, S.QUEUED), (2, False, S.PLAN_REVIEW), (5, False, S.PLAN_REVIEW)],
)
async def test_max_steps_continues_in_the_same_run_until_a_person_is_needed(
    sim: Sim, max_steps: int, dispatched: bool, state: TaskState
) -> None:
    sim.max_steps = max_steps
    issue = sim.github.open_issue("Greet politely", BODY)
    outcome = await sim.run(sim.github.label_event(issue, "issuepilot"))
    assert outcome.task is not None and outcome.task.state is state
    assert bool(sim.github.dispatches) is dispatched


async def test_max_steps_carries_a_retry_through_to_the_pull_request(sim: Sim) -> None:
    sim.max_steps = 2
    issue = sim.github.open_issue("Greet politely", BODY)
    await sim.seed(issue, S.FAILED, resting=S.APPROVED)
    outcome = await sim.run(sim.github.label_event(issue, "issuepilot:retry"))
    assert outcome.task is not None and outcome.task.state is S.PR_OPEN
    assert sim.github.dispatches == []


async def test_max_steps_does_not_go_on_after_a_step_that_needs_a_person(sim: Sim) -> None:
    sim.max_steps = 3
    issue = sim.github.open_issue("Greet politely", BODY)
    opened = await sim.to_pr_open(issue)
    outcome = await sim.run(sim.github.merge_pull(opened.pr))
    assert outcome.task is not None and outcome.task.state is S.DONE
    assert sim.github.dispatches == []


@pytest.mark.parametrize("automatic", [True, False])
async def test_only_a_task_left_where_no_person_is_needed_is_dispatched(
    sim: Sim, automatic: bool
) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    await sim.seed(issue, S.PLAN_REVIEW)
    event: Event = sim.github.comment_event(
        issue, "/issuepilot approve" if automatic else "/issuepilot cancel"
    )
    outcome = await sim.run(event)
    assert outcome.automatic is automatic
    assert sim.dispatched == ([issue] if automatic else [])


async def test_a_run_that_loses_a_race_ends_quietly(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    await sim.seed(issue, S.PLAN_REVIEW)
    sim.rival(issue, state=S.CANCELLED)
    outcome = await sim.run(sim.github.comment_event(issue, "/issuepilot approve"))
    assert (outcome.task, outcome.message, outcome.automatic) == (
        None,
        "already advanced by another run",
        False,
    )
    assert sim.github.dispatches == []
