"""A stateful local GitHub for tests and the demo, spoken to over real HTTP on loopback.

It knows the endpoints IssuePilot uses (issues, labels, comments, collaborator permission,
branches, contents, git trees/commits/refs, pulls, workflow dispatches) and answers any
other route with GitHub's 404 body, recording it in `unknown` so tests can fail on it.
It builds event payloads as GitHub would send them (`label_event`, `comment_event`,
`merge_pull`, ...) and can be told to fail or to hold a request (`fail`, `hold`).
"""

import base64
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .loopback import JsonServer, LostReply

Json = Any
Reply = tuple[int, Json]
NOT_FOUND = {
    "message": "Not Found",
    "documentation_url": "https://docs.github.com/rest",
    "status": "404",
}
BOT = "github-actions[bot]"


class ApiError(Exception):
    def __init__(self, status: int, message: str, errors: list[Json] | None = None) -> None:
        self.status = status
        self.body: dict[str, Any] = {"message": message, "status": str(status)}
        if errors:
            self.body["errors"] = errors


@dataclass
class Rule:
    method: str
    pattern: re.Pattern[str]
    status: int = 0  # fail with this status
    times: int = 1
    release: threading.Event | None = None  # hold until set
    arrived: threading.Event | None = None
    headers: dict[str, str] = field(default_factory=dict)
    lose_reply: bool = False  # carry the request out, then drop the connection


@dataclass
class App:
    """A GitHub App installed on the repository."""

    app_id: str
    public_key: str
    slug: str = "issuepilot-test"
    permissions: dict[str, str] = field(
        default_factory=lambda: {
            "contents": "write",
            "issues": "write",
            "pull_requests": "write",
            "actions": "write",
            "metadata": "read",
        }
    )
    token_ttl_s: float = 3600.0
    installation_id: int = 77


@dataclass
class Issue:
    number: int
    title: str
    body: str
    user: str
    labels: list[str] = field(default_factory=list)
    state: str = "open"
    is_pull: bool = False


EXAMPLES: dict[str, Json] = json.loads(
    (Path(__file__).with_name("github_examples.json")).read_text(encoding="utf-8")
)


USER: Json = EXAMPLES["POST /repos/{owner}/{repo}/issues/{issue_number}/comments"]["user"]


def _overlay(example: Json, live: Json) -> Json:
    if isinstance(live, list):
        item = example[0] if isinstance(example, list) and example else {}
        return [_overlay(item, x) for x in live]
    if isinstance(live, dict) and isinstance(example, dict):
        merged = dict(example)
        for key, value in live.items():
            merged[key] = _overlay(example.get(key), value) if key in example else value
        return merged
    return live


def _pattern(template: str) -> re.Pattern[str]:
    """A route template as a regex: `{path}` and `{ref}` may hold slashes."""
    pattern = re.sub(r"\{(path|ref|branch|name)\}", r"(.+)", template)
    return re.compile("^" + re.sub(r"\{\w+\}", r"([^/]+)", pattern) + "$")


def _sha(kind: str, data: bytes) -> str:
    return hashlib.sha1(f"{kind} {len(data)}\0".encode() + data).hexdigest()


def _now() -> str:
    return "2026-01-01T00:00:00Z"


