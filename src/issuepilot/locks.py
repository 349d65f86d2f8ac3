r"""Redis file locks: all or nothing, owned, renewable, fair, never leaked.

Layout (see `keys.py`): seven keys per repository, under its hash tag, named in every
script's KEYS (as Redis Cluster requires), with members read by score or name range so
that no operation's cost grows with the locks or waiters of other files:

- `locks`        hash path -> "<task> <token> <until>": who holds a path, until when (ms
                 of server time). A lock whose time has passed is free, reaped or not.
- `expiry`       sorted set path -> until: `reap` reads only its lapsed front.
- `held`         "<task>\0<path>" by name: what a task holds (`release_task`).
- `waiting`      sorted set task -> its place in line.
- `wanted`       "<task>\0<path>" by name: the paths a waiting task wants.
- `waiters`      "<path>\0<task>" by name: who waits for a path, so a release looks only
                 at the waiters of what it frees.
- `wait_expiry`  sorted set task -> when its wait lapses, a day after it last asked.

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
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisClusterException, RedisError

from .errors import BackendError, InputError, IssuePilotError
from .keys import Keys
from .models import holders_text
from .paths import normalize_path

TASK_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
WANTS_TTL_MS = 24 * 3600 * 1000  # a waiter that never comes back stops counting after a day

# Shared by every script: the keys, the server's clock, and the helpers. Index members
# join a name and a path with a NUL byte, which no path or task id contains, so the
# members of one name are the range ["<name>\0", "<name>\1").
_LUA_COMMON = """
local LOCKS, EXPIRY, HELD, WAITING, WANTED, WAITERS, WAIT_EXPIRY = unpack(KEYS, 1, 7)
local NUL, SOH = string.char(0), string.char(1)
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

local function after(list, n)
  local rest = {}
  for i = n + 1, #list do rest[i - n] = list[i] end
  return rest
