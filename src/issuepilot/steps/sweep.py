"""The scheduled sweep: reconcile every live task of the repository.

Returns tasks whose step died to their resting state, wakes tasks that wait for a step or
for files that are now free, renews the file leases of open pull requests and repairs
state labels that drifted.
"""

from ..errors import IssuePilotError, Superseded
from ..locks import Lease, LockLost
from ..machine import AUTOMATIC, LEASED, WORKING, TaskState
from ..models import Task
from .chain import dispatch
from .context import Context, Outcome
from .mirror import label_shown, publish
from .recover import recover


async def sweep(ctx: Context) -> Outcome:
    ready = set(await ctx.locks.reap())
    woken = 0
    problems: list[str] = []
    for issue in await ctx.store.live():
        try:
            woken += await _reconcile(ctx, issue, ready)
        except Superseded:
            continue  # another run moved it meanwhile: it is in good hands
        except IssuePilotError as exc:  # one broken task must not stop the sweep
            problems.append(f"#{issue}: {exc}")
            ctx.say(f"#{issue}: sweep failed: {exc}")
    message = f"swept: woke {woken} task(s)" + (f"; {len(problems)} failed" if problems else "")
    return Outcome(None, message)


async def _reconcile(ctx: Context, issue: int, ready: set[str]) -> bool:
    """Whether the task was woken."""
    task = await ctx.store.load(issue)
    if task is None:
        return False
    if task.state in LEASED:
        if task.lease_until > ctx.now():
            return False
        task = await recover(ctx, task)
    await _repair_labels(ctx, task)
    if task.state is TaskState.PR_OPEN and task.lock_token and task.plan is not None:
        lease = Lease(str(issue), task.lock_token, tuple(task.plan.paths))
        try:
            await ctx.locks.extend(lease, ctx.config.pr_lease_s)
        except LockLost as lost:
            ctx.say(f"#{issue}: the open PR's file lease had lapsed: {lost}")
        return False
    if task.state not in AUTOMATIC:
        return False
    if task.state is TaskState.APPROVED and task.waiting_on and str(issue) not in ready:
        if await ctx.locks.holders(list(task.waiting_on)):
            return False  # still taken: its holder wakes it when done
    return await dispatch(ctx, issue)


async def _repair_labels(ctx: Context, task: Task) -> None:
    present = (await ctx.gh.get_issue(task.issue)).label_names
    if task.state in WORKING or present & ctx.labels.states == {label_shown(ctx, task)}:
        return
    ctx.say(f"#{task.issue}: repairing labels for {task.state}")
    ctx.known_labels[task.issue] = present  # publish drops the wrong ones, adds the right one
    await publish(ctx, task, comment=False)
