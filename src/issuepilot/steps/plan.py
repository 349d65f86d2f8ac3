"""QUEUED -> PLANNING -> PLAN_REVIEW: ask the planner for a plan and post it."""

from ..agents.base import IssueText
from ..agents.tools import ToolBox
from ..errors import IssuePilotError, ModelError, Superseded
from ..github.status import LIMIT, too_large
from ..machine import Move
from ..models import PlanVersion, Task
from .change import workspace_of
from .context import Context, Outcome, update
from .failure import fail
from .mirror import label_shown, publish
from .repo_files import planner_context
from .transition import transition

BODY_KEPT = 6_000


async def plan(ctx: Context, task: Task) -> Outcome:
    config = ctx.config
    working = await transition(
        ctx, task, Move.START, comment=False, lease_until=ctx.now() + config.lease_s, error=""
    )
    agent = ctx.agent("plan", working.usage)
    try:
        issue = await _issue_text(ctx, working)  # first: it says if the issue has comments
        working = await publish(ctx, working, label_shown(ctx, working))  # "planner at work"
        context = await planner_context(ctx, issue, ctx.base_branch)
        tools = ToolBox(workspace_of(ctx, ctx.base_branch), "plan", log=ctx.say)
        ctx.group("The planner's tool calls")
        try:
            proposal = await agent.plan(issue, context, tools)
        finally:
            ctx.group(None)
        if len(proposal.paths) > config.max_files:
            raise ModelError(
                f"the plan touches {len(proposal.paths)} files; the limit is {config.max_files} "
                "(setting max-files)"
            )
        shown_task = working.model_copy(update={"plan": proposal, "body": _kept(issue.body)})
        if size := too_large(shown_task, ctx.labels):
            raise ModelError(
                f"the plan is too large to show for review ({size} characters in a comment "
                f"that holds {LIMIT}): revise the issue towards a smaller change"
            )
    except Superseded:
        raise
    except IssuePilotError as exc:
        await fail(ctx, ctx.spent(working, agent), exc)
        raise
    ctx.report_agent("plan", agent, tools.used)
    digest, version = proposal.digest(), working.plan_version + 1
    reviewed = await transition(
        ctx,
        ctx.spent(working, agent),
        Move.PLANNED,
        lost="the task moved on while planning (cancelled?): plan discarded",
        plan=proposal,
        plan_hash=digest,
        plan_version=version,
        approved_hash="",
        plan_versions=[
            *working.plan_versions,
            PlanVersion(version=version, digest=digest, at=ctx.stamp()),
        ],
        title=issue.title,
        body=_kept(issue.body),
    )
    if (shown := ctx.written_at.get(task.issue)) is not None:  # GitHub's time: see approve
        latest = reviewed.plan_versions[-1].model_copy(update={"shown": shown})
        reviewed = await update(ctx, reviewed, plan_versions=[*reviewed.plan_versions[:-1], latest])
    return Outcome(reviewed, f"plan v{reviewed.plan_version} posted for review")


def _kept(body: str) -> str:
    """The issue's text as the plan was made from it, which the executor reads (an edit
    after the approval never reaches it); at most BODY_KEPT characters."""
    return body[:BODY_KEPT]


async def _issue_text(ctx: Context, task: Task) -> IssueText:
    issue = ctx.payload.issue
    # A payload handed on without the issue's text (see `relay`) does not say it is empty.
    if issue is None or issue.number != task.issue or "body" not in issue.model_fields_set:
        issue = ctx.read_issues[task.issue] = await ctx.gh.get_issue(task.issue)
    return IssueText(task.issue, issue.title, issue.body or "", tuple(task.feedback))
