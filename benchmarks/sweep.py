"""GitHub calls, Redis round trips and wall time of one scheduled sweep, by live tasks.

Each repository holds N live tasks as a busy one would: most wait for a person (plan
review), one in ten has an open pull request (and its file locks), one in twenty is
queued (its dispatch was lost: the sweep must dispatch it), and one in twenty-five shows
a drifted state label (the sweep repairs it). The sweep runs in-process (`run_step`, as
`issuepilot step` does for a `schedule` event) against the local fake GitHub over
loopback HTTP and a throwaway Redis server of its own. Target: list calls at most
ceil(N/100) + 2; every other call belongs to a task that needed an action.

    python benchmarks/sweep.py [--tasks 10 100 1000] [--rounds 3]
"""

import argparse
import asyncio
import math
import statistics
import time
import uuid
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.connection import Connection

from issuepilot.config import RepoConfig, Settings
from issuepilot.events import parse_payload
from issuepilot.labels import Labels
from issuepilot.locks import FileLocks
from issuepilot.machine import TaskState
from issuepilot.models import Plan, PlannedFile, Task
from issuepilot.store import RedisTaskStore
from issuepilot.testing.github import FakeGitHub
from issuepilot.testing.redis_server import ThrowawayRedis
from issuepilot.wiring import run_step

S = TaskState
LABELS = Labels()
ROUND_TRIPS = 0


def count_round_trips() -> None:
    """Count every packed send to Redis: one per command, one per pipeline."""
    send = Connection.send_packed_command

    async def counted(self: Connection, command: Any, check_health: bool = True) -> None:
        global ROUND_TRIPS
        ROUND_TRIPS += 1
        await send(self, command, check_health)

    Connection.send_packed_command = counted  # type: ignore[method-assign]


def state_of(n: int) -> TaskState:
    if n % 10 == 0:
        return S.PR_OPEN
    if n % 20 == 5:
        return S.QUEUED
    return S.PLAN_REVIEW


async def populate(gh: FakeGitHub, redis: Redis, repo: str, tasks: int) -> int:
    """N live tasks, as GitHub and Redis would show them; returns how many need an action."""
    store, locks = RedisTaskStore(redis, repo), FileLocks(redis, repo)
    actions = 0
    for n in range(tasks):
        issue = gh.open_issue(f"Task {n}", f"Change `src/f{n}.py`.")
        state = state_of(n)
        plan = Plan(summary="s", files=[PlannedFile(path=f"src/f{n}.py")])
        task = Task(issue=issue, state=state, plan=plan, plan_hash=plan.digest(), plan_version=1)
        if state is S.PR_OPEN:
            lease = await locks.acquire(str(issue), plan.paths, ttl_s=14 * 24 * 3600)
            task = task.model_copy(update={"lock_token": lease.token, "pr": issue + 100000})
        assert await store.commit(task) is not None
        shown = LABELS.state(state)
        if n % 25 == 3:
            shown, actions = (
                LABELS.state(S.QUEUED if state is not S.QUEUED else S.DONE),
                actions + 1,
            )
        gh.issues[issue].labels = [LABELS.trigger, shown]
        actions += state is S.QUEUED
    for name, (color, description) in LABELS.definitions().items():
        gh.labels[name] = {"color": color, "description": description}
    await redis.set(f"issuepilot:{{{repo}}}:labels", LABELS.prefix)
    return actions


async def one(redis_url: str, tasks: int) -> tuple[int, int, int, float]:
    repo = f"bench/sweep-{uuid.uuid4().hex[:6]}"
    redis = Redis.from_url(redis_url)
    with FakeGitHub(repo) as gh:
        actions = await populate(gh, redis, repo, tasks)
        settings = Settings(
            repo=repo,
            api_url=gh.url,
            token="ghs_fake",
            redis_url=redis_url,
            model_api_key="unused",
            workflow_ref=f"{repo}/.github/workflows/issuepilot.yml@refs/heads/main",
            config=RepoConfig(),
        )
        event = gh.schedule_event()
        before, trips = len(gh.requests), ROUND_TRIPS
        started = time.perf_counter()
        await run_step(settings, event[0], parse_payload(event[1]), say=lambda _: None)
        wall = time.perf_counter() - started
        calls = [f"{m} {t.split('?')[0]}" for m, t, _ in gh.requests[before:]]
        lists = sum(1 for c in calls if c.endswith(("/issues", "/pulls")))
        assert lists <= math.ceil(tasks / 100) + 2, calls
        assert len(calls) - lists <= actions * 3, calls  # a dispatch, or a label swap
    await redis.aclose()
    return lists, len(calls) - lists, ROUND_TRIPS - trips, wall


async def main(sizes: list[int], rounds: int, redis_url: str) -> None:
    count_round_trips()
    print(f"one sweep, medians of {rounds}; calls split into list calls and per-task actions")
    print(
        f"{'tasks':>6} {'list calls':>10} {'target':>7} {'action calls':>12} "
        f"{'Redis trips':>11} {'wall ms':>8}"
    )
    for size in sizes:
        runs = [await one(redis_url, size) for _ in range(rounds)]
        lists, actions, trips = runs[-1][0], runs[-1][1], runs[-1][2]
        wall = statistics.median(r[3] for r in runs) * 1000
        target = math.ceil(size / 100) + 2
        print(f"{size:>6} {lists:>10} {target:>7} {actions:>12} {trips:>11} {wall:>8.0f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with ThrowawayRedis() as server:
        asyncio.run(main(args.tasks, args.rounds, server.url))
