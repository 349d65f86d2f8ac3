"""`FakeOrg`: several repositories of one owner behind one API, as GitHub serves a GitHub
App installed on all of them (an organisation's `.github` repository, a central runner
repository, the repositories served).

Each repository's requests go to its own `FakeGitHub`; a token request goes to the
repository it names; the App's own requests (`/app`, its delivery log) and `/user` go to
the first. Every repository gets the same App and the same webhook (`Hooks`).
"""

import json
from typing import Any, Self
from urllib.parse import urlsplit

from ..loopback import IN_PROCESS_ORIGIN, JsonServer
from .hooks import Hooks
from .server import NOT_FOUND, FakeGitHub
from .state import App

Reply = tuple[int, Any, dict[str, str]]


class FakeOrg(JsonServer):
    def __init__(self, *repos: FakeGitHub, app: App, hooks: Hooks | None = None) -> None:
        super().__init__()
        self.repos = {fake.repo.lower(): fake for fake in repos}
        self.first = repos[0]
        self.app, self.hooks = app, hooks
        self.unknown: list[tuple[str, str]] = []
        self._started: list[FakeGitHub] = []
        for fake in repos:
            fake.app, fake.hooks = app, hooks

    @property
    def url(self) -> str:
        return self.origin

    def __getitem__(self, repo: str) -> FakeGitHub:
        return self.repos[repo.lower()]

    def respond(self, method: str, target: str, body: bytes, headers: dict[str, str]) -> Reply:
        fake = self._serving(urlsplit(target).path, body)
        if fake is None:
            self.unknown.append((method, target))
            return 404, NOT_FOUND, {}
        return fake.respond(method, target, body, headers)

    def _serving(self, path: str, body: bytes) -> FakeGitHub | None:
        parts = path.split("/")
        if parts[1:2] == ["repos"] and len(parts) >= 4:
            return self.repos.get(f"{parts[2]}/{parts[3]}".lower())
        if path.startswith("/app/installations/") and path.endswith("/access_tokens"):
            named = (json.loads(body) if body else {}).get("repositories") or []
            owner = self.first.owner
            return self.repos.get(f"{owner}/{named[0]}".lower()) if named else self.first
        return self.first

    def start(self) -> Self:
        """Serve, starting the repositories not yet started (and stopping those alone)."""
        self._started = [fake for fake in self.repos.values() if fake.origin == IN_PROCESS_ORIGIN]
        for fake in self._started:
            fake.start()
        return super().start()

    def stop(self) -> None:
        super().stop()
        for fake in self._started:
            fake.stop()
