"""PR_OPEN -> DONE (merged) or CANCELLED (closed unmerged); the files are freed."""

from ..machine import TaskState
from ..models import Task
from .common import Context, Outcome, move, publish, wake


async def finish(ctx: Context, task: Task) -> Outcome:
    trigger = ctx.trigger
    if task.state is not TaskState.PR_OPEN or task.pr != trigger.pr:
        return Outcome(task, f"pull request #{trigger.pr} is not the open PR of this task")
    dst = TaskState.DONE if trigger.merged else TaskState.CANCELLED
    done = await move(ctx, task, dst, note=trigger.reason)
    if done is None:
        return Outcome(None, "already advanced by another run")
    released = await ctx.locks.release_task(str(task.issue))
    done = await publish(ctx, done, before=TaskState.PR_OPEN)
    woken = await wake(ctx, released.ready)
    return Outcome(done, trigger.reason, dispatched=woken)
