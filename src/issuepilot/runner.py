"""One run: load -> decide -> act -> commit -> mirror -> dispatch.

The event only says which task to look at and what a human asked for; the task's stored
state decides what happens, so lost, repeated or reordered events do no harm.
"""

from .events import Action
from .machine import WORKING, Step, TaskState, next_step
from .models import Task
from .steps.commands import HANDLERS, refuse
from .steps.common import WRITE_ROLES, Context, Outcome, dispatch, load_task, role_of
from .steps.enqueue import enqueue
from .steps.execute import execute
from .steps.finish import finish
from .steps.plan import plan
from .steps.recover import recover
from .steps.sweep import sweep


async def run(ctx: Context) -> Outcome:
    trigger = ctx.trigger
    if trigger.action is Action.IGNORE:
        return Outcome(None, trigger.reason)
    if trigger.action is Action.SWEEP or trigger.issue is None:
        return await sweep(ctx)
    issue = trigger.issue
    task = await load_task(ctx, issue)
    if trigger.needs_permission:
        role = await role_of(ctx, trigger.actor)
        if role not in WRITE_ROLES:
            return await refuse(ctx, issue, task, role)
    outcome = await act(ctx, issue, task)
    for _ in range(ctx.settings.max_steps - 1):
        if not (outcome.automatic and outcome.task):
            break
        outcome = await advance(ctx, outcome.task)
    if outcome.automatic and outcome.task is not None:
        if await dispatch(ctx, outcome.task.issue):
            outcome.dispatched.append(outcome.task.issue)
    return outcome


async def act(ctx: Context, issue: int, task: Task | None) -> Outcome:
    action = ctx.trigger.action
    if action is Action.ENQUEUE:
        return await enqueue(ctx, issue, task)
    if action is Action.PLAN and (task is None or task.state is not TaskState.QUEUED):
        started = await enqueue(ctx, issue, task)
        if started.task is None or started.task.state is not TaskState.QUEUED:
            return started
        task = started.task
    if task is None:
        label = ctx.rules.trigger
        return Outcome(None, f"issue #{issue} has no IssuePilot task: add the label {label!r}")
    if action is Action.FINISH:
        return await finish(ctx, task)
    if action in HANDLERS:
        return await HANDLERS[action](ctx, task)
    return await advance(ctx, task)


async def advance(ctx: Context, task: Task) -> Outcome:
    """Do the one step the task's state calls for."""
    if task.state in WORKING:
        if task.lease_until > ctx.now():
            return Outcome(task, f"a {task.state} step is already running")
        recovered = await recover(ctx, task)
        if recovered is None:
            return Outcome(None, "already advanced by another run")
        task = recovered
    match next_step(task.state):
        case Step.PLAN:
            return await plan(ctx, task)
        case Step.EXECUTE:
            return await execute(ctx, task)
    return Outcome(task, f"the task is {task.state}: nothing to do until a person acts")
