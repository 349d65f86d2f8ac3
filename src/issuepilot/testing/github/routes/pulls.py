"""Pull requests: listed by head branch, opened, edited.
https://docs.github.com/en/rest/pulls"""

from ..state import Issue, RepoState
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


def get_pull(repo: RepoState, call: Call) -> Answer:
    pull = repo.pulls.get(call.number("pull_number"))
    if pull is None:
        raise ApiError(404, "Not Found")
    return Answer(200, repo.pull_json(pull))


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
    number = repo.next_number()
    repo.pulls[number] = {
        "number": number,
        "title": title,
        "body": body,
        "head": head,
        "base": call.body["base"],
        "state": "open",
        "merged": False,
        "draft": bool(call.body.get("draft", False)),
        "user": call.user,
        "updated_at": repo.tick(),
    }
    repo.issues[number] = Issue(number, title, body, call.user, is_pull=True)
    return Answer(201, repo.pull_json(repo.pulls[number]))


def update_pull(repo: RepoState, call: Call) -> Answer:
    pull = repo.pulls.get(call.number("pull_number"))
    if pull is None:
        raise ApiError(404, "Not Found")
    pull.update({k: v for k, v in call.body.items() if k in ("title", "body")})
    pull["updated_at"] = repo.tick()
    return Answer(200, repo.pull_json(pull))


ROUTES = [
    Route("GET", REPO + "/pulls", list_pulls),
    Route("POST", REPO + "/pulls", create_pull),
    Route("GET", REPO + "/pulls/{pull_number}", get_pull),
    Route("PATCH", REPO + "/pulls/{pull_number}", update_pull),
]
