"""A small async GitHub REST client on httpx: only the endpoints IssuePilot uses.

Every request is checked in the tests against GitHub's REST description
(`shared/github/api.github.com.json.gz`). The base URL comes from `GITHUB_API_URL`, so
GitHub Enterprise Server works unchanged.
"""

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from ..errors import GitHubError

API_VERSION = "2022-11-28"
RETRY_STATUSES = {502, 503, 504}
# Which permission a failing request most likely needs, for the error message.
# https://docs.github.com/en/actions/security-for-github-actions/security-guides/automatic-token-authentication
NEEDS = {
    "labels": "issues: write",
    "comments": "issues: write",
    "git": "contents: write",
    "pulls": "pull-requests: write",
    "dispatches": "actions: write",
    "collaborators": "metadata: read",
}


def _q(segment: str) -> str:
    return quote(segment, safe="")


class GitHub:
    """The GitHub API of one repository."""

    def __init__(
        self,
        repo: str,
        token: str,
        api_url: str = "https://api.github.com",
        http_log: Path | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.repo = repo
        self.http_log = http_log
        self.calls = 0
        self._client = httpx.AsyncClient(
            base_url=api_url.rstrip("/"),
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "issuepilot",
            },
            timeout=httpx.Timeout(30.0, connect=10.0),
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    @property
    def base(self) -> str:
        return f"/repos/{self.repo}"

    # -- transport -------------------------------------------------------------------

    def _log(self, method: str, url: str, body: Any) -> None:
        if self.http_log is not None:
            line = json.dumps({"method": method, "url": url, "body": body})
            with self.http_log.open("a", encoding="utf-8") as f:
                f.write(line + "\n")

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: dict[str, Any] | None = None,
        ok: tuple[int, ...] = (),
    ) -> httpx.Response:
        """One API call. Idempotent methods are retried on 502/503/504 and lost connections;
        others are not, since their first attempt may have taken effect."""
        attempts = 3 if method in ("GET", "PUT", "DELETE") else 1
        for attempt in range(attempts):
            request = self._client.build_request(method, path, json=body, params=params)
            self._log(method, str(request.url), body)
            self.calls += 1
            try:
                response = await self._client.send(request)
            except httpx.TransportError as exc:
                if attempt + 1 < attempts:
                    await asyncio.sleep(0.5 * 2**attempt)
                    continue
                raise GitHubError(f"cannot reach GitHub at {request.url.host}: {exc!r}") from None
            if response.status_code in RETRY_STATUSES and attempt + 1 < attempts:
                await asyncio.sleep(0.5 * 2**attempt)
                continue
            if response.is_success or response.status_code in ok:
                return response
            raise _error(method, path, response)
        raise AssertionError("unreachable")

    async def paginate(self, path: str, params: dict[str, Any] | None = None) -> AsyncIterator[Any]:
        """Every item of a list endpoint, following the `Link: rel="next"` header."""
        url: str | None = path
        query: dict[str, Any] | None = {"per_page": 100, **(params or {})}
        while url:
            response = await self.request("GET", url, params=query)
            for item in response.json():
                yield item
            url = response.links.get("next", {}).get("url")
            query = None  # the next link carries the query

    # -- issues, labels, comments --------------------------------------------------------

    async def get_issue(self, number: int) -> dict[str, Any]:
        response = await self.request("GET", f"{self.base}/issues/{number}")
        data: dict[str, Any] = response.json()
        return data

    async def add_labels(self, number: int, names: list[str]) -> None:
        await self.request("POST", f"{self.base}/issues/{number}/labels", {"labels": names})

    async def remove_label(self, number: int, name: str) -> None:
        """Remove a label; one that is already gone is fine."""
        await self.request("DELETE", f"{self.base}/issues/{number}/labels/{_q(name)}", ok=(404,))

    async def list_labels(self) -> list[str]:
        return [label["name"] async for label in self.paginate(f"{self.base}/labels")]

    async def create_label(self, name: str, color: str, description: str) -> None:
        body = {"name": name, "color": color, "description": description}
        await self.request("POST", f"{self.base}/labels", body, ok=(422,))  # 422: exists already

    async def list_comments(self, number: int) -> AsyncIterator[dict[str, Any]]:
        async for comment in self.paginate(f"{self.base}/issues/{number}/comments"):
            yield comment

    async def create_comment(self, number: int, body: str) -> int:
        response = await self.request(
            "POST", f"{self.base}/issues/{number}/comments", {"body": body}
        )
        return int(response.json()["id"])

    async def update_comment(self, comment_id: int, body: str) -> None:
        await self.request("PATCH", f"{self.base}/issues/comments/{comment_id}", {"body": body})

    async def permission(self, login: str) -> str:
        """The user's role on the repository: admin, maintain, write, triage, read or none."""
        response = await self.request(
            "GET", f"{self.base}/collaborators/{_q(login)}/permission", ok=(404,)
        )
        if response.status_code == 404:
            return "none"
        data = response.json()
        return str(data.get("role_name") or data.get("permission") or "none")

    # -- contents and the Git Data API ---------------------------------------------------

    async def get_branch(self, branch: str) -> tuple[str, str]:
        """(head commit SHA, its tree SHA) in one call."""
        response = await self.request("GET", f"{self.base}/branches/{_q(branch)}")
        commit = response.json()["commit"]
        return str(commit["sha"]), str(commit["commit"]["tree"]["sha"])

    async def get_file(self, path: str, ref: str) -> str | None:
        """A file's text at `ref`, or None if it does not exist (or is not a file)."""
        response = await self.request(
            "GET", f"{self.base}/contents/{quote(path)}", params={"ref": ref}, ok=(404,)
        )
        data = response.json()
        if response.status_code == 404 or not isinstance(data, dict) or data.get("type") != "file":
            return None
        return base64.b64decode(data.get("content") or "").decode("utf-8", errors="replace")

    async def create_tree(self, base_tree: str, entries: list[dict[str, Any]]) -> str:
        body = {"base_tree": base_tree, "tree": entries}
        return str((await self.request("POST", f"{self.base}/git/trees", body)).json()["sha"])

    async def create_commit(self, message: str, tree: str, parents: list[str]) -> str:
        body = {"message": message, "tree": tree, "parents": parents}
        return str((await self.request("POST", f"{self.base}/git/commits", body)).json()["sha"])

    async def create_ref(self, branch: str, sha: str) -> bool:
        """Create `refs/heads/<branch>`; False if it exists already."""
        body = {"ref": f"refs/heads/{branch}", "sha": sha}
        response = await self.request("POST", f"{self.base}/git/refs", body, ok=(422,))
        return response.status_code == 201

    async def get_ref(self, branch: str) -> str:
        response = await self.request("GET", f"{self.base}/git/ref/heads/{quote(branch)}")
        return str(response.json()["object"]["sha"])

    async def update_ref(self, branch: str, sha: str) -> None:
        """Move the branch to `sha` only as a fast-forward: a compare-and-set on its head."""
        body = {"sha": sha, "force": False}
        await self.request("PATCH", f"{self.base}/git/refs/heads/{quote(branch)}", body)

    # -- pull requests and workflows -----------------------------------------------------

    async def create_pull(self, title: str, head: str, base: str, body: str) -> tuple[int, str]:
        data = {"title": title, "head": head, "base": base, "body": body}
        response = await self.request("POST", f"{self.base}/pulls", data, ok=(422,))
        if response.status_code == 422:
            found = await self.find_pull(head)
            if found is None:
                raise _error("POST", f"{self.base}/pulls", response)
            return found
        pull = response.json()
        return int(pull["number"]), str(pull["html_url"])

    async def find_pull(self, head: str) -> tuple[int, str] | None:
        owner = self.repo.split("/")[0]
        params = {"head": f"{owner}:{head}", "state": "open"}
        async for pull in self.paginate(f"{self.base}/pulls", params):
            return int(pull["number"]), str(pull["html_url"])
        return None

    async def update_pull(self, number: int, title: str, body: str) -> None:
        await self.request("PATCH", f"{self.base}/pulls/{number}", {"title": title, "body": body})

    async def dispatch(self, workflow: str, ref: str, inputs: dict[str, str]) -> None:
        path = f"{self.base}/actions/workflows/{_q(workflow)}/dispatches"
        await self.request("POST", path, {"ref": ref, "inputs": inputs})


