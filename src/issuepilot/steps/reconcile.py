"""One task of the sweep: GitHub's facts against the stored task, and the one action each
difference calls for. A task that needs no action costs no GitHub call here."""

import dataclasses
from datetime import datetime
from typing import TYPE_CHECKING

from ..events import Action, Payload, Trigger
from ..github.objects import Issue, Label, User
from ..locks import Lease, LockConflict, LockLost
from ..machine import AUTOMATIC, FINAL, LEASED, WORKING, Move, TaskState, allows
from ..models import Task
from .access import may_act
from .chain import dispatch
from .commands import HANDLERS, refuse
from .context import Context, update
from .finish import pull_closed
from .mirror import label_shown, publish
from .pulls import opened_by
from .rebuild import rebuild
from .recover import recover
from .transition import release_files, restart, settle, transition

if TYPE_CHECKING:
    from .sweep import Facts

S = TaskState
# Where a closed pull request of the task's decides its fate: the open one, or one a dead
# execute step opened before it could record it.
PULLS_DECIDE = frozenset({S.PR_OPEN, S.EXECUTING})


async def reconcile(
    ctx: Context, issue: int, task: Task | None, facts: "Facts", ready: set[str]
) -> bool:
    """Bring one task in line with GitHub; whether it was woken."""
    shown = facts.open_issues.get(issue)
    seen = shown or facts.closed_issues.get(issue)
    if seen is not None:  # from here on the run keeps the labels current as it changes them
        ctx.known_labels.setdefault(issue, seen.label_names)
    if task is None and seen is not None:  # the store lost it, or never had it
        task = await _lost(ctx, seen)
    if task is None:
        return False
    if task.state in FINAL:
        await _finished(ctx, task, seen)
        return False
    return await _live(ctx, task, shown, facts, ready)


async def _live(
    ctx: Context, task: Task, shown: Issue | None, facts: "Facts", ready: set[str]
) -> bool:
    """A live task: its fate, a dead step, labels, its files; whether it was woken."""
    issue = task.issue
    shown = await _fate(ctx, task, shown, facts)
    if shown is None:
        return False
    if task.state in LEASED:
        if task.lease_until > ctx.now():
            return False
        task = await recover(ctx, task)
    if (woken := await _labels(ctx, task, shown)) is not None:
        return woken
    if task.state is S.PR_OPEN:
        await _renew(ctx, task)
        return False
    if task.state not in AUTOMATIC:
        return False
    if task.state is S.APPROVED and task.waiting_on and str(issue) not in ready:
        if await ctx.locks.holders(list(task.waiting_on)):
            return False  # still taken: its holder wakes it when done
    return await dispatch(ctx, issue)


async def _fate(ctx: Context, task: Task, shown: Issue | None, facts: "Facts") -> Issue | None:
    """Settle what GitHub decided while its events were lost: a pull request merged or
    closed, an issue closed or stripped of its trigger label. Returns the open issue as
    GitHub shows it, or None once the task's fate was settled here."""
    pull = facts.closed_pulls.get(task.issue)
    if pull is not None and task.state in PULLS_DECIDE and opened_by(task, pull, ctx.labels):
        how = "merged" if pull.was_merged else "closed without merging"
        reason = f"pull request #{pull.number} {how} (found by the sweep)"
        if (await pull_closed(ctx, task, pull, reason)).task not in (None, task):
            return None
    if shown is not None:
        return shown
    shown = facts.closed_issues.get(task.issue) or await ctx.gh.get_issue(task.issue)
    if shown.state == "closed" or ctx.labels.trigger not in shown.label_names:
        await _issue_gone(ctx, task, shown)
        return None
    return shown


async def _lost(ctx: Context, issue: Issue) -> Task | None:
    """A task GitHub shows (the trigger label) and the store has no record of: rebuilt
    from its status comment (its state label may be gone too: a run died between taking
    one off and putting the next on), or started again from its labels."""
    return await rebuild(ctx, issue.number, issue.comments) or await _requeue(ctx, issue)


async def _requeue(ctx: Context, issue: Issue) -> Task | None:
    """A task before its plan leaves no status comment (the plan step writes it): queued,
    failed at planning, or whose first run died before even a label. Its labels are all
    that shows it: it starts again if whoever added the trigger label may act."""
    shows = issue.label_names & ctx.labels.states
    if issue.state != "open" or shows - {ctx.labels.state(s) for s in (S.QUEUED, S.FAILED)}:
        return None
    actor, _ = await _who(ctx, issue.number, ctx.labels.trigger, "labeled")
    if not actor or not await may_act(ctx, actor):
        return None
    run = dataclasses.replace(ctx, trigger=dataclasses.replace(ctx.trigger, actor=actor))
    return await restart(run, issue.number, None, issue.title)


