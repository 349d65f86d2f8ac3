"""Redis file locks: all or nothing, owned, renewable, fair, never leaked.

Layout (see `keys.py`), all under the repository's hash tag:

- `lock:<sha1(path)>`  string "<task> <token>" with a TTL: who holds a path.
- `held:<task>`        hash path -> token: what a task holds.
- `lockers`            set of tasks with a `held` hash: the index `reap` walks.
- `waiting`            sorted set task -> time it started waiting; `wants:<task>` its paths.

Each operation is one Lua script run by SHA (`register_script` loads it once per server
and falls back to SCRIPT LOAD after a restart), so it costs one round trip whatever the
number of paths, and checks everything before it writes anything.
"""

import asyncio
import re
import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from .errors import BackendError, InputError, IssuePilotError
from .keys import Keys
from .models import holders_text
from .paths import normalize_path

TASK_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
WANTS_TTL_MS = 24 * 3600 * 1000  # a waiter that never comes back stops counting after a day

# Shared Lua helpers. `owner(v)` is the task part of a lock value "<task> <token>".
_LUA_COMMON = """
local function owner(v) return string.match(v, '^(%S+) ') end
local function lockkey(prefix, path) return prefix .. 'lock:' .. redis.sha1hex(path) end
-- Join the waiting line once, behind everyone already in it (strictly increasing scores).
local function join_waiting(waiting, task)
  local t = redis.call('TIME')
  local score = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local last = redis.call('ZRANGE', waiting, -1, -1, 'WITHSCORES')
  if last[2] and tonumber(last[2]) >= score then score = tonumber(last[2]) + 1 end
  redis.call('ZADD', waiting, 'NX', score, task)
end
-- Waiters whose wanted paths are all free, oldest first, skipping a waiter that wants a
-- path an older ready waiter wants too (it would only lose the race to it); forgets
-- waiters whose wants expired.
local function ready_waiters(prefix, waiting)
  local ready, claimed = {}, {}
  for _, task in ipairs(redis.call('ZRANGE', waiting, 0, -1)) do
    local wants = redis.call('SMEMBERS', prefix .. 'wants:' .. task)
    if #wants == 0 then
      redis.call('ZREM', waiting, task)
    else
      local free = true
      for _, path in ipairs(wants) do
        local v = redis.call('GET', lockkey(prefix, path))
        if claimed[path] or (v and owner(v) ~= task) then free = false; break end
      end
      if free then
        table.insert(ready, task)
        for _, path in ipairs(wants) do claimed[path] = true end
      end
    end
  end
  return ready
end
"""

# KEYS: held, lockers, waiting, wants, lock keys...   ARGV: task, token, ttl_ms, paths...
# returns {1} when every path is now the caller's, or {0, {path, holder, ...}} and nothing
# written but the caller's place in the waiting line.
_ACQUIRE = (
    _LUA_COMMON
    + """
local task, token, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local me = task .. ' ' .. token
local n = #KEYS - 4
local conflicts, mine = {}, 0
for i = 1, n do
  local v = redis.call('GET', KEYS[4 + i])
  if v == me then mine = mine + 1
  elseif v then table.insert(conflicts, ARGV[3 + i]); table.insert(conflicts, owner(v)) end
end
if #conflicts > 0 then
  join_waiting(KEYS[3], task)
  redis.call('DEL', KEYS[4])
  redis.call('SADD', KEYS[4], unpack(ARGV, 4))
  redis.call('PEXPIRE', KEYS[4], WANTS_TTL_MS)
  return {0, conflicts}
end
if mine == n then return {1} end  -- a retry of a grant that took effect: write nothing
local fields = {}
for i = 1, n do
  redis.call('SET', KEYS[4 + i], me, 'PX', ttl)
  table.insert(fields, ARGV[3 + i]); table.insert(fields, token)
end
redis.call('HSET', KEYS[1], unpack(fields))
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
redis.call('SADD', KEYS[2], task)
redis.call('ZREM', KEYS[3], task)
redis.call('DEL', KEYS[4])
return {1}
"""
).replace("WANTS_TTL_MS", str(WANTS_TTL_MS))

# KEYS: held, lock keys...   ARGV: task, token, ttl_ms, paths...
_EXTEND = (
    _LUA_COMMON
    + """
local me, ttl = ARGV[1] .. ' ' .. ARGV[2], tonumber(ARGV[3])
local lost = {}
for i = 2, #KEYS do
  if redis.call('GET', KEYS[i]) ~= me then table.insert(lost, ARGV[2 + i]) end
end
if #lost > 0 then return lost end
for i = 2, #KEYS do redis.call('PEXPIRE', KEYS[i], ttl) end
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return lost
"""
)

