"""The store and the file locks kept in the repository itself: no Redis to set up.

The branch `issuepilot/ledger` holds one file, `ledger.json`: the whole `Table` (task
records, flags, held files, the waiting line). It starts as an orphan commit holding only
that file, so no workflow can run for it (GitHub reads the workflows of a push from the
pushed commit, which has none), and nothing of the project's code is on it.

Every change is a write of the file on the branch's head that GitHub makes only if the
file is still the blob it was read as (the contents API's `sha`): if another run changed
the ledger in between, GitHub refuses (409) and the change is made again on the new
ledger, after a short random back-off. That is the compare-and-set the Redis store gives;
the branch moves only forward, one small commit per change, and is never rewritten.

Costs: a read is one call (the file, raw); a write is one call (the file, on the blob it
replaces). A run reads once and then works from what it last saw: its own writes keep it
current, and a write made on a stale view fails and is retried on a fresh one.

Anything else that may push to the repository (another workflow's token, an App, a deploy
key) can write the ledger too. With a `record-key`, every entry is signed (`Table.to_json`)
and an entry that does not verify is read as missing: a task record lost, rebuilt from its
signed status comment; a lock or a cached permission that was never granted.
"""

import asyncio
import copy
import hashlib
import random
import secrets
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TypeVar

from .errors import BackendError
from .github.client import GitHub
from .github.status import Seal
from .locks import Lease, LockConflict, Released, renewing
from .models import Task
from .table import STAMPS, Table

T = TypeVar("T")
BRANCH = "issuepilot/ledger"
FILE = "ledger.json"
# Writes of one change before giving up, each after a lost race and a random back-off
# (full jitter, doubling from 0.1 s up to 2 s): about a minute of contention at most.
ATTEMPTS = 40


def blob_sha(text: str) -> str:
    """Git's name for a file's content: what the contents API compares."""
    data = text.encode()
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


class Ledger:
    """The table in the repository, with this run's last view of it."""

    def __init__(
        self,
        gh: GitHub,
        clock: Callable[[], float] = time.time,
        keep_finished_s: float | None = 30 * 86400,
        rng: random.Random | None = None,
        seal: Seal | None = None,
        warn: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.gh, self.clock, self.keep_finished_s = gh, clock, keep_finished_s
        self.rng = rng or random.Random()
        self.seal, self.warn = seal, warn  # signs entries; hears of those that do not verify
        self.warned: set[str] = set()
        self.blob: str | None = None  # the file `table` was read or written as; None: none
        self.table: Table | None = None
        self.retries = 0  # lost races, for the benchmark

    async def read(self) -> Table:
        """The newest table (a copy)."""
        text = await self.gh.get_raw(FILE, BRANCH)
        if text is None:
            self.blob, self.table = None, Table()
        else:
            self.blob, self.table = blob_sha(text), Table.from_json(text, self.seal)
            self._distrust(self.table.rejected)
        return copy.deepcopy(self.table)

    def _distrust(self, rejected: list[str]) -> None:
        for entry in rejected:
            if entry not in self.warned:
                self.warned.add(entry)
                self.warn(
                    f"the ledger's {entry} is not signed with the record key (written by "
                    "something other than IssuePilot?): treated as lost"
                )

    async def view(self) -> Table:
        """What this run last saw (reading it first if it has seen nothing)."""
        if self.table is None:
            return await self.read()
        return copy.deepcopy(self.table)

    async def change(self, op: Callable[[Table, float], T], why: str) -> T:
        """Apply `op` to the table and write the result on the file it was computed from;
        after a lost race, again on the newest table. `op` first runs on what this run
        last saw; if that changes nothing, the answer is checked once on the newest table,
        since "nothing to do" may only mean "not seen yet". An exception `op` raises is
        raised after its changes are written (a lock conflict records the waiter)."""
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
            changed = table.to_json() != before
            if not changed and not fresh:
                table, fresh = await self.read(), True
                continue
            stamp = secrets.token_hex(8)
            table.stamps = [*table.stamps, stamp][-STAMPS:]
            if not changed or await self._write(table, why):
                if failure is not None:
                    raise failure
                return result  # type: ignore[return-value]
            table, fresh = await self.read(), True
            if stamp in table.stamps:  # it took effect, its answer was lost, others wrote on
                if failure is not None:
                    raise failure
                return result  # type: ignore[return-value]
            self.retries += 1
            await asyncio.sleep(self.rng.uniform(0, min(2.0, 0.1 * 2**attempt)))
        raise BackendError(
            f"the ledger (branch {BRANCH}) kept changing under this run ({ATTEMPTS} tries): "
            "a later run continues"
        )

    async def _write(self, table: Table, why: str) -> bool:
        """The file, replacing the blob this run last saw; False if the ledger changed."""
        message = f"issuepilot: {why}"
        text = table.to_json(self.seal)  # every entry signed, if there is a key
        if self.blob is None:
            written = await self._start(text, message)
        else:
            written = await self.gh.put_file(FILE, text, self.blob, BRANCH, message)
        if written:
            self.blob, self.table = blob_sha(text), Table.from_json(text, self.seal)
        return written

    async def _start(self, text: str, message: str) -> bool:
        """The ledger's first commit: an orphan holding only the file."""
        entry = {"path": FILE, "mode": "100644", "type": "blob", "content": text}
        commit = await self.gh.create_commit(message, await self.gh.create_tree(None, [entry]), [])
        return await self.gh.create_ref(BRANCH, commit)


class LedgerStore:
    """`TaskStore` in the ledger. Anyone who can read the repository can read it: it keeps
    no secret (records are signed only with a `record-key` input)."""

    private = False
    name = f"the ledger (branch {BRANCH})"

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
