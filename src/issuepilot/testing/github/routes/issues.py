"""Issues, their labels and comments, and a collaborator's permission.
https://docs.github.com/en/rest/issues"""

from ..state import Issue, RepoState
from .base import REPO, Answer, ApiError, Call, Route, page, validation_failed


def find_issue(repo: RepoState, number: int) -> Issue:
    issue = repo.issues.get(number)
    if issue is None:
        raise ApiError(404, "Not Found")
    return issue


def get_issue(repo: RepoState, call: Call) -> Answer:
    return Answer(200, repo.issue_json(find_issue(repo, call.number("issue_number"))))


def list_issues(repo: RepoState, call: Call) -> Answer:
    """Issues and pull requests, filtered as GitHub filters them (every label named must be
    on it; `since` compares the last update), newest update first or as asked."""
    wanted = [n for n in call.query.get("labels", "").split(",") if n]
    state = call.query.get("state", "open")
    since = call.query.get("since", "")
    found = [
        issue
        for issue in repo.issues.values()
        if all(name in issue.labels for name in wanted)
        and (state == "all" or issue.state == state)
        and issue.updated_at >= since
    ]
    key = {"created": "number", "updated": "updated_at", "comments": "number"}
    found.sort(key=lambda i: getattr(i, key[call.query.get("sort", "created")]))
    if call.query.get("direction", "desc") == "desc":
        found.reverse()
    return page(call, [repo.issue_json(issue) for issue in found])


def issue_events(repo: RepoState, call: Call) -> Answer:
    issue = find_issue(repo, call.number("issue_number"))
    return page(call, repo.issue_events.get(issue.number, []))


def add_labels(repo: RepoState, call: Call) -> Answer:
    issue = find_issue(repo, call.number("issue_number"))
    for name in call.body["labels"]:
        repo.label(issue, name, call.user)
    return Answer(200, [repo.label_json(name) for name in issue.labels])


def remove_label(repo: RepoState, call: Call) -> Answer:
    issue = find_issue(repo, call.number("issue_number"))
    if not repo.label(issue, call.params["name"], call.user, add=False):
        raise ApiError(404, "Label does not exist")
    return Answer(200, [repo.label_json(name) for name in issue.labels])


def list_labels(repo: RepoState, call: Call) -> Answer:
    return page(call, [repo.label_json(name) for name in repo.labels])


def create_label(repo: RepoState, call: Call) -> Answer:
    name = call.body["name"]
    if name in repo.labels:
        raise validation_failed("Label", "already_exists", field="name")
    repo.labels[name] = {
        "color": call.body.get("color", "ededed"),
        "description": call.body.get("description", ""),
    }
    return Answer(201, repo.label_json(name))


def list_comments(repo: RepoState, call: Call) -> Answer:
    number = find_issue(repo, call.number("issue_number")).number
    comments = [repo.comment_json(c) for c in repo.comments.values() if c["issue"] == number]
    return page(call, comments)


def create_comment(repo: RepoState, call: Call) -> Answer:
    number = find_issue(repo, call.number("issue_number")).number
    cid, now = repo.new_id(), repo.tick()
    repo.comments[cid] = {
        "id": cid,
        "issue": number,
        "body": call.body["body"],
        "user": call.user,
        "created_at": now,
        "updated_at": now,
    }
    return Answer(201, repo.comment_json(repo.comments[cid]))


def update_comment(repo: RepoState, call: Call) -> Answer:
    comment = repo.comments.get(call.number("comment_id"))
    if comment is None:
        raise ApiError(404, "Not Found")
    comment["body"], comment["updated_at"] = call.body["body"], repo.tick()
    return Answer(200, repo.comment_json(comment))


def permission(repo: RepoState, call: Call) -> Answer:
    login = call.params["username"]
    role = repo.permissions.get(login, "read")
    # `permission` is the legacy name of the role: maintain reads as write, triage as read.
    legacy = {"maintain": "write", "triage": "read"}.get(role, role)
    return Answer(200, {"permission": legacy, "role_name": role, "user": repo.user_json(login)})


ROUTES = [
    Route("GET", REPO + "/issues", list_issues),
    Route("GET", REPO + "/issues/{issue_number}", get_issue),
    Route("GET", REPO + "/issues/{issue_number}/events", issue_events),
    Route("POST", REPO + "/issues/{issue_number}/labels", add_labels),
    Route("DELETE", REPO + "/issues/{issue_number}/labels/{name}", remove_label),
    Route("GET", REPO + "/labels", list_labels),
    Route("POST", REPO + "/labels", create_label),
    Route("GET", REPO + "/issues/{issue_number}/comments", list_comments),
    Route("POST", REPO + "/issues/{issue_number}/comments", create_comment),
    Route("PATCH", REPO + "/issues/comments/{comment_id}", update_comment),
    Route("GET", REPO + "/collaborators/{username}/permission", permission),
]
