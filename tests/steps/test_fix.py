"""Fix rounds: PR_OPEN -> EXECUTING -> PR_OPEN on the task's open pull request, for a review
that requests changes, `/issuepilot fix`, red CI, a failed check, or `/issuepilot rebase`.
Each trigger starts at most one round, however often it is delivered."""

import asyncio
import copy

from issuepilot.machine import TaskState
from issuepilot.steps.fix import HANDLED

from .harness import Event, Sim

S = TaskState
APP = "src/app.py"
BODY = "The greeting in `src/app.py` needs a `!`."
UPDATED = "Updated by IssuePilot."


async def opened(sim: Sim) -> tuple[int, int]:
    """An issue whose task has its pull request open, through the real steps: (issue, PR)."""
    issue = sim.github.open_issue("Greet politely", BODY)
    task = await sim.to_pr_open(issue)
    assert task.state is S.PR_OPEN
    sim.executed.clear()
    sim.feedback.clear()
    return issue, task.pr


def head(sim: Sim, pr: int) -> str:
    return sim.github.refs[f"heads/{sim.github.pulls[pr]['head']}"]


def replies(sim: Sim, pr: int) -> list[str]:
    return [
        c["body"]
        for c in sim.github.review_comments.values()
        if c["pull"] == pr and c.get("in_reply_to") and c["user"].endswith("[bot]")
    ]


def brief(sim: Sim, n: int = -1) -> str:
    """What the agent was asked to fix in round `n`: the newest item of its feedback."""
    return sim.executed[n][0].feedback[-1]


def round_comments(sim: Sim, pr: int) -> list[str]:
    return [b for b in sim.comments(pr) if "IssuePilot: fix round" in b]


def red_ci(sim: Sim, pr: int, log: str = "E   AssertionError: Hello Ada\n1 failed\n") -> Event:
    jobs = [
        {
            "name": "test",
            "conclusion": "failure",
            "steps": [{"name": "Run tests", "conclusion": "failure"}],
            "log": log,
        },
        {"name": "lint", "conclusion": "success", "steps": [], "log": "ok"},
    ]
    return sim.github.workflow_run_event(pr, jobs=jobs)


def again(event: Event) -> Event:
    """The same delivery once more: a redelivered webhook, a re-run workflow."""
    return event[0], copy.deepcopy(event[1])


# -- each trigger starts at most one round --------------------------------------------


async def test_a_review_delivered_twice_makes_one_round(sim: Sim) -> None:
    issue, pr = await opened(sim)
    comments = [{"path": APP, "line": 3, "body": "Say it louder."}]
    review = sim.github.review_event(pr, body="Not quite.", comments=comments)
    first = await sim.run(review)
    moved = head(sim, pr)
    second = await sim.run(again(review))
    assert first.message.startswith("fix round 1: pushed")
    assert second.message == "this review already started fix round 1: not again"
    assert len(sim.executed) == 1, "one model session"
    assert head(sim, pr) == moved, "the branch moved once"
    assert len(replies(sim, pr)) == 1 and len(round_comments(sim, pr)) == 1
    task = await sim.task(issue)
    assert task.rounds == 1 and task.handled == {f"review:{review[1]['review']['id']}": 1}


async def test_a_fix_command_repeated_makes_one_round_and_a_new_command_another(
    sim: Sim,
) -> None:
    issue, pr = await opened(sim)
    command = sim.github.comment_event(pr, "/issuepilot fix mention the name twice")
    await sim.run(command)
    repeated = await sim.run(again(command))
    assert repeated.message == "this command already started fix round 1: not again"
    assert len(sim.executed) == 1 and "mention the name twice" in brief(sim)
    await sim.run(sim.github.comment_event(pr, "/issuepilot fix once more"))
    assert len(sim.executed) == 2 and (await sim.task(issue)).rounds == 2


async def test_a_failed_run_repeated_makes_one_round_and_its_rerun_another(sim: Sim) -> None:
    issue, pr = await opened(sim)
    run = red_ci(sim, pr)
    await sim.run(run)
    repeated = await sim.run(again(run))
    assert repeated.message == "this workflow run already started fix round 1: not again"
    assert len(sim.executed) == 1
    rerun = again(run)
    rerun[1]["workflow_run"]["run_attempt"] = 2  # re-run, and it failed again
    rerun[1]["workflow_run"]["head_sha"] = head(sim, pr)
    await sim.run(rerun)
    task = await sim.task(issue)
    assert len(sim.executed) == 2 and (task.rounds, task.ci_rounds) == (2, 2)
    run_id = run[1]["workflow_run"]["id"]
    assert task.handled == {f"run:{run_id}/1": 1, f"run:{run_id}/2": 2}


async def test_a_failed_check_repeated_makes_one_round(sim: Sim) -> None:
    issue, pr = await opened(sim)
    check = sim.github.check_run_event(pr, app="ci-app")
    await sim.run(check)
    repeated = await sim.run(again(check))
    assert repeated.message == "this check run already started fix round 1: not again"
    assert len(sim.executed) == 1 and (await sim.task(issue)).ci_rounds == 1


async def test_two_runs_of_one_review_racing_make_one_round(sim: Sim) -> None:
    issue, pr = await opened(sim)
    review = sim.github.review_event(pr)
    sim.store.hold_loads(2)  # both read the task before either writes
    outcomes = await asyncio.gather(sim.run(review), sim.run(again(review)))
    messages = sorted(o.message for o in outcomes)
    assert messages[0] == "already advanced by another run"
    assert messages[1].startswith("fix round 1: pushed")
    assert len(sim.executed) == 1 and (await sim.task(issue)).rounds == 1


async def test_a_round_that_died_is_not_started_again_by_its_trigger(sim: Sim) -> None:
    issue, pr = await opened(sim)
    review = sim.github.review_event(pr)
    sim.kill_after("POST", r"/git/commits$")
    await sim.run_until_killed(review)
    assert sim.stored(issue).state is S.EXECUTING
    sim.clock.advance(sim.config.lease_s + 1)
    replayed = await sim.run(again(review))
    task = await sim.task(issue)
    assert replayed.message == "this review already started fix round 1: not again"
    assert task.state is S.PR_OPEN and task.attempts == 1 and len(sim.executed) == 1


async def test_the_record_of_handled_triggers_keeps_the_newest(sim: Sim) -> None:
    issue, pr = await opened(sim)
    old = {f"comment:{n}": n for n in range(1, HANDLED + 5)}
    sim.store.overwrite(issue, handled=old, rounds=len(old))
    await sim.run(sim.github.comment_event(pr, "/issuepilot fix"))
    task = await sim.task(issue)
    assert len(task.handled) == HANDLED and task.rounds == len(old) + 1
    assert list(task.handled)[:-1] == list(old)[-(HANDLED - 1) :], "the oldest ones go"
    assert list(task.handled.values())[-1] == task.rounds


async def test_a_dispatched_fix_is_a_new_request_each_time(sim: Sim) -> None:
    issue, _ = await opened(sim)
    for _ in range(2):
        await sim.run(sim.dispatch_event(issue, "fix try again"))
    task = await sim.task(issue)
    assert task.rounds == 2 and task.handled == {}