class FakeGitHub(JsonServer):
    def __init__(
        self,
        repo: str = "octo/demo",
        files: dict[str, str] | None = None,
        tokens: dict[str, str] | None = None,
        permissions: dict[str, str] | None = None,
        prefix: str = "",
    ) -> None:
        super().__init__()
        self.repo = repo
        self.prefix = prefix  # "/api/v3" serves like GitHub Enterprise Server
        self.owner = repo.split("/")[0]
        self.tokens = tokens or {"ghs_fake": BOT}
        self.token_expiry: dict[str, float] = {}
        self.app: App | None = None
        self.branch_rules: dict[str, list[str]] = {}  # fnmatch pattern -> rule types
        self.permissions = {"octocat": "admin", **(permissions or {})}
        self.issues: dict[int, Issue] = {}
        self.labels: dict[str, dict[str, str]] = {}
        self.comments: dict[int, dict[str, Any]] = {}
        self.blobs: dict[str, bytes] = {}
        self.trees: dict[str, dict[str, tuple[str, str]]] = {}
        self.commits: dict[str, dict[str, Any]] = {}
        self.refs: dict[str, str] = {}
        self.pulls: dict[int, dict[str, Any]] = {}
        self.dispatches: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str, Json]] = []
        self.unknown: list[tuple[str, str]] = []
        self.rules: list[Rule] = []
        self._next_id = 1000
        self._more = False  # set by `_page` when a list has another page
        self._lock = threading.RLock()
        tree = self._put_tree(
            {
                p: ("100644", self._put_blob(c.encode()))
                for p, c in (files or {"README.md": "# demo\n"}).items()
            }
        )
        self.refs["heads/main"] = self._put_commit(tree, [], "initial commit")
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Reply], str]] = []
        self.answers: list[tuple[str, str, int, Json]] = []  # (method, template, status, body)
        base = rf"/repos/{re.escape(repo)}"
        routes: list[tuple[str, str, Callable[..., Reply]]] = [
            ("GET", "/issues/{issue_number}", self._get_issue),
            ("POST", "/issues/{issue_number}/labels", self._add_labels),
            ("DELETE", "/issues/{issue_number}/labels/{name}", self._remove_label),
            ("GET", "/labels", self._list_labels),
            ("POST", "/labels", self._create_label),
            ("GET", "/issues/{issue_number}/comments", self._list_comments),
            ("POST", "/issues/{issue_number}/comments", self._create_comment),
            ("PATCH", "/issues/comments/{comment_id}", self._update_comment),
            ("GET", "/collaborators/{username}/permission", self._permission),
            ("GET", "/branches/{branch}", self._get_branch),
            ("GET", "/contents/{path}", self._get_contents),
            ("POST", "/git/blobs", self._create_blob),
            ("POST", "/git/trees", self._create_tree),
            ("GET", "/git/trees/{tree_sha}", self._get_tree),
            ("POST", "/git/commits", self._create_commit),
            ("POST", "/git/refs", self._create_ref),
            ("GET", "/git/ref/{ref}", self._get_ref),
            ("PATCH", "/git/refs/{ref}", self._update_ref),
            ("GET", "/pulls", self._list_pulls),
            ("POST", "/pulls", self._create_pull),
            ("PATCH", "/pulls/{pull_number}", self._update_pull),
            ("POST", "/actions/workflows/{workflow_id}/dispatches", self._dispatch),
            ("GET", "/rules/branches/{branch}", self._rules),
        ]
        for method, path, handler in routes:
            template = "/repos/{owner}/{repo}" + path
            self._routes.append((method, _pattern(base + path), handler, template))
        self._app_routes: list[tuple[str, re.Pattern[str], Callable[..., Reply], str]] = [
            (
                "GET",
                _pattern(base + "/installation"),
                self._installation,
                "/repos/{owner}/{repo}/installation",
            ),
            (
                "POST",
                _pattern("/app/installations/{installation_id}/access_tokens"),
                self._access_token,
                "/app/installations/{installation_id}/access_tokens",
            ),
        ]

    # -- server --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.origin + self.prefix

    def respond(
        self, method: str, target: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, Json, dict[str, str]]:
        return self.handle(method, target, body, headers.get("authorization", ""))

    def stop(self) -> None:
        for rule in self.rules:
            if rule.release is not None:
                rule.release.set()
        super().stop()

    # -- fault injection -----------------------------------------------------------------

    def fail(
        self,
        method: str,
        path_regex: str,
        status: int = 502,
        times: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next `times` matching requests with `status` (and `headers`)."""
        rule = Rule(
            method, re.compile(path_regex), status=status, times=times, headers=headers or {}
        )
        self.rules.append(rule)

    def rate_limit(
        self, method: str, path_regex: str, retry_after: int = 0, times: int = 1
    ) -> None:
        """Answer like GitHub's secondary rate limit: 403 with Retry-After."""
        headers = {
            "Retry-After": str(retry_after),
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": str(int(time.time()) + retry_after),
        }
        self.fail(method, path_regex, status=403, times=times, headers=headers)

    def lose_reply(self, method: str, path_regex: str, times: int = 1) -> None:
        """Carry out the next matching requests, then drop the connection unanswered."""
        self.rules.append(Rule(method, re.compile(path_regex), times=times, lose_reply=True))

    def hold(self, method: str, path_regex: str) -> tuple[threading.Event, threading.Event]:
        """Hold the next matching request: returns (arrived, release) events."""
        rule = Rule(
            method, re.compile(path_regex), release=threading.Event(), arrived=threading.Event()
        )
        self.rules.append(rule)
        assert rule.arrived is not None and rule.release is not None
        return rule.arrived, rule.release

    def _apply_rules(self, method: str, path: str) -> tuple[Reply, dict[str, str]] | Rule | None:
        for rule in list(self.rules):
            if rule.method == method and rule.pattern.search(path) and rule.times > 0:
                rule.times -= 1
                if rule.release is not None and rule.arrived is not None:
                    rule.arrived.set()
                    rule.release.wait(timeout=60)
                    return None
                if rule.lose_reply:
                    return rule
                message = "API rate limit exceeded" if rule.headers else "Server Error"
                return (rule.status, {"message": message, "status": str(rule.status)}), rule.headers
        return None

    # -- dispatch ------------------------------------------------------------------------

    def handle(
        self, method: str, target: str, raw: bytes, auth: str
    ) -> tuple[int, Json, dict[str, str]]:
        parts = urlsplit(target)
        path, query = parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if self.prefix:
            if not path.startswith(self.prefix + "/"):
                with self._lock:
                    self.unknown.append((method, target))
                return 404, NOT_FOUND, {}
            path = path.removeprefix(self.prefix)
        body = json.loads(raw) if raw else None
        with self._lock:
            self.requests.append((method, target, body))
        token = auth.removeprefix("Bearer ").strip()
        for m, pattern, handler, template in self._app_routes:
            match = pattern.match(path)
            if m == method and match:
                try:
                    with self._lock:
                        status, reply = handler(*match.groups(), jwt_token=token)
                except ApiError as exc:
                    return exc.status, exc.body, {}
                return status, self._answer(method, template, status, reply), {}
        user = self.tokens.get(token)
        if user is None or self.token_expiry.get(token, float("inf")) < time.time():
            return 401, {"message": "Bad credentials", "status": "401"}, {}
        rule = self._apply_rules(method, path)
        lost = isinstance(rule, Rule)
        if rule is not None and not isinstance(rule, Rule):
            (status, reply), headers = rule
            return status, reply, headers
        for m, pattern, handler, template in self._routes:
            match = pattern.match(path)
            if m == method and match:
                args = [unquote(g) for g in match.groups()]
                try:
                    with self._lock:
                        status, reply = handler(*args, body=body, query=query, user=user)
                        headers = self._link(path, query, reply) if method == "GET" else {}
                except ApiError as exc:
                    return exc.status, exc.body, {}
                if lost:
                    raise LostReply
                return status, self._answer(method, template, status, reply), headers
        with self._lock:
            self.unknown.append((method, target))
        return 404, NOT_FOUND, {}

    def _answer(self, method: str, template: str, status: int, reply: Json) -> Json:
        """Our live values laid over GitHub's own example answer for the operation."""
        example = EXAMPLES.get(f"{method} {template}")
        if example is not None and status < 300:
            reply = _overlay(example, reply)
        with self._lock:
            self.answers.append((method, template, status, reply))
        return reply

    def _link(self, path: str, query: dict[str, str], reply: Json) -> dict[str, str]:
        page, per_page = int(query.get("page", 1)), int(query.get("per_page", 30))
        if not isinstance(reply, list) or not self._more:
            return {}
        self._more = False
        rest = "&".join(f"{k}={v}" for k, v in query.items() if k != "page")
        return {
            "Link": f'<{self.url}{path}?{rest}&page={page + 1}>; rel="next"',
            "X-Per-Page": str(per_page),
        }

    def _page(self, items: list[Json], query: dict[str, str]) -> list[Json]:
        page, per_page = int(query.get("page", 1)), min(int(query.get("per_page", 30)), 100)
        chunk = items[(page - 1) * per_page : page * per_page]
        self._more = page * per_page < len(items)
        return chunk

    # -- model helpers -------------------------------------------------------------------

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _put_blob(self, data: bytes) -> str:
        sha = _sha("blob", data)
        self.blobs[sha] = data
        return sha

    def _put_tree(self, entries: dict[str, tuple[str, str]]) -> str:
        sha = _sha("tree", json.dumps(sorted(entries.items())).encode())
        self.trees[sha] = dict(entries)
        return sha

    def _put_commit(self, tree: str, parents: list[str], message: str) -> str:
        sha = _sha("commit", json.dumps([tree, parents, message, self._id()]).encode())
        self.commits[sha] = {"tree": tree, "parents": parents, "message": message}
        return sha

    def _ancestors(self, sha: str) -> set[str]:
        seen, todo = set(), [sha]
        while todo:
            s = todo.pop()
            if s not in seen:
                seen.add(s)
                todo += self.commits[s]["parents"]
        return seen

    def files_at(self, ref: str) -> dict[str, str]:
        """Every file's text at a branch (test helper)."""
        tree = self.trees[self.commits[self.refs[f"heads/{ref}"]]["tree"]]
        return {p: self.blobs[sha].decode(errors="replace") for p, (_, sha) in tree.items()}

    def _user(self, login: str) -> Json:
        return _overlay(
            USER,
            {
                "login": login,
                "id": abs(hash(login)) % 10**6,
                "type": "Bot" if login.endswith("[bot]") else "User",
            },
        )

    def _issue_json(self, issue: Issue) -> Json:
        data = {
            "id": issue.number + 5000,
            "number": issue.number,
            "title": issue.title,
            "body": issue.body,
            "state": issue.state,
            "user": self._user(issue.user),
            "labels": [
                {"name": n, "color": self.labels.get(n, {}).get("color", "ededed")}
                for n in issue.labels
            ],
            "html_url": f"https://github.com/{self.repo}/issues/{issue.number}",
            "comments": sum(1 for c in self.comments.values() if c["issue"] == issue.number),
        }
        if issue.is_pull:
            data["pull_request"] = {
                "url": f"https://api.github.com/repos/{self.repo}/pulls/{issue.number}"
            }
        return data

    def _issue(self, number: str) -> Issue:
        issue = self.issues.get(int(number))
        if issue is None:
            raise ApiError(404, "Not Found")
        return issue

    # -- handlers ------------------------------------------------------------------------

    def _get_issue(self, n: str, **_: Any) -> Reply:
        return 200, self._issue_json(self._issue(n))

    def _add_labels(self, n: str, body: Json, **_: Any) -> Reply:
        issue = self._issue(n)
        for name in body["labels"]:
            self.labels.setdefault(name, {"color": "ededed", "description": ""})
            if name not in issue.labels:
                issue.labels.append(name)
        return 200, [{"name": name} for name in issue.labels]

    def _remove_label(self, n: str, name: str, **_: Any) -> Reply:
        issue = self._issue(n)
        if name not in issue.labels:
            raise ApiError(404, "Label does not exist")
        issue.labels.remove(name)
        return 200, [{"name": x} for x in issue.labels]

    def _list_labels(self, query: dict[str, str], **_: Any) -> Reply:
        items = [{"name": k, **v} for k, v in self.labels.items()]
        return 200, self._page(items, query)

    def _create_label(self, body: Json, **_: Any) -> Reply:
        if body["name"] in self.labels:
            raise ApiError(
                422,
                "Validation Failed",
                [{"resource": "Label", "code": "already_exists", "field": "name"}],
            )
        self.labels[body["name"]] = {
            "color": body.get("color", "ededed"),
            "description": body.get("description", ""),
        }
        return 201, {"name": body["name"], **self.labels[body["name"]]}

    def _comment_json(self, c: dict[str, Any]) -> Json:
        return {
            "id": c["id"],
            "body": c["body"],
            "user": self._user(c["user"]),
            "created_at": _now(),
            "html_url": f"https://github.com/{self.repo}/issues/{c['issue']}#issuecomment-{c['id']}",
        }

    def _list_comments(self, n: str, query: dict[str, str], **_: Any) -> Reply:
        self._issue(n)
        items = [self._comment_json(c) for c in self.comments.values() if c["issue"] == int(n)]
        return 200, self._page(items, query)

    def _create_comment(self, n: str, body: Json, user: str, **_: Any) -> Reply:
        self._issue(n)
        cid = self._id()
        self.comments[cid] = {"id": cid, "issue": int(n), "body": body["body"], "user": user}
        return 201, self._comment_json(self.comments[cid])

    def _update_comment(self, cid: str, body: Json, **_: Any) -> Reply:
        comment = self.comments.get(int(cid))
        if comment is None:
            raise ApiError(404, "Not Found")
        comment["body"] = body["body"]
        return 200, self._comment_json(comment)

    def _permission(self, login: str, **_: Any) -> Reply:
        role = self.permissions.get(login, "read")
        permission = {"maintain": "write", "triage": "read"}.get(role, role)
        return 200, {"permission": permission, "role_name": role, "user": self._user(login)}

    def _get_branch(self, branch: str, **_: Any) -> Reply:
        sha = self.refs.get(f"heads/{branch}")
        if sha is None:
            raise ApiError(404, "Branch not found")
        commit = {
            "sha": sha,
            "commit": {
                "tree": {"sha": self.commits[sha]["tree"]},
                "message": self.commits[sha]["message"],
            },
        }
        return 200, {"name": branch, "commit": commit, "protected": False}

    def _get_contents(self, path: str, query: dict[str, str], **_: Any) -> Reply:
        ref = query.get("ref", "main")
        sha = self.refs.get(f"heads/{ref}", ref if ref in self.commits else None)
        tree = self.trees[self.commits[sha]["tree"]] if sha else {}
        if path not in tree:
            raise ApiError(404, "Not Found")
        blob = self.blobs[tree[path][1]]
        return 200, {
            "type": "file",
            "path": path,
            "name": path.rsplit("/", 1)[-1],
            "sha": tree[path][1],
            "size": len(blob),
            "encoding": "base64",
            "content": base64.b64encode(blob).decode(),
        }

    def _create_tree(self, body: Json, **_: Any) -> Reply:
        entries = dict(self.trees[body["base_tree"]]) if body.get("base_tree") else {}
        if body.get("base_tree") and body["base_tree"] not in self.trees:
            raise ApiError(422, "base_tree is not a valid tree")
        for e in body["tree"]:
            if "content" in e:
                entries[e["path"]] = (e["mode"], self._put_blob(e["content"].encode()))
            elif e.get("sha") is None:
                entries.pop(e["path"], None)
            else:
                entries[e["path"]] = (e["mode"], e["sha"])
        sha = self._put_tree(entries)
        return 201, {
            "sha": sha,
            "url": f"{self.url}/repos/{self.repo}/git/trees/{sha}",
            "tree": [],
            "truncated": False,
        }

    def _get_tree(self, ref: str, **_: Any) -> Reply:
        sha = self.refs.get(f"heads/{ref}", ref)
        tree_sha = self.commits[sha]["tree"] if sha in self.commits else sha
        if tree_sha not in self.trees:
            raise ApiError(404, "Not Found")
        entries = [
            {"path": p, "mode": mode, "type": "blob", "sha": blob, "size": len(self.blobs[blob])}
            for p, (mode, blob) in sorted(self.trees[tree_sha].items())
        ]
        return 200, {"sha": tree_sha, "url": "", "tree": entries, "truncated": False}

    def _create_commit(self, body: Json, **_: Any) -> Reply:
        if body["tree"] not in self.trees or any(p not in self.commits for p in body["parents"]):
            raise ApiError(422, "Tree or parent SHA does not exist")
        sha = self._put_commit(body["tree"], body["parents"], body["message"])
        return 201, {
            "sha": sha,
            "tree": {"sha": body["tree"]},
            "message": body["message"],
            "parents": [{"sha": p} for p in body["parents"]],
        }

    def _ref_json(self, name: str) -> Json:
        return {"ref": f"refs/{name}", "object": {"sha": self.refs[name], "type": "commit"}}

    def _create_ref(self, body: Json, **_: Any) -> Reply:
        name = body["ref"].removeprefix("refs/")
        if name in self.refs:
            raise ApiError(422, "Reference already exists")
        if body["sha"] not in self.commits:
            raise ApiError(422, "Object does not exist")
        self.refs[name] = body["sha"]
        return 201, self._ref_json(name)

    def _get_ref(self, name: str, **_: Any) -> Reply:
        if name not in self.refs:
            raise ApiError(404, "Not Found")
        return 200, self._ref_json(name)

    def _update_ref(self, name: str, body: Json, **_: Any) -> Reply:
        if name not in self.refs:
            raise ApiError(422, "Reference does not exist")
        if not body.get("force") and self.refs[name] not in self._ancestors(body["sha"]):
            raise ApiError(422, "Update is not a fast forward")
        self.refs[name] = body["sha"]
        return 200, self._ref_json(name)

    def _pull_json(self, p: dict[str, Any]) -> Json:
        return {
            "number": p["number"],
            "id": p["number"] + 9000,
            "state": p["state"],
            "title": p["title"],
            "body": p["body"],
            "merged": p["merged"],
            "html_url": f"https://github.com/{self.repo}/pull/{p['number']}",
            "head": {"ref": p["head"], "sha": self.refs.get(f"heads/{p['head']}", "")},
            "base": {"ref": p["base"]},
            "user": self._user(p["user"]),
        }

    def _list_pulls(self, query: dict[str, str], **_: Any) -> Reply:
        head = query.get("head", "").split(":", 1)[-1]
        state = query.get("state", "open")
        items = [
            self._pull_json(p)
            for p in self.pulls.values()
            if (not head or p["head"] == head) and (state == "all" or p["state"] == state)
        ]
        return 200, self._page(items, query)

    def _create_pull(self, body: Json, user: str, **_: Any) -> Reply:
        head = body["head"].split(":", 1)[-1]
        if f"heads/{head}" not in self.refs:
            raise ApiError(
                422,
                "Validation Failed",
                [{"resource": "PullRequest", "field": "head", "code": "invalid"}],
            )
        if any(p["head"] == head and p["state"] == "open" for p in self.pulls.values()):
            raise ApiError(
                422,
                "Validation Failed",
                [
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": f"A pull request already exists for {self.owner}:{head}.",
                    }
                ],
            )
        number = max([*self.issues, *self.pulls, 0]) + 1
        self.pulls[number] = {
            "number": number,
            "title": body["title"],
            "body": body.get("body", ""),
            "head": head,
            "base": body["base"],
            "state": "open",
            "merged": False,
            "user": user,
        }
        self.issues[number] = Issue(number, body["title"], body.get("body", ""), user, is_pull=True)
        return 201, self._pull_json(self.pulls[number])

    def _update_pull(self, n: str, body: Json, **_: Any) -> Reply:
        pull = self.pulls.get(int(n))
        if pull is None:
            raise ApiError(404, "Not Found")
        pull.update({k: v for k, v in body.items() if k in ("title", "body")})
        return 200, self._pull_json(pull)

    def _create_blob(self, body: Json, **_: Any) -> Reply:
        raw = body["content"]
        data = base64.b64decode(raw) if body.get("encoding") == "base64" else raw.encode()
        sha = self._put_blob(data)
        return 201, {"sha": sha, "url": f"{self.url}/repos/{self.repo}/git/blobs/{sha}"}

    def _rules(self, branch: str, **_: Any) -> Reply:
        types = [
            t for pattern, ts in self.branch_rules.items() if fnmatch(branch, pattern) for t in ts
        ]
        return 200, [
            {
                "type": t,
                "ruleset_source_type": "Repository",
                "ruleset_source": self.repo,
                "ruleset_id": 1,
            }
            for t in types
        ]

    def _verify_jwt(self, token: str) -> App:
        import jwt

        if self.app is None:
            raise ApiError(401, "A JSON web token could not be decoded")
        try:
            claims = jwt.decode(token, self.app.public_key, algorithms=["RS256"])
        except jwt.PyJWTError as exc:
            raise ApiError(401, f"A JSON web token could not be decoded: {exc}") from None
        if str(claims.get("iss")) != self.app.app_id or claims["exp"] - claims["iat"] > 600:
            raise ApiError(401, "'Expiration time' claim ('exp') is too far in the future")
        return self.app

    def _installation(self, jwt_token: str) -> Reply:
        app = self._verify_jwt(jwt_token)
        return 200, {
            "id": app.installation_id,
            "app_id": int(app.app_id),
            "app_slug": app.slug,
            "permissions": app.permissions,
            "target_type": "Organization",
        }

    def _access_token(self, installation: str, jwt_token: str) -> Reply:
        app = self._verify_jwt(jwt_token)
        if int(installation) != app.installation_id:
            raise ApiError(404, "Not Found")
        token = f"ghs_app_{self._id()}"
        expires = time.time() + app.token_ttl_s
        self.tokens[token] = f"{app.slug}[bot]"
        self.token_expiry[token] = expires
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires))
        return 201, {
            "token": token,
            "expires_at": stamp,
            "permissions": app.permissions,
            "repository_selection": "selected",
        }

    def _dispatch(self, workflow: str, body: Json, **_: Any) -> Reply:
        if "ref" not in body:
            raise ApiError(422, "Invalid request: ref is missing")
        self.dispatches.append(
            {"workflow": workflow, "ref": body["ref"], "inputs": body.get("inputs", {})}
        )
        return 204, None

    # -- what a person does, as event payloads -------------------------------------------

    def _repository(self) -> Json:
        return {
            "full_name": self.repo,
            "name": self.repo.split("/")[1],
            "default_branch": "main",
            "owner": {"login": self.owner},
        }

    def open_issue(self, title: str, body: str = "", user: str = "octocat") -> int:
        with self._lock:
            number = max([*self.issues, *self.pulls, 0]) + 1
            self.issues[number] = Issue(number, title, body, user)
            return number

    def label_event(
        self, number: int, label: str, sender: str = "octocat", add: bool = True
    ) -> tuple[str, Json]:
        with self._lock:
            issue = self.issues[number]
            if add and label not in issue.labels:
                self.labels.setdefault(label, {"color": "ededed", "description": ""})
                issue.labels.append(label)
            elif not add and label in issue.labels:
                issue.labels.remove(label)
            return "issues", {
                "action": "labeled" if add else "unlabeled",
                "label": {"name": label},
                "issue": self._issue_json(issue),
                "repository": self._repository(),
                "sender": self._user(sender),
            }

    def comment_event(self, number: int, body: str, sender: str = "octocat") -> tuple[str, Json]:
        with self._lock:
            cid = self._id()
            self.comments[cid] = {"id": cid, "issue": number, "body": body, "user": sender}
            return "issue_comment", {
                "action": "created",
                "issue": self._issue_json(self.issues[number]),
                "comment": self._comment_json(self.comments[cid]),
                "repository": self._repository(),
                "sender": self._user(sender),
            }

    def close_issue_event(self, number: int, sender: str = "octocat") -> tuple[str, Json]:
        with self._lock:
            self.issues[number].state = "closed"
            return "issues", {
                "action": "closed",
                "issue": self._issue_json(self.issues[number]),
                "repository": self._repository(),
                "sender": self._user(sender),
            }

    def dispatch_event(self, inputs: dict[str, str], sender: str = BOT) -> tuple[str, Json]:
        return "workflow_dispatch", {
            "inputs": inputs,
            "ref": "refs/heads/main",
            "workflow": ".github/workflows/issuepilot.yml",
            "repository": self._repository(),
            "sender": self._user(sender),
        }

    def merge_pull(
        self, number: int, merged: bool = True, sender: str = "octocat"
    ) -> tuple[str, Json]:
        """Merge (or just close) a pull request; returns the `pull_request` closed event."""
        with self._lock:
            pull = self.pulls[number]
            pull["state"], pull["merged"] = "closed", merged
            if merged:
                head = self.refs[f"heads/{pull['head']}"]
                self.refs[f"heads/{pull['base']}"] = self._put_commit(
                    self.commits[head]["tree"],
                    [self.refs[f"heads/{pull['base']}"], head],
                    f"Merge #{number}",
                )
            return "pull_request", {
                "action": "closed",
                "number": number,
                "pull_request": self._pull_json(pull),
                "repository": self._repository(),
                "sender": self._user(sender),
            }
