"""The store and the file locks kept in the repository itself: no Redis to set up.

`refs/issuepilot/ledger` points at a commit whose tree holds one file, `ledger.json`: the
whole `Table` (task records, flags, held files, the waiting line). A ref outside
`refs/heads/` is no branch: no `push` workflow runs for it, no branch protection names it,
and it shows in no branch list.

Every change is a new commit on the head it was computed from, and a non-forced ref
update: if another run moved the ledger in between, GitHub refuses the update (422, not a
fast-forward) and the change is made again on the new head, after a short random back-off.
That is the compare-and-set the Redis store gives, and the ledger's history only grows.

Costs: a read is the ref (1 call) and, if it moved since this run last read it, the file
(1 more); a write is a tree with the file inline, a commit and the ref update (3). A run
reads once and then works from what it last saw: its own writes keep it current, and a
write made on a stale head fails and is retried on the fresh one.
"""

import asyncio
import copy
import random
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TypeVar

from .errors import BackendError
from .github.client import GitHub
from .github.errors import NotFound, ValidationFailed
from .locks import Lease, LockConflict, Released, renewing
from .models import Task
from .table import Table

T = TypeVar("T")
SPACE, NAME = "issuepilot", "ledger"  # refs/issuepilot/ledger
FILE = "ledger.json"
ATTEMPTS = 12  # writes of one change before giving up (each after a lost race)


class Ledger:
    """The table in the repository, with this run's last view of it."""

    def __init__(
        self,
        gh: GitHub,
        clock: Callable[[], float] = time.time,
        keep_finished_s: float | None = 30 * 86400,
        rng: random.Random | None = None,
    ) -> None:
        self.gh, self.clock, self.keep_finished_s = gh, clock, keep_finished_s
        self.rng = rng or random.Random()
        self.head: str | None = None  # the ledger commit `table` was read from or written as
        self.table: Table | None = None
        self.retries = 0  # lost races, for the benchmark

    async def read(self) -> Table:
        """The newest table (a copy): the ref, and the file if the ref moved."""
        try:
            sha: str | None = await self.gh.get_ref(NAME, SPACE)
        except NotFound:
            sha = None
        if sha is None:
            self.head, self.table = None, Table()
        elif sha != self.head or self.table is None:
            text = await self.gh.get_raw(FILE, sha)
            self.head, self.table = sha, Table.from_json(text) if text else Table()
        return copy.deepcopy(self.table)

    async def view(self) -> Table:
        """What this run last saw (reading it first if it has seen nothing)."""
        if self.table is None:
            return await self.read()
        return copy.deepcopy(self.table)

    async def change(self, op: Callable[[Table, float], T], why: str) -> T:
        """Apply `op` to the table and write the result as a fast-forward on the head it
        was computed from; after a lost race, again on the new head. `op` first runs on
        what this run last saw; if that changes nothing, the answer is checked once on the
        newest table, since "nothing to do" may only mean "not seen yet". An exception
        `op` raises is raised after its changes are written (a lock conflict records the
        waiter)."""
        fresh = self.table is None
        table = await self.view()
        for attempt in range(ATTEMPTS):
            before = table.to_json()
            failure: LockConflict | None = None
            result: T | None = None
            try:
                result = op(table, self.clock())
            except LockConflict as exc:
                failure = exc
            if table.to_json() == before and not fresh:
                table, fresh = await self.read(), True
                continue
            if table.to_json() == before or await self._write(table, why):
                if failure is not None:
                    raise failure
                return result  # type: ignore[return-value]
            self.retries += 1
            await asyncio.sleep(self.rng.uniform(0, 0.05 * 2 ** min(attempt, 5)))
            table, fresh = await self.read(), True
        raise BackendError(
            f"the ledger refs/{SPACE}/{NAME} kept changing under this run ({ATTEMPTS} tries): "
            "a later run continues"
        )

    async def _write(self, table: Table, why: str) -> bool:
        """One commit on `self.head`; False if another run moved the ledger first."""
        text = table.to_json()
        entry = {"path": FILE, "mode": "100644", "type": "blob", "content": text}
        tree = await self.gh.create_tree(None, [entry])
        parents = [self.head] if self.head else []
        commit = await self.gh.create_commit(f"issuepilot: {why}", tree, parents)
        try:
            if self.head is None:
                if not await self.gh.create_ref(NAME, commit, SPACE):
                    return False  # another run created the ledger first
            else:
                await self.gh.update_ref(NAME, commit, SPACE)
        except ValidationFailed:
            return False  # not a fast-forward: the ledger moved
        self.head, self.table = commit, Table.from_json(text)
        return True


