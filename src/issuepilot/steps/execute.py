"""APPROVED -> EXECUTING -> PR_OPEN: lock the plan's files, write the change, open the PR.

The task is claimed (compare-and-set into EXECUTING) before the locks are taken, so two
racing runs cannot both execute. A task whose files are taken goes back to APPROVED and
waits; whoever frees the files wakes it.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from ..agents.base import Agent
from ..errors import IssuePilotError, Superseded
from ..github.commits import push_change
from ..github.status import LISTED, check_lines
from ..github.untrusted import Redactor, code, plain, shown
from ..locks import Lease, LockConflict
from ..machine import Move
from ..models import CheckResult, Plan, Task, holders_text
from .change import Written, write_change
from .context import Context, Outcome
from .failure import fail
from .transition import transition

MESSAGE_SHOWN = 2_000  # characters of an agent CLI's last message in the pull request
PR_BODY = """{summary}

### Plan v{version} (`{digest}`), approved

{steps}

### Files

{files}
{checks}{agent}
Closes #{issue}

<sub>Opened by IssuePilot from a plan a maintainer approved before the change was written.</sub>
"""


@dataclass(frozen=True, slots=True)
class Opened:
    """What the step left on GitHub: the branch and its head, the pull request."""

    branch: str
    head: str
    pr: int
    url: str
    change: Written


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
            opened = await _write(ctx, working, plan, lease, agent)
    except IssuePilotError as exc:
        await fail(ctx, ctx.spent(working, agent), exc)
        raise
    lease, change = opened.change.lease, opened.change
    # An open PR keeps its files for days, not minutes; the sweep renews while it is open.
    await ctx.locks.extend(lease, config.pr_lease_s)
    spent = ctx.spent(working, agent)
    notices = [*spent.notices, *(n for n in change.notices if n not in spent.notices)]
    try:
        done = await transition(
            ctx,
            spent,
            Move.OPENED,
            note=f"pull request #{opened.pr}",
            lost="the task moved on while executing (cancelled?)",
            branch=opened.branch,
            head_sha=opened.head,
            pr=opened.pr,
            pr_url=opened.url,
            waiting_on={},
            extra_paths=change.extra,
            checks=change.checks,
            notices=notices,
        )
    except Superseded:
        await ctx.locks.release(lease)
        raise
    ctx.report_agent(f"execute ({change.rounds} rounds)", agent, change.tools, change.checks)
    draft = " as a draft: its checks fail" if _failing(change) else ""
    return Outcome(done, f"pull request #{opened.pr} opened{draft}: {opened.url}")


async def _write(ctx: Context, task: Task, plan: Plan, lease: Lease, agent: Agent) -> Opened:
    config = ctx.config
    base = ctx.base_branch
    change = await write_change(ctx, task, plan, lease, agent)
    branch = ctx.labels.branch(task.issue)
    said = plain(change.changes.message or task.title or "IssuePilot change", ctx.redact)
    message = f"{said} (#{task.issue})"
    # Right before writing, prove the files are still ours: the lease may have lapsed while
    # the agent worked.
    await ctx.locks.extend(change.lease, config.lease_s)
    head = await push_change(ctx.gh, base, branch, change.changes, message)
    title = f"{plain(task.title or 'IssuePilot change', ctx.redact)} (#{task.issue})"
    body = pr_body(task, plan, change.extra, ctx.redact, change.checks, agent)
    if task.pr:
        await ctx.gh.update_pull(task.pr, title, body)
        return Opened(branch, head, task.pr, task.pr_url, change)
    pull = await ctx.gh.create_pull(title, branch, base, body, draft=_failing(change))
    return Opened(branch, head, pull.number, pull.html_url, change)


def _failing(change: Written) -> bool:
    return not all(result.passed for result in change.checks)


def pr_body(
    task: Task,
    plan: Plan,
    extra: list[str],
    redact: Redactor,
    checks: Sequence[CheckResult] = (),
    agent: Agent | None = None,
) -> str:
    """The pull request's description: the approved plan, every word of it model text and
    so shown as untrusted; the checks' results; the only closing reference is IssuePilot's
    own."""
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
        checks=check_lines(checks, redact),
        agent=agent_lines(agent, redact),
        issue=task.issue,
    )


def agent_lines(agent: Agent | None, redact: Redactor) -> str:
    """Who wrote the change and what this step's work cost; an agent CLI's last message,
    folded (its text is untrusted, shown as such)."""
    if agent is None:
        return ""
    usage = agent.budget.step_usage()
    lines = f"\nWritten by {shown(agent.label, redact)}: {usage.describe()}.\n"
    if agent.message:
        said = shown(agent.message[-MESSAGE_SHOWN:], redact)
        lines += f"\n<details><summary>Its last message</summary>\n\n{said}\n\n</details>\n"
    return lines
