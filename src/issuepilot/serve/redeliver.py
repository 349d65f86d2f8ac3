"""Lost deliveries, asked for again. GitHub does not retry a failed webhook delivery by
itself (the service was down, or answered 5xx); it keeps every attempt for three days,
and redelivers one when asked. The sweep reads the App's delivery log, newest first,
back to a window (a few pages at most), finds the events none of whose attempts
succeeded and that the service never received, and asks for each once.
https://docs.github.com/en/webhooks/using-webhooks/handling-failed-webhook-deliveries
https://docs.github.com/en/webhooks/using-webhooks/automatically-redelivering-failed-deliveries-for-a-github-app-webhook
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..github.app import AppClient, Delivery
from .queue import Queue

MAX_PAGES = 10  # of 100 deliveries: a busy App's log is read no further back per sweep


@dataclass
class Redelivered:
    asked: int
    read: int  # delivery attempts read


async def redeliver_failed(
    app: AppClient, queue: Queue, window: timedelta, limit: int, now: datetime | None = None
) -> Redelivered:
    """Ask GitHub again for up to `limit` events delivered within `window` that never
    reached the service."""
    since = (now or datetime.now(UTC)) - window
    newest: dict[str, Delivery] = {}  # guid -> its newest attempt
    succeeded: set[str] = set()
    read = 0
    async for delivery in app.deliveries():
        if delivery.delivered_at < since or read >= MAX_PAGES * 100:
            break
        read += 1
        newest.setdefault(delivery.guid, delivery)
        if delivery.succeeded:
            succeeded.add(delivery.guid)
    asked = 0
    for guid, delivery in newest.items():
        if asked >= limit:
            break
        if guid in succeeded or await queue.seen(guid) or not await queue.first_ask(guid):
            continue
        await app.redeliver(delivery.id)
        asked += 1
    return Redelivered(asked, read)