# KEYS: held, lockers, waiting, lock keys...   ARGV: task, token, prefix, paths...
_RELEASE = (
    _LUA_COMMON
    + """
local task, token, prefix = ARGV[1], ARGV[2], ARGV[3]
local me = task .. ' ' .. token
local released = {}
for i = 4, #KEYS do
  local path = ARGV[i]
  if redis.call('GET', KEYS[i]) == me then
    redis.call('DEL', KEYS[i]); table.insert(released, path)
  end
  if redis.call('HGET', KEYS[1], path) == token then redis.call('HDEL', KEYS[1], path) end
end
if redis.call('HLEN', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], task) end
if #released == 0 then return {released, {}} end
return {released, ready_waiters(prefix, KEYS[3])}
"""
)

# KEYS: held, lockers, waiting, wants   ARGV: task, prefix
_RELEASE_TASK = (
    _LUA_COMMON
    + """
local task, prefix = ARGV[1], ARGV[2]
local released = {}
local fields = redis.call('HKEYS', KEYS[1])
for _, path in ipairs(fields) do
  local key = lockkey(prefix, path)
  local v = redis.call('GET', key)
  if v and owner(v) == task then redis.call('DEL', key); table.insert(released, path) end
end
redis.call('DEL', KEYS[1], KEYS[4])
redis.call('SREM', KEYS[2], task)
redis.call('ZREM', KEYS[3], task)
return {released, ready_waiters(prefix, KEYS[3])}
"""
)

# KEYS: lockers, waiting   ARGV: prefix
_REAP = (
    _LUA_COMMON
    + """
local prefix = ARGV[1]
local dropped = 0
for _, task in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local held = prefix .. 'held:' .. task
  local fields = redis.call('HGETALL', held)
  for i = 1, #fields, 2 do
    local path, token = fields[i], fields[i + 1]
    if redis.call('GET', lockkey(prefix, path)) ~= task .. ' ' .. token then
      redis.call('HDEL', held, path); dropped = dropped + 1
    end
  end
  if redis.call('EXISTS', held) == 0 then redis.call('SREM', KEYS[1], task) end
end
return {dropped, ready_waiters(prefix, KEYS[2])}
"""
)


class LockError(IssuePilotError):
    """Base of the lock errors."""


class LockConflict(LockError):
    """Some paths are held by other tasks; nothing was taken."""

    def __init__(self, holders: dict[str, str]) -> None:
        self.holders = holders
        super().__init__(f"files are locked by other tasks: {holders_text(holders)}")


