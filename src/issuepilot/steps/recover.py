"""A working state whose lease expired: its run died. Return the task to where it rested."""

from ..machine import Move
from ..models import Task
from .context import Context
from .transition import transition


async def recover(ctx: Context, task: Task) -> Task:
    return await transition(
        ctx,
        task,
        Move.EXPIRE,
        note="the run holding the step's lease died",
        attempts=task.attempts + 1,
        lease_until=0.0,
        lock_token="",
    )
