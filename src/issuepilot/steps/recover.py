"""A working state whose lease expired: its run died. Return the task to where it rested."""

from ..machine import HOLDS_LOCKS, Move, target
from ..models import Task
from .context import Context
from .transition import transition


async def recover(ctx: Context, task: Task) -> Task:
    """Back to the resting state. A task going back to a state that holds its files (a
    fix round's PR_OPEN) keeps its lock token; any other lets the token go with the step."""
    keeps = target(task.state, Move.EXPIRE, task.resting) in HOLDS_LOCKS
    return await transition(
        ctx,
        task,
        Move.EXPIRE,
        note="the run holding the step's lease died",
        attempts=task.attempts + 1,
        lease_until=0.0,
        lock_token=task.lock_token if keeps else "",
    )
