"""Start a task: the trigger label was added (or the issue reopened with it)."""

from ..machine import Move, allows
from ..models import Task
from .context import Context, Outcome
from .transition import restart


async def enqueue(ctx: Context, issue: int, task: Task | None) -> Outcome:
    if task is not None and not allows(task.state, Move.ENQUEUE):
        return Outcome(task, f"issue #{issue} already has a task ({task.state})")
    title = ctx.payload.issue.title if ctx.payload.issue else ""
    # The status comment comes with the plan step: enqueue stays within three API calls.
    queued = await restart(ctx, issue, task, title)
    return Outcome(queued, f"issue #{issue} queued", automatic=True)
