"""The state machine's tables, walked rule by rule against the diagram they stand for."""

import itertools
import re

import pytest

from issuepilot import machine
from issuepilot.errors import IllegalTransition
from issuepilot.machine import (
    AUTOMATIC,
    BACK,
    CLAIMS_FILES,
    FINAL,
    HOLDS_LOCKS,
    LIVE,
    RESTING,
    TABLE,
    WORKING,
    Move,
    Step,
    TaskState,
    allows,
    next_step,
    releases_files,
    shown,
    target,
    why_not,
)

S, M = TaskState, Move
ANY_LIVE = LIVE | {S.FAILED}
# The diagram in machine.py's docstring, move by move: the table must match it exactly.
DIAGRAM: dict[tuple[TaskState | None, Move], TaskState | object] = {
    (None, M.ENQUEUE): S.QUEUED,
    (S.DONE, M.ENQUEUE): S.QUEUED,  # re-adding the trigger label starts over
    (S.CANCELLED, M.ENQUEUE): S.QUEUED,
    (S.FAILED, M.ENQUEUE): S.QUEUED,
    (S.QUEUED, M.START): S.PLANNING,
    (S.PLANNING, M.PLANNED): S.PLAN_REVIEW,
    (S.PLAN_REVIEW, M.APPROVE): S.APPROVED,
    (S.PLAN_REVIEW, M.REVISE): S.QUEUED,
    (S.APPROVED, M.REVISE): S.QUEUED,
    (S.APPROVED, M.START): S.EXECUTING,
    (S.EXECUTING, M.WAIT): S.APPROVED,  # its files are locked: it waits in APPROVED
    (S.EXECUTING, M.OPENED): S.PR_OPEN,
    (S.PR_OPEN, M.MERGED): S.DONE,
    (S.PR_OPEN, M.CLOSED): S.CANCELLED,
    # a fix round on the open PR, and its failure: back to the PR as it was
    (S.PR_OPEN, M.ROUND): S.EXECUTING,
    (S.EXECUTING, M.ROUND_FAILED): BACK,
    # lease expiry returns a working state to where it rested; retry likewise
    (S.PLANNING, M.EXPIRE): BACK,
    (S.EXECUTING, M.EXPIRE): BACK,
    (S.FAILED, M.RETRY): BACK,
    # any step that errors
    (S.PLANNING, M.FAIL): S.FAILED,
    (S.EXECUTING, M.FAIL): S.FAILED,
    **{(s, M.CANCEL): S.CANCELLED for s in ANY_LIVE},
    **{(s, M.ISSUE_CLOSED): S.CANCELLED for s in ANY_LIVE - {S.PR_OPEN}},
}
STATES: list[TaskState | None] = [None, *S]


def test_table_matches_the_diagram() -> None:
    assert TABLE == DIAGRAM
    doc = machine.__doc__ or ""
    for state in S:
        assert state.name in doc, f"{state.name} missing from the diagram"


@pytest.mark.parametrize(("state", "move"), list(itertools.product(STATES, M)))
def test_every_move_in_every_state_is_allowed_or_refused_with_a_reason(
    state: TaskState | None, move: Move
) -> None:
    if (state, move) in DIAGRAM:
        assert allows(state, move)
        dst = target(state, move, S.APPROVED)
        assert dst == (S.APPROVED if DIAGRAM[state, move] is BACK else DIAGRAM[state, move])
    else:
        assert not allows(state, move)
        with pytest.raises(IllegalTransition, match=re.escape(f"cannot {move}")):
            target(state, move, S.QUEUED)
        assert why_not(state, move)


def test_a_failed_or_dead_fix_round_keeps_the_pull_request_and_its_files() -> None:
    assert target(S.EXECUTING, M.ROUND_FAILED, S.PR_OPEN) is S.PR_OPEN
    assert target(S.EXECUTING, M.EXPIRE, S.PR_OPEN) is S.PR_OPEN
    assert not releases_files(S.PR_OPEN, S.EXECUTING, M.ROUND)
    assert not releases_files(S.EXECUTING, S.PR_OPEN, M.ROUND_FAILED)


