"""Enqueue: the trigger label (or an issue reopened with it) starts a task in QUEUED."""

import asyncio

import pytest

from issuepilot.machine import RESTARTABLE, Move, TaskState, allows

from .harness import Sim

S = TaskState
BODY = "The greeting in `src/app.py` needs a `!`."
NOT_RESTARTABLE = [s for s in S if not allows(s, Move.ENQUEUE)]
ENDED = sorted(s for s in RESTARTABLE if s is not None)


async def test_trigger_label_queues_a_new_task_and_dispatches_its_plan_step(sim: Sim) -> None:
    gh = sim.github
    issue = gh.open_issue("Greet politely", BODY)
    outcome = await sim.run(gh.label_event(issue, "issuepilot"))
    assert outcome.automatic and outcome.message == f"issue #{issue} queued"
    task = await sim.task(issue)
    assert (task.state, task.title, task.version) == (S.QUEUED, "Greet politely", 1)
    assert [(h.state, h.note) for h in task.history] == [(S.QUEUED, "queued by @octocat")]
    assert sim.labels(issue) == {"issuepilot", "issuepilot:queued"}
    assert gh.dispatches == [
        {"workflow": "issuepilot.yml", "ref": "main", "inputs": {"issue": str(issue)}}
    ]


async def test_enqueue_leaves_the_status_comment_to_the_plan_step(sim: Sim) -> None:
    gh = sim.github
    issue = gh.open_issue("Greet politely", BODY)
    await sim.run(gh.label_event(issue, "issuepilot"))
    assert sim.comments(issue) == []
    assert (await sim.task(issue)).comment_id == 0


async def test_enqueue_stays_within_three_api_calls(sim: Sim) -> None:
    gh = sim.github
    issue = gh.open_issue("Greet politely", BODY)
    since = sim.mark()
    await sim.run(gh.label_event(issue, "issuepilot"))
    calls = sim.calls(since)
    assert sorted(calls) == sorted(
        [
            "GET /collaborators/octocat/permission",
            f"POST /issues/{issue}/labels",
            "POST /actions/workflows/issuepilot.yml/dispatches",
        ]
    )
    assert len(calls) <= 3


@pytest.mark.parametrize("state", NOT_RESTARTABLE, ids=str)
async def test_an_issue_with_a_live_task_is_not_queued_again(sim: Sim, state: TaskState) -> None:
    gh = sim.github
    issue = gh.open_issue("Greet politely", BODY)
    before = await sim.seed(issue, state)
    outcome = await sim.run(gh.label_event(issue, "issuepilot"))
    assert outcome.message == f"issue #{issue} already has a task ({state})"
    assert not outcome.automatic and gh.dispatches == []
    assert await sim.task(issue) == before


@pytest.mark.parametrize("state", ENDED, ids=str)
async def test_an_ended_task_restarts_with_a_fresh_record(sim: Sim, state: TaskState) -> None:
    gh = sim.github
    issue = gh.open_issue("Greet politely", BODY)
    before = await sim.seed(issue, state, attempts=2, error="earlier trouble", feedback=["x"])
    gh.issues[issue].labels.remove("issuepilot")
    outcome = await sim.run(gh.label_event(issue, "issuepilot"))
    task = await sim.task(issue)
    assert outcome.automatic and task.state is S.QUEUED
    assert task.version == before.version + 1, "a restart is a compare-and-set on the old record"
    assert (task.plan, task.plan_hash, task.approved_hash) == (None, "", "")
    assert (task.attempts, task.error, task.feedback, task.pr) == (0, "", [], 0)
    assert [h.state for h in task.history] == [S.QUEUED]
    assert sim.labels(issue) == {"issuepilot", "issuepilot:queued"}


async def test_a_restarted_task_reuses_its_status_comment(sim: Sim) -> None:
    gh = sim.github
    issue = gh.open_issue("Greet politely", BODY)
    task = await sim.to_pr_open(issue)
    await sim.run(gh.merge_pull(task.pr))
    gh.issues[issue].labels.remove("issuepilot")
    await sim.run(gh.label_event(issue, "issuepilot"))
    restarted = await sim.task(issue)
    assert restarted.comment_id == task.comment_id
    assert len(sim.status_comments(issue)) == 1
    assert sim.shown_record(issue).state is S.QUEUED
    assert sim.labels(issue) == {"issuepilot", "issuepilot:queued"}


async def test_reopening_an_issue_with_the_trigger_label_queues_it_again(sim: Sim) -> None:
    gh = sim.github
    issue = gh.open_issue("Greet politely", BODY)
    await sim.to_plan_review(issue)
    await sim.run(gh.close_issue_event(issue))
    assert (await sim.task(issue)).state is S.CANCELLED
    outcome = await sim.run(sim.reopen_event(issue))
    assert outcome.automatic and (await sim.task(issue)).state is S.QUEUED
    assert sim.labels(issue) == {"issuepilot", "issuepilot:queued"}


async def test_reopening_an_issue_without_the_trigger_label_starts_nothing(sim: Sim) -> None:
    gh = sim.github
    issue = gh.open_issue("Greet politely", BODY)
    since = sim.mark()
    outcome = await sim.run(sim.reopen_event(issue))
    assert outcome.task is None and "nothing for IssuePilot to do" in outcome.message
    assert sim.calls(since) == [] and sim.store.records == {}


async def test_two_runs_enqueueing_one_issue_make_one_task(sim: Sim) -> None:
    gh = sim.github
    issue = gh.open_issue("Greet politely", BODY)
    event = gh.label_event(issue, "issuepilot")
    sim.store.hold_loads(2)
    outcomes = await asyncio.gather(sim.run(event), sim.run(event))
    assert sorted(o.message for o in outcomes) == [
        "already advanced by another run",
        f"issue #{issue} queued",
    ]
    task = await sim.task(issue)
    assert task.version == 1 and [h.state for h in task.history] == [S.QUEUED]
    assert len(gh.dispatches) == 1, "only the winner dispatches the next step"


async def test_enqueue_that_loses_the_race_to_another_run_changes_nothing(sim: Sim) -> None:
    gh = sim.github
    issue = gh.open_issue("Greet politely", BODY)
    sim.rival(issue, state=S.QUEUED, title="queued by the other run")
    outcome = await sim.run(gh.label_event(issue, "issuepilot"))
    assert outcome.task is None and outcome.message == "already advanced by another run"
    assert (await sim.task(issue)).title == "queued by the other run"
    assert gh.dispatches == [] and sim.labels(issue) == {"issuepilot"}
