"""In-memory `TaskStore` and `LockManager` on an injected clock, for fast in-process tests.

They keep the promises of the Redis implementations (the same contract tests run against
both): compare-and-set on the record's version; locks all or nothing, owned by a token,
expiring with their TTL, a fair waiting line whose ready waiters are woken on release.
Time is whatever `clock()` says, so a test expires a lease by moving the clock.
"""

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..locks import Lease, Released
from ..models import FileChange, Task
from ..table import Held, Table
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
    """`TaskStore` on a `Table` in memory."""

    private = True
    name = "the store"

    clock: Callable[[], float] = field(default_factory=Clock)
    table: Table = field(default_factory=Table)

    @property
    def records(self) -> dict[int, tuple[int, str]]:
        return self.table.records

    @property
    def flags(self) -> dict[str, tuple[str, float | None]]:
        return self.table.flags

    async def load(self, issue: int) -> Task | None:
        return self.table.load(issue)

    async def load_many(self, issues: list[int]) -> dict[int, Task]:
        found = {issue: self.table.load(issue) for issue in issues}
        return {issue: task for issue, task in found.items() if task is not None}

    async def commit(self, task: Task) -> Task | None:
        return self.table.commit(task, self.clock())

    async def live(self) -> list[int]:
        return self.table.live()

    async def get_flag(self, key: str) -> str | None:
        return self.table.get_flag(key, self.clock())

    async def set_flag(self, key: str, value: str, ttl_s: float | None) -> None:
        self.table.set_flag(key, value, ttl_s, self.clock())

    async def ensure_flag(self, key: str, value: str) -> str:
        current = await self.get_flag(key)  # a read the tests can count, as in Redis
        return current if current is not None else self.table.ensure_flag(key, value, self.clock())


@dataclass
class MemoryLocks:
    """`LockManager` on a `Table` in memory."""

    clock: Callable[[], float] = field(default_factory=Clock)
    table: Table = field(default_factory=Table)

    @property
    def held(self) -> dict[str, Held]:
        return self.table.held

    @property
    def waiting(self) -> dict[str, tuple[float, frozenset[str]]]:
        return self.table.waiting

    async def acquire(
        self, task: str, paths: Sequence[str], ttl_s: float, token: str | None = None
    ) -> Lease:
        return self.table.acquire(task, paths, ttl_s, token, self.clock())

    async def extend(self, lease: Lease, ttl_s: float) -> None:
        self.table.extend(lease, ttl_s, self.clock())

    async def release(self, lease: Lease) -> Released:
        return self.table.release(lease, self.clock())

    async def release_task(self, task: str) -> Released:
        return self.table.release_task(task, self.clock())

    async def holders(self, paths: Sequence[str]) -> dict[str, str]:
        return self.table.holders(paths, self.clock())

    async def reap(self) -> list[str]:
        return self.table.reap(self.clock())

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
