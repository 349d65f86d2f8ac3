"""PR_OPEN -> DONE (merged) or CANCELLED (closed unmerged); the files are freed."""

from ..github.objects import Pull, Ref
from ..machine import Move, TaskState, allows
from ..models import Task
from .context import Context, Outcome
from .recover import recover
from .transition import transition


async def finish(ctx: Context, task: Task) -> Outcome:
    trigger = ctx.trigger
    pull = ctx.payload.pull_request or Pull(
        number=trigger.pr, merged=trigger.merged, head=Ref(ref=ctx.labels.branch(task.issue))
    )
    return await pull_closed(ctx, task, pull, trigger.reason)


async def pull_closed(ctx: Context, task: Task, pull: Pull, reason: str) -> Outcome:
    """The task's pull request was merged (DONE) or closed unmerged (CANCELLED). A task
    whose executing run died is recovered first: to PR_OPEN, if that run opened it."""
    move = Move.MERGED if pull.was_merged else Move.CLOSED
    if task.state is TaskState.EXECUTING and task.lease_until <= ctx.now():
        task = await recover(ctx, task)
    if not allows(task.state, move) or task.pr != pull.number:
        return Outcome(task, f"pull request #{pull.number} is not the open PR of this task")
    done = await transition(ctx, task, move, note=reason)
    return Outcome(done, reason)
