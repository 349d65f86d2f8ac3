"""What maintainers ask for: approve, revise, retry, cancel; and refusing those who may not."""

from ..events import Action
from ..machine import LEASED, LIVE, Move, allows, why_not
from ..models import Task
from .access import may_act
from .context import Context, Outcome, update
from .mirror import label_shown, publish
from .preflight import preflight
from .transition import transition


async def _withdraw(ctx: Context, task: Task) -> None:
    """Take off the label this event added, when it asked for something not possible now;
    the approval label stays where it is the state label the task shows."""
    if (added := ctx.label_added()) and added != label_shown(ctx, task):
        await ctx.gh.remove_label(task.issue, added)


def _added(ctx: Context) -> tuple[str, ...]:
    added = ctx.label_added()
    return (added,) if added else ()


async def approve(ctx: Context, task: Task) -> Outcome:
    if not allows(task.state, Move.APPROVE) or task.plan is None:
        await _withdraw(ctx, task)
        return Outcome(task, why_not(task.state, Move.APPROVE))
    if unseen := _unseen_plan(ctx, task):
        await _withdraw(ctx, task)
        noted = await update(ctx, task, error=unseen)
        await publish(ctx, noted)
        return Outcome(noted, unseen)
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


def _unseen_plan(ctx: Context, task: Task) -> str:
    """Why this approval does not apply to the current plan, if it does not.

    `/issuepilot approve <hash>` approves that plan only. A bare approval (or the label)
    approves the plan the approver could see when they sent it: one shown on GitHub
    strictly before, by GitHub's clock (whole seconds). So a revision racing an approval
    is never approved unseen."""
    current = f"v{task.plan_version} `{task.plan_hash}`"
    if said := ctx.trigger.feedback.split()[0].strip("`").lower() if ctx.trigger.feedback else "":
        if len(said) >= 7 and task.plan_hash.startswith(said):
            return ""
        return f"Not approved: `{said[:40]}` is not the current plan ({current})."
    versions = [v for v in task.plan_versions if v.version == task.plan_version]
    shown = versions[-1].shown if versions else None
    sent = ctx.sent_at()
    if sent is not None and shown is not None and sent <= shown:
        return (
            f"Not approved: the approval was sent before plan {current} was shown. Read it, "
            f"then approve again (`/issuepilot approve {task.plan_hash}`)."
        )
    return ""


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
    move = Move.ISSUE_CLOSED if ctx.trigger.action is Action.ISSUE_CLOSED else Move.CANCEL
    if not allows(task.state, move):
        return Outcome(task, why_not(task.state, move))
    cancelled = await transition(ctx, task, move, note=ctx.trigger.reason)
    return Outcome(cancelled, "task cancelled")


async def refuse(ctx: Context, issue: int, task: Task | None, role: str) -> Outcome:
    """The actor may not do this: undo their label change and say why, once per state.

    Without a task, or while a step holds the task's lease (its record must not change
    under it), the refusal is a line in the step log only: an outsider's commands cost
    no comment."""
    trigger = ctx.trigger
    why = (
        f"@{trigger.actor} cannot {trigger.action} IssuePilot tasks: that needs write, maintain "
        f"or admin permission on the repository (has: {role}), or a place in allowed-users."
    )
    if added := ctx.label_added():
        await ctx.gh.remove_label(issue, added)
    elif trigger.event == "issues.unlabeled" and task is not None and task.state in LIVE:
        await ctx.gh.add_labels(issue, [ctx.labels.trigger])  # removed by someone who may not
    if task is None or task.state in LEASED or task.refusal:
        return Outcome(task, why)
    noted = await update(ctx, task, refusal=why)
    await publish(ctx, noted)
    return Outcome(noted, why)


HANDLERS = {
    Action.APPROVE: approve,
    Action.REVISE: revise,
    Action.RETRY: retry,
    Action.CANCEL: cancel,
    Action.ISSUE_CLOSED: cancel,
}
