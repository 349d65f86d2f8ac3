from redis.asyncio import Redis

from issuepilot.keys import Keys
from issuepilot.store import RedisTaskStore


async def test_corrupt_record_is_a_clear_error(redis: Redis, repo: str) -> None:
    await redis.hset(Keys(repo).task(3), mapping={"version": 1, "data": "{oops"})
    store = RedisTaskStore(redis, repo)
    try:
        await store.load(3)
    except Exception as exc:
        assert "corrupt" in str(exc)
    else:
        raise AssertionError("a corrupt record must not load")
