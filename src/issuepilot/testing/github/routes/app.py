"""GitHub App authentication: the App's JWT finds its installation and mints installation
tokens, which the fake then accepts like any other token.
https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app"""

import time

from ..state import App, RepoState
from .base import REPO, Answer, ApiError, Call, Route

MAX_JWT_LIFETIME_S = (
    600  # GitHub refuses a JWT that expires more than 10 minutes after it was issued
)


def verify_jwt(repo: RepoState, token: str) -> App:
    import jwt  # pyjwt is needed only where Apps are

    if repo.app is None:
        raise ApiError(401, "A JSON web token could not be decoded")
    try:
        claims = jwt.decode(token, repo.app.public_key, algorithms=["RS256"])
    except jwt.PyJWTError as exc:
        raise ApiError(401, f"A JSON web token could not be decoded: {exc}") from None
    if (
        str(claims.get("iss")) != repo.app.app_id
        or claims["exp"] - claims["iat"] > MAX_JWT_LIFETIME_S
    ):
        raise ApiError(401, "'Expiration time' claim ('exp') is too far in the future")
    return repo.app


def installation(repo: RepoState, call: Call) -> Answer:
    app = verify_jwt(repo, call.token)
    return Answer(
        200,
        {
            "id": app.installation_id,
            "app_id": int(app.app_id),
            "app_slug": app.slug,
            "permissions": app.permissions,
            "target_type": "Organization",
        },
    )


LEVELS = ["read", "write", "admin"]


def access_token(repo: RepoState, call: Call) -> Answer:
    """A token scoped as asked: to the named repositories and the permissions listed, each
    no more than the installation was granted (GitHub answers 422 otherwise)."""
    app = verify_jwt(repo, call.token)
    if call.number("installation_id") != app.installation_id:
        raise ApiError(404, "Not Found")
    body = call.body or {}
    app.requests.append(body)
    asked: dict[str, str] = body.get("permissions") or dict(app.permissions)
    for name, level in asked.items():
        granted = app.permissions.get(name)
        if granted is None or LEVELS.index(level) > LEVELS.index(granted):
            raise ApiError(422, "The permissions requested are not granted to this installation.")
    names = body.get("repositories")
    if names is not None and repo.repo.split("/")[1] not in names:
        raise ApiError(
            422, "There is at least one repository that does not exist or is not accessible"
        )
    token = f"ghs_app_{repo.new_id()}"
    expires = time.time() + app.token_ttl_s
    repo.tokens[token] = f"{app.slug}[bot]"
    repo.token_expiry[token] = expires
    return Answer(
        201,
        {
            "token": token,
            "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires)),
            "permissions": asked,
            "repository_selection": "selected",
        },
    )


ROUTES = [
    Route("GET", REPO + "/installation", installation, app_jwt=True),
    Route("POST", "/app/installations/{installation_id}/access_tokens", access_token, app_jwt=True),
]
