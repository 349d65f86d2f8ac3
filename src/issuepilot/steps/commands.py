"""What maintainers ask for: approve, revise, retry, cancel; and refusing those who may not."""

from ..events import Action
from ..machine import APPROVED_ONCE, Move, allows, why_not
from ..models import Task
from .access import may_act
from .context import Context, Outcome, update
from .mirror import publish
from .preflight import preflight
from .transition import transition


async def _withdraw(ctx: Context, task: Task, keep: bool = False) -> None:
    """Take off the label this event added, when it asked for something not possible now."""
    if (added := ctx.label_added()) and not keep:
        await ctx.gh.remove_label(task.issue, added)


def _added(ctx: Context) -> tuple[str, ...]:
    added = ctx.label_added()
    return (added,) if added else ()


async def approve(ctx: Context, task: Task) -> Outcome:
    if not allows(task.state, Move.APPROVE) or task.plan is None:
        # The approval label is the APPROVED state label: it stays on a task approved before.
        await _withdraw(ctx, task, keep=task.state in APPROVED_ONCE)
        return Outcome(task, why_not(task.state, Move.APPROVE))
    if problems := await preflight(ctx, task):
        why = "Not approved, since executing would fail: " + "; ".join(problems)
        noted = await update(ctx, task, error=why)
        await publish(ctx, noted, remove=_added(ctx))
        return Outcome(noted, why)
    approved = await transition(
        ctx,
        task,
        Move.APPROVE,
        note=f"plan v{task.plan_version} approved by @{ctx.trigger.actor}",
        approved_hash=task.plan_hash,
        error="",
    )
    return Outcome(approved, f"plan v{approved.plan_version} approved", automatic=True)


async def revise(ctx: Context, task: Task) -> Outcome:
    if not allows(task.state, Move.REVISE):
        await _withdraw(ctx, task)
        return Outcome(task, why_not(task.state, Move.REVISE))
    said = ctx.trigger.feedback or (await _latest_feedback(ctx, task.issue) if _added(ctx) else "")
    queued = await transition(
        ctx,
        task,
        Move.REVISE,
        note=f"revision asked by @{ctx.trigger.actor}",
        remove=_added(ctx),
        feedback=[*task.feedback, said] if said else task.feedback,
        approved_hash="",
    )
    return Outcome(queued, "queued for a revised plan", automatic=True)


async def _latest_feedback(ctx: Context, issue: int) -> str:
    """With the revise label, the feedback is the newest comment by a user allowed to act.
    Comments by anyone else never reach the model as instructions to follow."""
    candidates = [
        (c.author, c.text.strip())
        async for c in ctx.gh.list_comments(issue)
        if c.author and c.author not in ctx.rules.bot_logins
    ]
    for author, body in reversed(candidates):
        if body and not body.startswith("/") and await may_act(ctx, author):
            return body
    return ""


async def retry(ctx: Context, task: Task) -> Outcome:
    if not allows(task.state, Move.RETRY):
        await _withdraw(ctx, task)
        return Outcome(task, why_not(task.state, Move.RETRY))
    moved = await transition(
        ctx, task, Move.RETRY, note=f"retry by @{ctx.trigger.actor}", remove=_added(ctx), error=""
    )
    return Outcome(moved, f"retrying from {moved.state}", automatic=True)


async def cancel(ctx: Context, task: Task) -> Outcome:
    move = Move.ISSUE_CLOSED if ctx.trigger.event == "issues.closed" else Move.CANCEL
    if not allows(task.state, move):
        return Outcome(task, why_not(task.state, move))
    cancelled = await transition(ctx, task, move, note=ctx.trigger.reason)
    return Outcome(cancelled, "task cancelled")


async def refuse(ctx: Context, issue: int, task: Task | None, role: str) -> Outcome:
    """The actor may not do this: take their label off again and say why."""
    trigger = ctx.trigger
    why = (
        f"@{trigger.actor} cannot {trigger.action} IssuePilot tasks: that needs write, maintain "
        f"or admin permission on the repository (has: {role}), or a place in allowed-users."
    )
    if task is None:
        if added := ctx.label_added():
            await ctx.gh.remove_label(issue, added)
        await ctx.gh.create_comment(issue, f"**IssuePilot:** {why}")
    else:
        noted = await update(ctx, task, error=why)
        await publish(ctx, noted, remove=_added(ctx))
    return Outcome(task, why)


HANDLERS = {
    Action.APPROVE: approve,
    Action.REVISE: revise,
    Action.RETRY: retry,
    Action.CANCEL: cancel,
}
