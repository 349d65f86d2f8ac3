"""Authentication as `httpx.Auth`: a token as it is, or a GitHub App's installation token.

A GitHub App signs a JWT (RS256, issued 60 s in the past against clock drift, expiring
within 10 minutes), finds the repository's installation and exchanges the JWT for an
installation token. The token is cached until shortly before it expires and refreshed
transparently, mid-run if need be. Pull requests and labels made with it trigger the
repository's workflows, which those made with `GITHUB_TOKEN` do not.
https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/authenticating-as-a-github-app-installation
"""

import asyncio
import functools
import time
from collections.abc import AsyncGenerator, Callable
from datetime import datetime
from typing import Any

import httpx

from ..errors import InputError
from .errors import NotFound, ValidationFailed, error_for

REFRESH_MARGIN_S = 300  # renew five minutes before expiry: a step's requests never race it
# What IssuePilot's installation token may do, and nothing more: it is asked for this
# repository only, with these permissions (plus `workflows: write` where the config allows
# plans to change workflow files).
# https://docs.github.com/en/rest/apps/apps#create-an-installation-access-token-for-an-app
APP_PERMISSIONS = {
    "contents": "write",  # branches and commits through the Git Data API
    "issues": "write",  # labels and the status comment
    "pull_requests": "write",  # open and update the pull request
    "actions": "write",  # dispatch the next step
    "metadata": "read",  # collaborator permissions, repository rules
}


class TokenAuth(httpx.Auth):
    def __init__(self, token: str) -> None:
        self.token = token

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        request.headers["Authorization"] = f"Bearer {self.token}"
        yield request


def app_jwt(app_id: str, private_key: str, now: float) -> str:
    """The App's own credential: a JWT it signs, issued a minute early against clock
    drift and expiring within GitHub's ten minutes."""
    import jwt  # only App auth needs it: kept off every other run's start-up

    claims = {"iat": int(now) - 60, "exp": int(now) + 540, "iss": app_id}
    try:
        return jwt.encode(claims, _loaded(private_key), algorithm="RS256")
    except (ValueError, TypeError) as exc:
        raise InputError(f"app-private-key cannot sign a JWT: {exc}") from None


@functools.lru_cache(maxsize=4)
def _loaded(private_key: str) -> Any:
    """The PEM key parsed once: parsing costs about 50 ms, signing with it 1 ms (a
    service signs for every token it makes, on the loop that answers webhooks)."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    return load_pem_private_key(private_key.encode(), password=None)


class AppJwtAuth(httpx.Auth):
    """The App itself (its `/app` endpoints): a fresh JWT on each request, which costs
    a signature and no call.
    https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/authenticating-as-a-github-app"""

    def __init__(self, app_id: str, private_key: str, clock: Callable[[], float] = time.time):
        if not app_id.strip().isdigit():
            raise InputError(f"app-id must be the App's numeric ID, not {app_id!r}")
        self.app_id, self.private_key, self.clock = app_id.strip(), private_key, clock

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = app_jwt(self.app_id, self.private_key, self.clock())
        request.headers["Authorization"] = f"Bearer {token}"
        yield request


class AppAuth(httpx.Auth):
    """Installation-token auth for one repository.

    `on_token` sees every new token (the CLI masks it in the log); `log` sees the token
    exchange requests (method, URL; never headers)."""

    requires_response_body = True

    def __init__(
        self,
        app_id: str,
        private_key: str,
        repo: str,
        api_url: str,
        on_token: Callable[[str], None] = lambda _: None,
        log: Callable[[str, str, Any], None] = lambda *_: None,
        clock: Callable[[], float] = time.time,
        permissions: dict[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not app_id.strip().isdigit():
            raise InputError(f"app-id must be the App's numeric ID, not {app_id!r}")
        if "PRIVATE KEY" not in private_key:
            raise InputError("app-private-key is not a PEM private key (-----BEGIN ... KEY-----)")
        self.app_id = app_id.strip()
        self.private_key = private_key
        self.repo = repo
        self.api_url = api_url.rstrip("/")
        self.on_token = on_token
        self.log = log
        self.clock = clock
        self.token = ""
        self.expires_at = 0.0
        self.asked = dict(permissions or APP_PERMISSIONS)
        self.transport = transport
        self.permissions: dict[str, str] = {}  # what the token was granted
        self._installation = ""
        self._lock = asyncio.Lock()

    def app_jwt(self) -> str:
        return app_jwt(self.app_id, self.private_key, self.clock())

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.app_jwt()}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }

    def _stale(self) -> bool:
        return self.clock() >= self.expires_at - REFRESH_MARGIN_S

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if self._stale():
            async with self._lock:
                if self._stale():
                    await self._refresh()
        request.headers["Authorization"] = f"Bearer {self.token}"
        yield request

    async def _refresh(self) -> None:
        async with httpx.AsyncClient(timeout=30, transport=self.transport) as client:
            if not self._installation:
                try:
                    data = await self._call(client, "GET", f"/repos/{self.repo}/installation")
                except NotFound:
                    raise InputError(
                        f"GitHub App {self.app_id} is not installed on {self.repo}: install it "
                        "on the repository, or check app-id"
                    ) from None
                self._installation = str(data["id"])
            path = f"/app/installations/{self._installation}/access_tokens"
            body = {"repositories": [self.repo.split("/", 1)[1]], "permissions": self.asked}
            try:
                data = await self._call(client, "POST", path, body)
            except ValidationFailed:
                asked = ", ".join(f"{k}: {v}" for k, v in self.asked.items())
                raise InputError(
                    f"GitHub App {self.app_id} was not granted what IssuePilot needs on "
                    f"{self.repo} ({asked}): add the permissions in the App's settings and "
                    "accept them on the installation"
                ) from None
        self.token = str(data["token"])
        expires = datetime.fromisoformat(str(data["expires_at"]).replace("Z", "+00:00"))
        self.expires_at = expires.timestamp()
        self.permissions = {str(k): str(v) for k, v in (data.get("permissions") or {}).items()}
        self.on_token(self.token)

    async def _call(
        self, client: httpx.AsyncClient, method: str, path: str, body: Any = None
    ) -> Any:
        url = self.api_url + path
        self.log(method, url, body)
        try:
            response = await client.request(method, url, json=body, headers=self._headers())
        except httpx.TransportError as exc:
            raise error_for(method, path, 503, {}, {"message": repr(exc)}) from None
        if not response.is_success:
            data = response.json() if response.content else {}
            raise error_for(method, path, response.status_code, response.headers, data)
        return response.json()
