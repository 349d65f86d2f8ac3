"""The task state machine: every rule of the lifecycle, as data. Pure: no I/O, no clock.

```
issue labeled `issuepilot` ──► QUEUED ──plan──► PLANNING ──► PLAN_REVIEW
                                  ▲                              │ approve (label or /issuepilot approve,
                                  └──── revise (feedback) ◄──────┤          by a user with write access)
                                                                 ▼
        DONE ◄── merged ── PR_OPEN ◄── EXECUTING ◄──execute── APPROVED   (waits here while its files are locked)
                           │  ▲
     fix round: review,    ▼  │ pushed to the same branch (or the round failed: the PR stays as it was)
     /issuepilot fix, red CI, /issuepilot rebase ──► EXECUTING
   CANCELLED ◄── PR closed unmerged / issue closed / trigger label removed / /issuepilot cancel (from any live state)
      FAILED ◄── any step that errors; /issuepilot retry or the retry label returns it to its last resting state
```

`TABLE` says which `Move` is valid in which state and where it leads; `HOLDS` what each
state holds; `NEXT_STEP` what a resting state calls for. A working state (PLANNING,
EXECUTING) is a lease held by a running step; when the lease expires the run died, and
the task goes back to the resting state it came from (`BACK`). Steps ask these tables;
they never test states themselves.
"""

from enum import Enum, StrEnum
from typing import Final, Literal

from .errors import IllegalTransition


class TaskState(StrEnum):
    QUEUED = "queued"  # waiting for a planning step
    PLANNING = "planning"  # a step is asking the planner for a plan (leased)
    PLAN_REVIEW = "plan-review"  # the plan is posted; a maintainer approves, revises or cancels
    APPROVED = "approved"  # the plan is approved; waits here while its files are locked
    EXECUTING = "executing"  # a step is writing the change and opening the PR (leased)
    PR_OPEN = "pr-open"  # the pull request is open; its merge or close decides
    DONE = "done"  # the pull request was merged
    FAILED = "failed"  # a step failed; retry returns to the last resting state
    CANCELLED = "cancelled"  # stopped by a human, a closed issue or a closed pull request


class Move(StrEnum):
    """What moves a task: a person's command, a fact from GitHub, or a step's progress."""

    ENQUEUE = "enqueue"  # the trigger label was added (or the issue reopened with it)
    START = "start"  # a step claims the task to work on it
    PLANNED = "planned"  # the planner's plan is posted
    APPROVE = "approve"  # a maintainer approves the current plan
    REVISE = "revise"  # a maintainer asks for a new plan
    WAIT = "wait"  # the plan's files are locked by other tasks
    OPENED = "opened"  # the pull request is open
    MERGED = "merged"  # the pull request was merged
    CLOSED = "closed"  # the pull request was closed without merging
    ISSUE_CLOSED = "issue-closed"  # the issue was closed
    CANCEL = "cancel"  # /issuepilot cancel, or the trigger label removed
    FAIL = "fail"  # the step errored
    EXPIRE = "expire"  # the working step's lease ran out: its run died
    RETRY = "retry"  # a maintainer resumes a failed task
    ROUND = "round"  # a fix round starts on the open pull request (feedback, red CI, rebase)
    ROUND_FAILED = "round-failed"  # the round could not finish: the PR stays as it was


class Step(StrEnum):
    PLAN = "plan"
    EXECUTE = "execute"


class _Back(Enum):
    BACK = "the resting state the task left"


BACK: Final = _Back.BACK
S = TaskState
M = Move

WORKING: frozenset[TaskState] = frozenset({S.PLANNING, S.EXECUTING})
RESTING: frozenset[TaskState] = frozenset(S) - WORKING
FINAL: frozenset[TaskState] = frozenset({S.DONE, S.CANCELLED})
LIVE: frozenset[TaskState] = frozenset(S) - FINAL - {S.FAILED}
# Where a new lifecycle may start: no task yet (None), or one that ended.
RESTARTABLE: frozenset[TaskState | None] = frozenset({None, S.DONE, S.CANCELLED, S.FAILED})

