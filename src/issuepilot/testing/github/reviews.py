"""Reviews of a pull request and their comments on lines of its diff, and the threads of
replies under them, as the pulls API shows them.
https://docs.github.com/en/rest/pulls/comments"""

from typing import Any

from . import diffs
from .state import API, WEB, RepoState

Json = Any


def add_review(repo: RepoState, number: int, state: str, body: str, user: str) -> Json:
    """A review submitted on the pull request's head."""
    pull = repo.pulls[number]
    review_id = repo.new_id()
    repo.reviews[review_id] = {
        "id": review_id,
        "pull": number,
        "state": state,
        "body": body,
        "user": user,
        "commit_id": repo.refs[f"heads/{pull['head']}"],
        "submitted_at": repo.tick(),
    }
    return repo.reviews[review_id]


def add_comment(repo: RepoState, review: Json, path: str, line: int, body: str) -> Json:
    """A review's comment on line `line` of `path` as the pull request's head has it. Like
    GitHub, it must be a line of the pull request's diff (from the merge base)."""
    pull = repo.pulls[review["pull"]]
    head = repo.refs[f"heads/{pull['head']}"]
    since = repo.merge_base(repo.refs[f"heads/{pull['base']}"], head)
    new = repo.text_at(head, path)
    hunk = None if new is None else diffs.hunk_at(repo.text_at(since, path) or "", new, line)
    if hunk is None:
        raise ValueError(f"line {line} of {path} is not part of the pull request's diff")
    return _store(repo, review, path=path, line=line, body=body, commit_id=head, hunk=hunk)


def add_reply(repo: RepoState, comment: Json, body: str, user: str) -> Json:
    """A reply in a comment's thread: GitHub files it under the thread's first comment (a
    reply to a reply too), in a review of its own."""
    top = repo.review_comments[comment.get("in_reply_to", comment["id"])]
    review = add_review(repo, top["pull"], "commented", "", user)
    review["commit_id"] = top["commit_id"]
    where = {k: top[k] for k in ("path", "line", "commit_id")}
    reply = _store(repo, review, body=body, hunk=(top["diff_hunk"], top["position"]), **where)
    reply["in_reply_to"] = top["id"]
    return reply


def _store(
    repo: RepoState,
    review: Json,
    *,
    path: str,
    line: int,
    body: str,
    commit_id: str,
    hunk: tuple[str, int],
) -> Json:
    comment_id = repo.new_id()
    repo.review_comments[comment_id] = {
        "id": comment_id,
        "pull": review["pull"],
        "review": review["id"],
        "path": path,
        "line": line,
        "body": body,
        "user": review["user"],
        "commit_id": commit_id,
        "diff_hunk": hunk[0],
        "position": hunk[1],
        "created_at": review["submitted_at"],
        "updated_at": review["submitted_at"],
    }
    return repo.review_comments[comment_id]


def comment_json(repo: RepoState, comment: Json) -> Json:
    number, comment_id = comment["pull"], comment["id"]
    url = f"{API}/repos/{repo.repo}/pulls/comments/{comment_id}"
    html_url = f"{WEB}/{repo.repo}/pull/{number}#discussion_r{comment_id}"
    pull_url = f"{API}/repos/{repo.repo}/pulls/{number}"
    data = {
        "id": comment_id,
        "pull_request_review_id": comment["review"],
        "url": url,
        "html_url": html_url,
        "pull_request_url": pull_url,
        "_links": {
            "self": {"href": url},
            "html": {"href": html_url},
            "pull_request": {"href": pull_url},
        },
        "path": comment["path"],
        "line": comment["line"],
        "original_line": comment["line"],
        "start_line": None,
        "original_start_line": None,
        "side": "RIGHT",
        "start_side": None,
        "subject_type": "line",
        "diff_hunk": comment["diff_hunk"],
        "position": comment["position"],
        "original_position": comment["position"],
        "commit_id": comment["commit_id"],
        "original_commit_id": comment["commit_id"],
        "body": comment["body"],
        "user": repo.user_json(comment["user"]),
        "author_association": repo.association(comment["user"]),
        "created_at": comment["created_at"],
        "updated_at": comment["updated_at"],
    }
    if "in_reply_to" in comment:  # only replies carry this key
        data["in_reply_to_id"] = comment["in_reply_to"]
    return data
