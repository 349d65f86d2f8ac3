"""`connect_redis`: one server, or a Redis Cluster named by the URL or found by asking."""

import itertools

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot
from redis.exceptions import MovedError

from issuepilot.errors import BackendError, InputError
from issuepilot.keys import Keys
from issuepilot.locks import FileLocks
from issuepilot.machine import TaskState
from issuepilot.models import Task
from issuepilot.store import RedisTaskStore
from issuepilot.testing.redis_server import ThrowawayRedis
from issuepilot.wiring import connect_redis


def repo_in_last_slots() -> str:
    """A repository whose keys live in the last third of the slots: on the third node of
    the throwaway cluster, never on the first, which its URL names."""
    for n in itertools.count():
        repo = f"test/slot-{n}"
        if key_slot(Keys(repo).locks.encode()) >= 2 * 16384 // 3:
            return repo
    raise AssertionError("unreachable")


async def use(redis: Redis | RedisCluster, repo: str) -> None:
    """Every kind of call the store and the locks make, on one repository."""
    locks, store = FileLocks(redis, repo), RedisTaskStore(redis, repo)
    lease = await locks.acquire("1", ["a.py", "b.py"], ttl_s=30)
    assert await locks.holders(["a.py"]) == {"a.py": "1"}
    assert (await locks.release(lease)).paths == ["a.py", "b.py"]
    assert await locks.reap() == []
    task = await store.commit(Task(issue=1, state=TaskState.QUEUED))
    assert task is not None and await store.load_many([1, 2]) == {1: task}
    assert await store.live() == [1]
    assert await store.ensure_flag(Keys(repo).record_key, "k") == "k"
    await redis.delete(*Keys(repo).lock_keys, Keys(repo).task(1), Keys(repo).tasks)


async def test_a_repository_on_another_node_of_the_cluster(cluster_url: str) -> None:
    repo = repo_in_last_slots()
    first_node = Redis.from_url(cluster_url.replace("+cluster", ""))
    with pytest.raises(BackendError) as info:  # a plain client is sent elsewhere
        await FileLocks(first_node, repo).acquire("1", ["a.py"], ttl_s=30)
    assert isinstance(info.value.__cause__, MovedError)
    await first_node.aclose()
    cluster = await connect_redis(cluster_url)
    assert isinstance(cluster, RedisCluster)
    await use(cluster, repo)
    await cluster.aclose()


async def test_a_cluster_is_found_behind_a_plain_url(cluster_url: str) -> None:
    found = await connect_redis(cluster_url.replace("redis+cluster://", "redis://"))
    assert isinstance(found, RedisCluster)
    await use(found, repo_in_last_slots())
    await found.aclose()


async def test_a_single_server_stays_a_single_server(redis_url: str) -> None:
    single = await connect_redis(redis_url)
    assert isinstance(single, Redis)
    await single.aclose()


async def test_a_server_that_refuses_info_is_a_single_server() -> None:
    with ThrowawayRedis() as server:
        admin = Redis.from_url(server.url)
        await admin.acl_setuser("pilot", enabled=True, passwords=["+pw"], keys=["*"])
        await admin.execute_command("ACL", "SETUSER", "pilot", "+@all", "-info")
        await admin.aclose()
        client = await connect_redis(server.url.replace("://", "://pilot:pw@"))
        assert isinstance(client, Redis)
        await use(client, "test/no-info")
        await client.aclose()


async def test_bad_and_unreachable_urls_are_named() -> None:
    with pytest.raises(InputError, match="not a valid Redis URL"):
        await connect_redis("http://127.0.0.1:1")
    for url in ("redis://127.0.0.1:1", "redis+cluster://127.0.0.1:1"):
        with pytest.raises(BackendError, match="cannot reach Redis at 127.0.0.1"):
            await connect_redis(url)
