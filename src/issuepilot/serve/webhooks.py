"""`POST /webhooks/github`: the App's webhook. Nothing happens in the request but this:

1. the body is read, up to a limit (413 beyond it);
2. its signature is checked before anything in it is read: `X-Hub-Signature-256` is the
   HMAC-SHA256 of the raw body with the webhook secret, compared in constant time (401,
   with nothing said, otherwise);
3. it must be a JSON object that parses as an event payload (400 otherwise);
4. the delivery is recorded under its `X-GitHub-Delivery` id and queued, in one script
   (a repeated id is acknowledged and dropped), and only then answered 202.

GitHub gives up on a delivery not answered within 10 seconds; which events matter is
decided later, by the dispatcher, with the repository's settings.
https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
https://docs.github.com/en/webhooks/using-webhooks/best-practices-for-using-webhooks
"""

import hashlib
import hmac
import json
import re
import time

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from ..errors import InputError
from ..events import WEBHOOK_EVENTS, parse_payload
from ..store import REDIS_FAILURES
from .queue import new_entry
from .state import Service

DELIVERY = re.compile(r"[A-Za-z0-9-]{1,100}")
EVENT = re.compile(r"[a-z_]{1,60}")


def signed(secret: bytes, body: bytes, header: str) -> bool:
    """Whether `header` is `sha256=` and the body's HMAC-SHA256 under `secret` in hex."""
    expected = b"sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest().encode()
    return hmac.compare_digest(expected, header.encode("latin-1"))


async def read_body(request: Request, limit: int) -> bytes | None:
    """The body, or None once it is longer than `limit` (read no further)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def receive(request: Request) -> Response:
    service: Service = request.app.state.service
    started = time.perf_counter()
    event = request.headers.get("x-github-event", "")
    outcome, status, answer = await _receive(service, request, event)
    shown = event if event in WEBHOOK_EVENTS else "other"
    service.metrics.deliveries.labels(shown, outcome).inc()
    service.metrics.webhook_seconds.observe(time.perf_counter() - started)
    if status == 401:
        return Response(status_code=401)  # no detail for whoever sent it
    return JSONResponse(answer, status_code=status)


async def _receive(service: Service, request: Request, event: str) -> tuple[str, int, object]:
    body = await read_body(request, service.settings.max_body_bytes)
    if body is None:
        return "too_large", 413, {"detail": "the body is larger than this service takes"}
    secret = service.settings.webhook_secret.get_secret_value().encode()
    if not signed(secret, body, request.headers.get("x-hub-signature-256", "")):
        return "unauthorized", 401, None
    delivery = request.headers.get("x-github-delivery", "")
    if not DELIVERY.fullmatch(delivery) or not EVENT.fullmatch(event):
        return "malformed", 400, {"detail": "X-GitHub-Delivery or X-GitHub-Event is missing"}
    try:
        payload = parse_payload(json.loads(body))
    except (ValueError, UnicodeDecodeError):
        return "malformed", 400, {"detail": "the body is not JSON"}
    except InputError as exc:
        return "malformed", 400, {"detail": str(exc)}
    repo = payload.repository.full_name if payload.repository else ""
    if event not in WEBHOOK_EVENTS or not repo:
        return "ignored", 202, {"status": "ignored"}
    try:
        fresh = await service.queue.accept(new_entry(delivery, event, repo, body))
    except REDIS_FAILURES:
        return "unavailable", 503, {"detail": "the queue is unavailable: GitHub may redeliver"}
    return (
        ("queued", 202, {"status": "queued"})
        if fresh
        else ("duplicate", 202, {"status": "duplicate"})
    )