def _error(method: str, path: str, response: httpx.Response) -> GitHubError:
    """One mapping from a failed response to an error that says what to do."""
    status = response.status_code
    try:
        data = response.json()
    except ValueError:
        data = {}
    message = str(data.get("message", "")) if isinstance(data, dict) else ""
    where = f"{method} {path}"
    if status == 401:
        return GitHubError(f"{where}: the token is invalid or expired (401)", status)
    limited = response.headers.get("x-ratelimit-remaining") == "0" or status == 429
    if limited or (status == 403 and "rate limit" in message.lower()):
        reset = response.headers.get("x-ratelimit-reset", "unknown")
        return GitHubError(f"{where}: rate limited by GitHub (resets at epoch {reset})", status)
    if status == 403:
        need = next((p for k, p in NEEDS.items() if f"/{k}" in path), "more permissions")
        return GitHubError(f"{where}: forbidden: the token lacks `{need}` ({message})", status)
    if status == 404:
        return GitHubError(f"{where}: not found (or the token cannot see it)", status)
    if status == 422:
        errors = data.get("errors", []) if isinstance(data, dict) else []
        detail = "; ".join(
            str(e.get("message") or e) if isinstance(e, dict) else str(e) for e in errors
        )
        return GitHubError(f"{where}: rejected: {message} {detail}".strip(), status)
    return GitHubError(f"{where}: GitHub answered {status} {message}".strip(), status)
