import itertools
import re

import pytest

from issuepilot import machine
from issuepilot.errors import IllegalTransition
from issuepilot.machine import (
    FINAL,
    RESTING,
    RETURN_TO,
    TRANSITIONS,
    WORKING,
    Step,
    TaskState,
    can_transition,
    check_transition,
    next_step,
    retry_target,
)

S = TaskState
# The diagram in machine.py's docstring, edge by edge: the table must match it exactly.
DIAGRAM = {
    (S.QUEUED, S.PLANNING),
    (S.PLANNING, S.PLAN_REVIEW),
    (S.PLAN_REVIEW, S.APPROVED),
    (S.PLAN_REVIEW, S.QUEUED),
    (S.APPROVED, S.QUEUED),
    (S.APPROVED, S.EXECUTING),
    (S.EXECUTING, S.PR_OPEN),
    (S.PR_OPEN, S.DONE),
    # lease expiry returns a working state to where it rested
    (S.PLANNING, S.QUEUED),
    (S.EXECUTING, S.APPROVED),
    # any step that errors
    (S.PLANNING, S.FAILED),
    (S.APPROVED, S.FAILED),
    (S.EXECUTING, S.FAILED),
    # retry returns to the last resting state; re-adding the trigger label starts over
    (S.FAILED, S.QUEUED),
    (S.FAILED, S.APPROVED),
    (S.CANCELLED, S.QUEUED),
} | {(s, S.CANCELLED) for s in S if s not in (S.DONE, S.CANCELLED)}


def test_table_matches_the_diagram() -> None:
    table = {(src, dst) for src, dsts in TRANSITIONS.items() for dst in dsts}
    assert table == DIAGRAM
    doc = machine.__doc__ or ""
    for state in S:
        assert state.name in doc, f"{state.name} missing from the diagram"


@pytest.mark.parametrize(("src", "dst"), list(itertools.product(S, S)))
def test_every_pair_is_allowed_or_rejected_with_a_clear_error(
    src: TaskState, dst: TaskState
) -> None:
    if (src, dst) in DIAGRAM:
        assert can_transition(src, dst)
        check_transition(src, dst)
    else:
        assert not can_transition(src, dst)
        with pytest.raises(IllegalTransition, match=re.escape(f"from {src} to {dst}")):
            check_transition(src, dst)


def test_only_queued_starts_a_task() -> None:
    assert can_transition(None, S.QUEUED)
    for state in set(S) - {S.QUEUED}:
        with pytest.raises(IllegalTransition, match="from nothing"):
            check_transition(None, state)


def test_resting_and_working_states() -> None:
    assert WORKING == {S.PLANNING, S.EXECUTING}
    assert RESTING | WORKING == set(S) and not RESTING & WORKING
    assert all(RETURN_TO[w] in RESTING and can_transition(w, RETURN_TO[w]) for w in WORKING)
    assert not TRANSITIONS[S.DONE] and FINAL == {S.DONE, S.CANCELLED}


def test_what_each_state_calls_for() -> None:
    assert next_step(S.QUEUED) is Step.PLAN
    assert next_step(S.APPROVED) is Step.EXECUTE
    assert all(next_step(s) is None for s in set(S) - {S.QUEUED, S.APPROVED})
    assert retry_target(S.APPROVED) is S.APPROVED
    assert retry_target(S.QUEUED) is S.QUEUED and retry_target(S.PLAN_REVIEW) is S.QUEUED


def test_every_state_is_reachable_and_can_end() -> None:
    reached, todo = {S.QUEUED}, [S.QUEUED]
    while todo:
        for nxt in TRANSITIONS[todo.pop()] - reached:
            reached.add(nxt)
            todo.append(nxt)
    assert reached == set(S)
