"""`issuepilot status`: one repository's live tasks as the store holds them, for people.

Read-only: the task index, the records (one round trip) and who holds the tasks' files
(one more). Each row: the issue, its state, how long ago the task began, the plan's
version, the pull request, how many files it holds, and what it waits for.
"""

import json
from dataclasses import asdict, dataclass

from .locks import LockManager
from .machine import TaskState
from .models import Task
from .store import TaskStore


@dataclass(frozen=True, slots=True)
class Row:
    issue: int
    state: str
    age_s: float | None  # since the task began, where its history says
    plan_version: int
    pr: int
    held: list[str]  # files the task holds now
    waiting_on: dict[str, str]  # path -> the task holding it

    @property
    def age(self) -> str:
        if self.age_s is None:
            return "?"
        minutes = int(self.age_s // 60)
        if minutes < 60:
            return f"{minutes}m"
        if minutes < 48 * 60:
            return f"{minutes // 60}h"
        return f"{minutes // (24 * 60)}d"


async def rows(store: TaskStore, locks: LockManager, now: float) -> list[Row]:
    """Every live task's row, oldest issue first."""
    tasks = await store.load_many(sorted(await store.live()))
    wanted = sorted({p for t in tasks.values() for p in t.locked_paths})
    holders = await locks.holders(wanted) if wanted else {}
    return [_row(task, holders, now) for _, task in sorted(tasks.items())]


def _row(task: Task, holders: dict[str, str], now: float) -> Row:
    held = [p for p in task.locked_paths if holders.get(p) == str(task.issue)]
    waiting = task.waiting_on if task.state is TaskState.APPROVED else {}
    return Row(
        issue=task.issue,
        state=str(task.state),
        age_s=_age(task, now),
        plan_version=task.plan_version,
        pr=task.pr,
        held=held,
        waiting_on=dict(waiting),
    )


def _age(task: Task, now: float) -> float | None:
    began = task.began
    return None if began is None else max(0.0, now - began.timestamp())


def as_json(found: list[Row]) -> str:
    return json.dumps([asdict(r) for r in found], indent=1)


def as_table(found: list[Row]) -> str:
    if not found:
        return "no live tasks"
    head = ("ISSUE", "STATE", "AGE", "PLAN", "PR", "FILES", "WAITING FOR")
    body = [
        (
            f"#{r.issue}",
            r.state,
            r.age,
            f"v{r.plan_version}" if r.plan_version else "-",
            f"#{r.pr}" if r.pr else "-",
            str(len(r.held)) if r.held else "-",
            _waiting(r.waiting_on),
        )
        for r in found
    ]
    widths = [max(len(line[i]) for line in [head, *body]) for i in range(len(head))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in [head, *body]
    )


def _waiting(on: dict[str, str]) -> str:
    if not on:
        return "-"
    by_task: dict[str, list[str]] = {}
    for path, holder in sorted(on.items()):
        by_task.setdefault(holder, []).append(path)
    return "; ".join(
        f"#{holder}: {', '.join(paths[:3])}{' …' if len(paths) > 3 else ''}"
        for holder, paths in by_task.items()
    )
