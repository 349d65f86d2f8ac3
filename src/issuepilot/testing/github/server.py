"""`FakeGitHub`: one repository's GitHub, served over real HTTP on loopback (`start`, or
`with`) or in-process (`transport()`, for an httpx client).

It serves the routes of `routes.ROUTES` and answers any other with GitHub's 404 body,
recording it in `unknown` so tests can fail on it. Every request is kept in `requests`
and every answer in `answers`; faults can be injected (`Faults`), and what people do comes
back as the events GitHub would send (`Activity`). Job logs are served by a second host
(`log_host`), started and stopped with this one, as GitHub serves them from its storage.
"""

import json
import re
import time
from dataclasses import replace
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from ..loopback import JsonServer, LostReply
from .events import Activity
from .examples import answers, overlay
from .faults import Faults
from .routes import ROUTES, Answer, ApiError, Call, Route

Json = Any
Reply = tuple[int, Json, dict[str, str]]
NOT_FOUND = {
    "message": "Not Found",
    "documentation_url": "https://docs.github.com/rest",
    "status": "404",
}
BAD_CREDENTIALS = {"message": "Bad credentials", "status": "401"}


def route_pattern(template: str, repo: str) -> re.Pattern[str]:
    """A route's template as a regex for this repository's paths; `{path}`, `{ref}`,
    `{branch}`, `{name}` and `{basehead}` may hold slashes."""
    pattern = re.escape(template.replace("{owner}/{repo}", repo))
    pattern = re.sub(r"\\\{(path|ref|branch|name|basehead)\\\}", r"(?P<\1>.+)", pattern)
    return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", pattern) + "$")


class FakeGitHub(Activity, Faults, JsonServer):
    def __init__(
        self,
        repo: str = "octo/demo",
        files: dict[str, str] | None = None,
        tokens: dict[str, str] | None = None,
        permissions: dict[str, str] | None = None,
        prefix: str = "",
    ) -> None:
        Activity.__init__(self, repo, files, tokens, permissions)
        Faults.__init__(self)
        JsonServer.__init__(self)
        self.prefix = prefix  # "/api/v3" serves like GitHub Enterprise Server
        self.requests: list[tuple[str, str, Json]] = []  # (method, target, body)
        self.unknown: list[tuple[str, str]] = []
        self.answers: list[tuple[str, str, int, Json]] = []  # (method, template, status, body)
        self._routes = [(route, route_pattern(route.template, repo)) for route in ROUTES]

    @property
    def url(self) -> str:
        return self.origin + self.prefix

    def respond(self, method: str, target: str, body: bytes, headers: dict[str, str]) -> Reply:
        return self.handle(
            method, target, body, headers.get("authorization", ""), headers.get("accept", "")
        )

    @property
    def log_host_requests(self) -> list[tuple[str, str, dict[str, str]]]:
        """(method, target, headers) of every request the log host received."""
        return self.log_host.requests

    def start(self) -> Self:
        self.log_host.start()
        return super().start()

    def stop(self) -> None:
        self.release_held()
        super().stop()
        self.log_host.stop()

    def transport(self) -> httpx.MockTransport:
        """Both hosts in-process: requests to the log host's origin go to it, any other to
        the API."""
        api, logs = super().transport(), self.log_host.transport()

        def handle(request: httpx.Request) -> httpx.Response:
            origin = httpx.URL(self.log_host.origin)
            to_logs = (request.url.host, request.url.port) == (origin.host, origin.port)
            return (logs if to_logs else api).handle_request(request)

        return httpx.MockTransport(handle)

    def handle(self, method: str, target: str, raw: bytes, auth: str, accept: str = "") -> Reply:
        """Answer one request: (status, JSON body, extra headers). Raises `LostReply` when
        a fault drops the reply of a request it let through."""
        parts = urlsplit(target)
        if self.prefix and not parts.path.startswith(self.prefix + "/"):
            return self._unknown(method, target)
        path = parts.path.removeprefix(self.prefix)
        body = json.loads(raw) if raw else None
        with self.lock:
            self.requests.append((method, target, body))
        route, params = self._find(method, path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        token = auth.removeprefix("Bearer ").strip()
        call = Call(params, query, body, "", token, self.url, path, accept=accept)
        if route is not None and route.app_jwt:  # the App's own calls: no token, no faults
            return self._serve(route, call)
        user = self._login(token)
        if user is None:
            return 401, BAD_CREDENTIALS, {}
        fault = self.fault_for(method, path)
        if fault is not None and not fault.lose_reply:
            return fault.answer()
        if route is None:
            return self._unknown(method, target)
        reply = self._serve(route, replace(call, user=user))
        if fault is not None and reply[0] < 400:  # carried out; now its reply goes missing
            raise LostReply
        return reply

    def _login(self, token: str) -> str | None:
        """Whose token this is, if it is one and has not expired."""
        if self.token_expiry.get(token, float("inf")) < time.time():
            return None
        return self.tokens.get(token)

    def _find(self, method: str, path: str) -> tuple[Route | None, dict[str, str]]:
        """The route serving this request, and the path's parameters."""
        for route, pattern in self._routes:
            match = pattern.match(path)
            if route.method == method and match:
                return route, {k: unquote(v) for k, v in match.groupdict().items()}
        return None, {}

    def _serve(self, route: Route, call: Call) -> Reply:
        try:
            with self.lock:
                answer: Answer = route.handler(self, call)
        except ApiError as exc:
            return exc.status, exc.body, {}
        body = answer.body
        example = answers().get(f"{route.method} {route.template}")
        if answer.status < 300 and example is not None and not isinstance(body, bytes):
            body = overlay(example, body)  # the live values over GitHub's example answer
        with self.lock:
            self.answers.append((route.method, route.template, answer.status, body))
        return answer.status, body, answer.headers

    def _unknown(self, method: str, target: str) -> Reply:
        with self.lock:
            self.unknown.append((method, target))
        return 404, NOT_FOUND, {}
