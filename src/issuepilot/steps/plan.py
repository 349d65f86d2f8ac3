"""QUEUED -> PLANNING -> PLAN_REVIEW: ask the planner for a plan and post it."""

from ..agents.base import IssueText
from ..errors import IssuePilotError, ModelError
from ..machine import TaskState
from ..models import PlanVersion, Task
from .common import Context, Outcome, find_status_comment, move, publish, stamp, update
from .context import planner_context
from .failure import fail


async def plan(ctx: Context, task: Task) -> Outcome:
    config = ctx.settings.config
    lease_until = ctx.now() + config.lease_minutes * 60
    working = await move(ctx, task, TaskState.PLANNING, lease_until=lease_until, error="")
    if working is None:
        return Outcome(None, "already advanced by another run")
    agent = ctx.agent("plan", working.usage)
    try:
        working = await _show_progress(ctx, working)
        issue = await _issue_text(ctx, working)
        context = await planner_context(ctx, issue, ctx.base_branch)
        proposal = await agent.plan(issue, context)
        if len(proposal.paths) > config.max_files:
            raise ModelError(
                f"the plan touches {len(proposal.paths)} files; the limit is {config.max_files} "
                "(setting max-files)"
            )
    except IssuePilotError as exc:
        await fail(ctx, working.model_copy(update={"usage": agent.budget.total()}), exc)
        raise
    digest, version = proposal.digest(), working.plan_version + 1
    reviewed = await move(
        ctx,
        working,
        TaskState.PLAN_REVIEW,
        plan=proposal,
        plan_hash=digest,
        plan_version=version,
        approved_hash="",
        plan_versions=[
            *working.plan_versions,
            PlanVersion(version=version, digest=digest, at=stamp(ctx)),
        ],
        title=issue.title,
        usage=agent.budget.total(),
    )
    if reviewed is None:
        return Outcome(None, "the task moved on while planning (cancelled?): plan discarded")
    reviewed = await publish(ctx, reviewed, before=reviewed.resting)
    return Outcome(reviewed, f"plan v{reviewed.plan_version} posted for review")


async def _show_progress(ctx: Context, task: Task) -> Task:
    """Make sure the status comment exists (reusing one a crashed run left) and says so."""
    if not task.comment_id and task.attempts:
        found = await find_status_comment(ctx, task.issue)
        if found is not None:
            task = await update(ctx, task, comment_id=found[0]) or task
    return await publish(ctx, task, before=None)


async def _issue_text(ctx: Context, task: Task) -> IssueText:
    payload = ctx.payload.issue
    if payload is not None and payload.number == task.issue:
        title, body = payload.title, payload.body or ""
    else:
        data = await ctx.gh.get_issue(task.issue)
        title, body = str(data.get("title") or ""), str(data.get("body") or "")
    return IssueText(task.issue, title, body, tuple(task.feedback))
