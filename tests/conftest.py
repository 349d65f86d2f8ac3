import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from issuepilot.keys import Keys
from issuepilot.testing.redis_server import ThrowawayCluster, ThrowawayRedis
from issuepilot.wiring import connect_redis

STORES = ("redis", "github")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--stories",
        action="store_true",
        help="run the stories too: the real CLI as processes against the fakes (tests/e2e, "
        "and every test that takes the `world` fixture)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "story: the real CLI as processes; run with --stories")
    config.addinivalue_line("markers", "stores(*names): the stores a story applies to")
    if config.option.basetemp is None and not hasattr(config, "workerinput"):
        # A folder of this session's own for the tests' files (the workers get theirs inside
        # it). Not pytest's folder of this user, which every pytest that starts closes to
        # other users again: a sandbox's user must pass through the folders above a test's
        # checkout, and would lose its way in the middle of a run.
        config.option.basetemp = tempfile.mkdtemp(prefix="issuepilot-tests-")
        config.add_cleanup(lambda: shutil.rmtree(config.option.basetemp, ignore_errors=True))


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: two workers a core. A story spends most of its time waiting on the
    processes it started (the CLI, an agent CLI, git), so one worker a core leaves the
    cores idle half the time."""
    return 2 * (os.cpu_count() or 1)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A story runs once per store it applies to: both (Redis, and the repository's ledger),
    unless `@pytest.mark.stores(...)` names them."""
    if "world" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("stores")
        stores = marker.args if marker else STORES
        metafunc.parametrize("world", stores, indirect=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The fast lane leaves the stories out: whatever lives in tests/e2e, takes the `world`
    fixture, or is marked `story`. `--stories` keeps them."""
    e2e = Path(__file__).parent / "e2e"
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "world" in fixtures or item.path.is_relative_to(e2e):
            item.add_marker(pytest.mark.story)
    if config.getoption("--stories"):
        return
    stories = [item for item in items if item.get_closest_marker("story") is not None]
    if stories:
        config.hook.pytest_deselected(items=stories)
        items[:] = [item for item in items if item.get_closest_marker("story") is None]


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.3) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """REDIS_URL if set, else the local server on 6379, else a throwaway server of our own."""
    if url := os.environ.get("REDIS_URL"):
        yield url
    elif _listening("127.0.0.1", 6379):
        yield "redis://127.0.0.1:6379/0"
    else:
        with ThrowawayRedis() as server:
            yield server.url


@pytest.fixture(scope="session")
def cluster_url() -> Iterator[str]:
    """A throwaway Redis Cluster of three masters, formed once for the session."""
    with ThrowawayCluster() as cluster:
        yield cluster.url


def single_and_cluster(request: pytest.FixtureRequest, redis_url: str) -> str:
    """For a module's own `redis_url` fixture, parametrised over ["single", "cluster"]:
    its tests then run against one server and against a Redis Cluster."""
    return redis_url if request.param == "single" else str(request.getfixturevalue("cluster_url"))


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis | RedisCluster]:
    client = await connect_redis(redis_url)
    yield client
    await client.aclose()


async def repo_keys(redis: Redis, repo: str) -> set[str]:
    """Every key of one repository (SCAN is fine in tests; the code never scans)."""
    found = set()
    async for key in redis.scan_iter(match=f"issuepilot:{{{repo}}}:*", count=1000):
        found.add(key.decode() if isinstance(key, bytes) else key)
    return found


@pytest.fixture
async def repo(redis: Redis) -> AsyncIterator[str]:
    """A repository name no other test uses (every key is under its hash tag); cleaned after."""
    name = f"test/r-{uuid.uuid4().hex[:12]}"
    yield name
    keys = await repo_keys(redis, name)
    if keys:
        await redis.delete(*keys)


async def lapse_locks(redis: Redis, repo: str, paths: list[str]) -> None:
    """Make these paths' locks lapse, as the passing of their time would: their time is
    set in the past, and `reap` finds them at the front of the expiry index."""
    keys = Keys(repo)
    for path in paths:
        value = await redis.hget(keys.locks, path)
        if value is not None:
            holder = (value.decode() if isinstance(value, bytes) else value).rsplit(" ", 1)[0]
            await redis.hset(keys.locks, path, f"{holder} 0")
            await redis.zadd(keys.expiry, {path: 0})
