"""File-lock throughput, and what each operation costs as a repository fills up.

Prints acquire+release cycles per second for a 20-path set with 1 and 16 contenders, for
`FileLocks` (one Lua script per call) and for the obvious alternative (one redis-py `Lock`
per path, taken in sorted order), and the ratio; then the latency of `release_task` with
0 and 10,000 unrelated locks held by other tasks; then, for a 10-path task, the median
wall time and the commands the server ran (INFO commandstats deltas, the EVALSHA itself
included) of acquire, release, release_task and reap, in an empty repository and in one
with 10,000 locks held and 1,000 tasks waiting. The counts are exact on the throwaway
server this starts; with --redis-url they include whatever else that server is doing.

    python benchmarks/locks.py [--redis-url URL] [--seconds 2] [--rounds 3]
"""

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from issuepilot.locks import FileLocks, Lease, LockConflict
from issuepilot.testing.redis_server import ThrowawayRedis, commands_run

PATHS = [f"src/pkg/module_{i:02d}.py" for i in range(20)]
Cycle = Callable[[int], Awaitable[bool]]
BACKOFF = 0.001


async def file_locks_cycle(redis: Redis, repo: str, contenders: int) -> Cycle:
    """A loser waits until a release names it ready (as the lifecycle wakes waiting tasks)."""
    locks = FileLocks(redis, repo)
    wake = [asyncio.Event() for _ in range(contenders)]

    async def cycle(contender: int) -> bool:
        wake[contender].clear()  # before trying: a release during the attempt still wakes us
        try:
            lease = await locks.acquire(f"t{contender}", PATHS, ttl_s=30)
        except LockConflict:
            try:  # the timeout covers only a waker that died
                await asyncio.wait_for(wake[contender].wait(), BACKOFF * 10)
            except TimeoutError:
                pass
            return False
        released = await locks.release(lease)
        for task in released.ready:
            wake[int(task[1:])].set()
        return True

    return cycle


async def per_path_cycle(redis: Redis, repo: str) -> Cycle:
    async def cycle(contender: int) -> bool:
        taken = []
        for path in sorted(PATHS):  # sorted order: no deadlock between contenders
            lock = redis.lock(
                f"alt:{{{repo}}}:{path}", timeout=30, sleep=BACKOFF
            )  # redis-py polls a taken lock
            await lock.acquire()
            taken.append(lock)
        for lock in taken:
            await lock.release()
        return True

    return cycle


async def throughput(cycle: Cycle, contenders: int, seconds: float) -> float:
    done = 0
    stop = time.perf_counter() + seconds

    async def contender(n: int) -> None:
        nonlocal done
        while time.perf_counter() < stop:
            if await cycle(n):
                done += 1

    start = time.perf_counter()
    await asyncio.gather(*(contender(n) for n in range(contenders)))
    return done / (time.perf_counter() - start)


