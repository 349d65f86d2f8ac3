"""The App's view of the repositories it is installed on: a client per repository (with
an installation token for that repository only, kept until it expires), and each
repository's settings: its organisation's defaults (the `.github` repository's
`.github/issuepilot.yml`), overridden key by key by its own file. Settings are read again
after a minute, so a change to either file takes effect without a restart.
"""

import time
from collections import OrderedDict
from typing import Any

import httpx

from ..config import DEFAULT_CONFIG_PATH, RepoConfig, config_layer, merged_config
from ..errors import InputError
from ..github.client import GitHub
from ..github.errors import NotFound
from ..github.retry import RetryPolicy
from .settings import App

# What the service's own token may do in a repository: read its settings, start its
# workflow. Steps ask for more (`github.auth.APP_PERMISSIONS`).
SERVICE_PERMISSIONS = {"actions": "write", "contents": "read", "metadata": "read"}
ORG_REPOSITORY = ".github"  # an organisation's repository of shared settings
SETTINGS_TTL_S = 60.0
CLIENTS = 256  # clients kept, the least recently used closed first


class Repos:
    def __init__(
        self,
        app: App,
        permissions: dict[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.app, self.transport, self.retry = app, transport, retry
        self.permissions = permissions or SERVICE_PERMISSIONS
        self._clients: OrderedDict[str, GitHub] = OrderedDict()
        self._dropped: list[GitHub] = []  # closed with the others (a request may be on it)
        self._settings: dict[str, tuple[float, dict[str, Any] | None]] = {}  # read when

    def client(self, repo: str) -> GitHub:
        """The App's client for one repository, made once and reused."""
        key = repo.lower()
        if key in self._clients:
            self._clients.move_to_end(key)
            return self._clients[key]
        gh = GitHub(
            repo,
            api_url=self.app.api_url,
            http_log=self.app.http_log,
            transport=self.transport,
            app=(self.app.app_id, self.app.private_key.get_secret_value()),
            app_permissions=self.permissions,
            retry=self.retry,
        )
        self._clients[key] = gh
        if len(self._clients) > CLIENTS:
            _, oldest = self._clients.popitem(last=False)
            self._dropped.append(oldest)
        return gh

    async def aclose(self) -> None:
        for gh in [*self._clients.values(), *self._dropped]:
            await gh.aclose()
        self._clients.clear()
        self._dropped.clear()

    async def config(self, repo: str) -> RepoConfig:
        """The repository's settings: its organisation's defaults under its own file."""
        owner = repo.split("/", 1)[0]
        org = await self._layer(f"{owner}/{ORG_REPOSITORY}", missing_ok=True)
        own = await self._layer(repo, missing_ok=False)
        return merged_config(org or {}, own or {})

    async def org_defaults(self, repo: str) -> dict[str, Any]:
        return await self._layer(f"{repo.split('/', 1)[0]}/{ORG_REPOSITORY}", True) or {}

    async def _layer(self, repo: str, missing_ok: bool) -> dict[str, Any] | None:
        """One settings file, from the default branch; cached for a minute."""
        now = time.monotonic()
        cached = self._settings.get(repo.lower())
        if cached is not None and cached[0] + SETTINGS_TTL_S > now:
            return cached[1]
        try:
            text = await self.client(repo).get_raw(DEFAULT_CONFIG_PATH)
        except (NotFound, InputError):
            if not missing_ok:
                raise
            text = None  # no such repository, or the App is not installed on it
        layer = config_layer(text, f"{repo}: {DEFAULT_CONFIG_PATH}") if text else None
        self._settings[repo.lower()] = (now, layer)
        return layer
