"""The service's two Redis streams: `deliveries` (what it received, until the dispatcher
hands each on) and `steps` (what the workers run). Each is read through a consumer group;
an entry is acknowledged and deleted once handled, so a stream's length is its backlog,
and an entry whose consumer died is claimed by another (`XAUTOCLAIM`) once it has been
silent for a while. A consumer at work keeps its entry fresh (`keep`).

Receiving and handing on are single scripts, so a delivery is queued at most once and
handed on at most once, whatever crashes and retries happen around them.
https://redis.io/docs/latest/develop/data-types/streams/
"""

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ResponseError

from ..keys import ServiceKeys

DISPATCHERS, WORKERS = "dispatchers", "workers"  # the consumer groups
# Commands in flight at once: redis-py's pool holds 100 connections and refuses a request
# for more (it does not wait), so a burst of deliveries waits here instead; the rest of the
# pool is left for the few commands sent around the queue.
IN_FLIGHT = 80
# A delivery id is remembered as long as GitHub keeps deliveries to redeliver (3 days).
REMEMBER_S = 4 * 24 * 3600

_ACCEPT = """
-- KEYS[1] - the delivery's `seen` key
-- KEYS[2] - the deliveries stream
-- ARGV[1] - how long the delivery is remembered (seconds)
-- ARGV[2..] - the entry's fields and values
-- returns the new entry's id, or false for a delivery seen before
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return false end
return redis.call('XADD', KEYS[2], '*', unpack(ARGV, 2))
"""

_HAND_TO_WORKERS = """
-- KEYS[1] - the delivery's `handed` key
-- KEYS[2] - the steps stream
-- KEYS[3] - the deliveries stream
-- ARGV[1] - how long the `handed` key lasts (seconds)
-- ARGV[2] - the dispatchers' group
-- ARGV[3] - the delivery's entry in the deliveries stream
-- ARGV[4..] - the step's fields and values
-- returns 1 when queued for the workers, 0 for a delivery handed on before
local fresh = redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1])
if fresh then redis.call('XADD', KEYS[2], '*', unpack(ARGV, 4)) end
redis.call('XACK', KEYS[3], ARGV[2], ARGV[3])
redis.call('XDEL', KEYS[3], ARGV[3])
if fresh then return 1 end
return 0
"""


@dataclass(frozen=True)
class Entry:
    """One stream entry: a delivery (webhook or queued task), or a step for the workers."""

    id: str
    delivery: str  # GitHub's X-GitHub-Delivery, or the service's own id for the rest
    event: str  # issues, issue_comment, ..., workflow_dispatch
    repo: str
    body: bytes  # the payload, as received
    received: float  # epoch seconds
    attempts: int = 1  # times handed to a consumer

    def fields(self) -> dict[str, Any]:
        return {
            "delivery": self.delivery,
            "event": self.event,
            "repo": self.repo,
            "body": self.body,
            "received": f"{self.received:.3f}",
        }

    @classmethod
    def parse(cls, entry_id: Any, fields: dict[Any, Any], attempts: int = 1) -> "Entry":
        text = {_s(k): v for k, v in fields.items()}
        body = text.get("body", b"")
        return cls(
            id=_s(entry_id),
            delivery=_s(text.get("delivery", "")),
            event=_s(text.get("event", "")),
            repo=_s(text.get("repo", "")),
            body=body.encode() if isinstance(body, str) else body,
            received=float(_s(text.get("received", "0"))),
            attempts=attempts,
        )


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def new_entry(delivery: str, event: str, repo: str, body: bytes) -> Entry:
    return Entry("", delivery, event, repo, body, time.time())


