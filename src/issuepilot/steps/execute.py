"""APPROVED -> EXECUTING -> PR_OPEN: lock the plan's files, write the change, open the PR.

The task is claimed (compare-and-set into EXECUTING) before the locks are taken, so two
racing runs cannot both execute. A task whose files are taken goes back to APPROVED and
waits; whoever frees the files wakes it.
"""

from ..agents.base import Agent, IssueText
from ..errors import IssuePilotError
from ..github.commits import push_change
from ..locks import Lease, LockConflict
from ..machine import TaskState
from ..models import Plan, Task
from .common import Context, Outcome, move, publish
from .context import read_files
from .failure import fail
from .scope import ScopeError, check_change

S = TaskState
PR_BODY = """{summary}

### Plan v{version} (`{digest}`), approved

{steps}

### Files

{files}

Closes #{issue}

<sub>Opened by IssuePilot from a plan a maintainer approved before the change was written.</sub>
"""


async def execute(ctx: Context, task: Task) -> Outcome:
    plan = task.plan
    if plan is None or task.approved_hash != task.plan_hash:
        return Outcome(task, "the approval does not match the current plan: approve it again")
    settings = ctx.settings.config
    ttl = settings.lease_minutes * 60
    working = await move(ctx, task, S.EXECUTING, lease_until=ctx.now() + ttl, error="")
    if working is None:
        return Outcome(None, "already advanced by another run")
    try:
        lease = await ctx.locks.acquire(str(task.issue), plan.paths, ttl_s=ttl)
    except LockConflict as conflict:
        return await _wait(ctx, working, conflict.holders)
    except IssuePilotError as exc:
        await fail(ctx, working, exc)
        raise
    working = working.model_copy(update={"lock_token": lease.token, "fence": lease.fence})
    agent = ctx.agent("execute", working.usage)
    try:
        async with ctx.locks.keep_alive(lease, ttl):
            lease, written = await _write(ctx, working, plan, lease, agent)
    except IssuePilotError as exc:
        await fail(ctx, working.model_copy(update={"usage": agent.budget.total()}), exc)
        raise
    branch, head, pr, url, extra = written
    opened = await move(
        ctx,
        working,
        S.PR_OPEN,
        note=f"pull request #{pr}",
        branch=branch,
        head_sha=head,
        pr=pr,
        pr_url=url,
        waiting_on={},
        extra_paths=extra,
        usage=agent.budget.total(),
    )
    if opened is None:
        await ctx.locks.release(lease)
        return Outcome(None, "the task moved on while executing (cancelled?)")
    # An open PR keeps its files for days, not minutes; the sweep renews while it is open.
    await ctx.locks.extend(lease, settings.pr_lease_days * 24 * 3600)
    opened = await publish(ctx, opened, before=S.APPROVED)
    return Outcome(opened, f"pull request #{pr} opened: {url}")


async def _wait(ctx: Context, working: Task, holders: dict[str, str]) -> Outcome:
    waiting = await move(ctx, working, S.APPROVED, note="files locked", waiting_on=holders)
    if waiting is None:
        return Outcome(None, "already advanced by another run")
    waiting = await publish(ctx, waiting, before=None)
    held = ", ".join(f"{p} (#{t})" for p, t in sorted(holders.items()))
    return Outcome(waiting, f"waiting for files locked by other tasks: {held}")


Written = tuple[str, str, int, str, list[str]]


async def _write(
    ctx: Context, task: Task, plan: Plan, lease: Lease, agent: Agent
) -> tuple[Lease, Written]:
    settings = ctx.settings.config
    base = ctx.base_branch
    files = await read_files(ctx, plan.paths, base, budget=10**9)
    issue = IssueText(task.issue, task.title, "", tuple(task.feedback))
    changes = await agent.execute(issue, plan, files)
    extra = check_change(changes, plan, files, settings)
    if extra:
        lease = await _lock_more(ctx, lease, extra)
    branch = f"{ctx.rules.branch_prefix}{task.issue}"
    message = f"{changes.message or task.title or 'IssuePilot change'} (#{task.issue})"
    # Fencing: right before writing, prove the files are still ours.
    await ctx.locks.extend(lease, settings.lease_minutes * 60)
    head = await push_change(ctx.gh, base, branch, changes, message)
    title = f"{task.title or 'IssuePilot change'} (#{task.issue})"
    body = pr_body(task, plan, extra)
    if task.pr:
        await ctx.gh.update_pull(task.pr, title, body)
        return lease, (branch, head, task.pr, task.pr_url, extra)
    pr, url = await ctx.gh.create_pull(title, branch, base, body)
    return lease, (branch, head, pr, url, extra)


async def _lock_more(ctx: Context, lease: Lease, extra: list[str]) -> Lease:
    """Take the files the change touched outside the plan, under the same token."""
    try:
        more = await ctx.locks.acquire(
            lease.task, extra, ttl_s=ctx.settings.config.lease_minutes * 60, token=lease.token
        )
    except LockConflict as conflict:
        held = ", ".join(f"{p} (#{t})" for p, t in sorted(conflict.holders.items()))
        raise ScopeError(f"the change also touches files other tasks hold: {held}") from None
    return Lease(lease.task, lease.token, more.fence, tuple(sorted({*lease.paths, *more.paths})))


def pr_body(task: Task, plan: Plan, extra: list[str]) -> str:
    steps = "\n".join(f"{i}. {s}" for i, s in enumerate(plan.steps, 1)) or "-"
    files = "\n".join(f"- `{f.path}` ({f.action})" for f in plan.files)
    if extra:
        files += "\n\nAlso changed, outside the plan (locked too):\n"
        files += "\n".join(f"- `{p}`" for p in extra)
    return PR_BODY.format(
        summary=plan.summary,
        version=task.plan_version,
        digest=task.plan_hash,
        steps=steps,
        files=files,
        issue=task.issue,
    )
