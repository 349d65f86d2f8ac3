"""The service's world: GitHub (several repositories behind one API, the App installed on
all, its webhook pointed at the service), the service itself served by uvicorn on
loopback, and Redis."""

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import uvicorn

from issuepilot.keys import ServiceKeys
from issuepilot.serve.app import create_app, listener
from issuepilot.serve.settings import App as AppSettings
from issuepilot.serve.settings import ServiceSettings
from issuepilot.testing.github import App, FakeGitHub, FakeOrg, Hooks

from ..e2e.conftest import world  # noqa: F401  (the stories' world, on both stores)
from ..e2e.harness import rsa_key
from ..github.openapi import answer_errors, check_request

APP_ID = "4242"
APP_BOT = "issuepilot-test[bot]"
SECRET = "webhook-secret-0123456789"
SERVICE_TOKEN = "service-token-0123456789abcdef"
FILES = {
    "README.md": "# Project\n",
    "src/app.py": 'def greet(name):\n    return "Hello " + name\n',
}
# The tokens GitHub knows: the bot's, a writer's and a triager's personal tokens.
TOKENS = {"ghs_fake": "github-actions[bot]", "ghp_writer": "ann", "ghp_triager": "mallory"}
ROLES = {"ann": "write", "mallory": "triage"}


@dataclass
class Org:
    """GitHub as the App sees it: the served repository, the organisation's `.github`
    repository and a central runner repository."""

    fake: FakeOrg
    hooks: Hooks
    private_key: str

    @property
    def repos(self) -> list[FakeGitHub]:
        return list(self.fake.repos.values())

    @property
    def github(self) -> FakeGitHub:
        return self.fake.first

    def __getitem__(self, name: str) -> FakeGitHub:
        return self.fake[f"{self.github.owner}/{name}"]


@pytest.fixture
def org(repo: str) -> Iterator[Org]:
    owner = repo.split("/")[0]
    private, public = rsa_key()
    app = App(APP_ID, public)
    served = FakeGitHub(repo, files=FILES, tokens=dict(TOKENS), permissions=ROLES)
    dotgithub = FakeGitHub(f"{owner}/.github", files={"README.md": "# Our defaults\n"})
    runner = FakeGitHub(f"{owner}/runner", files={"README.md": "# Runs IssuePilot\n"})
    # GitHub starts the workflows a repository has, with the inputs they declare.
    inputs = {"issue", "command", "event"}
    served.workflows = {"issuepilot.yml": inputs}
    runner.workflows = {"issuepilot.yml": inputs | {"repository"}}
    hooks = Hooks(url="http://127.0.0.1:9/webhooks/github", secret=SECRET, app_id=APP_ID)
    with FakeOrg(served, dotgithub, runner, app=app, hooks=hooks) as fake:
        yield Org(fake, hooks, private)
        for github in fake.repos.values():
            assert github.unknown == [], f"routes the fake does not know: {github.unknown}"
            for method, template, status, body in github.answers:
                if status < 300 and status != 204 and not isinstance(body, bytes):
                    errors = answer_errors(method, template, status, body)
                    assert not errors, (method, template, errors[:3])
        assert fake.unknown == []


@pytest.fixture
def service_name(redis_url: str) -> Iterator[str]:
    """A name no other test's service uses: its Redis keys are its own; removed after."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    yield name
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{ServiceKeys(name).prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def settings(org: Org, redis_url: str, service_name: str, tmp_path: Path) -> ServiceSettings:
    app = AppSettings(
        app_id=APP_ID,
        private_key=org.private_key,
        api_url=org.fake.url,
        http_log=tmp_path / "service-http.jsonl",
    )
    return ServiceSettings(
        app=app,
        webhook_secret=SECRET,
        redis_url=redis_url,
        service_token=SERVICE_TOKEN,
        name=service_name,
        max_body_bytes=256 * 1024,
        runner_repo=f"{org.github.owner}/runner",
    )


@dataclass
class Service:
    url: str
    settings: ServiceSettings
    redis: "redis.Redis[bytes]"
    said: list[str] = field(default_factory=list)

    @property
    def keys(self) -> ServiceKeys:
        return ServiceKeys(self.settings.name)

    def added(self, stream: str = "deliveries") -> int:
        """Entries ever added to a stream (what was queued, whether handled since or not)."""
        key = getattr(self.keys, stream)
        if not self.redis.exists(key):
            return 0
        return int(self.redis.xinfo_stream(key)["entries-added"])

    def entries(self, stream: str = "deliveries") -> list[dict[str, Any]]:
        return [
            {k.decode(): v for k, v in fields.items()}
            for _, fields in self.redis.xrange(getattr(self.keys, stream))
        ]

    def post(self, path: str, body: bytes, **headers: str) -> httpx.Response:
        return httpx.post(self.url + path, content=body, headers=headers, timeout=10)

    def metric(self, line_start: str) -> float:
        text = httpx.get(self.url + "/metrics", timeout=10).text
        found = [line for line in text.splitlines() if line.startswith(line_start)]
        return float(found[0].rsplit(" ", 1)[1]) if found else 0.0


@contextmanager
def serving(settings: ServiceSettings, background: bool = True) -> Iterator[Service]:
    """The service on a loopback port, in a thread of its own."""
    said: list[str] = []
    app = create_app(settings, say=said.append, background=background)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    sock = listener("127.0.0.1")
    sock.bind(("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    until(lambda: server.started or not thread.is_alive(), "the service to start")
    assert server.started, "the service did not start"
    client = redis.Redis.from_url(settings.redis_url.get_secret_value())
    try:
        yield Service(f"http://127.0.0.1:{sock.getsockname()[1]}", settings, client, said)
    finally:
        server.should_exit = True
        thread.join(15)
        client.close()
        sock.close()
    check_requests(settings)


@pytest.fixture
def service(settings: ServiceSettings, org: Org) -> Iterator[Service]:
    with serving(settings) as running:
        org.hooks.url = running.url + "/webhooks/github"
        yield running


def check_requests(settings: ServiceSettings) -> None:
    """Every request the service made is one GitHub's REST description has."""
    log = settings.app.http_log
    if log is not None and log.exists():
        for line in log.read_text().splitlines():
            entry = json.loads(line)
            if "/archives/" not in entry["url"]:
                check_request(entry["method"], entry["url"], entry["body"])


def until(condition: Callable[[], object], what: str, timeout: float = 20.0) -> None:
    """Wait for something another thread or process does (not for time to pass)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
