"""What the web service's routes share: its settings, its queue, its metrics, and the
App's clients."""

from dataclasses import dataclass

import httpx

from .metrics import Metrics
from .queue import Queue
from .repos import Repos
from .settings import ServiceSettings


@dataclass
class Service:
    settings: ServiceSettings
    queue: Queue
    metrics: Metrics
    repos: Repos
    bot: str  # the App's bot login, `<slug>[bot]`: the actor of a task the service queues
    transport: httpx.AsyncBaseTransport | None = None  # GitHub in-process, for tests
