"""What every step shares: the run's context, compare-and-set moves, and mirroring to GitHub."""

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..agents.base import Agent
from ..config import Settings
from ..events import Payload, Rules, Trigger
from ..github.client import GitHub
from ..github.status import parse_record, render
from ..keys import Keys
from ..locks import LockManager
from ..machine import LIVE, WORKING, TaskState, check_transition
from ..models import HistoryEntry, Task, Usage
from ..store import TaskStore

S = TaskState
WRITE_ROLES = {"admin", "maintain", "write", "allowed-users"}
LABEL_COLORS = {
    S.QUEUED: "c5def5",
    S.PLANNING: "bfdadc",
    S.PLAN_REVIEW: "fbca04",
    S.APPROVED: "0e8a16",
    S.EXECUTING: "bfdadc",
    S.PR_OPEN: "1d76db",
    S.DONE: "5319e7",
    S.FAILED: "d93f0b",
    S.CANCELLED: "cccccc",
}


@dataclass
class Outcome:
    """What a run did. `automatic`: the task landed where its next step needs no human."""

    task: Task | None
    message: str
    automatic: bool = False
    dispatched: list[int] = field(default_factory=list)


@dataclass
class Context:
    settings: Settings
    gh: GitHub
    store: TaskStore
    locks: LockManager
    agent: Callable[[str, Usage], Agent]  # (role, what the task spent so far) -> agent
    trigger: Trigger
    payload: Payload
    now: Callable[[], float] = time.time
    say: Callable[[str], None] = print
    # Labels known to be on an issue: from the payload, then kept current by `publish`,
    # so later steps of the same run do not act on the payload's stale list.
    known_labels: dict[int, set[str]] = field(default_factory=dict)
    labels_ready: bool = False  # the repository's labels exist (checked once per run)

    @property
    def keys(self) -> Keys:
        return Keys(self.settings.repo)

    @property
    def rules(self) -> Rules:
        return self.settings.config.rules

    def label(self, state: TaskState) -> str:
        return self.rules.label(str(state))

    def payload_labels(self, issue: int) -> set[str] | None:
        """The issue's labels, if this run knows them (from the payload or its own changes)."""
        if issue in self.known_labels:
            return self.known_labels[issue]
        if self.payload.issue is not None and self.payload.issue.number == issue:
            return {label.name for label in self.payload.issue.labels}
        return None

    @property
    def base_branch(self) -> str:
        repo = self.payload.repository
        return self.settings.config.base_branch or (repo.default_branch if repo else "main")


def stamp(ctx: Context) -> str:
    return datetime.fromtimestamp(ctx.now(), UTC).strftime("%Y-%m-%d %H:%M UTC")


async def move(
    ctx: Context, task: Task, dst: TaskState, note: str = "", fresh: bool = False, **changes: Any
) -> Task | None:
    """Compare-and-set `task` into `dst`; None if another run moved it first.

    `fresh` starts a new task over whatever record was there (a new lifecycle)."""
    check_transition(None if fresh else task.state, dst)
    if task.state in LIVE - WORKING and dst is not task.state:
        changes.setdefault("resting", task.state)
    entry = HistoryEntry(state=dst, at=stamp(ctx), run=ctx.settings.run_url, note=note)
    new = task.model_copy(update={**changes, "state": dst, "history": [*task.history, entry]})
    committed = await ctx.store.commit(new)
    if committed is not None:
        src = "new" if fresh else str(task.state)
        ctx.say(f"#{task.issue}: {src} -> {dst}" + (f" ({note})" if note else ""))
    return committed


async def update(ctx: Context, task: Task, **changes: Any) -> Task | None:
    """Compare-and-set a change that keeps the state."""
    return await ctx.store.commit(task.model_copy(update=changes))


async def ensure_labels(ctx: Context) -> None:
    """Create IssuePilot's labels with colors and descriptions, once per repository."""
    if ctx.labels_ready:
        return
    key = ctx.keys.labels
    if await ctx.store.get_flag(key) == ctx.rules.prefix:
        ctx.labels_ready = True
        return
    wanted = {ctx.rules.trigger: ("0052cc", "Hand this issue to IssuePilot")}
    wanted[ctx.rules.label("revise")] = ("fbca04", "Ask IssuePilot for a new plan")
    wanted[ctx.rules.label("retry")] = ("d93f0b", "Retry the failed IssuePilot step")
    for state, color in LABEL_COLORS.items():
        wanted[ctx.label(state)] = (color, f"IssuePilot task state: {state}")
    existing = set(await ctx.gh.list_labels())
    missing = [(n, c, d) for n, (c, d) in wanted.items() if n not in existing]
    async with asyncio.TaskGroup() as group:
        for name, color, description in missing:
            group.create_task(ctx.gh.create_label(name, color, description))
    await ctx.store.set_flag(key, ctx.rules.prefix, ttl_s=7 * 24 * 3600)
    ctx.labels_ready = True


