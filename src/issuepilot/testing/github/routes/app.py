"""GitHub App authentication: the App's JWT finds its installation and mints installation
tokens, which the fake then accepts like any other token. With the JWT the App also reads
who it is and its webhook's delivery log, and asks for redeliveries.
https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app
https://docs.github.com/en/rest/apps/webhooks"""

import time

from ..state import STAMP, App, RepoState
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


def get_app(repo: RepoState, call: Call) -> Answer:
    app = verify_jwt(repo, call.token)
    owner = repo.user_json(repo.owner)
    return Answer(
        200,
        {
            "id": int(app.app_id),
            "slug": app.slug,
            "name": app.slug,
            "owner": owner,
            "permissions": app.permissions,
            "created_at": STAMP,
            "updated_at": STAMP,
        },
    )


def list_deliveries(repo: RepoState, call: Call) -> Answer:
    """Newest first; `cursor` is where a page starts, as the `Link` header names it."""
    verify_jwt(repo, call.token)
    hooks = repo.hooks
    found = list(reversed(hooks.deliveries)) if hooks is not None else []
    if cursor := call.query.get("cursor", ""):
        found = [d for d in found if d["id"] <= int(cursor.removeprefix("v1_"))]
    per_page = min(int(call.query.get("per_page", 30)), 100)
    chunk, headers = found[:per_page], {}
    if len(found) > per_page:
        rest = {k: v for k, v in call.query.items() if k != "cursor"}
        query = "&".join(f"{k}={v}" for k, v in rest.items())
        url = f"{call.api_url}{call.path}?{query}&cursor=v1_{found[per_page]['id']}"
        headers = {"Link": f'<{url}>; rel="next"'}
    return Answer(200, chunk, headers)


def redeliver(repo: RepoState, call: Call) -> Answer:
    verify_jwt(repo, call.token)
    if repo.hooks is None or repo.hooks.redeliver(call.number("delivery_id")) is None:
        raise ApiError(404, "Not Found")
    return Answer(202, {})


ROUTES = [
    Route("GET", REPO + "/installation", installation, app_jwt=True),
    Route("POST", "/app/installations/{installation_id}/access_tokens", access_token, app_jwt=True),
    Route("GET", "/app", get_app, app_jwt=True),
    Route("GET", "/app/hook/deliveries", list_deliveries, app_jwt=True),
    Route("POST", "/app/hook/deliveries/{delivery_id}/attempts", redeliver, app_jwt=True),
]
