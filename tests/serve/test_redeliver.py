"""Lost deliveries: events none of whose attempts reached the service are asked for again
through the App's delivery log, each once, at most `limit` per sweep; the service then
hands each on once."""

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from issuepilot.github.app import AppClient
from issuepilot.keys import ServiceKeys
from issuepilot.serve.queue import Queue
from issuepilot.serve.redeliver import redeliver_failed
from issuepilot.serve.settings import ServiceSettings
from issuepilot.wiring import connect_redis

from .conftest import Org, Service, until

HOUR = timedelta(hours=1)


@pytest.fixture
async def app(settings: ServiceSettings, org: Org) -> AsyncIterator[AppClient]:
    key = settings.app.private_key.get_secret_value()
    client = AppClient(settings.app.app_id, key, org.fake.url, settings.app.http_log)
    yield client
    await client.aclose()


@pytest.fixture
async def queue(settings: ServiceSettings) -> AsyncIterator[Queue]:
    redis = await connect_redis(settings.redis_url.get_secret_value())
    yield Queue(redis, ServiceKeys(settings.name))
    await redis.aclose()


def lose_three(org: Org) -> list[int]:
    """Three events delivered while the service was down (GitHub could not connect)."""
    org.hooks.url = "http://127.0.0.1:9/webhooks/github"
    issues = [org.github.open_issue(f"Task {n}") for n in range(3)]
    for issue in issues:
        assert org.hooks.deliver(org.github.label_event(issue, "issuepilot"))["status_code"] == 0
    return issues


async def test_lost_events_are_asked_for_again_once_each(
    service: Service, org: Org, app: AppClient, queue: Queue
) -> None:
    issues = lose_three(org)
    reached = org.github.open_issue("Reached")
    org.hooks.url = service.url + "/webhooks/github"
    org.hooks.deliver(org.github.label_event(reached, "issuepilot"))
    done = await redeliver_failed(app, queue, HOUR, limit=2)
    assert (done.asked, done.read) == (2, 4)  # the limit; the one that arrived is not asked
    done = await redeliver_failed(app, queue, HOUR, limit=10)
    assert done.asked == 1  # the third; the first two are not asked for twice
    assert (await redeliver_failed(app, queue, HOUR, limit=10)).asked == 0
    until(lambda: len(org.github.dispatches) == 4, "every event handed on")
    handed = sorted(int(d["inputs"]["issue"]) for d in org.github.dispatches)
    assert handed == sorted([*issues, reached])
    redelivered = [d for d in org.hooks.deliveries if d["redelivery"]]
    assert len(redelivered) == 3 and all(d["status_code"] == 202 for d in redelivered)


async def test_the_window_and_the_services_own_record_bound_the_sweep(
    service: Service, org: Org, app: AppClient, queue: Queue
) -> None:
    lose_three(org)
    assert (await redeliver_failed(app, queue, timedelta(0), limit=10)).asked == 0
    # An event the service did receive although GitHub saw a failure (its answer came too
    # late, say) is not asked for.
    org.hooks.url = service.url + "/webhooks/github"
    for delivery in org.hooks.deliveries:
        await queue.redis.set(queue.keys.seen(delivery["guid"]), "1")
    assert (await redeliver_failed(app, queue, HOUR, limit=10)).asked == 0


async def test_pages_of_the_log_are_followed(
    service: Service, org: Org, app: AppClient, queue: Queue
) -> None:
    org.hooks.url = "http://127.0.0.1:9/webhooks/github"
    event = org.github.label_event(org.github.open_issue("Busy"), "issuepilot")
    [first] = [org.hooks.deliver(event)]
    for n in range(1, 120):  # more than a page of 100: attempts logged as the first one was
        org.hooks.deliveries.append(first | {"id": first["id"] + n, "guid": f"guid-{n}"})
    org.hooks.url = service.url + "/webhooks/github"
    done = await redeliver_failed(app, queue, HOUR, limit=0)
    assert (done.asked, done.read) == (0, 120)
