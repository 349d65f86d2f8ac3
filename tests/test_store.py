import pytest
from redis.asyncio import Redis

from issuepilot.keys import Keys
from issuepilot.machine import TaskState
from issuepilot.models import Task
from issuepilot.store import RedisTaskStore

from .conftest import single_and_cluster

S = TaskState


@pytest.fixture(params=["single", "cluster"])
def redis_url(request: pytest.FixtureRequest, redis_url: str) -> str:
    return single_and_cluster(request, redis_url)


async def test_corrupt_record_is_a_clear_error(redis: Redis, repo: str) -> None:
    await redis.hset(Keys(repo).task(3), mapping={"version": 1, "data": "{oops"})
    store = RedisTaskStore(redis, repo)
    try:
        await store.load(3)
    except Exception as exc:
        assert "corrupt" in str(exc)
    else:
        raise AssertionError("a corrupt record must not load")


async def test_finished_records_expire_until_written_again(redis: Redis, repo: str) -> None:
    store, key = RedisTaskStore(redis, repo, keep_finished_s=3600), Keys(repo).task(4)
    task = await store.commit(Task(issue=4, state=S.QUEUED))
    assert task is not None and await redis.pttl(key) == -1
    task = await store.commit(task.model_copy(update={"state": S.FAILED}))
    assert task is not None and await redis.pttl(key) == -1  # a retry may resume it
    assert await store.live() == [4]
    for final in (S.DONE, S.CANCELLED):
        task = await store.commit(task.model_copy(update={"state": final}))
        assert task is not None and await redis.pttl(key) == -1  # until it is settled
        assert await store.live() == [4]
        task = await store.commit(task.model_copy(update={"settled": True}))
        assert task is not None and 3_500_000 < await redis.pttl(key) <= 3_600_000
        assert await store.live() == []
        restart = {"state": S.QUEUED, "settled": False}
        task = await store.commit(task.model_copy(update=restart))  # restarted
        assert task is not None and await redis.pttl(key) == -1
        assert await store.live() == [4]
