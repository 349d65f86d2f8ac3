"""What the fake GitHub knows about its one repository, and how it shows each object.

The `*_json` views hold only the live values; GitHub's example objects supply every
other field when an answer or an event is built (`examples.overlay`).
"""

import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .git import GitObjects
from .hooks import Hooks
from .logs import LogHost

Json = Any
BOT = "github-actions[bot]"
# One fixed time for every timestamp the fake makes up: answers stay reproducible.
STAMP = "2026-01-01T00:00:00Z"
EPOCH = 1_767_225_600  # STAMP as epoch seconds: the fake's clock starts there
WEB = "https://github.com"
API = "https://api.github.com"


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
    requests: list[dict[str, Any]] = field(default_factory=list)  # bodies of token requests


@dataclass
class Issue:
    number: int
    title: str
    body: str
    user: str
    labels: list[str] = field(default_factory=list)
    state: str = "open"
    is_pull: bool = False
    closed_at: str | None = None
    state_reason: str | None = None  # "completed" once closed, "reopened" once reopened
    updated_at: str = STAMP


def stable_id(text: str) -> int:
    """A positive id derived from a name, the same in every process."""
    return zlib.crc32(text.encode()) % 10**8 + 1


class RepoState(GitObjects):
    def __init__(
        self,
        repo: str,
        files: dict[str, str] | None,
        tokens: dict[str, str] | None,
        permissions: dict[str, str] | None,
    ) -> None:
        super().__init__()
        self.repo = repo
        self.owner = repo.split("/")[0]
        self.tokens = tokens or {"ghs_fake": BOT}  # token -> login
        self.token_expiry: dict[str, float] = {}
        self.app: App | None = None
        self.branch_rules: dict[str, list[str]] = {}  # fnmatch pattern -> rule types
        self.permissions = {"octocat": "admin", **(permissions or {})}  # login -> role
        self.issues: dict[int, Issue] = {}
        self.labels: dict[str, dict[str, str]] = {}  # name -> color, description
        self.comments: dict[int, dict[str, Any]] = {}  # id -> id, issue, body, user
        self.issue_events: dict[int, list[Json]] = {}  # issue -> its events, oldest first
        self.pulls: dict[int, dict[str, Any]] = {}
        # id -> id, pull, state, body, user, commit_id, submitted_at
        self.reviews: dict[int, dict[str, Any]] = {}
        # id -> id, pull, review, path, line, body, user, commit_id, diff_hunk, position,
        # in_reply_to (replies only), created_at, updated_at
        self.review_comments: dict[int, dict[str, Any]] = {}
        self.runs: dict[int, dict[str, Any]] = {}  # id -> id, name, head, conclusion, jobs
        self.jobs: dict[int, dict[str, Any]] = {}  # id -> id, run, name, steps, log (bytes)
        self.check_runs: dict[int, dict[str, Any]] = {}  # id -> ..., output, annotations
        self.dispatches: list[dict[str, Any]] = []
        # The workflow files that take dispatches, and their inputs (None: any, with any).
        self.workflows: dict[str, set[str]] | None = None
        self.hooks: Hooks | None = None  # the App's webhook, where an App has one
        # Handlers and event builders change the state under this lock: the loopback server
        # serves each request on its own thread.
        self.lock = threading.RLock()
        self._last_id = 1000
        self.seconds = 0  # the last change's time, in seconds after EPOCH (see `tick`)
        self.clock: Callable[[], float] = time.time  # tests in-process set their own
        self.log_host = LogHost(self.job_log, self.archive)
        self.seed(files or {"README.md": "# demo\n"})

    def tick(self) -> str:
        """The time of a change, as GitHub stamps it (whole seconds): the fake's `clock`,
        and at least a second after the previous change, so their order shows."""
        self.seconds = max(self.seconds + 1, int(self.clock()) - EPOCH)
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(EPOCH + self.seconds))

    def label(self, issue: Issue, name: str, actor: str, add: bool = True) -> bool:
        """Add (or remove) a label as `actor` would; False if there was nothing to do."""
        if add == (name in issue.labels):
            return False
        if add:
            self.ensure_label(name)
            issue.labels.append(name)
        else:
            issue.labels.remove(name)
        issue.updated_at = self.tick()
        kind = "labeled" if add else "unlabeled"
        self.note(issue, kind, actor, label={"name": name, "color": "ededed"})
        return True

    def close(self, issue: Issue, actor: str, reason: str = "completed") -> None:
        issue.state, issue.state_reason = "closed", reason
        issue.closed_at = issue.updated_at = self.tick()
        self.note(issue, "closed", actor)

    def reopen(self, issue: Issue, actor: str) -> None:
        issue.state, issue.closed_at, issue.state_reason = "open", None, "reopened"
        issue.updated_at = self.tick()
        self.note(issue, "reopened", actor)

    def note(self, issue: Issue, kind: str, actor: str, **detail: Json) -> None:
        """An entry of the issue's event log (`GET .../issues/{n}/events`)."""
        events = self.issue_events.setdefault(issue.number, [])
        events.append(
            {
                "id": self.new_id(),
                "event": kind,
                "actor": self.user_json(actor),
                "created_at": issue.updated_at,
                **detail,
            }
        )

    def new_id(self) -> int:
        self._last_id += 1
        return self._last_id

    def next_number(self) -> int:
        """Issues and pull requests share one sequence of numbers, as on GitHub."""
        return max([*self.issues, *self.pulls, 0]) + 1

    def add_pull(
        self, head: str, base: str, title: str, body: str, user: str, draft: bool = False
    ) -> int:
        """An open pull request from branch `head` into `base`, and its issue; its number."""
        number = self.next_number()
        self.pulls[number] = {
            "number": number,
            "title": title,
            "body": body,
            "head": head,
            "base": base,
            "state": "open",
            "merged": False,
            "draft": draft,
            "user": user,
            "updated_at": self.tick(),
        }
        self.pulls[number]["created_at"] = self.pulls[number]["updated_at"]
        self.issues[number] = Issue(number, title, body, user, is_pull=True)
        return number

    def ensure_label(self, name: str) -> None:
        self.labels.setdefault(name, {"color": "ededed", "description": ""})

    def archive(self, sha: str) -> bytes | None:
        """A commit's tarball, as the archive host serves it."""
        with self.lock:
            if sha not in self.commits:
                return None
            return self.tarball(sha, f"{self.repo.replace('/', '-')}-{sha[:7]}")

    def job_log(self, job_id: int) -> bytes | None:
        """A job's log, as the log host serves it."""
        with self.lock:
            job = self.jobs.get(job_id)
            return None if job is None else bytes(job["log"])

    # -- views ---------------------------------------------------------------------------

    def user_json(self, login: str) -> Json:
        return {
            "login": login,
            "id": stable_id(login),
            "type": "Bot" if login.endswith("[bot]") else "User",
            "html_url": f"{WEB}/{login}",
            "url": f"{API}/users/{login}",
        }

    def label_json(self, name: str) -> Json:
        known = self.labels.get(name, {})
        return {
            "id": stable_id(f"label:{name}"),
            "name": name,
            "color": known.get("color", "ededed"),
            "description": known.get("description", ""),
            "default": False,
        }

    def repository_lite_json(self) -> Json:
        """The repository as runs and checks name it: no settings, no default branch."""
        return {
            "id": stable_id(self.repo),
            "full_name": self.repo,
            "name": self.repo.split("/")[1],
            "owner": self.user_json(self.owner),
            "html_url": f"{WEB}/{self.repo}",
            "url": f"{API}/repos/{self.repo}",
        }

    def repository_json(self) -> Json:
        return self.repository_lite_json() | {"default_branch": "main"}

    def association(self, login: str) -> str:
        """How a user is related to the repository, as issues and comments say it."""
        if login == self.owner:
            return "OWNER"
        return "COLLABORATOR" if login in self.permissions else "NONE"

    def issue_json(self, issue: Issue) -> Json:
        data = {
            "id": issue.number + 5000,
            "number": issue.number,
            "title": issue.title,
            "body": issue.body,
            "state": issue.state,
            "state_reason": issue.state_reason,
            "closed_at": issue.closed_at,
            "locked": False,
            "active_lock_reason": None,
            "user": self.user_json(issue.user),
            "author_association": self.association(issue.user),
            "labels": [self.label_json(name) for name in issue.labels],
            "html_url": f"{WEB}/{self.repo}/issues/{issue.number}",
            "url": f"{API}/repos/{self.repo}/issues/{issue.number}",
            "comments": sum(1 for c in self.comments.values() if c["issue"] == issue.number),
            "created_at": STAMP,
            "updated_at": issue.updated_at,
        }
        if issue.is_pull:  # only pull requests carry this key: its presence is the fact
            data["pull_request"] = {
                "url": f"{API}/repos/{self.repo}/pulls/{issue.number}",
                "html_url": f"{WEB}/{self.repo}/pull/{issue.number}",
            }
        return data

    def comment_json(self, comment: dict[str, Any]) -> Json:
        issue, cid = comment["issue"], comment["id"]
        return {
            "id": cid,
            "body": comment["body"],
            "user": self.user_json(comment["user"]),
            "author_association": self.association(comment["user"]),
            "created_at": comment.get("created_at", STAMP),
            "updated_at": comment.get("updated_at", STAMP),
            "html_url": f"{WEB}/{self.repo}/issues/{issue}#issuecomment-{cid}",
            "issue_url": f"{API}/repos/{self.repo}/issues/{issue}",
        }

    def pull_json(self, pull: dict[str, Any], full: bool = True) -> Json:
        """A pull request; `full` as one pull request is shown, with its mergeability
        (lists and events show the short form, without it)."""
        number = pull["number"]
        data = {
            "number": number,
            "id": number + 9000,
            "state": pull["state"],
            "title": pull["title"],
            "body": pull["body"],
            "draft": bool(pull.get("draft", False)),
            "merged": pull["merged"],
            "merged_at": pull.get("merged_at"),
            "created_at": pull.get("created_at", STAMP),
            "updated_at": pull.get("updated_at", STAMP),
            "closed_at": pull.get("closed_at"),
            "html_url": f"{WEB}/{self.repo}/pull/{number}",
            "url": f"{API}/repos/{self.repo}/pulls/{number}",
            "head": self._branch_json(pull["head"]),
            "base": self._branch_json(pull["base"]),
            "user": self.user_json(pull["user"]),
        }
        return data | self.mergeability(pull) if full else data

    def mergeability(self, pull: dict[str, Any]) -> Json:
        """Whether an open pull request merges cleanly: `dirty` once its base branch has
        changed, since their merge base, a file the pull request changed its own way.
        GitHub does not say for a closed one."""
        base, head = (self.refs.get(f"heads/{pull[side]}") for side in ("base", "head"))
        if pull["state"] != "open" or base is None or head is None:
            return {"mergeable": None, "rebaseable": None, "mergeable_state": "unknown"}
        clean = not self.conflicts(base, head)
        state = "clean" if clean else "dirty"
        return {"mergeable": clean, "rebaseable": clean, "mergeable_state": state}

    def _branch_json(self, branch: str) -> Json:
        return {
            "ref": branch,
            "sha": self.refs.get(f"heads/{branch}", ""),
            "label": f"{self.owner}:{branch}",
            "repo": self.repository_json(),
        }
