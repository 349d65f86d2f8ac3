"""Load a task: from the store, or rebuilt from its status comment if the store lost it.

Only a record whose signature verifies is restored as it was. Any other record (the key
changed, or someone else posted it as IssuePilot's login) is trusted for its issue, plan
and pull request only: the task resumes at PLAN_REVIEW with no approval, and its plan
counts as shown only from the rebuild on, so no approval sent earlier applies to it: a
forged record can at most ask a maintainer to look at a plan again.

A record may lag what happened on GitHub (the run that opened or merged a pull request
died before it wrote the record): a task rebuilt without a pull request looks for one of
its own branch, and GitHub's word on it decides.
"""

from datetime import UTC, datetime

from ..github.status import Record
from ..machine import TaskState, shown
from ..models import HistoryEntry, PlanVersion, Task
from .context import Context, update
from .mirror import find_status_comment, publish
from .pulls import own_pull

S = TaskState
UNVERIFIED = "rebuilt from a status comment whose signature does not verify"
UNSIGNED = f"{UNVERIFIED}: approve the plan again"
# Where a task stands before it has a plan (a failed one failed at planning).
BEFORE_PLAN = frozenset({S.QUEUED, S.PLANNING, S.FAILED})
# Where a signed record without a pull request may lag one: the step that opened it died.
MAY_HAVE_OPENED = frozenset({S.APPROVED, S.EXECUTING, S.FAILED})


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
    if known), stored again and shown as rebuilt; None if there is none to believe."""
    found = await find_status_comment(ctx, issue, comments)
    if found is None:
        return None
    comment_id, record = found
    rebuilt = trusted(ctx, record)
    if rebuilt is None:
        return None
    rebuilt = await _with_its_pull(ctx, rebuilt, record)
    committed = await ctx.store.commit(rebuilt.model_copy(update={"comment_id": comment_id}))
    where = ctx.store.name
    ctx.say(
        f"#{issue}: {where} had no record of it: rebuilt from its status comment ({rebuilt.state})"
    )
    if committed is None:
        return await ctx.store.load(issue)
    ctx.stored(committed)
    if record.signed and committed.state is record.task.state:
        return committed  # the comment shows it as it is
    before = ctx.labels.state(shown(record.task.state, record.task.resting))
    committed = await publish(ctx, committed, before)
    if record.signed or not committed.plan_versions:
        return committed
    # The plan counts as shown from this write on, by GitHub's clock (see `approve`).
    at = ctx.written_at.get(issue) or datetime.fromtimestamp(ctx.now(), UTC)
    latest = committed.plan_versions[-1].model_copy(update={"shown": at})
    return await update(ctx, committed, plan_versions=[*committed.plan_versions[:-1], latest])


def trusted(ctx: Context, record: Record) -> Task | None:
    """What of a record may be believed."""
    task = record.task.model_copy(update={"version": 0, "lock_token": ""})
    if record.signed:
        return task
    if task.plan is None:  # a task before its plan: only where it stands, which grants nothing
        if task.state not in BEFORE_PLAN:
            return None
        state = S.FAILED if task.state is S.FAILED else S.QUEUED
        note = HistoryEntry(state=state, at=ctx.stamp(), note=UNVERIFIED)
        return Task(issue=task.issue, state=state, title=task.title, history=[note])
    note = HistoryEntry(state=S.PLAN_REVIEW, at=ctx.stamp(), note=UNSIGNED)
    digest = task.plan.digest()
    return Task(
        issue=task.issue,
        state=S.PLAN_REVIEW,
        title=task.title,
        plan=task.plan,
        plan_hash=digest,
        plan_version=task.plan_version,
        plan_versions=[PlanVersion(version=task.plan_version, digest=digest, at=ctx.stamp())],
        pr=task.pr,
        pr_url=task.pr_url,
        branch=task.branch,
        usage=task.usage,
        error=UNSIGNED,
        history=[note],
    )


async def _with_its_pull(ctx: Context, task: Task, record: Record) -> Task:
    """The task as its pull request on GitHub shows it. A signed record's pull request is
    believed; one it lacks is looked for by the task's branch where the record may lag it.
    An unsigned record's pull request is believed as far as GitHub confirms it: a pull
    request of the task's own branch, open (the task is in PR_OPEN), merged (DONE) or
    closed (CANCELLED). Executing nothing, that grants nothing."""
    if record.signed and (task.pr or task.state not in MAY_HAVE_OPENED):
        return task
    pull = await own_pull(ctx, task, since=record.task.began)
    if pull is None:
        lost = {"pr": 0, "pr_url": "", "branch": ""}
        return task if record.signed else task.model_copy(update=lost)
    if pull.state == "open":
        state = S.PR_OPEN
    else:
        state = S.DONE if pull.was_merged else S.CANCELLED
    how = "open" if state is S.PR_OPEN else ("merged" if state is S.DONE else "closed")
    note = HistoryEntry(
        state=state, at=ctx.stamp(), note=f"rebuilt: pull request #{pull.number} is {how}"
    )
    changes = {
        "state": state,
        "resting": S.APPROVED,
        "pr": pull.number,
        "pr_url": pull.html_url,
        "branch": pull.head.ref,
        "history": [*task.history, note],
    }
    return task.model_copy(update=changes)
