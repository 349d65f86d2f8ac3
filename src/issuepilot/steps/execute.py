"""APPROVED -> EXECUTING -> PR_OPEN: lock the plan's files, write the change, open the PR.

The task is claimed (compare-and-set into EXECUTING) before the locks are taken, so two
racing runs cannot both execute. A task whose files are taken goes back to APPROVED and
waits; whoever frees the files wakes it.
"""

from ..agents.base import IssueText
from ..errors import IssuePilotError, ModelError
from ..github.commits import push_change
from ..locks import Lease, LockConflict
from ..machine import TaskState
from ..models import ChangeSet, Plan, Task
from .common import Context, Outcome, move, publish
from .context import read_files
from .failure import fail

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
    try:
        async with ctx.locks.keep_alive(lease, ttl):
            branch, head, pr, url = await _write(ctx, working, plan, lease)
    except IssuePilotError as exc:
        await fail(ctx, working, exc)
        raise
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


async def _write(ctx: Context, task: Task, plan: Plan, lease: Lease) -> tuple[str, str, int, str]:
    settings = ctx.settings.config
    base = ctx.base_branch
    files = await read_files(ctx, plan.paths, base, budget=max(settings.context_bytes, 1_000_000))
    issue = IssueText(task.issue, task.title, "", tuple(task.feedback))
    changes = await ctx.agent().execute(issue, plan, files)
    check_scope(changes, plan)
    branch = f"{ctx.rules.branch_prefix}{task.issue}"
    message = f"{changes.message or task.title or 'IssuePilot change'} (#{task.issue})"
    # Fencing: right before writing, prove the files are still ours.
    await ctx.locks.extend(lease, settings.lease_minutes * 60)
    head = await push_change(ctx.gh, base, branch, changes, message)
    title = f"{task.title or 'IssuePilot change'} (#{task.issue})"
    body = pr_body(task, plan)
    if task.pr:
        await ctx.gh.update_pull(task.pr, title, body)
        return branch, head, task.pr, task.pr_url
    pr, url = await ctx.gh.create_pull(title, branch, base, body)
    return branch, head, pr, url


def check_scope(changes: ChangeSet, plan: Plan) -> None:
    outside = sorted({c.path for c in changes.files} - set(plan.paths))
    if outside:
        raise ModelError(
            f"the change touches files outside the approved plan: {', '.join(outside)}"
        )


def pr_body(task: Task, plan: Plan) -> str:
    steps = "\n".join(f"{i}. {s}" for i, s in enumerate(plan.steps, 1)) or "-"
    files = "\n".join(f"- `{f.path}` ({f.action})" for f in plan.files)
    return PR_BODY.format(
        summary=plan.summary,
        version=task.plan_version,
        digest=task.plan_hash,
        steps=steps,
        files=files,
        issue=task.issue,
    )
