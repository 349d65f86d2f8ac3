"""Comparing two commits: how far apart they are, the commits between, and the files the
head changed since the merge base (what a pull request's diff shows).
https://docs.github.com/en/rest/commits/commits#compare-two-commits"""

from typing import Any

from .. import diffs
from ..state import API, WEB, RepoState
from .base import REPO, Answer, ApiError, Call, Route, paged

Json = Any
MAX_COMMITS = 250  # without pagination, GitHub lists at most this many commits


def compare(repo: RepoState, call: Call) -> Answer:
    basehead = call.params["basehead"]
    base_name, dots, head_name = basehead.partition("...")
    base, head = _commit(repo, base_name), _commit(repo, head_name)
    if not dots or base is None or head is None:
        raise ApiError(404, "Not Found")
    since = repo.merge_base(base, head)
    if since is None:
        raise ApiError(404, f"No common ancestor between {base_name} and {head_name}.")
    ahead = _in_order(repo, head, repo.ancestors(head) - repo.ancestors(base))
    behind = len(repo.ancestors(base) - repo.ancestors(head))
    status = {(0, 0): "identical", (0, 1): "behind", (1, 0): "ahead"}
    html_url = f"{WEB}/{repo.repo}/compare/{basehead}"
    answer = {
        "url": f"{API}/repos/{repo.repo}/compare/{basehead}",
        "html_url": html_url,
        "permalink_url": f"{WEB}/{repo.repo}/compare/{repo.owner}:{base}...{repo.owner}:{head}",
        "diff_url": f"{html_url}.diff",
        "patch_url": f"{html_url}.patch",
        "base_commit": commit_json(repo, base),
        "merge_base_commit": commit_json(repo, since),
        "status": status.get((min(len(ahead), 1), min(behind, 1)), "diverged"),
        "ahead_by": len(ahead),
        "behind_by": behind,
        "total_commits": len(ahead),
    }
    commits = [commit_json(repo, sha) for sha in ahead]
    headers: dict[str, str] = {}
    if "page" in call.query or "per_page" in call.query:
        commits, headers = paged(call, commits)
    else:
        commits = commits[:MAX_COMMITS]
    first = int(call.query.get("page", 1)) == 1  # later pages list commits, not files
    answer |= {"commits": commits, "files": files_json(repo, since, head) if first else []}
    return Answer(200, answer, headers)


def _commit(repo: RepoState, name: str) -> str | None:
    """The commit a side of `BASE...HEAD` names: a branch (maybe as `owner:branch` or
    `refs/heads/branch`) or a commit SHA."""
    name = name.split(":", 1)[-1].removeprefix("refs/heads/")
    return repo.commit_at(name)


def _in_order(repo: RepoState, head: str, commits: set[str]) -> list[str]:
    """`commits` (all reachable from `head`), parents before children."""
    ordered: list[str] = []
    todo: list[tuple[str, bool]] = [(head, False)]
    seen: set[str] = set()
    while todo:
        sha, done = todo.pop()
        if done:
            ordered.append(sha)
        elif sha in commits and sha not in seen:
            seen.add(sha)
            todo.append((sha, True))
            todo += [(p, False) for p in reversed(repo.commits[sha]["parents"])]
    return ordered


def files_json(repo: RepoState, since: str, head: str) -> list[Json]:
    found = []
    for path, status in repo.changes(since, head).items():
        old, new = repo.text_at(since, path) or "", repo.text_at(head, path) or ""
        added, removed = diffs.counts(old, new)
        side = since if status == "removed" else head
        found.append(
            {
                "sha": repo.tree_at(side)[path][1],
                "filename": path,
                "status": status,
                "additions": added,
                "deletions": removed,
                "changes": added + removed,
                "blob_url": f"{WEB}/{repo.repo}/blob/{side}/{path}",
                "raw_url": f"{WEB}/{repo.repo}/raw/{side}/{path}",
                "contents_url": f"{API}/repos/{repo.repo}/contents/{path}?ref={side}",
                "patch": diffs.patch(old, new),
            }
        )
    return found


def commit_json(repo: RepoState, sha: str) -> Json:
    commit, url = repo.commits[sha], f"{API}/repos/{repo.repo}/commits/{sha}"
    tree = commit["tree"]
    return {
        "sha": sha,
        "url": url,
        "html_url": f"{WEB}/{repo.repo}/commit/{sha}",
        "comments_url": f"{url}/comments",
        "commit": {
            "url": f"{API}/repos/{repo.repo}/git/commits/{sha}",
            "message": commit["message"],
            "tree": {"sha": tree, "url": f"{API}/repos/{repo.repo}/git/trees/{tree}"},
            "comment_count": 0,
        },
        "parents": [
            {
                "sha": parent,
                "url": f"{API}/repos/{repo.repo}/commits/{parent}",
                "html_url": f"{WEB}/{repo.repo}/commit/{parent}",
            }
            for parent in commit["parents"]
        ],
    }


ROUTES = [
    Route("GET", REPO + "/compare/{basehead}", compare),
]
