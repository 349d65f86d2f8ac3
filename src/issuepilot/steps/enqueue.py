"""Start a task: the trigger label was added (or the issue reopened with it)."""

from ..machine import FINAL, TaskState
from ..models import Task
from .common import Context, Outcome, move, publish


async def enqueue(ctx: Context, issue: int, task: Task | None) -> Outcome:
    if task is not None and task.state not in FINAL | {TaskState.FAILED}:
        return Outcome(task, f"issue #{issue} already has a task ({task.state})")
    title = ctx.payload.issue.title if ctx.payload.issue else ""
    fresh = Task(
        issue=issue,
        state=TaskState.QUEUED,
        version=task.version if task else 0,
        title=title,
        comment_id=task.comment_id if task else 0,
    )
    queued = await move(
        ctx, fresh, TaskState.QUEUED, note=f"queued by @{ctx.trigger.actor}", fresh=True
    )
    if queued is None:
        return Outcome(None, "already advanced by another run")
    # The status comment comes with the plan step: enqueue stays within three API calls.
    before = task.state if task is not None else None
    queued = await publish(ctx, queued, before=before, comment=bool(queued.comment_id))
    return Outcome(queued, f"issue #{issue} queued", automatic=True)