async def publish(
    ctx: Context,
    task: Task,
    before: TaskState | None,
    comment: bool = True,
    remove: tuple[str, ...] = (),
) -> Task:
    """Mirror the task to GitHub: one state label, the status comment. Calls run concurrently."""
    await ensure_labels(ctx)
    present = ctx.payload_labels(task.issue)
    want = ctx.label(task.state) if task.state not in WORKING else None
    adds = [want] if want and (present is None or want not in present) else []
    drop = {ctx.label(before)} if before is not None else set()
    if present is not None:
        drop |= {ctx.label(s) for s in S if ctx.label(s) in present}
    drop |= {name for name in remove if present is None or name in present}
    drop.discard(want or "")
    created: list[int] = []
    async with asyncio.TaskGroup() as group:
        if adds:
            group.create_task(ctx.gh.add_labels(task.issue, adds))
        for name in sorted(drop):
            group.create_task(ctx.gh.remove_label(task.issue, name))
        if comment:
            group.create_task(_write_comment(ctx, task, created))
    if present is not None:
        ctx.known_labels[task.issue] = (present - drop) | set(adds)
    if created:
        return await update(ctx, task, comment_id=created[0]) or task
    return task


async def _write_comment(ctx: Context, task: Task, created: list[int]) -> None:
    body = render(task, ctx.rules)
    if task.comment_id:
        await ctx.gh.update_comment(task.comment_id, body)
    else:
        created.append(await ctx.gh.create_comment(task.issue, body))


async def find_status_comment(ctx: Context, issue: int) -> tuple[int, Task] | None:
    """The newest status comment IssuePilot wrote on the issue, with its record.

    Only comments by IssuePilot's own logins count: anyone can paste a marker."""
    found = None
    async for comment in ctx.gh.list_comments(issue):
        author = (comment.get("user") or {}).get("login", "")
        if author in ctx.rules.bot_logins:
            record = parse_record(comment.get("body") or "")
            if record is not None and record.issue == issue:
                found = (int(comment["id"]), record)
    return found


async def load_task(ctx: Context, issue: int) -> Task | None:
    """The task from Redis; rebuilt from the status comment if Redis lost it."""
    task = await ctx.store.load(issue)
    if task is not None:
        return task
    present = ctx.payload_labels(issue)
    state_labels = {ctx.label(s) for s in S}
    if present is not None and not present & state_labels:
        return None  # no state label: there never was a task, no need to look
    found = await find_status_comment(ctx, issue)
    if found is None:
        return None
    comment_id, record = found
    rebuilt = record.model_copy(update={"version": 0, "comment_id": comment_id})
    committed = await ctx.store.commit(rebuilt)
    ctx.say(f"#{issue}: rebuilt the task from its status comment ({record.state})")
    return committed or await ctx.store.load(issue)


async def dispatch(ctx: Context, issue: int) -> bool:
    """Start the next step in a new run of this workflow (`workflow_dispatch`)."""
    target = ctx.settings.workflow_file
    if target is None:
        ctx.say(
            f"#{issue}: no GITHUB_WORKFLOW_REF, so the next step waits for an event or the sweep"
        )
        return False
    workflow, ref = target
    await ctx.gh.dispatch(workflow, ref, {"issue": str(issue)})
    return True


async def wake(ctx: Context, ready: list[str]) -> list[int]:
    """Dispatch the waiting tasks whose files are now free."""
    woken = [int(t) for t in ready if t.isdigit()]
    async with asyncio.TaskGroup() as group:
        for issue in woken:
            group.create_task(dispatch(ctx, issue))
    return woken


async def role_of(ctx: Context, login: str) -> str:
    """The actor's role, from the config's allowed users, a short Redis cache, or the API."""
    config = ctx.settings.config
    if config.may_act_without_check(login):
        return "allowed-users"
    key = ctx.keys.permission(login)
    cached = await ctx.store.get_flag(key)
    if cached is not None:
        return cached
    role = await ctx.gh.permission(login)
    if config.permission_cache_minutes:
        await ctx.store.set_flag(key, role, ttl_s=config.permission_cache_minutes * 60)
    return role