class LockLost(LockError):
    """The lease no longer holds these paths (expired, or taken after a Redis restart)."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths
        super().__init__(f"lost the locks on: {', '.join(sorted(paths))}")


@dataclass(frozen=True, slots=True)
class Lease:
    task: str
    token: str
    paths: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Released:
    """What a release freed, and the waiting tasks to wake.

    `ready` lists, oldest first, the waiters whose files are all free, leaving out any that
    wants a file an older ready waiter wants too (waking it would only lose that race).
    """

    paths: list[str]
    ready: list[str]

    @classmethod
    def of(cls, reply: Any) -> "Released":
        return cls(_texts(reply[0]), _texts(reply[1]))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _texts(values: Any) -> list[str]:
    return [_text(v) for v in values]


class LockManager(Protocol):
    """What the steps use of file locks; `FileLocks` is the Redis implementation."""

    async def acquire(
        self, task: str, paths: Sequence[str], ttl_s: float, token: str | None = None
    ) -> Lease: ...
    async def extend(self, lease: Lease, ttl_s: float) -> None: ...
    async def release(self, lease: Lease) -> "Released": ...
    async def release_task(self, task: str) -> "Released": ...
    async def holders(self, paths: Sequence[str]) -> dict[str, str]: ...
    async def reap(self) -> list[str]: ...
    def keep_alive(
        self, lease: Lease, ttl_s: float
    ) -> AbstractAsyncContextManager[asyncio.Event]: ...


class FileLocks:
    """File locks of one repository. All methods cost one Redis round trip."""

    def __init__(self, redis: "Redis", repo: str) -> None:
        self.redis = redis
        self.keys = Keys(repo)
        self._acquire = redis.register_script(_ACQUIRE)
        self._extend = redis.register_script(_EXTEND)
        self._release = redis.register_script(_RELEASE)
        self._release_task = redis.register_script(_RELEASE_TASK)
        self._reap = redis.register_script(_REAP)

    def _paths(self, paths: Sequence[str]) -> list[str]:
        return sorted({normalize_path(p) for p in paths})

    async def _run(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        try:
            return await script(keys=keys, args=args)
        except RedisError as exc:
            raise BackendError(f"Redis failed during a lock operation: {exc}") from exc

    async def acquire(
        self, task: str, paths: Sequence[str], ttl_s: float, token: str | None = None
    ) -> Lease:
        """Take every path or none. Retrying with the same token is a no-op that succeeds."""
        if not TASK_ID.match(task):
            raise InputError(f"invalid task id {task!r}")
        norm = self._paths(paths)
        if not norm:
            raise InputError("acquire needs at least one path")
        token = token or secrets.token_hex(16)
        k = self.keys
        keys = [k.held(task), k.lockers, k.waiting, k.wants(task)] + [k.lock(p) for p in norm]
        reply = await self._run(
            self._acquire, keys, [task, token, max(1, int(ttl_s * 1000)), *norm]
        )
        if int(reply[0]) == 1:
            return Lease(task, token, tuple(norm))
        flat = _texts(reply[1])
        raise LockConflict(dict(zip(flat[::2], flat[1::2], strict=True)))

    async def extend(self, lease: Lease, ttl_s: float) -> None:
        """Push the TTL of every path of the lease, or raise `LockLost` and extend none."""
        keys = [self.keys.held(lease.task)] + [self.keys.lock(p) for p in lease.paths]
        args = [lease.task, lease.token, max(1, int(ttl_s * 1000)), *lease.paths]
        lost = _texts(await self._run(self._extend, keys, args))
        if lost:
            raise LockLost(lost)

    async def release(self, lease: Lease) -> "Released":
        """Free the paths this lease still holds. Safe to repeat."""
        k = self.keys
        keys = [k.held(lease.task), k.lockers, k.waiting] + [k.lock(p) for p in lease.paths]
        args = [lease.task, lease.token, k.prefix, *lease.paths]
        return Released.of(await self._run(self._release, keys, args))

    async def release_task(self, task: str) -> "Released":
        """Free whatever the task holds, under any token, and stop it waiting."""
        k = self.keys
        keys = [k.held(task), k.lockers, k.waiting, k.wants(task)]
        return Released.of(await self._run(self._release_task, keys, [task, k.prefix]))

    async def holders(self, paths: Sequence[str]) -> dict[str, str]:
        """{path: task} for the paths that are held now."""
        norm = self._paths(paths)
        if not norm:
            return {}
        try:
            values = await self.redis.mget([self.keys.lock(p) for p in norm])
        except RedisError as exc:
            raise BackendError(f"Redis failed during a lock operation: {exc}") from exc
        return {p: _text(v).split(" ", 1)[0] for p, v in zip(norm, values, strict=True) if v}

    async def reap(self) -> list[str]:
        """Drop index entries of expired locks; returns the waiters to wake (see `Released`)."""
        k = self.keys
        _, ready = await self._run(self._reap, [k.lockers, k.waiting], [k.prefix])
        return _texts(ready)

    @asynccontextmanager
    async def keep_alive(self, lease: Lease, ttl_s: float) -> AsyncIterator[asyncio.Event]:
        """Renew the lease every third of its TTL while the body runs.

        If a renewal finds the lease lost, the returned event is set and the body is
        cancelled; leaving the block then raises `LockLost` instead of `CancelledError`.
        """
        lost = asyncio.Event()
        body = asyncio.current_task()
        failure: list[LockLost] = []

        async def renew() -> None:
            loop = asyncio.get_running_loop()
            deadline = last_ok = loop.time()
            while True:
                deadline += ttl_s / 3  # monotonic schedule: no drift from slow renewals
                await asyncio.sleep(max(0.0, deadline - loop.time()))
                try:
                    await self.extend(lease, ttl_s)
                    last_ok = loop.time()
                except LockLost as exc:
                    failure.append(exc)
                except BackendError:
                    # Redis hiccup: keep trying while the last renewal still covers us.
                    if loop.time() - last_ok >= ttl_s:
                        failure.append(LockLost(list(lease.paths)))
                if failure:
                    lost.set()
                    if body is not None:
                        body.cancel()
                    return

        renewer = asyncio.create_task(renew())
        try:
            yield lost
        except asyncio.CancelledError:
            if failure and body is not None and body.uncancel() == 0:
                raise failure[0] from None
            raise
        finally:
            renewer.cancel()
            try:
                await renewer
            except asyncio.CancelledError:
                pass
        if failure:
            raise failure[0]