async def release_task_latency(redis: Redis, unrelated: int, samples: int = 200) -> float:
    repo = f"bench/{uuid.uuid4().hex[:8]}"
    locks = FileLocks(redis, repo)
    for t in range(unrelated // 10):
        await locks.acquire(f"other{t}", [f"other/{t}/{i}.py" for i in range(10)], ttl_s=300)
    timings = []
    for _ in range(samples):
        await locks.acquire("mine", PATHS, ttl_s=300)
        start = time.perf_counter()
        await locks.release_task("mine")
        timings.append(time.perf_counter() - start)
    for t in range(unrelated // 10):
        await locks.release_task(f"other{t}")
    return statistics.median(timings) * 1e6


async def crowd(locks: FileLocks, holders: int, waiters: int) -> None:
    """`holders` tasks of ten paths each; `waiters` tasks each waiting for one of them."""
    for t in range(holders):
        await locks.acquire(f"h{t}", [f"held/{t}/{i}.py" for i in range(10)], ttl_s=3600)
    for w in range(waiters):
        try:
            await locks.acquire(f"w{w}", [f"held/{w % holders}/0.py", f"own/{w}.py"], 3600)
        except LockConflict:
            pass


async def operation_costs(
    redis: Redis, holders: int, waiters: int, samples: int = 200
) -> dict[str, tuple[float, int]]:
    """{operation: (median ms, server commands)} for a 10-path task that one waiter waits
    for, among `holders` other 10-path tasks and `waiters` waiting tasks."""
    repo = f"bench/{uuid.uuid4().hex[:8]}"
    locks = FileLocks(redis, repo)
    await crowd(locks, holders, waiters)
    paths = [f"mine/{i}.py" for i in range(10)]
    await locks.acquire("mine", paths, ttl_s=3600)
    try:
        await locks.acquire("next", [paths[3]], ttl_s=3600)  # waits: release wakes it
    except LockConflict:
        pass
    await locks.release_task("mine")

    async def measure(
        before: Callable[[], Awaitable[object]], call: Callable[[], Awaitable[object]]
    ) -> tuple[float, int]:
        timings, counts = [], []
        for i in range(samples):
            await before()
            counted = i < 5  # the count is the same every time; INFO costs a round trip
            first = await commands_run(redis) if counted else 0
            start = time.perf_counter()
            await call()
            timings.append(time.perf_counter() - start)
            if counted:
                counts.append(await commands_run(redis) - first)
        return statistics.median(timings) * 1e3, int(statistics.median(counts))

    async def held() -> None:
        await locks.acquire("mine", paths, ttl_s=3600, token="tok")

    async def lapsed() -> None:
        await locks.acquire("mine", paths, ttl_s=0.001, token="tok")
        await asyncio.sleep(0.002)  # the locks' time passes for real

    costs = {
        "acquire": await measure(
            lambda: locks.release_task("mine"),
            lambda: locks.acquire("mine", paths, ttl_s=3600, token="tok"),
        ),
        "release": await measure(held, lambda: locks.release(Lease("mine", "tok", tuple(paths)))),
        "release_task": await measure(held, lambda: locks.release_task("mine")),
        "reap": await measure(lapsed, locks.reap),
    }
    for t in range(holders):
        await locks.release_task(f"h{t}")
    for w in range(waiters):
        await locks.release_task(f"w{w}")
    await locks.release_task("next")
    return costs


async def main(url: str, seconds: float, rounds: int) -> None:
    redis = Redis.from_url(url, max_connections=64)
    print(f"redis: {url}   paths per set: {len(PATHS)}   {rounds} rounds of {seconds}s, medians")
    print(f"{'contenders':>10} {'FileLocks/s':>12} {'per-path Lock/s':>16} {'ratio':>7}")
    for contenders in (1, 16):
        ours, theirs = [], []
        for _ in range(rounds):
            repo = f"bench/{uuid.uuid4().hex[:8]}"
            ours.append(
                await throughput(
                    await file_locks_cycle(redis, repo, contenders), contenders, seconds
                )
            )
            theirs.append(await throughput(await per_path_cycle(redis, repo), contenders, seconds))
        a, b = statistics.median(ours), statistics.median(theirs)
        print(f"{contenders:>10} {a:>12.0f} {b:>16.0f} {a / b:>6.1f}x")
    base = await release_task_latency(redis, 0)
    loaded = await release_task_latency(redis, 10_000)
    print(
        f"release_task (20 paths), median: {base:.0f} us with 0 unrelated locks, "
        f"{loaded:.0f} us with 10,000 ({loaded / base:.2f}x)"
    )
    empty = await operation_costs(redis, holders=0, waiters=0)
    full = await operation_costs(redis, holders=1000, waiters=1000)
    print("a 10-path task (one waiter for it), median of 200: wall time, server commands")
    print(f"{'':>14} {'empty repository':>22} {'10,000 held, 1,000 waiting':>30}")
    for name in empty:
        (a_ms, a_n), (b_ms, b_n) = empty[name], full[name]
        print(f"{name:>14} {a_ms:>10.3f} ms {a_n:>6} cmds {b_ms:>18.3f} ms {b_n:>6} cmds")
    await redis.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.redis_url:
        asyncio.run(main(args.redis_url, args.seconds, args.rounds))
    else:
        with ThrowawayRedis() as server:
            asyncio.run(main(server.url, args.seconds, args.rounds))
