import asyncio

from redis.asyncio import Redis

from issuepilot.keys import Keys
from issuepilot.machine import TaskState
from issuepilot.models import Task
from issuepilot.store import RedisTaskStore


async def test_commit_is_a_compare_and_set(redis: Redis, repo: str) -> None:
    store = RedisTaskStore(redis, repo)
    assert await store.load(5) is None
    first = await store.commit(Task(issue=5, state=TaskState.QUEUED))
    assert first is not None and first.version == 1
    assert await store.commit(Task(issue=5, state=TaskState.QUEUED)) is None  # stale version 0
    moved = await store.commit(first.model_copy(update={"state": TaskState.PLANNING}))
    assert moved is not None and moved.version == 2
    loaded = await store.load(5)
    assert loaded == moved
    assert await store.live() == [5]


async def test_racing_writers_make_exactly_one_write(redis: Redis, repo: str) -> None:
    store = RedisTaskStore(redis, repo)
    base = await store.commit(Task(issue=1, state=TaskState.QUEUED))
    assert base is not None
    results = await asyncio.gather(
        *(
            store.commit(base.model_copy(update={"state": TaskState.PLANNING, "attempts": i}))
            for i in range(20)
        )
    )
    assert sum(r is not None for r in results) == 1


async def test_final_tasks_leave_the_live_index(redis: Redis, repo: str) -> None:
    store = RedisTaskStore(redis, repo)
    task = await store.commit(Task(issue=2, state=TaskState.QUEUED))
    assert task is not None
    await store.commit(task.model_copy(update={"state": TaskState.CANCELLED}))
    assert await store.live() == []


async def test_corrupt_record_is_a_clear_error(redis: Redis, repo: str) -> None:
    await redis.hset(Keys(repo).task(3), mapping={"version": 1, "data": "{oops"})
    store = RedisTaskStore(redis, repo)
    try:
        await store.load(3)
    except Exception as exc:
        assert "corrupt" in str(exc)
    else:
        raise AssertionError("a corrupt record must not load")