end
-- Lua's unpack is limited to a few thousand values: write in slices of a thousand.
local function batch(command, key, args)
  for i = 1, #args, 1000 do
    redis.call(command, key, unpack(args, i, math.min(i + 999, #args)))
  end
end
local function lock_values(paths)
  local values = {}
  for i = 1, #paths, 1000 do
    local got = redis.call('HMGET', LOCKS, unpack(paths, i, math.min(i + 999, #paths)))
    for j = 1, #got do values[i + j - 1] = got[j] end
  end
  return values
end
-- A lock value "<task> <token> <until>" as holder "<task> <token>" and until; nil if none.
local function parse(v)
  if not v then return nil end
  local holder, until_ms = string.match(v, '^(.+) (%d+)$')
  return holder, tonumber(until_ms)
end
local function live(v)
  local holder, until_ms = parse(v)
  if holder and until_ms > now then return holder end
end
local function owner(holder) return string.match(holder, '^(%S+) ') end
-- The other halves of an index's members "<name> NUL <other>" for one name.
local function under(index, name)
  local found = {}
  for _, m in ipairs(redis.call('ZRANGEBYLEX', index, '[' .. name .. NUL, '(' .. name .. SOH)) do
    table.insert(found, string.sub(m, #name + 2))
  end
  return found
end
-- Drop the locks on `paths`, held by `tasks` (one per path).
local function drop(paths, tasks)
  local members = {}
  for i, path in ipairs(paths) do members[i] = tasks[i] .. NUL .. path end
  batch('HDEL', LOCKS, paths)
  batch('ZREM', EXPIRY, paths)
  batch('ZREM', HELD, members)
end
-- Leave the waiting line; returns the paths the task wanted.
local function leave(task)
  local paths = under(WANTED, task)
  local members = {}
  for i, path in ipairs(paths) do members[i] = path .. NUL .. task end
  batch('ZREM', WAITERS, members)
  redis.call('ZREMRANGEBYLEX', WANTED, '[' .. task .. NUL, '(' .. task .. SOH)
  redis.call('ZREM', WAITING, task)
  redis.call('ZREM', WAIT_EXPIRY, task)
  return paths
end
-- Wait for `paths`: a newcomer joins behind everyone (strictly increasing places), a task
-- asking again keeps its place with its new wants.
local function join(task, paths)
  local place = redis.call('ZSCORE', WAITING, task)
  -- `under` lists paths in byte order, as `paths` comes
  if place and table.concat(under(WANTED, task), NUL) == table.concat(paths, NUL) then
    redis.call('ZADD', WAIT_EXPIRY, now + WANTS_TTL_MS, task)  -- the same wants: a day more
    return
  end
  if place then
    leave(task)
  else
    place = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
    local last = redis.call('ZRANGE', WAITING, -1, -1, 'WITHSCORES')
    if last[2] and tonumber(last[2]) >= place then place = tonumber(last[2]) + 1 end
  end
  redis.call('ZADD', WAITING, place, task)
  redis.call('ZADD', WAIT_EXPIRY, now + WANTS_TTL_MS, task)
  local wanted, waiters = {}, {}
  for _, path in ipairs(paths) do
    table.insert(wanted, 0); table.insert(wanted, task .. NUL .. path)
    table.insert(waiters, 0); table.insert(waiters, path .. NUL .. task)
  end
  batch('ZADD', WANTED, wanted)
  batch('ZADD', WAITERS, waiters)
end
-- The waiters of the `freed` paths whose wanted paths are all free, oldest first, leaving
-- out one that wants a path an older ready waiter wants too (it would only lose the race).
-- The older rivals are the other waiters of the same paths: they are weighed, but only
-- waiters of `freed` are returned, as only they saw something change.
local function ready_waiters(freed)
  local asked, tasks, wants, place, looked = {}, {}, {}, {}, {}
  local function weigh(task)
    if wants[task] then return end
    wants[task] = under(WANTED, task)
    local score = redis.call('ZSCORE', WAITING, task)
    if score then place[task] = tonumber(score); table.insert(tasks, task) end
  end
  local function waiters_of(path)
    if looked[path] then return {} end
    looked[path] = true
    return under(WAITERS, path)
  end
  for _, path in ipairs(freed) do
    for _, task in ipairs(waiters_of(path)) do asked[task] = true; weigh(task) end
  end
  for task in pairs(asked) do
    for _, path in ipairs(wants[task]) do
      for _, rival in ipairs(waiters_of(path)) do weigh(rival) end
    end
  end
  table.sort(tasks, function(a, b) return place[a] < place[b] end)
  local ready, claimed = {}, {}
  for _, task in ipairs(tasks) do
    local paths = wants[task]
    local values = lock_values(paths)
    local free = #paths > 0
    for i, path in ipairs(paths) do
      local holder = live(values[i])
      if claimed[path] or (holder and owner(holder) ~= task) then free = false; break end
    end
    if free then
      for _, path in ipairs(paths) do claimed[path] = true end
      if asked[task] then table.insert(ready, task) end
    end
  end
  return ready
end
""".replace("WANTS_TTL_MS", str(WANTS_TTL_MS))

# KEYS: the lock keys   ARGV: task, token, ttl_ms, paths...
# returns {1} when every path is now the caller's, or {0, {path, holder, ...}} and nothing
# written but the caller's place in the waiting line.
_ACQUIRE = (
    _LUA_COMMON
    + """
local task, token, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local me = task .. ' ' .. token
local paths = after(ARGV, 3)
local values = lock_values(paths)
local conflicts, mine, lapsed = {}, 0, {}
for i, path in ipairs(paths) do
  local holder = live(values[i])
  if holder == me then mine = mine + 1
  elseif holder then table.insert(conflicts, path); table.insert(conflicts, owner(holder))
  elseif values[i] then table.insert(lapsed, owner(parse(values[i])) .. NUL .. path) end
end
if #conflicts > 0 then
  join(task, paths)
  return {0, conflicts}
end
if mine == #paths then return {1} end  -- a retry of a grant that took effect: write nothing
batch('ZREM', HELD, lapsed)  -- before the new entries: a lapsed holder may be this task
local value = me .. ' ' .. (now + ttl)
local fields, scores, members = {}, {}, {}
for _, path in ipairs(paths) do
  table.insert(fields, path); table.insert(fields, value)
  table.insert(scores, now + ttl); table.insert(scores, path)
  table.insert(members, 0); table.insert(members, task .. NUL .. path)
end
batch('HSET', LOCKS, fields)
batch('ZADD', EXPIRY, scores)
batch('ZADD', HELD, members)
if redis.call('ZSCORE', WAITING, task) then leave(task) end
return {1}
"""
)

# KEYS: the lock keys   ARGV: task, token, ttl_ms, paths...   returns the paths lost
_EXTEND = (
    _LUA_COMMON
    + """
local me, ttl = ARGV[1] .. ' ' .. ARGV[2], tonumber(ARGV[3])
local paths = after(ARGV, 3)
local values = lock_values(paths)
local lost = {}
for i, path in ipairs(paths) do
  if live(values[i]) ~= me then table.insert(lost, path) end
end
if #lost > 0 then return lost end
local value = me .. ' ' .. (now + ttl)
local fields, scores = {}, {}
for _, path in ipairs(paths) do
  table.insert(fields, path); table.insert(fields, value)
  table.insert(scores, now + ttl); table.insert(scores, path)
end
batch('HSET', LOCKS, fields)
batch('ZADD', EXPIRY, scores)
return lost
"""
)

# KEYS: the lock keys   ARGV: task, token, paths...
# returns {paths freed, waiters to wake}; lapsed locks of the lease are cleared too.
_RELEASE = (
    _LUA_COMMON
    + """
local task, token = ARGV[1], ARGV[2]
local me = task .. ' ' .. token
local paths = after(ARGV, 2)
local values = lock_values(paths)
local mine, tasks, released = {}, {}, {}
for i, path in ipairs(paths) do
  local holder, until_ms = parse(values[i])
  if holder == me then
    table.insert(mine, path); table.insert(tasks, task)
    if until_ms > now then table.insert(released, path) end
  end
end
if #mine == 0 then return {released, {}} end
drop(mine, tasks)
return {released, ready_waiters(mine)}
"""
)

# KEYS: the lock keys   ARGV: task   returns {paths freed, waiters to wake}
_RELEASE_TASK = (
    _LUA_COMMON
    + """
local task = ARGV[1]
local paths = under(HELD, task)
local values = lock_values(paths)
local mine, tasks, released = {}, {}, {}
for i, path in ipairs(paths) do
  local holder, until_ms = parse(values[i])
  if holder and owner(holder) == task then
    table.insert(mine, path); table.insert(tasks, task)
    if until_ms > now then table.insert(released, path) end
  end
end
drop(mine, tasks)
redis.call('ZREMRANGEBYLEX', HELD, '[' .. task .. NUL, '(' .. task .. SOH)
if redis.call('ZSCORE', WAITING, task) then
  for _, path in ipairs(leave(task)) do table.insert(mine, path) end  -- its claims end too
end
return {released, ready_waiters(mine)}
"""
)

# KEYS: the lock keys   ARGV: none   returns {locks dropped, waiters to wake}
_REAP = (
    _LUA_COMMON
    + """
local lapsed = redis.call('ZRANGEBYSCORE', EXPIRY, '-inf', now)
local values = lock_values(lapsed)
local paths, tasks, orphans = {}, {}, {}
for i, path in ipairs(lapsed) do
  local holder, until_ms = parse(values[i])
  if not holder then table.insert(orphans, path)
  elseif until_ms <= now then table.insert(paths, path); table.insert(tasks, owner(holder)) end
end
batch('ZREM', EXPIRY, orphans)
drop(paths, tasks)
local dropped = #paths
for _, task in ipairs(redis.call('ZRANGEBYSCORE', WAIT_EXPIRY, '-inf', now)) do
  for _, path in ipairs(leave(task)) do table.insert(paths, path) end  -- its claims end
end
return {dropped, ready_waiters(paths)}
"""
)

# KEYS: the lock keys   ARGV: paths...   returns {path, task, ...} for the held paths
_HOLDERS = (
    _LUA_COMMON
    + """
local values = lock_values(ARGV)
local found = {}
for i, path in ipairs(ARGV) do
  local holder = live(values[i])
  if holder then table.insert(found, path); table.insert(found, owner(holder)) end
end
return found
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

    `ready` lists, oldest first, the waiters of the files freed (or no longer wanted) whose
    files are all free now, leaving out any that wants a file an older ready waiter wants
    too (waking it would only lose that race). Waiters of other files are not looked at:
    nothing changed for them.
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

    def __init__(self, redis: Redis | RedisCluster, repo: str) -> None:
        self.redis = redis
        self.keys = Keys(repo)
        self._acquire = redis.register_script(_ACQUIRE)
        self._extend = redis.register_script(_EXTEND)
        self._release = redis.register_script(_RELEASE)
        self._release_task = redis.register_script(_RELEASE_TASK)
        self._reap = redis.register_script(_REAP)
        self._holders = redis.register_script(_HOLDERS)

    def _paths(self, paths: Sequence[str]) -> list[str]:
        return sorted({normalize_path(p) for p in paths})

    async def _run(self, script: Any, args: list[Any]) -> Any:
        try:
            return await script(keys=self.keys.lock_keys, args=args)
        except (RedisError, RedisClusterException) as exc:
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
        reply = await self._run(self._acquire, [task, token, max(1, int(ttl_s * 1000)), *norm])
        if int(reply[0]) == 1:
            return Lease(task, token, tuple(norm))
        flat = _texts(reply[1])
        raise LockConflict(dict(zip(flat[::2], flat[1::2], strict=True)))

    async def extend(self, lease: Lease, ttl_s: float) -> None:
        """Push the time of every path of the lease, or raise `LockLost` and extend none."""
        args = [lease.task, lease.token, max(1, int(ttl_s * 1000)), *lease.paths]
        lost = _texts(await self._run(self._extend, args))
        if lost:
            raise LockLost(lost)

    async def release(self, lease: Lease) -> "Released":
        """Free the paths this lease still holds. Safe to repeat."""
        args = [lease.task, lease.token, *lease.paths]
        return Released.of(await self._run(self._release, args))

    async def release_task(self, task: str) -> "Released":
        """Free whatever the task holds, under any token, and stop it waiting."""
        return Released.of(await self._run(self._release_task, [task]))

    async def holders(self, paths: Sequence[str]) -> dict[str, str]:
        """{path: task} for the paths that are held now."""
        norm = self._paths(paths)
        if not norm:
            return {}
        flat = _texts(await self._run(self._holders, norm))
        return dict(zip(flat[::2], flat[1::2], strict=True))

    async def reap(self) -> list[str]:
        """Drop the locks whose time has passed and the waits that lapsed; returns the
        waiters to wake (see `Released`). Its cost follows what lapsed, not what is held."""
        _, ready = await self._run(self._reap, [])
        return _texts(ready)

    def keep_alive(self, lease: Lease, ttl_s: float) -> AbstractAsyncContextManager[asyncio.Event]:
        return renewing(self, lease, ttl_s)


class Renewable(Protocol):
    async def extend(self, lease: Lease, ttl_s: float) -> None: ...


@asynccontextmanager
async def renewing(locks: "Renewable", lease: Lease, ttl_s: float) -> AsyncIterator[asyncio.Event]:
    """`keep_alive` for any lock manager: renew the lease every third of its TTL while the
    body runs.

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
                await locks.extend(lease, ttl_s)
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