class LedgerStore:
    """`TaskStore` in the ledger. Anyone who can read the repository can read it: it keeps
    no secret (records are signed only with a `record-key` input)."""

    private = False
    name = f"the ledger refs/{SPACE}/{NAME}"

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    async def load(self, issue: int) -> Task | None:
        return (await self.ledger.read()).load(issue)

    async def load_many(self, issues: list[int]) -> dict[int, Task]:
        table = await self.ledger.read()
        found = {issue: table.load(issue) for issue in issues}
        return {issue: task for issue, task in found.items() if task is not None}

    async def commit(self, task: Task) -> Task | None:
        keep = self.ledger.keep_finished_s

        def commit(table: Table, now: float) -> Task | None:
            return table.commit(task, now, keep)

        return await self.ledger.change(commit, f"#{task.issue} {task.state}")

    async def live(self) -> list[int]:
        return (await self.ledger.read()).live()

    async def get_flag(self, key: str) -> str | None:
        return (await self.ledger.view()).get_flag(key, self.ledger.clock())

    async def set_flag(self, key: str, value: str, ttl_s: float | None) -> None:
        def set_flag(table: Table, now: float) -> None:
            table.set_flag(key, value, ttl_s, now)

        await self.ledger.change(set_flag, f"flag {key.rsplit(':', 1)[-1]}")

    async def ensure_flag(self, key: str, value: str) -> str:
        def ensure(table: Table, now: float) -> str:
            return table.ensure_flag(key, value, now)

        return await self.ledger.change(ensure, f"flag {key.rsplit(':', 1)[-1]}")


class LedgerLocks:
    """`LockManager` in the ledger."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    async def acquire(
        self, task: str, paths: Sequence[str], ttl_s: float, token: str | None = None
    ) -> Lease:
        def acquire(table: Table, now: float) -> Lease:
            return table.acquire(task, paths, ttl_s, token, now)

        return await self.ledger.change(acquire, f"#{task} locks {len(paths)} files")

    async def extend(self, lease: Lease, ttl_s: float) -> None:
        def extend(table: Table, now: float) -> None:
            table.extend(lease, ttl_s, now)

        await self.ledger.change(extend, f"#{lease.task} renews its locks")

    async def release(self, lease: Lease) -> Released:
        def release(table: Table, now: float) -> Released:
            return table.release(lease, now)

        return await self.ledger.change(release, f"#{lease.task} frees its locks")

    async def release_task(self, task: str) -> Released:
        def release_task(table: Table, now: float) -> Released:
            return table.release_task(task, now)

        return await self.ledger.change(release_task, f"#{task} frees its files")

    async def holders(self, paths: Sequence[str]) -> dict[str, str]:
        return (await self.ledger.read()).holders(paths, self.ledger.clock())

    async def reap(self) -> list[str]:
        def reap(table: Table, now: float) -> list[str]:
            return table.reap(now)

        return await self.ledger.change(reap, "expired locks")

    @asynccontextmanager
    async def keep_alive(self, lease: Lease, ttl_s: float) -> AsyncIterator[asyncio.Event]:
        async with renewing(self, lease, ttl_s) as lost:
            yield lost
