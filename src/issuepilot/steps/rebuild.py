"""Load a task: from the store, or rebuilt from its status comment if the store lost it.

Only a record whose signature verifies is restored as it was. Any other record (the key
changed, or someone else posted it as IssuePilot's login) is trusted for its issue, plan
and pull request only: the task resumes at PLAN_REVIEW with no approval, so a forged
record can at most ask a maintainer to look at a plan again.
"""

from ..github.status import Record
from ..machine import TaskState
from ..models import HistoryEntry, Task
from .context import Context
from .mirror import find_status_comment

UNSIGNED = "rebuilt from a status comment whose signature does not verify: approve the plan again"


async def load_task(ctx: Context, issue: int) -> Task | None:
    task = await ctx.store.load(issue)
    if task is not None:
        return task
    present = ctx.payload_labels(issue)
    if present is not None and not present & ctx.labels.states:
        return None  # no state label: there never was a task, no need to look
    shown = ctx.payload.issue
    return await rebuild(ctx, issue, shown.comments if shown and shown.number == issue else None)


async def rebuild(ctx: Context, issue: int, comments: int | None = None) -> Task | None:
    """The task of `issue` from its status comment (`comments`: the issue's comment count,
    if known), stored again; None if there is none to believe."""
    found = await find_status_comment(ctx, issue, comments)
    if found is None:
        return None
    comment_id, record = found
    rebuilt = trusted(ctx, record)
    if rebuilt is None:
        return None
    committed = await ctx.store.commit(rebuilt.model_copy(update={"comment_id": comment_id}))
    ctx.say(f"#{issue}: rebuilt the task from its status comment ({rebuilt.state})")
    return committed or await ctx.store.load(issue)


def trusted(ctx: Context, record: Record) -> Task | None:
    """What of a record may be believed."""
    task = record.task.model_copy(update={"version": 0, "lock_token": ""})
    if record.signed:
        return task
    if task.plan is None:
        return None
    note = HistoryEntry(state=TaskState.PLAN_REVIEW, at=ctx.stamp(), note=UNSIGNED)
    return Task(
        issue=task.issue,
        state=TaskState.PLAN_REVIEW,
        title=task.title,
        plan=task.plan,
        plan_hash=task.plan.digest(),
        plan_version=task.plan_version,
        pr=task.pr,
        pr_url=task.pr_url,
        branch=task.branch,
        usage=task.usage,
        error=UNSIGNED,
        history=[note],
    )
