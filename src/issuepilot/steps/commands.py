"""What maintainers ask for: approve, revise, retry, cancel; and refusing those who may not."""

from ..events import Action
from ..machine import LIVE, TaskState, retry_target
from ..models import Task
from .common import WRITE_ROLES, Context, Outcome, move, publish, role_of, update, wake
from .preflight import preflight

S = TaskState


def _label_added(ctx: Context) -> str:
    """The label this event added, if it was a label event."""
    if ctx.trigger.event == "issues.labeled" and ctx.payload.label is not None:
        return ctx.payload.label.name
    return ""


async def approve(ctx: Context, task: Task) -> Outcome:
    added = _label_added(ctx)
    if task.state is not S.PLAN_REVIEW or task.plan is None:
        if added and task.state not in (S.APPROVED, S.EXECUTING, S.PR_OPEN):
            await ctx.gh.remove_label(task.issue, added)  # an approval of nothing is withdrawn
        return Outcome(task, f"nothing to approve: the task is {task.state}")
    if problems := await preflight(ctx, task):
        why = "Not approved, since executing would fail: " + "; ".join(problems)
        noted = await update(ctx, task, error=why) or task
        await publish(ctx, noted, before=None, remove=(added,) if added else ())
        return Outcome(noted, why)
    approved = await move(
        ctx,
        task,
        S.APPROVED,
        note=f"plan v{task.plan_version} approved by @{ctx.trigger.actor}",
        approved_hash=task.plan_hash,
        error="",
    )
    if approved is None:
        return Outcome(None, "already advanced by another run")
    approved = await publish(ctx, approved, before=S.PLAN_REVIEW)
    return Outcome(approved, f"plan v{approved.plan_version} approved", automatic=True)


async def revise(ctx: Context, task: Task) -> Outcome:
    remove = tuple(filter(None, [_label_added(ctx)]))
    if task.state not in (S.PLAN_REVIEW, S.APPROVED):
        for name in remove:
            await ctx.gh.remove_label(task.issue, name)
        return Outcome(task, f"nothing to revise: the task is {task.state}")
    said = ctx.trigger.feedback or (await _latest_feedback(ctx, task.issue) if remove else "")
    feedback = [*task.feedback, said] if said else task.feedback
    queued = await move(
        ctx,
        task,
        S.QUEUED,
        note=f"revision asked by @{ctx.trigger.actor}",
        feedback=feedback,
        approved_hash="",
    )
    if queued is None:
        return Outcome(None, "already advanced by another run")
    queued = await publish(ctx, queued, before=task.state, remove=remove)
    return Outcome(queued, "queued for a revised plan", automatic=True)


async def _latest_feedback(ctx: Context, issue: int) -> str:
    """With the revise label, the feedback is the newest comment by a user allowed to act.
    Comments by anyone else never reach the model as instructions to follow."""
    candidates = []
    async for comment in ctx.gh.list_comments(issue):
        author = str((comment.get("user") or {}).get("login", ""))
        body = str(comment.get("body") or "").strip()
        if author and author not in ctx.rules.bot_logins and body and not body.startswith("/"):
            candidates.append((author, body))
    for author, body in reversed(candidates):
        if await role_of(ctx, author) in WRITE_ROLES:
            return body
    return ""


async def retry(ctx: Context, task: Task) -> Outcome:
    remove = tuple(filter(None, [_label_added(ctx)]))
    if task.state is not S.FAILED:
        for name in remove:
            await ctx.gh.remove_label(task.issue, name)
        return Outcome(task, f"nothing to retry: the task is {task.state}")
    target = retry_target(task.resting)
    moved = await move(ctx, task, target, note=f"retry by @{ctx.trigger.actor}", error="")
    if moved is None:
        return Outcome(None, "already advanced by another run")
    moved = await publish(ctx, moved, before=S.FAILED, remove=remove)
    return Outcome(moved, f"retrying from {target}", automatic=True)


async def cancel(ctx: Context, task: Task) -> Outcome:
    if task.state not in LIVE | {S.FAILED}:
        return Outcome(task, f"nothing to cancel: the task is {task.state}")
    if ctx.trigger.event == "issues.closed" and task.state is S.PR_OPEN:
        return Outcome(task, "the issue was closed; the pull request decides the outcome")
    cancelled = await move(ctx, task, S.CANCELLED, note=ctx.trigger.reason)
    if cancelled is None:
        return Outcome(None, "already advanced by another run")
    released = await ctx.locks.release_task(str(task.issue))
    cancelled = await publish(ctx, cancelled, before=task.state)
    woken = await wake(ctx, released.ready)
    return Outcome(cancelled, "task cancelled", dispatched=woken)


async def refuse(ctx: Context, issue: int, task: Task | None, role: str) -> Outcome:
    """The actor may not do this: take their label off again and say why."""
    trigger = ctx.trigger
    why = (
        f"@{trigger.actor} cannot {trigger.action} IssuePilot tasks: that needs write, maintain "
        f"or admin permission on the repository (has: {role}), or a place in allowed-users."
    )
    added = _label_added(ctx)
    if task is None:
        if added:
            await ctx.gh.remove_label(issue, added)
        await ctx.gh.create_comment(issue, f"**IssuePilot:** {why}")
    else:
        noted = await update(ctx, task, error=why) or task
        await publish(ctx, noted, before=None, remove=(added,) if added else ())
    return Outcome(task, why)


HANDLERS = {
    Action.APPROVE: approve,
    Action.REVISE: revise,
    Action.RETRY: retry,
    Action.CANCEL: cancel,
}
