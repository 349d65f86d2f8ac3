"""The GitHub App itself, not one of its installations: who it is, and the deliveries of
its webhook, which GitHub does not retry by itself. Authenticated by the App's JWT.
https://docs.github.com/en/rest/apps/webhooks
"""

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import httpx

from .auth import AppJwtAuth
from .client import GitHub
from .objects import Partial


class Delivery(Partial):
    """One attempt to deliver an event (a redelivery is another attempt, same `guid`)."""

    id: int
    guid: str
    delivered_at: datetime
    redelivery: bool = False
    status_code: int = 0  # 0: no answer (GitHub could not connect, or timed out)
    event: str = ""
    action: str | None = None

    @property
    def succeeded(self) -> bool:
        return 200 <= self.status_code < 300


class AppClient:
    def __init__(
        self,
        app_id: str,
        private_key: str,
        api_url: str = "https://api.github.com",
        http_log: Path | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        auth = AppJwtAuth(app_id, private_key)
        self.gh = GitHub("", api_url=api_url, http_log=http_log, transport=transport, auth=auth)

    async def aclose(self) -> None:
        await self.gh.aclose()

    async def slug(self) -> str:
        """The App's name in URLs; its bot acts as `<slug>[bot]`."""
        return str((await self.gh.request("GET", "/app")).json()["slug"])

    async def deliveries(self) -> AsyncIterator[Delivery]:
        """The webhook's deliveries, newest first, a page of 100 at a time."""
        async for item in self.gh.paginate("/app/hook/deliveries"):
            yield Delivery.model_validate(item)

    async def redeliver(self, delivery_id: int) -> None:
        """Ask GitHub to deliver this attempt's event again (it answers 202 and does so
        soon after). Not repeated after an unclear failure: the next sweep looks again."""
        await self.gh.request("POST", f"/app/hook/deliveries/{delivery_id}/attempts")
