"""A working state whose lease expired: its run died. Return the task to where it rested,
or, where the run opened its pull request before it died, on to PR_OPEN with it."""

from ..machine import HOLDS_LOCKS, Move, TaskState, target
from ..models import Task
from .context import Context
from .pulls import own_pull
from .transition import transition


async def recover(ctx: Context, task: Task) -> Task:
    """Back to the resting state. A task going back to a state that holds its files (a
    fix round's PR_OPEN) keeps its lock token; any other lets the token go with the step.
    An execute step that died after opening its pull request (its record names none) is
    carried on to PR_OPEN, as it would have: executing again would open a second one once
    the first is merged."""
    died = "the run holding the step's lease died"
    if task.state is TaskState.EXECUTING and not task.pr:
        if (pull := await own_pull(ctx, task)) is not None:
            return await transition(
                ctx,
                task,
                Move.OPENED,
                note=f"pull request #{pull.number}, opened before {died.removeprefix('the ')}",
                attempts=task.attempts + 1,
                lease_until=0.0,
                pr=pull.number,
                pr_url=pull.html_url,
                branch=pull.head.ref,
            )
    keeps = target(task.state, Move.EXPIRE, task.resting) in HOLDS_LOCKS
    return await transition(
        ctx,
        task,
        Move.EXPIRE,
        note=died,
        attempts=task.attempts + 1,
        lease_until=0.0,
        lock_token=task.lock_token if keeps else "",
    )
