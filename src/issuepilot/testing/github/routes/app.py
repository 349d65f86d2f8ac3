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


def access_token(repo: RepoState, call: Call) -> Answer:
    app = verify_jwt(repo, call.token)
    if call.number("installation_id") != app.installation_id:
        raise ApiError(404, "Not Found")
    token = f"ghs_app_{repo.new_id()}"
    expires = time.time() + app.token_ttl_s
    repo.tokens[token] = f"{app.slug}[bot]"
    repo.token_expiry[token] = expires
    return Answer(
        201,
        {
            "token": token,
            "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires)),
            "permissions": app.permissions,
            "repository_selection": "selected",
        },
    )


ROUTES = [
    Route("GET", REPO + "/installation", installation, app_jwt=True),
    Route("POST", "/app/installations/{installation_id}/access_tokens", access_token, app_jwt=True),
]
