"""One contender of the lock stress test (run as a separate process).

Takes random overlapping path sets and proves, through an independent occupancy record
(`SET NX` per path), that no path is ever held by two tasks at once.
"""

import asyncio
import random
import sys

from redis.asyncio import Redis

from issuepilot.locks import FileLocks, LockConflict

POOL = [f"src/file_{i}.py" for i in range(12)]


async def main(url: str, repo: str, task: str, rounds: int) -> None:
    redis = Redis.from_url(url)
    locks = FileLocks(redis, repo)
    occupancy = f"check:{{{repo}}}:"
    rng = random.Random(task)
    for _ in range(rounds):
        paths = rng.sample(POOL, rng.randint(1, 4))
        try:
            lease = await locks.acquire(task, paths, ttl_s=30)
        except LockConflict:
            await redis.incr(occupancy + "conflicts")
            continue
        for p in lease.paths:
            if not await redis.set(occupancy + p, task, nx=True):
                await redis.incr(occupancy + "violations")
        await asyncio.sleep(rng.random() / 500)
        for p in lease.paths:
            await redis.delete(occupancy + p)
        await locks.release(lease)
        await redis.incr(occupancy + "grants")
    await locks.release_task(task)
    await redis.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
