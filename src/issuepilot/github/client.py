"""A small async GitHub REST client on httpx: only the endpoints IssuePilot uses.

Every request is checked in the tests against GitHub's REST description (the part of it
vendored in `tests/github/`). The base URL comes from `GITHUB_API_URL`, so
GitHub Enterprise Server works unchanged.
"""

import asyncio
import base64
import json
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from .auth import AppAuth, TokenAuth
from .errors import NotFound, ServerError, ValidationFailed, error_for, is_rate_limited
from .objects import (
    Annotation,
    Comment,
    Comparison,
    Issue,
    IssueEvent,
    Job,
    Pull,
    Repository,
    ReviewComment,
)
from .retry import RETRY_STATUSES, RetryPolicy

API_VERSION = "2022-11-28"
# Methods whose repetition does no harm. POSTs that create something are repeated only
# after checking that the first attempt did not take effect (see `_create`).
IDEMPOTENT = frozenset({"GET", "PUT", "DELETE", "PATCH"})
T = TypeVar("T")


def _q(segment: str) -> str:
    return quote(segment, safe="")


class GitHub:
    """The GitHub API of one repository."""

    def __init__(
        self,
        repo: str,
        token: str = "",
        api_url: str = "https://api.github.com",
        http_log: Path | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        app: tuple[str, str] | None = None,
        on_token: Callable[[str], None] = lambda _: None,
        retry: RetryPolicy | None = None,
        rng: random.Random | None = None,
        app_permissions: dict[str, str] | None = None,
        auth: httpx.Auth | None = None,
    ) -> None:
        self.repo = repo
        self.http_log = http_log
        self._transport = transport
        self.retry = retry or RetryPolicy()
        self.rng = rng or random.Random()
        self.app: AppAuth | None = None
        auth = auth or TokenAuth(token)  # `auth`: the App's own JWT (`github.app`)
        if app is not None:
            self.app = AppAuth(
                *app,
                repo,
                api_url,
                on_token=on_token,
                log=self._log,
                permissions=app_permissions,
                transport=transport,
            )
            auth = self.app
        self._client = httpx.AsyncClient(
            base_url=api_url.rstrip("/"),
            auth=auth,
            headers={
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
        retry: bool | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """One API call, with its retries.

        Rate-limited requests were not carried out, so any of them waits as GitHub asks (up
        to `retry.max_wait_s`) and goes again. 502/503/504 and lost connections are retried
        with back-off only for requests safe to repeat (`retry`, by default the idempotent
        methods); for others the caller must first check whether the attempt took effect.
        """
        safe = method in IDEMPOTENT if retry is None else retry
        policy = self.retry
        for attempt in range(policy.attempts):
            last = attempt + 1 == policy.attempts
            request = self._client.build_request(
                method, path, json=body, params=params, headers=headers
            )
            self._log(method, str(request.url), body)
            try:
                response = await self._client.send(request)
            except httpx.TransportError as exc:
                if safe and not last:
                    await asyncio.sleep(policy.backoff(attempt, self.rng))
                    continue
                host = request.url.host
                raise ServerError(f"{method} {path}: no answer from {host}: {exc!r}", 0) from None
            status = response.status_code
            if response.is_success or status in ok:
                return response
            data = _json(response)
            message = str(data.get("message", "")) if isinstance(data, dict) else ""
            if is_rate_limited(status, response.headers, message):
                wait = policy.rate_limit_wait(response.headers, time.time())
                if policy.may_wait(wait) and not last:
                    await asyncio.sleep(wait)
                    continue
            elif status in RETRY_STATUSES and safe and not last:
                await asyncio.sleep(policy.backoff(attempt, self.rng))
                continue
            raise error_for(method, path, status, response.headers, data)
        raise AssertionError("unreachable")

    async def _create(
        self, attempt: Callable[[], Awaitable[T]], find: Callable[[], Awaitable[T | None]]
    ) -> T:
        """Run a non-idempotent create; after an unclear failure, look for its effect
        (`find`) before trying again, so nothing is made twice."""
        for n in range(self.retry.attempts):
            try:
                return await attempt()
            except ServerError:
                if (found := await find()) is not None:
                    return found
                if n + 1 == self.retry.attempts:
                    raise
                await asyncio.sleep(self.retry.backoff(n, self.rng))
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

    async def get_issue(self, number: int) -> Issue:
        response = await self.request("GET", f"{self.base}/issues/{number}")
        return Issue.model_validate(response.json())

    async def add_labels(self, number: int, names: list[str]) -> None:
        """Adding labels an issue has already changes nothing: safe to repeat."""
        path = f"{self.base}/issues/{number}/labels"
        await self.request("POST", path, {"labels": names}, retry=True)

    async def remove_label(self, number: int, name: str) -> None:
        """Remove a label; one that is already gone is fine."""
        await self.request("DELETE", f"{self.base}/issues/{number}/labels/{_q(name)}", ok=(404,))

    async def list_labels(self) -> list[str]:
        return [label["name"] async for label in self.paginate(f"{self.base}/labels")]

    async def create_label(self, name: str, color: str, description: str) -> None:
        body = {"name": name, "color": color, "description": description}
        # 422 means it exists already, so a repeat is harmless.
        await self.request("POST", f"{self.base}/labels", body, ok=(422,), retry=True)

    async def list_issues(
        self, label: str, state: str = "open", since: datetime | None = None
    ) -> AsyncIterator[Issue]:
        """The issues (not pull requests) carrying `label`, recently updated first.
        https://docs.github.com/en/rest/issues/issues#list-repository-issues"""
        params = {"labels": label, "state": state, "sort": "updated", "direction": "desc"}
        if since is not None:
            params["since"] = _iso(since)
        async for item in self.paginate(f"{self.base}/issues", params):
            issue = Issue.model_validate(item)
            if issue.pull_request is None:
                yield issue

    async def issue_events(self, number: int) -> list[IssueEvent]:
        """The newest entries of the issue's event log (its last page), oldest first."""
        path = f"{self.base}/issues/{number}/events"
        first = await self.request("GET", path, params={"per_page": 100})
        items = first.json()
        if (last := first.links.get("last", {}).get("url")) is not None:
            items = (await self.request("GET", last)).json()
        return [IssueEvent.model_validate(item) for item in items]

    async def newest_comments(
        self, number: int, count: int | None = None
    ) -> AsyncIterator[Comment]:
        """The issue's comments, newest first, a page at a time from the last page: finding a
        recent comment costs the same whatever came before it. With `count` (the issue's
        `comments`), the first request goes straight to the last page."""
        path = f"{self.base}/issues/{number}/comments"
        pages = -(-count // 100) if count is not None else 0
        if not pages:
            first = await self.request("GET", path, params={"per_page": 100})
            last = first.links.get("last", {}).get("url")
            pages = int(httpx.URL(last).params.get("page", "1")) if last else 1
            if pages == 1:
                for item in reversed(first.json()):
                    yield Comment.model_validate(item)
                return
        for page in range(pages, 0, -1):
            answer = await self.request("GET", path, params={"per_page": 100, "page": page})
            for item in reversed(answer.json()):
                yield Comment.model_validate(item)

    async def list_comments(self, number: int) -> AsyncIterator[Comment]:
        async for comment in self.paginate(f"{self.base}/issues/{number}/comments"):
            yield Comment.model_validate(comment)

    async def create_comment(self, number: int, body: str) -> Comment:
        async def attempt() -> Comment:
            path = f"{self.base}/issues/{number}/comments"
            return Comment.model_validate((await self.request("POST", path, {"body": body})).json())

        async def find() -> Comment | None:
            found = None
            async for comment in self.list_comments(number):
                if comment.body == body:
                    found = comment
            return found

        return await self._create(attempt, find)

    async def update_comment(self, comment_id: int, body: str, retry: bool = True) -> Comment:
        """Edit a comment; without `retry`, an unclear failure is the caller's to judge (a
        repeat landing after someone else's edit would undo it)."""
        path = f"{self.base}/issues/comments/{comment_id}"
        response = await self.request("PATCH", path, {"body": body}, retry=retry)
        return Comment.model_validate(response.json())

    async def permission(self, login: str) -> str:
        """The user's role on the repository: admin, maintain, write, triage, read or none."""
        response = await self.request(
            "GET", f"{self.base}/collaborators/{_q(login)}/permission", ok=(404,)
        )
        if response.status_code == 404:
            return "none"
        data = response.json()
        return str(data.get("role_name") or data.get("permission") or "none")

    async def get_repository(self) -> Repository:
        """The repository: its default branch, and the token's user's permissions on it."""
        return Repository.model_validate((await self.request("GET", self.base)).json())

    async def login(self) -> str:
        """Whose token this is. https://docs.github.com/en/rest/users/users"""
        return str((await self.request("GET", "/user")).json()["login"])

    # -- contents and the Git Data API ---------------------------------------------------

    async def download_tarball(self, ref: str, into: Path) -> None:
        """The repository's files at `ref` as a gzipped tarball, written to `into`. GitHub
        answers with a redirect to its archive host, which is asked without the token.
        https://docs.github.com/en/rest/repos/contents#download-a-repository-archive-tar"""
        path = f"{self.base}/tarball/{quote(ref)}"
        location = (await self.request("GET", path, ok=(302,))).headers.get("location", "")
        if not location:
            raise ServerError(f"GET {path}: no archive to download", 0)
        self._log("GET", location.split("?", 1)[0], None)  # the query may be a credential
        timeout = httpx.Timeout(300.0, connect=10.0)
        async with httpx.AsyncClient(timeout=timeout, transport=self._transport) as host:
            headers = {"User-Agent": "issuepilot"}
            async with host.stream("GET", location, headers=headers) as archive:
                if archive.status_code != 200:
                    raise ServerError(f"GET {path}: the archive answered {archive.status_code}", 0)
                with into.open("wb") as out:
                    async for chunk in archive.aiter_bytes():
                        out.write(chunk)

    async def get_branch(self, branch: str) -> tuple[str, str]:
        """(head commit SHA, its tree SHA) in one call."""
        response = await self.request("GET", f"{self.base}/branches/{_q(branch)}")
        commit = response.json()["commit"]
        return str(commit["sha"]), str(commit["commit"]["tree"]["sha"])

    async def get_raw(self, path: str, ref: str = "") -> str | None:
        """A file's text at `ref` (default: the default branch) as raw bytes (up to 100 MB,
        where the JSON form of the contents API stops at 1 MB); None if it does not exist."""
        response = await self.request(
            "GET",
            f"{self.base}/contents/{quote(path)}",
            params={"ref": ref} if ref else None,
            ok=(404,),
            headers={"Accept": "application/vnd.github.raw+json"},
        )
        if response.status_code == 404:
            return None
        return response.content.decode("utf-8")

    async def put_file(
        self, path: str, text: str, blob: str | None, branch: str, message: str
    ) -> bool:
        """Write one file on `branch` as a new commit on its head, if the file is still the
        blob `blob` (a compare-and-set: GitHub answers 409 otherwise); False if it was not.
        https://docs.github.com/en/rest/repos/contents#create-or-update-file-contents"""
        body: dict[str, Any] = {
            "message": message,
            "content": base64.b64encode(text.encode()).decode(),
            "branch": branch,
        }
        if blob is not None:
            body["sha"] = blob
        path = f"{self.base}/contents/{quote(path)}"
        response = await self.request("PUT", path, body, ok=(409, 422))
        return response.is_success

    async def get_file(self, path: str, ref: str) -> str | None:
        """A file's text at `ref`, or None if it does not exist (or is not a file)."""
        response = await self.request(
            "GET", f"{self.base}/contents/{quote(path)}", params={"ref": ref}, ok=(404,)
        )
        data = response.json()
        if response.status_code == 404 or not isinstance(data, dict) or data.get("type") != "file":
            return None
        return base64.b64decode(data.get("content") or "").decode("utf-8", errors="replace")

    # Blobs, trees and commits are addressed by content: a repeat makes at most an
    # unreferenced twin, so these POSTs are retried like idempotent requests.

    async def create_blob(self, content: bytes) -> str:
        body = {"content": base64.b64encode(content).decode(), "encoding": "base64"}
        response = await self.request("POST", f"{self.base}/git/blobs", body, retry=True)
        return str(response.json()["sha"])

    async def list_tree(self, ref: str) -> tuple[list[str], bool]:
        """Every file path at `ref` in one call, and whether GitHub cut the list short."""
        path = f"{self.base}/git/trees/{quote(ref)}"
        data = (await self.request("GET", path, params={"recursive": "1"})).json()
        paths = [str(e["path"]) for e in data.get("tree", []) if e.get("type") == "blob"]
        return paths, bool(data.get("truncated"))

    async def create_tree(self, base_tree: str | None, entries: list[dict[str, Any]]) -> str:
        """A tree of `entries` over `base_tree` (None: the entries are the whole tree)."""
        body: dict[str, Any] = {"tree": entries}
        if base_tree is not None:
            body["base_tree"] = base_tree
        response = await self.request("POST", f"{self.base}/git/trees", body, retry=True)
        return str(response.json()["sha"])

    async def create_commit(self, message: str, tree: str, parents: list[str]) -> str:
        body = {"message": message, "tree": tree, "parents": parents}
        response = await self.request("POST", f"{self.base}/git/commits", body, retry=True)
        return str(response.json()["sha"])

    async def create_ref(self, branch: str, sha: str, space: str = "heads") -> bool:
        """Create `refs/<space>/<branch>` at `sha`; False if it exists already."""

        async def attempt() -> bool:
            body = {"ref": f"refs/{space}/{branch}", "sha": sha}
            response = await self.request("POST", f"{self.base}/git/refs", body, ok=(422,))
            return response.status_code == 201

        async def find() -> bool | None:
            try:
                return True if await self.get_ref(branch, space) == sha else None
            except NotFound:
                return None

        return await self._create(attempt, find)

    async def get_ref(self, branch: str, space: str = "heads") -> str:
        response = await self.request("GET", f"{self.base}/git/ref/{space}/{quote(branch)}")
        return str(response.json()["object"]["sha"])

    async def update_ref(self, branch: str, sha: str, space: str = "heads") -> None:
        """Move `refs/<space>/<branch>` to `sha` only as a fast-forward: a compare-and-set
        on its head (GitHub answers 422 to anything else)."""
        body = {"sha": sha, "force": False}
        await self.request("PATCH", f"{self.base}/git/refs/{space}/{quote(branch)}", body)

    # -- pull requests and workflows -----------------------------------------------------

    async def create_pull(
        self, title: str, head: str, base: str, body: str, draft: bool = False
    ) -> Pull:
        """Open the pull request (a draft, if asked), or adopt the open one of the branch."""

        async def attempt() -> Pull:
            data: dict[str, Any] = {"title": title, "head": head, "base": base, "body": body}
            if draft:
                data["draft"] = True
            try:
                response = await self.request("POST", f"{self.base}/pulls", data)
            except ValidationFailed:
                if (found := await self.find_pull(head)) is not None:
                    return found  # "A pull request already exists" for this branch
                raise
            return Pull.model_validate(response.json())

        return await self._create(attempt, lambda: self.find_pull(head))

    async def get_pull(self, number: int) -> Pull:
        return Pull.model_validate(
            (await self.request("GET", f"{self.base}/pulls/{number}")).json()
        )

    async def closed_pulls(self, since: datetime) -> AsyncIterator[Pull]:
        """Pull requests closed (merged or not) or otherwise updated since `since`, most
        recently updated first; stops at the first one older (the list has no `since`)."""
        params = {"state": "closed", "sort": "updated", "direction": "desc"}
        async for item in self.paginate(f"{self.base}/pulls", params):
            pull = Pull.model_validate(item)
            if pull.updated_at is not None and pull.updated_at < since:
                return
            yield pull

    async def find_pull(self, head: str, state: str = "open") -> Pull | None:
        """The newest pull request of branch `head` in this repository in `state` (open,
        closed or all), if there is one: the list is newest first.
        https://docs.github.com/en/rest/pulls/pulls#list-pull-requests"""
        owner = self.repo.split("/")[0]
        params = {"head": f"{owner}:{head}", "state": state}
        async for pull in self.paginate(f"{self.base}/pulls", params):
            return Pull.model_validate(pull)
        return None

    async def update_pull(self, number: int, title: str, body: str) -> None:
        await self.request("PATCH", f"{self.base}/pulls/{number}", {"title": title, "body": body})

    async def compare(self, base: str, head: str) -> Comparison:
        """What `head` changed since its merge base with `base` (files, first 300)."""
        path = f"{self.base}/compare/{_q(base)}...{_q(head)}"
        return Comparison.model_validate((await self.request("GET", path)).json())

    # -- reviews ---------------------------------------------------------------------------

    async def review_comments(self, number: int, review_id: int) -> list[ReviewComment]:
        """The inline comments of one review."""
        path = f"{self.base}/pulls/{number}/reviews/{review_id}/comments"
        return [ReviewComment.model_validate(c) async for c in self.paginate(path)]

    async def pull_review_comments(self, number: int) -> list[ReviewComment]:
        """Every inline comment of the pull request, replies included."""
        path = f"{self.base}/pulls/{number}/comments"
        return [ReviewComment.model_validate(c) async for c in self.paginate(path)]

    async def reply_to_review_comment(self, number: int, comment_id: int, body: str) -> None:
        """Answer in a review comment's thread. Not repeated after an unclear failure: the
        round looks for its earlier replies before it answers (see `steps.fix`)."""
        path = f"{self.base}/pulls/{number}/comments/{comment_id}/replies"
        await self.request("POST", path, {"body": body})

    # -- workflow runs and checks ----------------------------------------------------------

    async def run_jobs(self, run_id: int) -> list[Job]:
        """The jobs of a workflow run's latest attempt."""
        path, jobs = f"{self.base}/actions/runs/{run_id}/jobs", []
        params: dict[str, Any] | None = {"filter": "latest", "per_page": 100}
        url: str | None = path
        while url:
            response = await self.request("GET", url, params=params)
            jobs += [Job.model_validate(j) for j in response.json().get("jobs", [])]
            url, params = response.links.get("next", {}).get("url"), None
        return jobs

    async def job_log_tail(self, job_id: int, cap: int) -> str:
        """The last `cap` bytes of a job's log. GitHub answers with a redirect to its log
        storage; that request goes without the Authorization header, whose token must
        reach no host but GitHub's API."""
        path = f"{self.base}/actions/jobs/{job_id}/logs"
        response = await self.request("GET", path, ok=(302,))
        location = response.headers.get("location", "")
        if response.status_code != 302 or not location:
            return response.text[-cap:]
        self._log("GET", location.split("?", 1)[0], None)  # the query is a credential
        async with httpx.AsyncClient(
            timeout=httpx.Timeout(30.0, connect=10.0), transport=self._transport
        ) as storage:
            headers = {"Range": f"bytes=-{cap}", "User-Agent": "issuepilot"}
            async with storage.stream("GET", location, headers=headers) as log:
                if log.status_code not in (200, 206):
                    return ""
                tail = b""
                async for chunk in log.aiter_bytes():
                    tail = (tail + chunk)[-cap:]
        return tail.decode("utf-8", errors="replace")

    async def check_annotations(self, check_run_id: int) -> list[Annotation]:
        path = f"{self.base}/check-runs/{check_run_id}/annotations"
        return [Annotation.model_validate(a) async for a in self.paginate(path)]

    async def dispatch(self, workflow: str, ref: str, inputs: dict[str, str]) -> None:
        """Start a workflow run. Repeated after an unclear failure, like an idempotent
        request: a doubled run finds the task advanced and costs a runner, a lost one would
        leave a task that waits for files, or for its next step, until the sweep."""
        path = f"{self.base}/actions/workflows/{_q(workflow)}/dispatches"
        await self.request("POST", path, {"ref": ref, "inputs": inputs}, retry=True)

    async def branch_rules(self, branch: str) -> list[str]:
        """The types of the repository rules that apply to a branch (even one not yet made).
        https://docs.github.com/en/rest/repos/rules#get-rules-for-a-branch"""
        rules = self.paginate(f"{self.base}/rules/branches/{_q(branch)}")
        try:
            return [str(rule.get("type")) async for rule in rules]
        except NotFound:
            return []  # a server without repository rules


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {}


def _iso(when: datetime) -> str:
    """A time as GitHub's ISO 8601 query parameters want it (UTC, whole seconds)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
