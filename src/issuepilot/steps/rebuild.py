"""Load a task: from the store, or rebuilt from its status comment if the store lost it.

Only a record whose signature verifies is restored as it was. Any other record (the key
changed, or someone else posted it as IssuePilot's login) is trusted for its issue, plan
and pull request only: the task resumes at PLAN_REVIEW with no approval, so a forged
record can at most ask a maintainer to look at a plan again.
"""

from ..github.errors import NotFound
from ..github.status import Record
from ..machine import TaskState, shown
from ..models import HistoryEntry, Task
from .context import Context
from .mirror import find_status_comment, publish

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
    if not record.signed and rebuilt.pr:
        rebuilt = await _pull_as_github_shows_it(ctx, rebuilt)
    committed = await ctx.store.commit(rebuilt.model_copy(update={"comment_id": comment_id}))
    if committed is not None:
        ctx.stored(committed)
    where = ctx.store.name
    ctx.say(
        f"#{issue}: {where} had no record of it: rebuilt from its status comment ({rebuilt.state})"
    )
    if committed is None:
        return await ctx.store.load(issue)
    if committed.state is not record.task.state:  # GitHub showed more than the record
        before = ctx.labels.state(shown(record.task.state, record.task.resting))
        committed = await publish(ctx, committed, before)
    return committed


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


async def _pull_as_github_shows_it(ctx: Context, task: Task) -> Task:
    """An unsigned record's pull request, believed as far as GitHub confirms it: a pull
    request of the task's own branch, open (the task is in PR_OPEN), merged (DONE) or
    closed (CANCELLED). Executing nothing, that grants nothing."""
    try:
        pull = await ctx.gh.get_pull(task.pr)
    except NotFound:
        pull = None
    if pull is None or pull.head.ref != ctx.labels.branch(task.issue):
        return task.model_copy(update={"pr": 0, "pr_url": "", "branch": ""})
    if pull.state == "open":
        state = TaskState.PR_OPEN
    else:
        state = TaskState.DONE if pull.was_merged else TaskState.CANCELLED
    note = HistoryEntry(state=state, at=ctx.stamp(), note=f"pull request #{pull.number}")
    update = {"state": state, "resting": TaskState.APPROVED, "history": [*task.history, note]}
    return task.model_copy(update=update)
