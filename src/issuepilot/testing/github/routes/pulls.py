"""Pull requests: listed by head branch, opened, edited; their review comments, and
replies to them.
https://docs.github.com/en/rest/pulls"""

from typing import Any

from .. import reviews
from ..state import RepoState
from .base import REPO, Answer, ApiError, Call, Route, page, validation_failed


def list_pulls(repo: RepoState, call: Call) -> Answer:
    head = call.query.get("head", "").split(":", 1)[-1]  # "owner:branch"
    state = call.query.get("state", "open")
    pulls = [
        p
        for p in repo.pulls.values()
        if (not head or p["head"] == head) and (state == "all" or p["state"] == state)
    ]
    if call.query.get("sort") == "updated":
        pulls.sort(key=lambda p: str(p.get("updated_at", "")))
    else:
        pulls.sort(key=lambda p: int(p["number"]))
    if call.query.get("direction", "desc") == "desc":
        pulls.reverse()
    return page(call, [repo.pull_json(p, full=False) for p in pulls])


def find_pull(repo: RepoState, number: int) -> dict[str, Any]:
    pull = repo.pulls.get(number)
    if pull is None:
        raise ApiError(404, "Not Found")
    return pull


def get_pull(repo: RepoState, call: Call) -> Answer:
    return Answer(200, repo.pull_json(find_pull(repo, call.number("pull_number"))))


def create_pull(repo: RepoState, call: Call) -> Answer:
    head, title, body = (
        call.body["head"].split(":", 1)[-1],
        call.body["title"],
        call.body.get("body", ""),
    )
    if f"heads/{head}" not in repo.refs:
        raise validation_failed("PullRequest", "invalid", field="head")
    if any(p["head"] == head and p["state"] == "open" for p in repo.pulls.values()):
        message = f"A pull request already exists for {repo.owner}:{head}."
        raise validation_failed("PullRequest", "custom", message=message)
    draft = bool(call.body.get("draft", False))
    number = repo.add_pull(head, call.body["base"], title, body, call.user, draft)
    return Answer(201, repo.pull_json(repo.pulls[number]))


def update_pull(repo: RepoState, call: Call) -> Answer:
    pull = find_pull(repo, call.number("pull_number"))
    pull.update({k: v for k, v in call.body.items() if k in ("title", "body")})
    pull["updated_at"] = repo.tick()
    return Answer(200, repo.pull_json(pull))


def review_comments(repo: RepoState, call: Call) -> Answer:
    """Every review comment of a pull request, replies included; oldest first, or sorted
    as asked (`direction` counts only with `sort`)."""
    number = find_pull(repo, call.number("pull_number"))["number"]
    since = call.query.get("since", "")
    found = [
        c for c in repo.review_comments.values() if c["pull"] == number and c["updated_at"] >= since
    ]
    key = {"created": "created_at", "updated": "updated_at"}[call.query.get("sort", "created")]
    found.sort(key=lambda c: (c[key], c["id"]))
    if "sort" in call.query and call.query.get("direction", "desc") == "desc":
        found.reverse()
    return page(call, [reviews.comment_json(repo, c) for c in found])


def one_review_comments(repo: RepoState, call: Call) -> Answer:
    review = repo.reviews.get(call.number("review_id"))
    if review is None or review["pull"] != call.number("pull_number"):
        raise ApiError(404, "Not Found")
    found = [c for c in repo.review_comments.values() if c["review"] == review["id"]]
    return page(call, [reviews.comment_json(repo, c) for c in found])


def reply(repo: RepoState, call: Call) -> Answer:
    comment = repo.review_comments.get(call.number("comment_id"))
    if comment is None or comment["pull"] != call.number("pull_number"):
        raise ApiError(404, "Not Found")
    if not isinstance((call.body or {}).get("body"), str):
        raise validation_failed("PullRequestReviewComment", "missing_field", field="body")
    made = reviews.add_reply(repo, comment, call.body["body"], call.user)
    answer = reviews.comment_json(repo, made)
    return Answer(201, answer, {"Location": answer["url"]})


ROUTES = [
    Route("GET", REPO + "/pulls", list_pulls),
    Route("POST", REPO + "/pulls", create_pull),
    Route("GET", REPO + "/pulls/{pull_number}", get_pull),
    Route("PATCH", REPO + "/pulls/{pull_number}", update_pull),
    Route("GET", REPO + "/pulls/{pull_number}/comments", review_comments),
    Route("GET", REPO + "/pulls/{pull_number}/reviews/{review_id}/comments", one_review_comments),
    Route("POST", REPO + "/pulls/{pull_number}/comments/{comment_id}/replies", reply),
]