TABLE: dict[tuple[TaskState | None, Move], TaskState | Literal[_Back.BACK]] = {
    **{(src, M.ENQUEUE): S.QUEUED for src in RESTARTABLE},
    (S.QUEUED, M.START): S.PLANNING,
    (S.PLANNING, M.PLANNED): S.PLAN_REVIEW,
    (S.PLANNING, M.EXPIRE): BACK,
    (S.PLANNING, M.FAIL): S.FAILED,
    (S.PLAN_REVIEW, M.APPROVE): S.APPROVED,
    (S.PLAN_REVIEW, M.REVISE): S.QUEUED,
    (S.APPROVED, M.REVISE): S.QUEUED,
    (S.APPROVED, M.START): S.EXECUTING,
    (S.EXECUTING, M.WAIT): S.APPROVED,
    (S.EXECUTING, M.OPENED): S.PR_OPEN,
    (S.EXECUTING, M.EXPIRE): BACK,
    (S.EXECUTING, M.FAIL): S.FAILED,
    (S.PR_OPEN, M.ROUND): S.EXECUTING,
    (S.EXECUTING, M.ROUND_FAILED): BACK,
    (S.PR_OPEN, M.MERGED): S.DONE,
    (S.PR_OPEN, M.CLOSED): S.CANCELLED,
    (S.FAILED, M.RETRY): BACK,
    **{(src, M.CANCEL): S.CANCELLED for src in LIVE | {S.FAILED}},
    # With its PR open, a closed issue changes nothing: "Closes #n" closes it on merge.
    **{(src, M.ISSUE_CLOSED): S.CANCELLED for src in (LIVE | {S.FAILED}) - {S.PR_OPEN}},
}

# Why a move that the table lacks does nothing, where there is more to say than the state.
WHY_NOT: dict[tuple[TaskState, Move], str] = {
    (S.PR_OPEN, M.ISSUE_CLOSED): "the issue was closed; the pull request decides the outcome",
}

# What a state holds. A leased state belongs to a running step until its lease ends. File
# locks are taken when executing starts and kept while the pull request is open; an
# approved task may hold a place in the line for files other tasks hold.
LEASED: frozenset[TaskState] = WORKING
HOLDS_LOCKS: frozenset[TaskState] = frozenset({S.EXECUTING, S.PR_OPEN})
CLAIMS_FILES: frozenset[TaskState] = HOLDS_LOCKS | {S.APPROVED}

# What a resting state calls for when a run finds the task in it. States that wait for a
# human or for GitHub call for nothing.
NEXT_STEP: dict[TaskState, Step] = {S.QUEUED: Step.PLAN, S.APPROVED: Step.EXECUTE}
# States after which the next step needs no human: the run dispatches itself again.
AUTOMATIC: frozenset[TaskState] = frozenset(NEXT_STEP)


def allows(state: TaskState | None, move: Move) -> bool:
    return (state, move) in TABLE


def target(state: TaskState | None, move: Move, resting: TaskState) -> TaskState:
    """Where `move` takes a task in `state` that last rested in `resting`."""
    dst = TABLE.get((state, move))
    if dst is None:
        raise IllegalTransition(f"a task cannot {move} when it is {state or 'not started'}")
    return resting if dst is BACK else dst


def why_not(state: TaskState | None, move: Move) -> str:
    """The one line a run says when `move` is not valid now."""
    if state is None:
        return "the issue has no IssuePilot task"
    return WHY_NOT.get((state, move), f"nothing to {move}: the task is {state}")


def shown(state: TaskState, resting: TaskState) -> TaskState:
    """The state whose label the issue shows: a working state shows where it rested."""
    return resting if state in WORKING else state


def next_step(state: TaskState) -> Step | None:
    return NEXT_STEP.get(state)


def releases_files(src: TaskState, dst: TaskState, move: Move) -> bool:
    """Whether the move ends the task's claim on files: its locks and its place in line.
    WAIT keeps the place in line it has just taken."""
    return move is not M.WAIT and src in CLAIMS_FILES and dst not in HOLDS_LOCKS
