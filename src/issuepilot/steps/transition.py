"""The one way a task changes state: ask the machine, compare-and-set the store, record the
history, free what the new state no longer holds, and mirror the task to GitHub.

A lost compare-and-set raises `Superseded`; the runner turns it into "already advanced".
"""

from typing import Any

from ..errors import Superseded
from ..machine import FINAL, LIVE, WORKING, Move, TaskState, releases_files, shown, target
from ..models import HistoryEntry, Task
from .chain import wake
from .context import Context
from .mirror import publish

LOST = "already advanced by another run"


async def transition(
    ctx: Context,
    task: Task,
    move: Move,
    note: str = "",
    comment: bool = True,
    remove: tuple[str, ...] = (),
    lost: str = LOST,
    **changes: Any,
) -> Task:
    """Carry out `move` on `task`; returns the task as stored and shown.

    Entering a working state changes no label (the issue keeps showing where the task
    rested) and, without `comment`, touches GitHub not at all."""
    src = task.state
    dst = target(src, move, task.resting)
    if src in LIVE - WORKING and dst is not src:
        changes.setdefault("resting", src)
    changes.setdefault("refusal", "")  # a refusal note belongs to the state it was made in
    entry = HistoryEntry(state=dst, at=ctx.stamp(), run=ctx.settings.run_url, note=note)
    new = task.model_copy(update={**changes, "state": dst, "history": [*task.history, entry]})
    committed = await _commit(ctx, new, lost, f"{src} -> {dst}", note)
    if releases_files(src, dst, move):
        await release_files(ctx, task.issue)
    if dst in WORKING and not comment:
        return committed
    before = ctx.labels.state(shown(src, task.resting))
    committed = await publish(ctx, committed, before, comment=comment, remove=remove)
    return await settle(ctx, committed) if dst in FINAL and comment else committed


async def settle(ctx: Context, task: Task) -> Task:
    """Mark a finished task settled: GitHub shows its end and its files are free, so it
    leaves the store's live index. Until then (its run died on the way, a wake dispatch
    failed) the sweep finishes what the run left. Losing the compare-and-set to another
    run (a restart) leaves that run's record as it is."""
    committed = await ctx.store.commit(task.model_copy(update={"settled": True}))
    return ctx.stored(committed) if committed is not None else task


async def restart(ctx: Context, issue: int, previous: Task | None, title: str) -> Task:
    """A new lifecycle on the issue (ENQUEUE): a blank record, reusing the issue's status
    comment. The comment itself waits for the plan step, unless the issue has one."""
    src = previous.state if previous else None
    dst = target(src, Move.ENQUEUE, TaskState.QUEUED)
    entry = HistoryEntry(
        state=dst, at=ctx.stamp(), run=ctx.settings.run_url, note=f"queued by @{ctx.trigger.actor}"
    )
    fresh = Task(
        issue=issue,
        state=dst,
        version=previous.version if previous else 0,
        title=title,
        comment_id=previous.comment_id if previous else 0,
        history=[entry],
    )
    committed = await _commit(ctx, fresh, LOST, f"{src or 'new'} -> {dst}", entry.note)
    before = ctx.labels.state(previous.state) if previous else None
    return await publish(ctx, committed, before, comment=bool(committed.comment_id))


async def release_files(ctx: Context, issue: int) -> None:
    """Free the task's locks and its place in the waiting line; wake whom that unblocks."""
    released = await ctx.locks.release_task(str(issue))
    await wake(ctx, released.ready)


async def _commit(ctx: Context, task: Task, lost: str, what: str, note: str) -> Task:
    committed = await ctx.store.commit(task)
    if committed is None:
        raise Superseded(lost)
    ctx.say(f"#{task.issue}: {what}" + (f" ({note})" if note else ""))
    return ctx.stored(committed)
