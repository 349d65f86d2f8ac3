"""PR_OPEN -> DONE (merged) or CANCELLED (closed unmerged); the files are freed."""

from ..machine import Move, allows
from ..models import Task
from .context import Context, Outcome
from .transition import transition


async def finish(ctx: Context, task: Task) -> Outcome:
    trigger = ctx.trigger
    return await pull_closed(ctx, task, trigger.pr, trigger.merged, trigger.reason)


async def pull_closed(ctx: Context, task: Task, pr: int, merged: bool, reason: str) -> Outcome:
    """The task's pull request was merged (DONE) or closed unmerged (CANCELLED)."""
    move = Move.MERGED if merged else Move.CLOSED
    if not allows(task.state, move) or task.pr != pr:
        return Outcome(task, f"pull request #{pr} is not the open PR of this task")
    done = await transition(ctx, task, move, note=reason)
    return Outcome(done, reason)
