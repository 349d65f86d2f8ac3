"""The task state machine: states, the transition table and what each state calls for.

Pure: no I/O, no clock, no randomness. The runner feeds it facts and carries out what it
returns.

```
issue labeled `issuepilot` ──► QUEUED ──plan──► PLANNING ──► PLAN_REVIEW
                                  ▲                              │ approve (label or /issuepilot approve,
                                  └──── revise (feedback) ◄──────┤          by a user with write access)
                                                                 ▼
        DONE ◄── merged ── PR_OPEN ◄── EXECUTING ◄──execute── APPROVED   (waits here while its files are locked)
   CANCELLED ◄── PR closed unmerged / issue closed / trigger label removed / /issuepilot cancel (from any live state)
      FAILED ◄── any step that errors; /issuepilot retry or the retry label returns it to its last resting state
```

A working state (PLANNING, EXECUTING) is a lease held by a running step; when the lease
expires the run died, and the task goes back to the resting state it came from.
"""

from enum import StrEnum

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


class Step(StrEnum):
    PLAN = "plan"
    EXECUTE = "execute"


S = TaskState
WORKING: frozenset[TaskState] = frozenset({S.PLANNING, S.EXECUTING})
RESTING: frozenset[TaskState] = frozenset(S) - WORKING
FINAL: frozenset[TaskState] = frozenset({S.DONE, S.CANCELLED})
LIVE: frozenset[TaskState] = frozenset(S) - FINAL - {S.FAILED}

# The resting state a working state returns to when its lease expires.
RETURN_TO: dict[TaskState, TaskState] = {S.PLANNING: S.QUEUED, S.EXECUTING: S.APPROVED}

TRANSITIONS: dict[TaskState, frozenset[TaskState]] = {
    S.QUEUED: frozenset({S.PLANNING, S.CANCELLED}),
    S.PLANNING: frozenset({S.PLAN_REVIEW, S.QUEUED, S.FAILED, S.CANCELLED}),
    S.PLAN_REVIEW: frozenset({S.APPROVED, S.QUEUED, S.CANCELLED}),
    S.APPROVED: frozenset({S.EXECUTING, S.QUEUED, S.FAILED, S.CANCELLED}),
    S.EXECUTING: frozenset({S.PR_OPEN, S.APPROVED, S.FAILED, S.CANCELLED}),
    S.PR_OPEN: frozenset({S.DONE, S.CANCELLED}),
    S.DONE: frozenset(),
    S.FAILED: frozenset({S.QUEUED, S.APPROVED, S.CANCELLED}),
    S.CANCELLED: frozenset({S.QUEUED}),
}

# What each state calls for when a run finds the task resting in it. States that wait for a
# human or for GitHub call for nothing.
NEXT_STEP: dict[TaskState, Step] = {S.QUEUED: Step.PLAN, S.APPROVED: Step.EXECUTE}

# States after which the next step needs no human: the run dispatches itself again.
AUTOMATIC: frozenset[TaskState] = frozenset(NEXT_STEP)


def can_transition(src: TaskState | None, dst: TaskState) -> bool:
    """Whether `src` may move to `dst`. `None` is "no task yet": only QUEUED may start one."""
    if src is None:
        return dst is S.QUEUED
    return dst in TRANSITIONS[src]


def check_transition(src: TaskState | None, dst: TaskState) -> None:
    if not can_transition(src, dst):
        raise IllegalTransition(f"a task cannot go from {src or 'nothing'} to {dst}")


def next_step(state: TaskState) -> Step | None:
    return NEXT_STEP.get(state)


def retry_target(resting_before_failure: TaskState) -> TaskState:
    """Where `retry` sends a FAILED task: the resting state before the failing step."""
    return S.APPROVED if resting_before_failure is S.APPROVED else S.QUEUED
