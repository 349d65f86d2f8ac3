"""A step that errors leaves its task in FAILED, with the reason shown and locks freed."""

from ..errors import IssuePilotError
from ..machine import TaskState
from ..models import Task
from .common import Context, move, publish


async def fail(ctx: Context, task: Task, exc: IssuePilotError) -> None:
    """Record the failure; best effort, since the original error is what must surface."""
    try:
        failed = await move(ctx, task, TaskState.FAILED, note="step failed", error=str(exc))
        if failed is None:
            return
        if task.state is TaskState.EXECUTING:
            await ctx.locks.release_task(str(task.issue))
        await publish(ctx, failed, before=failed.resting)
    except IssuePilotError as second:
        ctx.say(f"#{task.issue}: could not record the failure: {second}")
