"""The webhook route over real HTTP: a delivery is queued only when its signature is
right, its body within the limit and JSON, and its id new; each refusal queues nothing."""

import hashlib
import hmac
import json
from collections.abc import Iterator

import httpx
import pytest

from issuepilot.serve.settings import ServiceSettings

from .conftest import SECRET, Org, Service, serving


@pytest.fixture
def routes(settings: ServiceSettings) -> Iterator[Service]:
    """The routes alone: the queue stays as they leave it."""
    with serving(settings, background=False) as running:
        yield running


def signed(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def labeled(org: Org) -> bytes:
    issue = org.github.open_issue("Greet politely")
    _, payload = org.github.label_event(issue, "issuepilot")
    return json.dumps(payload).encode()


def headers(body: bytes, delivery: str = "d-1", **more: str) -> dict[str, str]:
    return {
        "X-GitHub-Event": "issues",
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": signed(body),
        "Content-Type": "application/json",
        **more,
    }


def test_a_signed_delivery_is_queued_as_received_and_answered_202(
    routes: Service, org: Org
) -> None:
    body = labeled(org)
    answer = routes.post("/webhooks/github", body, **headers(body, "d-1"))
    assert (answer.status_code, answer.json()) == (202, {"status": "queued"})
    [entry] = routes.entries()
    assert entry["delivery"] == b"d-1" and entry["event"] == b"issues"
    assert entry["repo"] == org.github.repo.encode() and entry["body"] == body
    assert routes.redis.exists(routes.keys.seen("d-1"))
    # GitHub's own delivery, with every header it sends, is taken the same way.
    org.hooks.url = routes.url + "/webhooks/github"
    issue = org.github.open_issue("Another")
    attempt = org.hooks.deliver(org.github.label_event(issue, "issuepilot"))
    assert attempt["status_code"] == 202 and routes.added() == 2


def test_a_repeated_delivery_is_acknowledged_and_dropped(routes: Service, org: Org) -> None:
    body = labeled(org)
    first = routes.post("/webhooks/github", body, **headers(body, "same-id"))
    again = routes.post("/webhooks/github", body, **headers(body, "same-id"))
    assert first.json() == {"status": "queued"}
    assert (again.status_code, again.json()) == (202, {"status": "duplicate"})
    assert routes.added() == 1
    assert routes.metric('issuepilot_deliveries_total{event="issues",outcome="duplicate"}') == 1


def test_a_delivery_without_the_right_signature_is_refused_with_nothing_said(
    routes: Service, org: Org
) -> None:
    body = labeled(org)
    wrong = {
        "none": None,
        "made up": "sha256=" + "0" * 64,
        "of another body": signed(b"another body"),
        "with another secret": signed(body, "not-the-secret"),
        "without its scheme": signed(body).removeprefix("sha256="),
    }
    for why, signature in wrong.items():
        sent = headers(body)
        if signature is None:
            del sent["X-Hub-Signature-256"]
        else:
            sent["X-Hub-Signature-256"] = signature
        answer = routes.post("/webhooks/github", body, **sent)
        assert (answer.status_code, answer.content) == (401, b""), why
    assert routes.added() == 0 and not routes.redis.exists(routes.keys.seen("d-1"))
    refused = 'issuepilot_deliveries_total{event="issues",outcome="unauthorized"}'
    assert routes.metric(refused) == len(wrong)


def test_a_body_over_the_limit_is_refused_unread(routes: Service, org: Org) -> None:
    limit = routes.settings.max_body_bytes
    body = json.dumps({"action": "labeled", "padding": "x" * limit}).encode()
    answer = routes.post("/webhooks/github", body, **headers(body))
    assert answer.status_code == 413
    # Without a length announced, the body is cut off as it streams in.
    chunks = iter([body[i : i + 65536] for i in range(0, len(body), 65536)])
    streamed = httpx.post(
        routes.url + "/webhooks/github", content=chunks, headers=headers(body), timeout=10
    )
    assert streamed.status_code == 413
    assert routes.added() == 0


def test_a_signed_body_that_is_no_event_payload_is_refused(routes: Service) -> None:
    bodies = [
        (b"{not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (json.dumps({"action": "labeled", "issue": {"number": "x"}}).encode(), "malformed"),
    ]
    for body, detail in bodies:
        answer = routes.post("/webhooks/github", body, **headers(body))
        assert answer.status_code == 400 and detail in answer.json()["detail"], body
    assert routes.added() == 0


def test_a_delivery_without_its_id_is_refused(routes: Service, org: Org) -> None:
    body = labeled(org)
    sent = headers(body)
    del sent["X-GitHub-Delivery"]
    assert routes.post("/webhooks/github", body, **sent).status_code == 400
    assert routes.added() == 0


def test_events_issuepilot_never_acts_on_are_acknowledged_not_queued(
    routes: Service, org: Org
) -> None:
    body = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}).encode()
    answer = routes.post("/webhooks/github", body, **headers(body) | {"X-GitHub-Event": "ping"})
    assert answer.status_code == 202  # ping: the App's webhook works
    push = labeled(org)
    sent = headers(push, "d-2") | {"X-GitHub-Event": "push"}
    assert routes.post("/webhooks/github", push, **sent).json() == {"status": "ignored"}
    assert routes.added() == 0


def test_health_and_metrics(routes: Service, org: Org) -> None:
    body = labeled(org)
    routes.post("/webhooks/github", body, **headers(body))
    health = httpx.get(routes.url + "/healthz", timeout=10)
    assert health.json() == {
        "status": "ok",
        "redis": "ok",
        "backlog": {"deliveries": 1, "steps": 0},
    }
    assert routes.metric('issuepilot_queue_backlog{queue="deliveries"}') == 1
    assert routes.metric('issuepilot_deliveries_total{event="issues",outcome="queued"}') == 1
    assert routes.metric("issuepilot_webhook_seconds_count") == 1
