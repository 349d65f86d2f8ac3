"""A worker, in-process: a step in a fresh checkout, as the App, acknowledged once done;
its task's next step queued for the workers; a step that cannot begin (no checkout) left
for later, not lost."""

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from issuepilot.config import Settings
from issuepilot.github.retry import RetryPolicy
from issuepilot.keys import ServiceKeys
from issuepilot.serve.queue import WORKERS, Entry, Queue, new_entry
from issuepilot.serve.settings import ServiceSettings, WorkerSettings
from issuepilot.serve.worker import Worker
from issuepilot.store import RedisTaskStore
from issuepilot.wiring import connect_redis

from .conftest import APP_BOT, Org


@pytest.fixture
async def worker(settings: ServiceSettings, tmp_path: Path) -> AsyncIterator[Worker]:
    url = settings.redis_url.get_secret_value()
    redis = await connect_redis(url)
    queue = Queue(redis, ServiceKeys(settings.name))
    await queue.setup()
    chosen = WorkerSettings(app=settings.app, redis_url=url, name=settings.name, consumer="w1")
    base = Settings(
        repo="",
        api_url=settings.app.api_url,
        token=SecretStr(""),
        app_id=settings.app.app_id,
        app_private_key=settings.app.private_key,
        model_api_key=SecretStr("unused: no step here calls the model"),
        http_log=tmp_path / "worker-http.jsonl",
    )
    made = Worker(chosen, base, queue, APP_BOT, lambda _: None, RetryPolicy(base_s=0))
    yield made
    await made.aclose()
    await redis.aclose()


async def take(worker: Worker, org: Org) -> Entry:
    issue = org.github.open_issue("Greet politely", "Add a `!` to `src/app.py`.")
    name, payload = org.github.label_event(issue, "issuepilot")
    queue = worker.queue
    await queue.add(
        queue.keys.steps, new_entry("d-1", name, org.github.repo, json.dumps(payload).encode())
    )
    [entry] = await queue.take(queue.keys.steps, WORKERS, "w1", 1, 100, 60_000)
    return entry


async def test_a_step_runs_as_the_app_and_queues_the_next(worker: Worker, org: Org) -> None:
    entry = await take(worker, org)
    assert await worker.handle(entry) == "done"
    task = await RedisTaskStore(worker.queue.redis, org.github.repo).load(1)
    assert task is not None and task.state == "queued"
    assert "issuepilot:queued" in org.github.issues[1].labels
    [(_, step)] = await worker.queue.redis.xrange(worker.queue.keys.steps)  # acknowledged
    body = json.loads(step[b"body"])
    assert body["inputs"] == {"issue": "1", "command": "advance"}
    assert body["sender"] == {"login": APP_BOT} and step[b"event"] == b"workflow_dispatch"
    assert not list(worker.scratch.iterdir())  # the checkout is gone
    [labeled] = [
        e
        for e in org.github.issue_events[1]
        if e.get("label", {}).get("name") == "issuepilot:queued"
    ]
    assert labeled["actor"]["login"] == APP_BOT  # as the App


async def test_a_step_that_cannot_begin_is_left_for_later(worker: Worker, org: Org) -> None:
    org.github.fail("GET", r"/tarball/", status=502, times=4)
    entry = await take(worker, org)
    assert await worker.handle(entry) == "error"
    pending = await worker.queue.redis.xpending(worker.queue.keys.steps, WORKERS)
    assert pending["pending"] == 1
    assert await worker.handle(entry) == "done"  # taken again, once GitHub answers
