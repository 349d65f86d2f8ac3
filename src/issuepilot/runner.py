"""One run: load -> decide -> act -> commit -> mirror -> dispatch.

The event only says which task to look at and what a human asked for; the task's stored
state decides what happens, so lost, repeated or reordered events do no harm. A run that
loses a compare-and-set race to another run stops here, once, with "already advanced".
"""

from dataclasses import replace

from .errors import Superseded
from .events import Action
from .machine import LEASED, Step, next_step
from .models import Task
from .steps.access import WRITE_ROLES, role_of
from .steps.chain import dispatch
from .steps.commands import HANDLERS, refuse
from .steps.context import Context, Outcome
from .steps.enqueue import enqueue
from .steps.execute import execute
from .steps.finish import finish
from .steps.fix import fix
from .steps.plan import plan
from .steps.rebuild import load_task
from .steps.recover import recover
from .steps.sweep import sweep


async def run(ctx: Context) -> Outcome:
    try:
        return await _run(ctx)
    except Superseded as lost:
        return Outcome(None, str(lost))


async def _run(ctx: Context) -> Outcome:
    trigger = ctx.trigger
    if trigger.action is Action.IGNORE:
        return Outcome(None, trigger.reason)
    if trigger.issue is None and trigger.pr:  # a command on a pull request: whose task?
        pull = await ctx.gh.get_pull(trigger.pr)
        if (found := ctx.labels.issue_of(pull.head.ref)) is None:
            return Outcome(None, f"pull request #{trigger.pr} is not an IssuePilot task's")
        ctx.trigger = trigger = replace(trigger, issue=found)
    if trigger.action is Action.SWEEP or trigger.issue is None:
        return await sweep(ctx)
    issue = trigger.issue
    if trigger.needs_permission:  # before anything is rebuilt from what GitHub shows
        role = await role_of(ctx, trigger.actor)
        if role not in WRITE_ROLES and trigger.source[0] == "review":
            # Anyone may review; only a writer's review starts a round. Noted here only.
            return Outcome(None, f"a review by @{trigger.actor} ({role or 'no access'}): noted")
        if role not in WRITE_ROLES:
            return await refuse(ctx, issue, await ctx.store.load(issue), role)
    task = await load_task(ctx, issue)
    outcome = await act(ctx, issue, task)
    for _ in range(ctx.settings.max_steps - 1):
        if not (outcome.automatic and outcome.task):
            break
        outcome = await advance(ctx, outcome.task)
    if outcome.automatic and outcome.task is not None:
        await dispatch(ctx, outcome.task.issue)
    return outcome


async def act(ctx: Context, issue: int, task: Task | None) -> Outcome:
    action = ctx.trigger.action
    if action is Action.ENQUEUE:
        return await enqueue(ctx, issue, task)
    if action is Action.PLAN and (
        task is None or (task.state not in LEASED and next_step(task.state) is not Step.PLAN)
    ):
        started = await enqueue(ctx, issue, task)
        if started.task is None or next_step(started.task.state) is not Step.PLAN:
            return started
        task = started.task
    if task is None:
        label = ctx.labels.trigger
        return Outcome(None, f"issue #{issue} has no IssuePilot task: add the label {label!r}")
    if action is Action.FINISH:
        return await finish(ctx, task)
    if action in (Action.FIX, Action.REBASE, Action.CI_FAILED):
        return await fix(ctx, task)
    if action in HANDLERS:
        return await HANDLERS[action](ctx, task)
    return await advance(ctx, task)


async def advance(ctx: Context, task: Task) -> Outcome:
    """Do the one step the task's state calls for."""
    if task.state in LEASED:
        if task.lease_until > ctx.now():
            return Outcome(task, f"a {task.state} step is already running")
        task = await recover(ctx, task)
    match next_step(task.state):
        case Step.PLAN:
            return await plan(ctx, task)
        case Step.EXECUTE:
            return await execute(ctx, task)
    return Outcome(task, f"the task is {task.state}: nothing to do until a person acts")
