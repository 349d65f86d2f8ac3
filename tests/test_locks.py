import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from issuepilot.errors import BackendError
from issuepilot.keys import Keys
from issuepilot.locks import FileLocks, LockConflict, LockLost
from issuepilot.testing.redis_server import ThrowawayRedis

from .conftest import repo_keys


@pytest.fixture(params=[False, True], ids=["bytes", "decoded"])
async def locks(
    request: pytest.FixtureRequest, redis_url: str, repo: str
) -> AsyncIterator[FileLocks]:
    client = Redis.from_url(redis_url, decode_responses=request.param)
    yield FileLocks(client, repo)
    await client.aclose()


async def lock_keys(redis: Redis, repo: str) -> set[str]:
    return {k for k in await repo_keys(redis, repo) if ":lock:" in k}


async def test_overlapping_sets_one_wins_and_loser_takes_nothing(
    locks: FileLocks, redis: Redis, repo: str
) -> None:
    await locks.acquire("1", ["a.py", "b.py"], ttl_s=30)
    with pytest.raises(LockConflict) as info:
        await locks.acquire("2", ["b.py", "z.py"], ttl_s=30)
    assert info.value.holders == {"b.py": "1"}
    assert await locks.holders(["z.py"]) == {}
    assert len(await lock_keys(redis, repo)) == 2
    assert not await redis.exists(Keys(repo).held("2"))


async def test_retry_with_same_token_is_a_no_op(locks: FileLocks, redis: Redis, repo: str) -> None:
    first = await locks.acquire("7", ["a.py", "b.py"], ttl_s=30, token="tok")
    ttl = await redis.pttl(Keys(repo).lock("a.py"))
    again = await locks.acquire("7", ["b.py", "./a.py"], ttl_s=300, token="tok")
    assert again == first
    assert await redis.pttl(Keys(repo).lock("a.py")) <= ttl  # nothing was written


async def test_reap_drops_index_entries_of_expired_locks(
    locks: FileLocks, redis: Redis, repo: str
) -> None:
    await locks.acquire("1", ["a.py"], ttl_s=0.05)
    await locks.acquire("2", ["b.py"], ttl_s=30)
    while await locks.holders(["a.py"]):
        await asyncio.sleep(0.01)
    await locks.reap()
    keys = Keys(repo)
    assert await redis.smembers(keys.lockers) == {b"2"}
    assert not await redis.exists(keys.held("1"))


async def test_cancellation_mid_call_leaves_all_or_nothing(
    locks: FileLocks, redis: Redis, repo: str
) -> None:
    paths = [f"p{i}.py" for i in range(20)]
    for delay in range(8):
        call = asyncio.create_task(locks.acquire("1", paths, ttl_s=30, token=f"t{delay}"))
        for _ in range(delay):
            await asyncio.sleep(0)
        call.cancel()
        try:
            await call
        except asyncio.CancelledError:
            pass
        held = await locks.holders(paths)
        assert len(held) in (0, 20)
        if held:
            # The reply was lost, not the write: the same token takes it again as a no-op.
            lease = await locks.acquire("1", paths, ttl_s=30, token=f"t{delay}")
            release = asyncio.create_task(locks.release(lease))
            for _ in range(delay):
                await asyncio.sleep(0)
            release.cancel()
            try:
                await release
            except asyncio.CancelledError:
                pass
            assert len(await locks.holders(paths)) in (0, 20)
            await locks.release(lease)
        assert await locks.holders(paths) == {}


async def test_keep_alive_renews_and_stops_the_body_when_lost(redis: Redis, repo: str) -> None:
    """Renewal runs on a real schedule: the one test here that must let time pass."""
    locks = FileLocks(redis, repo)
    lease = await locks.acquire("1", ["a.py"], ttl_s=0.6)
    async with locks.keep_alive(lease, ttl_s=0.6) as lost:
        await asyncio.sleep(1.8)  # three TTLs: only renewal keeps the lock
        assert not lost.is_set()
    assert await locks.holders(["a.py"]) == {"a.py": "1"}

    async def step() -> None:
        async with locks.keep_alive(lease, ttl_s=0.3):
            await redis.delete(locks.keys.lock("a.py"))  # taken away behind our back
            await asyncio.sleep(5)

    with pytest.raises(LockLost):
        await asyncio.wait_for(step(), timeout=3)


async def test_redis_restart_while_locks_are_held() -> None:
    with ThrowawayRedis() as server:
        client = Redis.from_url(server.url)
        locks = FileLocks(client, "o/r")
        before = await locks.acquire("1", ["a.py", "b.py"], ttl_s=30)
        server.stop()
        with pytest.raises(BackendError, match="Redis"):
            await locks.acquire("2", ["a.py"], ttl_s=30)
        server.start()
        # Everything was lost with the server: the old lease is told, never silently kept.
        with pytest.raises(LockLost):
            await locks.extend(before, ttl_s=30)
        after = await locks.acquire("2", ["a.py"], ttl_s=30)
        assert after.token != before.token
        assert (await locks.release(before)).paths == []  # the old holder cannot free it
        with pytest.raises(LockConflict):
            await locks.acquire("1", ["a.py"], ttl_s=30)
        await client.aclose()
