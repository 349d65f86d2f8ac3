"""The chaos run (`issuepilot.testing.chaos`): six lifecycles driven to their end while
GitHub fails a fifth of its calls, runs die at random requests, the store is wiped and a
merge event never arrives; then every invariant must hold. One seed on one store runs by
default; `pytest -m chaos` runs seeds 21-24 on both stores (`benchmarks/chaos.py` prints
their figures)."""

import pytest

from issuepilot.machine import TaskState
from issuepilot.models import HistoryEntry, Task
from issuepilot.testing.chaos import Chaos
from issuepilot.testing.invariants import walk_errors

S = TaskState


async def play(seed: int, store: str, redis_url: str, repo: str) -> Chaos:
    chaos = Chaos(seed, store, redis_url=redis_url, repo=repo)
    try:
        await chaos.play()
        broken = await chaos.violations()
    finally:
        await chaos.aclose()
    assert broken == [], "\n".join([*broken, "", *chaos.log])
    return chaos


async def test_a_chaos_run_ends_with_every_task_done_and_every_invariant_kept(
    redis_url: str, repo: str
) -> None:
    chaos = await play(24, "ledger", redis_url, repo)  # breaks 4 rules without the fixes
    figures = chaos.figures
    assert figures.tasks == 6 and figures.faults > 50 and figures.killed > 0
    assert chaos.wiped and chaos.dropped in chaos.issues, "the store was wiped, a merge lost"


@pytest.mark.chaos
@pytest.mark.parametrize("store", ["redis", "ledger"])
@pytest.mark.parametrize("seed", [21, 22, 23, 24])
async def test_chaos(seed: int, store: str, redis_url: str, repo: str) -> None:
    await play(seed, store, redis_url, repo)


def entries(*states: TaskState, note: str = "") -> list[HistoryEntry]:
    return [HistoryEntry(state=s, at="2027-01-01 00:00 UTC", note=note) for s in states]


def test_a_history_that_is_a_walk_of_the_machine_passes() -> None:
    walk = entries(S.QUEUED, S.PLANNING, S.QUEUED, S.PLANNING, S.PLAN_REVIEW, S.APPROVED)
    walk += entries(S.EXECUTING, S.APPROVED, S.EXECUTING, S.PR_OPEN, S.DONE)
    assert walk_errors(Task(issue=1, state=S.DONE, history=walk)) == []


@pytest.mark.parametrize(
    ("history", "error"),
    [
        (entries(S.QUEUED, S.APPROVED), "queued -> approved is no move of the machine"),
        (entries(S.PR_OPEN, S.DONE, S.DONE), "done -> done is no move of the machine"),
        (
            entries(S.QUEUED, S.PLANNING, S.PLAN_REVIEW, S.QUEUED, S.PLANNING, S.PLAN_REVIEW),
            "entered plan-review twice",
        ),
    ],
)
def test_a_history_with_a_step_no_move_makes_or_a_state_entered_twice_is_named(
    history: list[HistoryEntry], error: str
) -> None:
    assert error in walk_errors(Task(issue=1, state=history[-1].state, history=history))


def test_a_rebuild_starts_the_walk_over() -> None:
    walk = entries(S.QUEUED, S.PLANNING, S.PLAN_REVIEW)
    walk += entries(S.PLAN_REVIEW, note="rebuilt from a status comment")
    walk += entries(S.DONE, note="rebuilt: pull request #3 is merged")
    assert walk_errors(Task(issue=1, state=S.DONE, history=walk)) == []
