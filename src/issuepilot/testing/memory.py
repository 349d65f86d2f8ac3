"""In-memory `TaskStore` and `LockManager` on an injected clock, for fast in-process tests.

They keep the promises of the Redis implementations (the same contract tests run against
both): compare-and-set on the record's version; locks all or nothing, owned by a token,
expiring with their TTL, a fair waiting line whose ready waiters are woken on release.
Time is whatever `clock()` says, so a test expires a lease by moving the clock.
"""

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from ..locks import TASK_ID, Lease, LockConflict, LockLost, Released
from ..machine import FINAL
from ..models import FileChange, Task
from ..paths import normalize_path
from ..workspace import checked, matches


@dataclass
class Clock:
    """A clock that moves only when told to."""

    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class MemoryStore:
    clock: Callable[[], float] = field(default_factory=Clock)
    records: dict[int, tuple[int, str]] = field(default_factory=dict)  # issue -> version, JSON
    flags: dict[str, tuple[str, float | None]] = field(default_factory=dict)

    async def load(self, issue: int) -> Task | None:
        if issue not in self.records:
            return None
        version, data = self.records[issue]
        return Task.model_validate_json(data).model_copy(update={"version": version})

    async def load_many(self, issues: list[int]) -> dict[int, Task]:
        found = {issue: await self.load(issue) for issue in issues}
        return {issue: task for issue, task in found.items() if task is not None}

    async def commit(self, task: Task) -> Task | None:
        version = self.records.get(task.issue, (0, ""))[0]
        if version != task.version:
            return None
        self.records[task.issue] = (version + 1, task.to_json())
        return task.model_copy(update={"version": version + 1})

    async def live(self) -> list[int]:
        return sorted(
            issue
            for issue, (_, data) in self.records.items()
            if Task.model_validate_json(data).state not in FINAL
        )

    async def get_flag(self, key: str) -> str | None:
        value, until = self.flags.get(key, (None, None))
        if value is None or (until is not None and until <= self.clock()):
            return None
        return value

    async def set_flag(self, key: str, value: str, ttl_s: float | None) -> None:
        self.flags[key] = (value, self.clock() + ttl_s if ttl_s else None)

    async def ensure_flag(self, key: str, value: str) -> str:
        current = await self.get_flag(key)
        if current is None:
            await self.set_flag(key, value, None)
            return value
        return current


@dataclass
class _Held:
    task: str
    token: str
    until: float


@dataclass
class MemoryLocks:
    clock: Callable[[], float] = field(default_factory=Clock)
    # path -> holder; a lapsed lock stays until reaped or taken, as in Redis
    held: dict[str, _Held] = field(default_factory=dict)
    waiting: dict[str, tuple[float, frozenset[str]]] = field(default_factory=dict)
    _line: int = 0

    def _holder(self, path: str) -> _Held | None:
        held = self.held.get(path)
        return None if held is None or held.until <= self.clock() else held

    async def acquire(
        self, task: str, paths: Sequence[str], ttl_s: float, token: str | None = None
    ) -> Lease:
        if not TASK_ID.match(task):
            raise InputError(f"invalid task id {task!r}")
        norm = sorted({normalize_path(p) for p in paths})
        if not norm:
            raise InputError("acquire needs at least one path")
        token = token or secrets.token_hex(16)
        holders = {p: h for p in norm if (h := self._holder(p)) is not None}
        conflicts = {p: h.task for p, h in holders.items() if (h.task, h.token) != (task, token)}
        if conflicts:
            self._line += 1
            since = self.waiting.get(task, (float(self._line), frozenset()))[0]
            self.waiting[task] = (since, frozenset(norm))
            raise LockConflict(conflicts)
        if len(holders) < len(norm):  # a retry of a grant that took effect writes nothing
            until = self.clock() + ttl_s
            for path in norm:
                self.held[path] = _Held(task, token, until)
        self.waiting.pop(task, None)
        return Lease(task, token, tuple(norm))

    async def extend(self, lease: Lease, ttl_s: float) -> None:
        lost = [p for p in lease.paths if not self._owns(lease, p)]
        if lost:
            raise LockLost(lost)
        for path in lease.paths:
            self.held[path].until = self.clock() + ttl_s

    def _owns(self, lease: Lease, path: str) -> bool:
        held = self._holder(path)
        return held is not None and (held.task, held.token) == (lease.task, lease.token)

    def _drop(self, paths: list[str]) -> list[str]:
        """Drop these locks; returns those that were still in force."""
        live = [p for p in paths if self._holder(p) is not None]
        for path in paths:
            del self.held[path]
        return live

    async def release(self, lease: Lease) -> Released:
        mine = [
            p
            for p in lease.paths
            if (h := self.held.get(p)) and (h.task, h.token) == (lease.task, lease.token)
        ]
        return Released(self._drop(mine), self._ready(set(mine)))

    async def release_task(self, task: str) -> Released:
        mine = sorted(p for p, h in self.held.items() if h.task == task)
        freed = set(mine) | self.waiting.pop(task, (0.0, frozenset()))[1]
        return Released(self._drop(mine), self._ready(freed))

    async def holders(self, paths: Sequence[str]) -> dict[str, str]:
        norm = sorted({normalize_path(p) for p in paths})
        return {p: h.task for p in norm if (h := self._holder(p)) is not None}

    async def reap(self) -> list[str]:
        lapsed = [p for p, h in self.held.items() if h.until <= self.clock()]
        self._drop(lapsed)
        return self._ready(set(lapsed))

    def _ready(self, freed: set[str]) -> list[str]:
        """The waiters of `freed` whose paths are all free, oldest first, leaving out one
        that wants a path an older ready waiter wants too; the other waiters of the same
        paths are weighed as rivals but not returned."""
        asked = {t for t, (_, wants) in self.waiting.items() if wants & freed}
        contested = set().union(*(self.waiting[t][1] for t in asked))
        weighed = {t for t, (_, wants) in self.waiting.items() if wants & contested}
        ready: list[str] = []
        claimed: set[str] = set()
        for task in sorted(weighed, key=lambda t: self.waiting[t][0]):
            wants = self.waiting[task][1]
            free = all(
                p not in claimed and ((h := self._holder(p)) is None or h.task == task)
                for p in wants
            )
            if free:
                claimed |= wants
                if task in asked:
                    ready.append(task)
        return ready

    @asynccontextmanager
    async def keep_alive(self, lease: Lease, ttl_s: float) -> AsyncIterator[asyncio.Event]:
        """Renewal is instant on this clock: the lease is renewed on entry and checked on
        exit; a lease a test expired meanwhile raises `LockLost` as the real one would."""
        await self.extend(lease, ttl_s)
        yield asyncio.Event()
        await self.extend(lease, ttl_s)


class MemoryWorkspace:
    """A repository's files in a dict, for the agent's tools in tests and benchmarks."""

    root: Path | None = None

    def __init__(self, files: dict[str, str]) -> None:
        self.base = dict(files)
        self.now: dict[str, str | None] = dict(files)

    async def files(self, pattern: str = "") -> list[str]:
        return sorted(p for p, text in self.now.items() if text is not None and matches(p, pattern))

    async def read(self, path: str) -> str | None:
        return self.now.get(checked(path))

    async def original(self, path: str) -> str | None:
        return self.base.get(checked(path))

    async def write(self, path: str, content: str) -> None:
        self.now[checked(path)] = content

    async def delete(self, path: str) -> None:
        self.now[checked(path)] = None

    async def change(self) -> list[FileChange]:
        return [
            FileChange(path=p, content=text)
            for p, text in sorted(self.now.items())
            if text != self.base.get(p)
        ]
