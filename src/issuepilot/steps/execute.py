"""APPROVED -> EXECUTING -> PR_OPEN: lock the plan's files, write the change, open the PR.

The task is claimed (compare-and-set into EXECUTING) before the locks are taken, so two
racing runs cannot both execute. A task whose files are taken goes back to APPROVED and
waits; whoever frees the files wakes it.
"""

from dataclasses import dataclass
from functools import partial

from ..agents.base import Agent, IssueText
from ..errors import IssuePilotError, Superseded
from ..github.commits import push_change
from ..github.status import LISTED
from ..github.untrusted import Redactor, code, plain, shown
from ..locks import Lease, LockConflict
from ..machine import Move
from ..models import Plan, Task, holders_text
from .context import Context, Outcome
from .failure import fail
from .repo_files import read_files
from .scope import ScopeError, check_change
from .transition import transition

PR_BODY = """{summary}

### Plan v{version} (`{digest}`), approved

{steps}

### Files

{files}

Closes #{issue}

<sub>Opened by IssuePilot from a plan a maintainer approved before the change was written.</sub>
"""


@dataclass(frozen=True, slots=True)
class Written:
    """What `_write` left on GitHub: the branch and its head, the pull request."""

    branch: str
    head: str
    pr: int
    url: str
    extra: list[str]  # files changed outside the plan, locked in addition


async def execute(ctx: Context, task: Task) -> Outcome:
    plan = task.plan
    if plan is None or task.approved_hash != task.plan_hash:
        return Outcome(task, "the approval does not match the current plan: approve it again")
    config = ctx.config
    working = await transition(
        ctx, task, Move.START, comment=False, lease_until=ctx.now() + config.lease_s, error=""
    )
    try:
        lease = await ctx.locks.acquire(str(task.issue), plan.paths, ttl_s=config.lease_s)
    except LockConflict as conflict:
        waiting = await transition(
            ctx, working, Move.WAIT, note="files locked", waiting_on=conflict.holders
        )
        held = holders_text(conflict.holders)
        return Outcome(waiting, f"waiting for files locked by other tasks: {held}")
    except IssuePilotError as exc:
        await fail(ctx, working, exc)
        raise
    working = working.model_copy(update={"lock_token": lease.token})
    agent = ctx.agent("execute", working.usage)
    try:
        async with ctx.locks.keep_alive(lease, config.lease_s):
            lease, written = await _write(ctx, working, plan, lease, agent)
    except IssuePilotError as exc:
        await fail(ctx, ctx.spent(working, agent), exc)
        raise
    # An open PR keeps its files for days, not minutes; the sweep renews while it is open.
    await ctx.locks.extend(lease, config.pr_lease_s)
    try:
        opened = await transition(
            ctx,
            ctx.spent(working, agent),
            Move.OPENED,
            note=f"pull request #{written.pr}",
            lost="the task moved on while executing (cancelled?)",
            branch=written.branch,
            head_sha=written.head,
            pr=written.pr,
            pr_url=written.url,
            waiting_on={},
            extra_paths=written.extra,
        )
    except Superseded:
        await ctx.locks.release(lease)
        raise
    return Outcome(opened, f"pull request #{written.pr} opened: {written.url}")


async def _write(
    ctx: Context, task: Task, plan: Plan, lease: Lease, agent: Agent
) -> tuple[Lease, Written]:
    config = ctx.config
    base = ctx.base_branch
    files = await read_files(ctx, plan.paths, base, budget=10**9)
    issue = IssueText(task.issue, task.title, "", tuple(task.feedback))
    changes = await agent.execute(issue, plan, files)
    extra = check_change(changes, plan, files, config)
    if extra:
        lease = await _lock_more(ctx, lease, extra)
    branch = ctx.labels.branch(task.issue)
    said = plain(changes.message or task.title or "IssuePilot change", ctx.redact)
    message = f"{said} (#{task.issue})"
    # Right before writing, prove the files are still ours: the lease may have lapsed while
    # the agent worked.
    await ctx.locks.extend(lease, config.lease_s)
    head = await push_change(ctx.gh, base, branch, changes, message)
    title = f"{plain(task.title or 'IssuePilot change', ctx.redact)} (#{task.issue})"
    body = pr_body(task, plan, extra, ctx.redact)
    if task.pr:
        await ctx.gh.update_pull(task.pr, title, body)
        return lease, Written(branch, head, task.pr, task.pr_url, extra)
    pull = await ctx.gh.create_pull(title, branch, base, body)
    return lease, Written(branch, head, pull.number, pull.html_url, extra)


async def _lock_more(ctx: Context, lease: Lease, extra: list[str]) -> Lease:
    """Take the files the change touched outside the plan, under the same token."""
    try:
        more = await ctx.locks.acquire(
            lease.task, extra, ttl_s=ctx.config.lease_s, token=lease.token
        )
    except LockConflict as conflict:
        held = holders_text(conflict.holders)
        raise ScopeError(f"the change also touches files other tasks hold: {held}") from None
    return Lease(lease.task, lease.token, tuple(sorted({*lease.paths, *more.paths})))


def pr_body(task: Task, plan: Plan, extra: list[str], redact: Redactor) -> str:
    """The pull request's description: the approved plan, every word of it model text and
    so shown as untrusted; the only closing reference is IssuePilot's own."""
    show, span = partial(shown, redact=redact), partial(code, redact=redact)
    steps = "\n".join(f"{i}. {show(s)}" for i, s in enumerate(plan.steps, 1)) or "-"
    files = "\n".join(f"- `{span(f.path)}` ({f.action})" for f in plan.files[:LISTED])
    if len(plan.files) > LISTED:
        files += f"\n- … and {len(plan.files) - LISTED} more"
    if extra:
        files += "\n\nAlso changed, outside the plan (locked too):\n"
        files += "\n".join(f"- `{span(p)}`" for p in extra)
    return PR_BODY.format(
        summary=show(plan.summary),
        version=task.plan_version,
        digest=task.plan_hash,
        steps=steps,
        files=files,
        issue=task.issue,
    )
