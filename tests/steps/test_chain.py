"""Chaining: a task whose next step needs no human gets a new run of this workflow
(`workflow_dispatch` with `issue: N`); freed files wake the tasks waiting for them."""

import pytest

from issuepilot.errors import GitHubError
from issuepilot.locks import LockConflict
from issuepilot.machine import TaskState

from .harness import REPO, Sim, plan_of

S = TaskState
BODY = "The greeting in `src/app.py` needs a `!`."


async def test_the_next_step_runs_the_workflow_named_in_the_workflow_ref(sim: Sim) -> None:
    sim.workflow_ref = f"{REPO}/.github/workflows/pilot.yml@refs/heads/release"
    issue = sim.github.open_issue("Greet politely", BODY)
    await sim.run(sim.github.label_event(issue, "issuepilot"))
    assert sim.github.dispatches == [
        {"workflow": "pilot.yml", "ref": "release", "inputs": {"issue": str(issue)}}
    ]
    assert sim.dispatched == [issue]


@pytest.mark.parametrize(
    "ref",
    [
        "",
        f"{REPO}/.github/workflows/issuepilot.yml",
        # A central runner's workflow: its service starts the next run, not this one.
        "octo/runner/.github/workflows/issuepilot.yml@refs/heads/main",
    ],
)
async def test_without_a_workflow_ref_the_next_step_waits_for_the_sweep(sim: Sim, ref: str) -> None:
    sim.workflow_ref = ref
    issue = sim.github.open_issue("Greet politely", BODY)
    outcome = await sim.run(sim.github.label_event(issue, "issuepilot"))
    assert outcome.automatic and sim.github.dispatches == [] and sim.dispatched == []
    assert (
        f"#{issue}: GITHUB_WORKFLOW_REF names no workflow of this repository, so the next "
        "step waits for an event or the sweep" in sim.said
    )
    assert (await sim.task(issue)).state is S.QUEUED
    sim.workflow_ref = f"{REPO}/.github/workflows/issuepilot.yml@refs/heads/main"
    await sim.run(sim.schedule_event())
    assert sim.dispatched == [issue]


async def test_a_dispatch_github_failed_is_tried_again(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    sim.github.fail("POST", r"/dispatches$", 502)
    outcome = await sim.run(sim.github.label_event(issue, "issuepilot"))
    assert outcome.automatic and sim.dispatched == [issue]
    assert sim.calls().count("POST /actions/workflows/issuepilot.yml/dispatches") == 2
    assert [d["inputs"] for d in sim.github.dispatches] == [{"issue": str(issue)}]


async def test_a_dispatch_that_keeps_failing_fails_the_step_and_the_sweep_picks_it_up(
    sim: Sim,
) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    sim.github.fail("POST", r"/dispatches$", 502, times=4)
    with pytest.raises(GitHubError, match="502"):
        await sim.run(sim.github.label_event(issue, "issuepilot"))
    assert (await sim.task(issue)).state is S.QUEUED
    await sim.run(sim.schedule_event())
    assert sim.dispatched == [issue]


async def test_freeing_files_wakes_every_waiter_they_unblock(sim: Sim) -> None:
    holder = sim.github.open_issue("Both", "Change `src/app.py` and `src/util.py`.")
    opened = await sim.to_pr_open(holder)
    waiters = []
    for path in ("src/app.py", "src/util.py"):
        waiter = sim.github.open_issue(f"Wants {path}", BODY)
        await sim.seed(waiter, S.APPROVED, plan=plan_of(path))
        await sim.run(sim.dispatch_event(waiter))
        waiters.append(waiter)
    await sim.run(sim.github.merge_pull(opened.pr))
    assert sorted(sim.dispatched) == waiters
    assert sorted(int(d["inputs"]["issue"]) for d in sim.github.dispatches) == waiters


async def test_waiters_that_are_not_issues_are_not_dispatched(sim: Sim) -> None:
    holder = sim.github.open_issue("Holder", BODY)
    opened = await sim.to_pr_open(holder)
    with pytest.raises(LockConflict):
        await sim.locks.acquire("ledger", ["src/app.py"], ttl_s=60)
    await sim.run(sim.github.merge_pull(opened.pr))
    assert sim.github.dispatches == [] and sim.dispatched == []
