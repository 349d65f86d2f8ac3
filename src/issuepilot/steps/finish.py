"""PR_OPEN -> DONE (merged) or CANCELLED (closed unmerged); the files are freed."""

from ..machine import Move, allows
from ..models import Task
from .context import Context, Outcome
from .transition import transition


async def finish(ctx: Context, task: Task) -> Outcome:
    trigger = ctx.trigger
    move = Move.MERGED if trigger.merged else Move.CLOSED
    if not allows(task.state, move) or task.pr != trigger.pr:
        return Outcome(task, f"pull request #{trigger.pr} is not the open PR of this task")
    done = await transition(ctx, task, move, note=trigger.reason)
    return Outcome(done, trigger.reason)