def test_back_is_the_state_the_task_rested_in() -> None:
    assert target(S.PLANNING, M.EXPIRE, S.QUEUED) is S.QUEUED
    assert target(S.EXECUTING, M.EXPIRE, S.APPROVED) is S.APPROVED
    assert target(S.FAILED, M.RETRY, S.APPROVED) is S.APPROVED
    assert target(S.FAILED, M.RETRY, S.QUEUED) is S.QUEUED


def test_refusals_say_why() -> None:
    assert why_not(S.DONE, M.APPROVE) == "nothing to approve: the task is done"
    assert "pull request decides" in why_not(S.PR_OPEN, M.ISSUE_CLOSED)
    assert why_not(None, M.CANCEL) == "the issue has no IssuePilot task"


def test_resting_and_working_states() -> None:
    assert WORKING == {S.PLANNING, S.EXECUTING}
    assert RESTING | WORKING == set(S) and not RESTING & WORKING
    assert FINAL == {S.DONE, S.CANCELLED}
    assert not [move for (state, move) in TABLE if state is S.DONE and move is not M.ENQUEUE]
    for state in WORKING:  # every working state can end: done, died, failed, cancelled
        assert {M.EXPIRE, M.FAIL, M.CANCEL} <= {m for (s, m) in TABLE if s is state}


def test_a_working_state_shows_the_label_of_where_it_rested() -> None:
    assert shown(S.PLANNING, S.QUEUED) is S.QUEUED
    assert shown(S.EXECUTING, S.APPROVED) is S.APPROVED
    assert all(shown(s, S.QUEUED) is s for s in RESTING)


def test_what_each_state_calls_for() -> None:
    assert next_step(S.QUEUED) is Step.PLAN
    assert next_step(S.APPROVED) is Step.EXECUTE
    assert all(next_step(s) is None for s in set(S) - {S.QUEUED, S.APPROVED})
    assert AUTOMATIC == {S.QUEUED, S.APPROVED}


# Sorted: the table is a dict built from sets, and pytest-xdist needs one order in every worker.
@pytest.mark.parametrize(("src", "move"), sorted((s, m) for (s, m) in TABLE if s is not None))
def test_files_are_freed_exactly_when_the_task_stops_claiming_them(
    src: TaskState, move: Move
) -> None:
    for resting in (S.QUEUED, S.APPROVED):
        dst = target(src, move, resting)
        expected = src in CLAIMS_FILES and dst not in HOLDS_LOCKS and move is not M.WAIT
        assert releases_files(src, dst, move) is expected


def test_locks_are_held_from_executing_until_the_pr_ends() -> None:
    assert HOLDS_LOCKS == {S.EXECUTING, S.PR_OPEN}
    assert releases_files(S.PR_OPEN, S.DONE, M.MERGED)
    assert releases_files(S.EXECUTING, S.FAILED, M.FAIL)
    assert releases_files(S.EXECUTING, S.APPROVED, M.EXPIRE)  # the dead run's locks
    assert not releases_files(S.EXECUTING, S.APPROVED, M.WAIT)  # keeps its place in line
    assert releases_files(S.APPROVED, S.QUEUED, M.REVISE)  # leaves the line
    assert not releases_files(S.PLAN_REVIEW, S.CANCELLED, M.CANCEL)


def test_every_state_is_reachable_and_can_end() -> None:
    reached, todo = {S.QUEUED}, [S.QUEUED]
    while todo:
        state = todo.pop()
        for src, move in TABLE:
            if src is state:
                for resting in RESTING - FINAL:
                    dst = target(state, move, resting)
                    if dst not in reached and (TABLE[src, move] is not BACK or resting in reached):
                        reached.add(dst)
                        todo.append(dst)
    assert reached == set(S)
