"""A GitHub App's webhook, GitHub's side of it: each event is POSTed to the App's webhook
URL as GitHub delivers it (signed with the webhook secret, with its headers, carrying the
installation), and each attempt is kept in the delivery log that the REST API lists and
redelivers from. GitHub does not retry a failed delivery by itself; neither does this.
https://docs.github.com/en/webhooks/webhook-events-and-payloads#delivery-headers
https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
"""

import hashlib
import hmac
import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

Json = Any


@dataclass
class Sent:
    """An event as GitHub keeps it for redelivery: the same body, signed again."""

    event: str
    body: bytes
    action: str | None
    repository_id: int | None


@dataclass
class Hooks:
    url: str  # the App's webhook URL
    secret: str
    app_id: str = "77"
    installation_id: int = 77
    deliveries: list[Json] = field(default_factory=list)  # every attempt, oldest first
    sent: dict[str, Sent] = field(default_factory=dict)  # guid -> the event delivered
    lock: threading.RLock = field(default_factory=threading.RLock)
    _ids: "itertools.count[int]" = field(default_factory=lambda: itertools.count(7_000_000_001))

    def deliver(self, event: tuple[str, Json], repository_id: int | None = None) -> Json:
        """Deliver an event (`(name, payload)`, as the fake's activities return them)
        with a new delivery id; the attempt, as the delivery log lists it."""
        name, payload = event
        body = json.dumps({**payload, "installation": self.installation()}).encode()
        guid = str(uuid.uuid4())
        with self.lock:
            self.sent[guid] = Sent(name, body, payload.get("action"), repository_id)
        return self.attempt(guid, redelivery=False)

    def redeliver(self, delivery_id: int) -> Json | None:
        """Deliver again the event of an earlier attempt; None if there is no such one."""
        with self.lock:
            found = [d for d in self.deliveries if d["id"] == delivery_id]
        return self.attempt(found[0]["guid"], redelivery=True) if found else None

    def installation(self) -> Json:
        return {"id": self.installation_id, "node_id": f"MDIzOkludGVncmF0aW9u{self.app_id}"}

    def headers(self, guid: str, sent: Sent) -> dict[str, str]:
        digest = hmac.new(self.secret.encode(), sent.body, hashlib.sha256).hexdigest()
        return {
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/fake",
            "X-GitHub-Event": sent.event,
            "X-GitHub-Delivery": guid,
            "X-GitHub-Hook-ID": "1",
            "X-GitHub-Hook-Installation-Target-Type": "integration",
            "X-GitHub-Hook-Installation-Target-ID": self.app_id,
            "X-Hub-Signature-256": f"sha256={digest}",
        }

    def attempt(self, guid: str, redelivery: bool) -> Json:
        sent = self.sent[guid]
        started = time.monotonic()
        try:
            answer = httpx.post(self.url, content=sent.body, headers=self.headers(guid, sent))
            code = answer.status_code
            status = "OK" if 200 <= code < 300 else f"Invalid HTTP Response: {code}"
        except httpx.HTTPError:
            code, status = 0, "failed to connect"
        row = {
            "id": next(self._ids),
            "guid": guid,
            "delivered_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "redelivery": redelivery,
            "duration": round(time.monotonic() - started, 3),
            "status": status,
            "status_code": code,
            "event": sent.event,
            "action": sent.action,
            "installation_id": self.installation_id,
            "repository_id": sent.repository_id,
            "throttled_at": None,
        }
        with self.lock:
            self.deliveries.append(row)
        return row
