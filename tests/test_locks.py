import asyncio
from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import TypeVar

import pytest
from redis.asyncio import Redis

from issuepilot.errors import BackendError
from issuepilot.keys import Keys
from issuepilot.locks import FileLocks, LockConflict, LockLost
from issuepilot.testing.redis_server import ThrowawayRedis, commands_run
from issuepilot.wiring import connect_redis

from .conftest import lapse_locks, single_and_cluster

T = TypeVar("T")


@pytest.fixture(params=["single", "cluster"])
def redis_url(request: pytest.FixtureRequest, redis_url: str) -> str:
    return single_and_cluster(request, redis_url)


@pytest.fixture(params=[False, True], ids=["bytes", "decoded"])
async def locks(
    request: pytest.FixtureRequest, redis_url: str, repo: str
) -> AsyncIterator[FileLocks]:
    client = await connect_redis(redis_url, decode_responses=request.param)
    yield FileLocks(client, repo)
    await client.aclose()


async def held(redis: Redis, repo: str) -> set[str]:
    """The held index as "<task> <path>"."""
    members = await redis.zrange(Keys(repo).held, 0, -1)
    return {m.decode().replace("\0", " ") for m in members}


async def test_overlapping_sets_one_wins_and_loser_takes_nothing(
    locks: FileLocks, redis: Redis, repo: str
) -> None:
    await locks.acquire("1", ["a.py", "b.py"], ttl_s=30)
    with pytest.raises(LockConflict) as info:
        await locks.acquire("2", ["b.py", "z.py"], ttl_s=30)
    assert info.value.holders == {"b.py": "1"}
    assert await locks.holders(["z.py"]) == {}
    assert await redis.hlen(Keys(repo).locks) == 2
    assert await held(redis, repo) == {"1 a.py", "1 b.py"}


async def test_retry_with_same_token_is_a_no_op(locks: FileLocks, redis: Redis, repo: str) -> None:
    first = await locks.acquire("7", ["a.py", "b.py"], ttl_s=30, token="tok")
    until = await redis.zscore(Keys(repo).expiry, "a.py")
    again = await locks.acquire("7", ["b.py", "./a.py"], ttl_s=300, token="tok")
    assert again == first
    assert await redis.zscore(Keys(repo).expiry, "a.py") == until  # nothing was written


async def test_reap_drops_the_entries_of_lapsed_locks(
    locks: FileLocks, redis: Redis, repo: str
) -> None:
    await locks.acquire("1", ["a.py"], ttl_s=30)
    await locks.acquire("2", ["b.py"], ttl_s=30)
    await lapse_locks(redis, repo, ["a.py"])
    await locks.reap()
    keys = Keys(repo)
    assert await held(redis, repo) == {"2 b.py"}
    assert await redis.zrange(keys.expiry, 0, -1) == [b"b.py"]
    assert await redis.hkeys(keys.locks) == [b"b.py"]


async def test_a_lapsed_lock_taken_by_another_leaves_no_entry_of_its_old_holder(
    locks: FileLocks, redis: Redis, repo: str
) -> None:
    await locks.acquire("1", ["a.py", "b.py"], ttl_s=30)
    await lapse_locks(redis, repo, ["a.py"])
    await locks.acquire("2", ["a.py"], ttl_s=30)
    assert await held(redis, repo) == {"1 b.py", "2 a.py"}
    assert (await locks.release_task("1")).paths == ["b.py"]
    assert await locks.holders(["a.py", "b.py"]) == {"a.py": "2"}


async def test_waits_lapse_after_a_day(locks: FileLocks, redis: Redis, repo: str) -> None:
    keys = Keys(repo)
    await locks.acquire("1", ["b.py"], ttl_s=30)
    for task in ("2", "3"):
        with pytest.raises(LockConflict):
            await locks.acquire(task, ["b.py"], ttl_s=30)
    lock_until = await redis.zscore(keys.expiry, "b.py")
    assert await redis.zscore(keys.wait_expiry, "2") - lock_until > 23 * 3600 * 1000
    assert (await locks.release_task("1")).ready == ["2"]
    await redis.zadd(keys.wait_expiry, {"2": 0})  # 2 never came back, and a day passed
    # 2 stops waiting: 3, behind it for b.py, is next; nothing of 2's wait is left.
    assert await locks.reap() == ["3"]
    assert await redis.zrange(keys.waiting, 0, -1) == [b"3"]
    assert await redis.zrange(keys.waiters, 0, -1) == [b"b.py\x003"]


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
            await redis.hdel(locks.keys.locks, "a.py")  # taken away behind our back
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


@pytest.fixture(scope="module")
def quiet_url() -> Iterator[str]:
    """A server of its own: INFO commandstats then counts only what the test did."""
    with ThrowawayRedis() as server:
        yield server.url


@pytest.fixture
async def quiet(quiet_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(quiet_url)
    yield client
    await client.aclose()


async def crowd(locks: FileLocks, holders: int, waiters: int) -> None:
    """`holders` tasks of ten paths each, and `waiters` tasks each waiting for one of them."""
    for t in range(holders):
        await locks.acquire(f"h{t}", [f"held/{t}/{i}.py" for i in range(10)], ttl_s=300)
    for w in range(waiters):
        with pytest.raises(LockConflict):
            await locks.acquire(f"w{w}", [f"held/{w % holders}/0.py", f"own/{w}.py"], 300)


async def cost(redis: Redis, call: Awaitable[T]) -> tuple[T, int]:
    """What `call` returned, and how many commands the server ran for it."""
    before = await commands_run(redis)
    result = await call
    return result, await commands_run(redis) - before


async def test_reap_visits_only_the_lapsed_locks(quiet: Redis) -> None:
    locks = FileLocks(quiet, "flat/reap")
    await crowd(locks, holders=100, waiters=1)  # 1,000 locks; w0 waits for held/0/0.py
    await lapse_locks(quiet, "flat/reap", ["held/0/0.py"])
    ready, commands = await cost(quiet, locks.reap())
    assert ready == ["w0"]
    assert commands < 30  # walking the 1,000 locks took over 2,000
    assert await quiet.zcard(locks.keys.held) == 999


async def test_release_looks_only_at_the_waiters_of_what_it_frees(quiet: Redis) -> None:
    locks = FileLocks(quiet, "flat/release")
    await crowd(locks, holders=100, waiters=1000)  # ten waiters for each task's 0.py
    lease = await locks.acquire("mine", [f"mine/{i}.py" for i in range(10)], ttl_s=300)
    with pytest.raises(LockConflict):
        await locks.acquire("next", ["mine/3.py"], ttl_s=300)
    released, commands = await cost(quiet, locks.release(lease))
    assert released.ready == ["next"]
    assert commands < 40  # the whole waiting line took over 3,000
    released, commands = await cost(quiet, locks.release_task("h7"))
    assert released.ready == ["w7"]  # the oldest of its ten waiters
    assert commands < 100
