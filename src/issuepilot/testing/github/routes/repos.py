"""The repository itself (its default branch, and what the token's user may do in it), the
token's user, and the repository's files as an archive.
https://docs.github.com/en/rest/repos/repos#get-a-repository
https://docs.github.com/en/rest/users/users#get-the-authenticated-user
https://docs.github.com/en/rest/repos/contents#download-a-repository-archive-tar"""

from ..state import RepoState
from .base import REPO, Answer, ApiError, Call, Route

# What each role may do, as `permissions` shows it (a bot's token or a stranger: read).
ROLES = ["read", "triage", "write", "maintain", "admin"]
SHOWN = {"pull": "read", "triage": "triage", "push": "write", "maintain": "maintain"}


def get_repository(repo: RepoState, call: Call) -> Answer:
    role = repo.permissions.get(call.user, "read")
    level = ROLES.index(role) if role in ROLES else 0
    permissions = {name: level >= ROLES.index(need) for name, need in SHOWN.items()}
    permissions["admin"] = role == "admin"
    return Answer(200, repo.repository_json() | {"permissions": permissions, "private": False})


def get_user(repo: RepoState, call: Call) -> Answer:
    return Answer(200, repo.user_json(call.user))


def tarball(repo: RepoState, call: Call) -> Answer:
    """A redirect to the archive host, where the files are read with no token."""
    sha = repo.commit_at(call.params["ref"])
    if sha is None:
        raise ApiError(404, "Not Found")
    return Answer(302, None, {"Location": repo.log_host.archive_url(sha)})


ROUTES = [
    Route("GET", REPO, get_repository),
    Route("GET", "/user", get_user),
    Route("GET", REPO + "/tarball/{ref}", tarball),
]