async def _issue_gone(ctx: Context, task: Task, issue: Issue) -> None:
    """The issue was closed, or lost its trigger label, while the events were lost."""
    if issue.state == "closed":
        if task.state is S.PR_OPEN:  # the pull request decides: look at it
            pull = await ctx.gh.get_pull(task.pr)
            if pull.state == "closed":
                await pull_closed(ctx, task, pull, "found by the sweep")
            return
        if allows(task.state, Move.ISSUE_CLOSED):
            await transition(ctx, task, Move.ISSUE_CLOSED, note="issue closed (found by the sweep)")
        return
    actor, _ = await _who(ctx, issue.number, ctx.labels.trigger, "unlabeled")
    if actor and await may_act(ctx, actor) and allows(task.state, Move.CANCEL):
        note = f"label {ctx.labels.trigger!r} removed by @{actor} (found by the sweep)"
        await transition(ctx, task, Move.CANCEL, note=note)
    elif task.state not in WORKING:
        await ctx.gh.add_labels(issue.number, [ctx.labels.trigger])  # removed by who may not


async def _labels(ctx: Context, task: Task, issue: Issue) -> bool | None:
    """Act on a label a person added whose event was lost (as its author, if they may), or
    repair labels that drifted. Whether the task was woken, or None: nothing was done."""
    known, labels = ctx.payload_labels(task.issue), ctx.labels
    present = issue.label_names if known is None else known  # as this run left them
    pending = {
        labels.approved: Action.APPROVE if task.state is S.PLAN_REVIEW else None,
        labels.revise: Action.REVISE,
        labels.retry: Action.RETRY,
    }
    for label, action in pending.items():
        if label in present and action is not None:
            return await _act_as_labeler(ctx, task, issue, label, action)
    if task.state in WORKING or present & labels.states == {label_shown(ctx, task)}:
        return None
    await _repair(ctx, task, present)
    return None


async def _repair(ctx: Context, task: Task, present: set[str]) -> None:
    """Show the task's one state label, unless another run moved the task since the sweep
    read it: that run shows it, and a repair from the older record would undo its labels."""
    latest = await ctx.store.load(task.issue)
    if latest is None or latest.version != task.version:
        return
    ctx.say(f"#{task.issue}: repairing labels for {task.state}")
    ctx.known_labels[task.issue] = present  # publish drops the wrong ones, adds the right one
    await publish(ctx, task, comment=False)


async def _finished(ctx: Context, task: Task, issue: Issue | None) -> None:
    """A finished task: what its last run left undone (its files, the tasks waiting for
    them, its labels and status comment), or labels that drifted since."""
    if not task.settled:
        ctx.say(f"#{task.issue}: finishing what the run that made it {task.state} left")
        if issue is None:
            issue = await ctx.gh.get_issue(task.issue)
            ctx.known_labels.setdefault(task.issue, issue.label_names)
        await release_files(ctx, task.issue)
        await settle(ctx, await publish(ctx, task))
        return
    present = ctx.payload_labels(task.issue)
    if present is not None and present & ctx.labels.states != {label_shown(ctx, task)}:
        await _repair(ctx, task, present)


async def _act_as_labeler(
    ctx: Context, task: Task, issue: Issue, label: str, action: Action
) -> bool:
    """What the label's event would have done: the run it would have started, as its
    author, who must be allowed to act, with the time it was added."""
    actor, at = await _who(ctx, issue.number, label, "labeled")
    trigger = Trigger(
        "issues.labeled", action, issue.number, actor, f"label {label!r} (found by the sweep)"
    )
    payload = Payload(
        action="labeled",
        label=Label(name=label),
        issue=issue.model_copy(update={"updated_at": at}),
        sender=User(login=actor),
    )
    run = dataclasses.replace(ctx, trigger=trigger, payload=payload)
    ctx.say(f"#{issue.number}: {label!r} was added by @{actor or 'someone'}: acting on it")
    if not actor or not await may_act(run, actor):
        await refuse(run, issue.number, task, "unknown" if not actor else "no write access")
        return False
    outcome = await HANDLERS[action](run, task)
    return outcome.automatic and outcome.task is not None and await dispatch(ctx, task.issue)


async def _who(ctx: Context, issue: int, label: str, kind: str) -> tuple[str, datetime | None]:
    """Who last `kind` (labeled, unlabeled) `label` on the issue, and when."""
    for event in reversed(await ctx.gh.issue_events(issue)):
        if event.event == kind and event.label is not None and event.label.name == label:
            return (event.actor.login if event.actor else ""), event.created_at
    return "", None


async def _renew(ctx: Context, task: Task) -> None:
    """An open PR keeps every file it changed: the plan's and those taken outside it. A task
    rebuilt from its status comment has no lock token (the public record holds none): it
    takes its files again under a new one."""
    paths, ttl = task.locked_paths, ctx.config.pr_lease_s
    if not paths:
        return
    if task.lock_token:
        try:
            await ctx.locks.extend(Lease(str(task.issue), task.lock_token, tuple(paths)), ttl)
            return
        except LockLost as lost:
            ctx.say(f"#{task.issue}: the open PR's file lease had lapsed: {lost}")
    try:
        lease = await ctx.locks.acquire(str(task.issue), paths, ttl, task.lock_token or None)
    except LockConflict as conflict:
        ctx.say(f"#{task.issue}: the open PR's files are held by other tasks now: {conflict}")
        return
    if lease.token != task.lock_token:
        await update(ctx, task, lock_token=lease.token)
