"""A working state whose lease expired: its run died. Return the task to where it rested."""

from ..machine import RETURN_TO, TaskState
from ..models import Task
from .common import Context, move, publish


async def recover(ctx: Context, task: Task) -> Task | None:
    back = RETURN_TO[task.state]
    if task.state is TaskState.EXECUTING:
        await ctx.locks.release_task(str(task.issue))  # the dead run's locks
    moved = await move(
        ctx,
        task,
        back,
        note="the run holding the step's lease died",
        attempts=task.attempts + 1,
        lease_until=0.0,
        lock_token="",
    )
    if moved is not None:
        moved = await publish(ctx, moved, before=None)
    return moved
