"""The task store: one Redis hash per task, every write a compare-and-set on `version`.

Two runs racing on one task produce exactly one write: the loser's `commit` returns None
and it exits with "already advanced". Steps see only the `TaskStore` protocol, so another
backend (GitHub-only, say) can stand in without touching them.
"""

from typing import Any, Protocol

from pydantic import ValidationError
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisClusterException, RedisError

from .errors import BackendError
from .keys import Keys
from .machine import FINAL
from .models import Task

KEEP_FINISHED_S = 30 * 24 * 3600.0
# What a failing server raises; the cluster client raises the second when no node answers.
REDIS_FAILURES = (RedisError, RedisClusterException)

# KEYS: task, index   ARGV: expected version, record JSON, state, issue, keep_ms (0: live)
# returns the new version, or 0 when the stored version is not the expected one.
# A finished record, once settled, leaves the live index and expires after keep_ms; any
# later write (a restart) makes it permanent again.
_COMMIT = """
local v = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if v ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'version', v + 1, 'state', ARGV[3], 'data', ARGV[2])
if ARGV[5] == '0' then
  redis.call('ZADD', KEYS[2], tonumber(ARGV[4]), ARGV[4])
  redis.call('PERSIST', KEYS[1])
else
  redis.call('ZREM', KEYS[2], ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
end
return v + 1
"""


class TaskStore(Protocol):
    # Whether what it keeps is secret: only then may it keep the key that signs records.
    private: bool
    name: str  # where it keeps them, for people: "Redis", "the ledger (branch issuepilot/ledger)"

    async def load(self, issue: int) -> Task | None: ...
    async def load_many(self, issues: list[int]) -> dict[int, Task]: ...
    async def commit(self, task: Task) -> Task | None: ...
    async def live(self) -> list[int]: ...
    async def get_flag(self, key: str) -> str | None: ...
    async def set_flag(self, key: str, value: str, ttl_s: float | None) -> None: ...
    async def ensure_flag(self, key: str, value: str) -> str: ...


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisTaskStore:
    """Task records in Redis. A finished task (DONE, CANCELLED) stays in the live index
    until it is settled (GitHub shows its end, its files are free), is kept
    `keep_finished_s` longer, then forgotten: its status comment still holds the record."""

    private = True
    name = "Redis"

    def __init__(
        self, redis: Redis | RedisCluster, repo: str, keep_finished_s: float = KEEP_FINISHED_S
    ) -> None:
        self.redis = redis
        self.keys = Keys(repo)
        self.keep_finished_ms = max(1, int(keep_finished_s * 1000))
        self._commit = redis.register_script(_COMMIT)

    async def load(self, issue: int) -> Task | None:
        return (await self.load_many([issue])).get(issue)

    async def load_many(self, issues: list[int]) -> dict[int, Task]:
        """The records of `issues` that exist, in one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        for issue in issues:
            pipe.hmget(self.keys.task(issue), ["version", "data"])
        try:
            replies = await pipe.execute() if issues else []
        except REDIS_FAILURES as exc:
            raise BackendError(f"cannot read tasks from Redis: {exc}") from exc
        found = {}
        for issue, (version, data) in zip(issues, replies, strict=True):
            if data is None:
                continue
            try:
                task = Task.model_validate_json(_text(data))
            except ValidationError:
                raise BackendError(f"the Redis record of task #{issue} is corrupt") from None
            found[issue] = task.model_copy(update={"version": int(_text(version))})
        return found

    async def commit(self, task: Task) -> Task | None:
        """Write `task` if the stored version is still `task.version`; None if it moved on."""
        keep = self.keep_finished_ms if task.state in FINAL and task.settled else 0
        args: list[str | int] = [task.version, task.to_json(), str(task.state), task.issue, keep]
        try:
            new = int(
                await self._commit(keys=[self.keys.task(task.issue), self.keys.tasks], args=args)
            )
        except REDIS_FAILURES as exc:
            raise BackendError(f"cannot write task #{task.issue} to Redis: {exc}") from exc
        return task.model_copy(update={"version": new}) if new else None

    async def live(self) -> list[int]:
        try:
            return [int(_text(n)) for n in await self.redis.zrange(self.keys.tasks, 0, -1)]
        except REDIS_FAILURES as exc:
            raise BackendError(f"cannot list tasks in Redis: {exc}") from exc

    async def get_flag(self, key: str) -> str | None:
        try:
            value = await self.redis.get(key)
        except REDIS_FAILURES as exc:
            raise BackendError(f"Redis failed: {exc}") from exc
        return None if value is None else _text(value)

    async def set_flag(self, key: str, value: str, ttl_s: float | None) -> None:
        try:
            await self.redis.set(key, value, px=int(ttl_s * 1000) if ttl_s else None)
        except REDIS_FAILURES as exc:
            raise BackendError(f"Redis failed: {exc}") from exc

    async def ensure_flag(self, key: str, value: str) -> str:
        """The flag's value, set to `value` first if it had none (the first writer wins)."""
        try:
            await self.redis.set(key, value, nx=True)
            current = await self.redis.get(key)
        except REDIS_FAILURES as exc:
            raise BackendError(f"Redis failed: {exc}") from exc
        return value if current is None else _text(current)