class Queue:
    def __init__(self, redis: Redis | RedisCluster, keys: ServiceKeys) -> None:
        self.redis, self.keys = redis, keys
        self._accept = redis.register_script(_ACCEPT)
        self._hand = redis.register_script(_HAND_TO_WORKERS)
        self._gate: asyncio.Semaphore | None = None

    @property
    def gate(self) -> asyncio.Semaphore:
        """Made in the loop that uses it."""
        if self._gate is None:
            self._gate = asyncio.Semaphore(IN_FLIGHT)
        return self._gate

    async def setup(self) -> None:
        """Both streams and their groups, from their first entry on (made once)."""
        for stream, group in ((self.keys.deliveries, DISPATCHERS), (self.keys.steps, WORKERS)):
            try:
                await self.redis.xgroup_create(stream, group, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        # The first deliveries must not wait for connections to open or scripts to load.
        await asyncio.gather(*(self.redis.ping() for _ in range(16)))
        for script in (self._accept, self._hand):
            await self.redis.script_load(script.script)

    async def accept(self, entry: Entry) -> bool:
        """Queue a webhook delivery unless its id was seen before; whether it was new."""
        keys = [self.keys.seen(entry.delivery), self.keys.deliveries]
        args = [REMEMBER_S, *_flat(entry.fields())]
        async with self.gate:
            return await self._accept(keys=keys, args=args) is not None

    async def seen(self, delivery: str) -> bool:
        async with self.gate:
            return bool(await self.redis.exists(self.keys.seen(delivery)))

    async def add(self, stream: str, entry: Entry) -> None:
        """Queue an entry that needs no check for repeats (its id is new)."""
        fields: dict[Any, Any] = entry.fields()
        async with self.gate:
            await self.redis.xadd(stream, fields)

    async def take(
        self, stream: str, group: str, consumer: str, count: int, block_ms: int, idle_ms: int
    ) -> list[Entry]:
        """Entries to handle: first those a silent consumer left for `idle_ms`, then new
        ones (waiting up to `block_ms` for one)."""
        async with self.gate:
            claimed = await self.redis.xautoclaim(
                stream, group, consumer, min_idle_time=idle_ms, start_id="0-0", count=count
            )
            found = [(i, f) for i, f in claimed[1] if f]
            if found:
                return [await self._with_attempts(stream, group, i, f) for i, f in found]
            fresh: Any = await self.redis.xreadgroup(
                group, consumer, {stream: ">"}, count, block_ms
            )
        return [Entry.parse(i, f) for _, entries in fresh or [] for i, f in entries]

    async def _with_attempts(self, stream: str, group: str, entry_id: Any, fields: Any) -> Entry:
        pending = await self.redis.xpending_range(stream, group, entry_id, entry_id, 1)
        attempts = int(pending[0]["times_delivered"]) if pending else 1
        return Entry.parse(entry_id, fields, attempts)

    async def keep(self, stream: str, group: str, consumer: str, entry: Entry) -> None:
        """Tell the others this entry is still being worked on (its idle time restarts)."""
        async with self.gate:
            await self.redis.xclaim(stream, group, consumer, 0, [entry.id], justid=True)

    async def done(self, stream: str, group: str, entry: Entry) -> None:
        async with self.gate, self.redis.pipeline(transaction=False) as pipe:
            pipe.xack(stream, group, entry.id)
            pipe.xdel(stream, entry.id)
            await pipe.execute()

    async def hand_to_workers(self, entry: Entry) -> bool:
        """Queue a delivery's step for the workers and finish the delivery, at once;
        False when it had been handed on before (nothing queued again)."""
        keys = [self.keys.handed(entry.delivery), self.keys.steps, self.keys.deliveries]
        step = new_entry(entry.delivery, entry.event, entry.repo, entry.body)
        args = [REMEMBER_S, DISPATCHERS, entry.id, *_flat(step.fields())]
        async with self.gate:
            return bool(await self._hand(keys=keys, args=args))

    async def claim_handing(self, delivery: str) -> bool:
        """Mark a delivery handed on before starting a workflow for it: a dispatcher that
        dies mid-request leaves the mark, and nobody starts a second run."""
        async with self.gate:
            key = self.keys.handed(delivery)
            return bool(await self.redis.set(key, "1", nx=True, ex=REMEMBER_S))

    async def backlog(self) -> dict[str, int]:
        """Entries not yet handled, per stream."""
        async with self.gate, self.redis.pipeline(transaction=False) as pipe:
            pipe.xlen(self.keys.deliveries)
            pipe.xlen(self.keys.steps)
            deliveries, steps = await pipe.execute()
        return {"deliveries": int(deliveries), "steps": int(steps)}

    async def heard_of(self, repo: str) -> None:
        """Note a repository as served now (its sweeps are started from this list)."""
        async with self.gate:
            await self.redis.zadd(self.keys.repos, {repo: time.time()})

    async def served(self, since: float) -> list[str]:
        """The repositories heard of since then (the others are forgotten)."""
        async with self.gate:
            await self.redis.zremrangebyscore(self.keys.repos, "-inf", since)
            return [_s(repo) for repo in await self.redis.zrange(self.keys.repos, 0, -1)]

    async def first_ask(self, delivery: str) -> bool:
        """Whether nobody asked GitHub for this delivery again yet (each is asked once)."""
        async with self.gate:
            key = self.keys.asked(delivery)
            return bool(await self.redis.set(key, "1", nx=True, ex=REMEMBER_S))

    async def my_turn(self, chore: str, period_s: float) -> bool:
        """Whether this copy of the service does `chore` this period (one copy does)."""
        period_ms = max(1, int(period_s * 1000))
        async with self.gate:
            return bool(await self.redis.set(self.keys.turn(chore), "1", nx=True, px=period_ms))


def _flat(fields: dict[str, Any]) -> list[Any]:
    return [item for pair in fields.items() for item in pair]
