"""The promises of `TaskStore` and `LockManager`, checked against every implementation:
Redis (a real server) and the in-memory one the in-process step tests use. Expiry is
forced directly (the clock moved, or the lock's time set in the past), never waited for."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from issuepilot.errors import InputError
from issuepilot.github.client import GitHub
from issuepilot.keys import Keys
from issuepilot.ledger import Ledger, LedgerLocks, LedgerStore
from issuepilot.locks import FileLocks, LockConflict, LockLost, LockManager
from issuepilot.machine import TaskState
from issuepilot.models import Task
from issuepilot.store import RedisTaskStore, TaskStore
from issuepilot.table import Table
from issuepilot.testing.github import FakeGitHub
from issuepilot.testing.memory import Clock, MemoryLocks, MemoryStore
from issuepilot.wiring import connect_redis

from .conftest import lapse_locks

S = TaskState


@dataclass
class Backend:
    store: TaskStore
    locks: LockManager
    expire: Callable[[list[str]], Awaitable[None]]  # make these paths' locks lapse


@pytest.fixture(params=["redis", "cluster", "memory", "ledger"])
async def backend(
    request: pytest.FixtureRequest, redis_url: str, repo: str
) -> AsyncIterator[Backend]:
    if request.param == "ledger":  # the repository itself, through the fake GitHub's API
        clock = Clock()
        with FakeGitHub(repo, files={"README.md": "x\n"}) as github:
            gh = GitHub(repo, "ghs_fake", github.url)
            ledger = Ledger(gh, clock=clock)

            async def lapse_ledger(paths: list[str]) -> None:
                def lapse(table: Table, now: float) -> None:
                    for path in paths:
                        table.held[path].until = now

                await ledger.change(lapse, "lapse")

            yield Backend(LedgerStore(ledger), LedgerLocks(ledger), lapse_ledger)
            await gh.aclose()
        return
    if request.param == "memory":
        clock = Clock()
        locks = MemoryLocks(clock)

        async def lapse(paths: list[str]) -> None:
            for path in paths:
                locks.held[path].until = clock.now

        yield Backend(MemoryStore(clock), locks, lapse)
        return
    url = request.getfixturevalue("cluster_url") if request.param == "cluster" else redis_url
    client = await connect_redis(url)

    async def lapse_redis(paths: list[str]) -> None:
        await lapse_locks(client, repo, paths)

    yield Backend(RedisTaskStore(client, repo), FileLocks(client, repo), lapse_redis)
    await client.aclose()


async def test_disjoint_sets_both_win(backend: Backend) -> None:
    locks = backend.locks
    a = await locks.acquire("1", ["a.py", "b.py"], ttl_s=30)
    b = await locks.acquire("2", ["c.py"], ttl_s=30)
    assert await locks.holders(["a.py", "b.py", "c.py", "d.py"]) == {
        "a.py": "1",
        "b.py": "1",
        "c.py": "2",
    }
    assert a.token != b.token and a.paths == ("a.py", "b.py")


async def test_overlapping_sets_one_wins_and_the_loser_takes_nothing(backend: Backend) -> None:
    locks = backend.locks
    await locks.acquire("1", ["a.py", "b.py"], ttl_s=30)
    with pytest.raises(LockConflict) as info:
        await locks.acquire("2", ["b.py", "z.py"], ttl_s=30)
    assert info.value.holders == {"b.py": "1"}
    assert "b.py (#1)" in str(info.value)
    assert await locks.holders(["z.py"]) == {}


async def test_concurrent_overlapping_acquires_have_one_winner(backend: Backend) -> None:
    results = await asyncio.gather(
        *(backend.locks.acquire(str(i), ["s.py", f"own_{i}.py"], ttl_s=30) for i in range(20)),
        return_exceptions=True,
    )
    assert len([r for r in results if not isinstance(r, BaseException)]) == 1
    assert all(isinstance(r, LockConflict) for r in results if isinstance(r, BaseException))


async def test_a_retry_with_the_same_token_returns_the_same_lease(backend: Backend) -> None:
    first = await backend.locks.acquire("7", ["a.py", "b.py"], ttl_s=30, token="tok")
    again = await backend.locks.acquire("7", ["b.py", "./a.py"], ttl_s=30, token="tok")
    assert again == first


async def test_paths_are_normalised_and_bad_input_refused(backend: Backend) -> None:
    lease = await backend.locks.acquire("1", ["./src//x.py", "src/x.py", "src/y/../z.py"], 30)
    assert lease.paths == ("src/x.py", "src/z.py")
    for bad_task, paths in [("bad task id", ["a.py"]), ("1", []), ("1", ["../up.py"])]:
        with pytest.raises(InputError):
            await backend.locks.acquire(bad_task, paths, ttl_s=30)


async def test_only_the_owner_token_extends_or_releases(backend: Backend) -> None:
    locks = backend.locks
    live = await locks.acquire("9", ["a.py"], ttl_s=30)
    zombie = type(live)(live.task, "old-token", live.paths)
    with pytest.raises(LockLost) as info:
        await locks.extend(zombie, ttl_s=30)
    assert info.value.paths == ["a.py"]
    assert (await locks.release(zombie)).paths == []
    assert await locks.holders(["a.py"]) == {"a.py": "9"}
    await locks.extend(live, ttl_s=30)
    assert (await locks.release(live)).paths == ["a.py"]
    assert (await locks.release(live)).paths == []  # safe to repeat


async def test_a_lapsed_lock_is_free_and_its_holder_is_told(backend: Backend) -> None:
    locks = backend.locks
    lease = await locks.acquire("1", ["a.py"], ttl_s=30)
    await backend.expire(["a.py"])
    assert await locks.holders(["a.py"]) == {}
    with pytest.raises(LockLost):
        await locks.extend(lease, ttl_s=30)
    assert (await locks.acquire("2", ["a.py"], ttl_s=30)).task == "2"


async def test_release_task_frees_every_token_and_wakes_waiters_oldest_first(
    backend: Backend,
) -> None:
    locks = backend.locks
    await locks.acquire("1", ["a.py"], ttl_s=30)
    await locks.acquire("1", ["b.py"], ttl_s=30)
    for task, paths in [("3", ["b.py"]), ("2", ["a.py", "b.py"]), ("4", ["a.py", "q.py"])]:
        with pytest.raises(LockConflict):
            await locks.acquire(task, paths, ttl_s=30)
    await locks.acquire("5", ["q.py"], ttl_s=30)
    released = await locks.release_task("1")
    assert sorted(released.paths) == ["a.py", "b.py"]
    # 3 waited first and wants b.py; 2 wants b.py too (it would lose), 4 still needs q.py.
    assert released.ready == ["3"]
    three = await locks.acquire("3", ["b.py"], ttl_s=30)
    assert (await locks.release(three)).ready == ["2"]
    # 4 wants a.py, which the older ready waiter 2 wants too: it is not woken to lose, and
    # 2, woken already, is not woken again by a release of files it does not want.
    assert (await locks.release_task("5")).ready == []


async def test_a_waiter_keeps_its_place_when_it_asks_again(backend: Backend) -> None:
    locks = backend.locks
    await locks.acquire("1", ["a.py"], ttl_s=30)
    for task in ("2", "3", "2"):
        with pytest.raises(LockConflict):
            await locks.acquire(task, ["a.py"], ttl_s=30)
    assert (await locks.release_task("1")).ready == ["2"]
    assert (await locks.release_task("2")).ready == ["3"]  # 2 gives up waiting: 3 is next
    assert (await locks.release_task("2")).ready == []  # nothing changed


async def test_no_task_waits_forever_behind_lapsed_locks(backend: Backend) -> None:
    locks = backend.locks
    await locks.acquire("1", ["a.py"], ttl_s=30)
    with pytest.raises(LockConflict):
        await locks.acquire("2", ["a.py"], ttl_s=30)
    assert await locks.reap() == []
    await backend.expire(["a.py"])
    assert await locks.reap() == ["2"]


async def test_keep_alive_keeps_a_held_lease(backend: Backend) -> None:
    lease = await backend.locks.acquire("1", ["a.py"], ttl_s=30)
    async with backend.locks.keep_alive(lease, ttl_s=30) as lost:
        await asyncio.sleep(0)
    assert not lost.is_set()
    assert await backend.locks.holders(["a.py"]) == {"a.py": "1"}


async def test_memory_keep_alive_raises_when_the_clock_ran_out() -> None:
    """The in-memory lease renews instantly; a test that moves the clock past it meanwhile
    loses it, as a real run whose renewals failed would."""
    clock = Clock()
    locks = MemoryLocks(clock)
    lease = await locks.acquire("1", ["a.py"], ttl_s=30)
    with pytest.raises(LockLost):
        async with locks.keep_alive(lease, ttl_s=30):
            clock.advance(31)


async def test_commit_is_a_compare_and_set(backend: Backend) -> None:
    store = backend.store
    assert await store.load(5) is None
    first = await store.commit(Task(issue=5, state=S.QUEUED))
    assert first is not None and first.version == 1
    assert await store.commit(Task(issue=5, state=S.QUEUED)) is None  # stale version 0
    moved = await store.commit(first.model_copy(update={"state": S.PLANNING}))
    assert moved is not None and moved.version == 2
    assert await store.load(5) == moved
    assert await store.live() == [5]


async def test_many_records_load_at_once(backend: Backend) -> None:
    for issue in (3, 1):
        assert await backend.store.commit(Task(issue=issue, state=S.QUEUED)) is not None
    loaded = await backend.store.load_many([1, 2, 3])
    assert sorted(loaded) == [1, 3] and loaded[3].version == 1
    assert await backend.store.load_many([]) == {}


async def test_racing_writers_make_exactly_one_write(backend: Backend) -> None:
    base = await backend.store.commit(Task(issue=1, state=S.QUEUED))
    assert base is not None
    results = await asyncio.gather(
        *(
            backend.store.commit(base.model_copy(update={"state": S.PLANNING, "attempts": i}))
            for i in range(20)
        )
    )
    assert sum(r is not None for r in results) == 1


async def test_final_tasks_leave_the_live_index_once_settled(backend: Backend) -> None:
    task = await backend.store.commit(Task(issue=2, state=S.QUEUED))
    assert task is not None
    ended = await backend.store.commit(task.model_copy(update={"state": S.CANCELLED}))
    assert ended is not None and await backend.store.live() == [2], "its run may not be done"
    await backend.store.commit(ended.model_copy(update={"settled": True}))
    assert await backend.store.live() == []


async def test_flags_are_kept(backend: Backend, repo: str) -> None:
    key = Keys(repo).labels
    assert await backend.store.get_flag(key) is None
    await backend.store.set_flag(key, "issuepilot", ttl_s=60)
    assert await backend.store.get_flag(key) == "issuepilot"
