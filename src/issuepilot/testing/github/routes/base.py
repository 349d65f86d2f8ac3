"""What every route handler shares: the route table's entry, the request as a handler sees
it, its answer, GitHub's error answer and GitHub's pagination."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ..state import RepoState

Json = Any
REPO = "/repos/{owner}/{repo}"  # the start of every repository route's template


class ApiError(Exception):
    """GitHub's error answer: raised by a handler, served as `{"message": ..., "status": ...}`."""

    def __init__(self, status: int, message: str, errors: list[Json] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"message": message, "status": str(status)}
        if errors:
            self.body["errors"] = errors


@dataclass(frozen=True)
class Call:
    """One request, as a handler sees it."""

    params: dict[str, str]  # the path's parameters, URL-decoded
    query: dict[str, str]
    body: Json
    user: str  # the login the token belongs to ("" on App routes, which carry a JWT)
    token: str
    api_url: str  # the fake's API root, for URLs in answers
    path: str  # below the API root
    accept: str = ""  # the Accept header: `application/vnd.github.raw+json` asks for raw bytes

    def number(self, name: str) -> int:
        return int(self.params[name])


@dataclass
class Answer:
    status: int
    body: Json = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[RepoState, Call], Answer]


@dataclass(frozen=True)
class Route:
    """One operation of GitHub's REST description, as its path template there names it."""

    method: str
    template: str
    handler: Handler
    app_jwt: bool = False  # authenticated by the App's JWT instead of a token


def page(call: Call, items: list[Json]) -> Answer:
    """One page of a list, with GitHub's `Link` header (`prev`, `next`, `first`, `last`)
    where there is more than one page.
    https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api"""
    chunk, headers = paged(call, items)
    return Answer(200, chunk, headers)


def paged(call: Call, items: list[Json]) -> tuple[list[Json], dict[str, str]]:
    """The page of `items` a request asks for, and the headers that link the others: for
    answers that hold their list in an object."""
    number = int(call.query.get("page", 1))
    per_page = min(int(call.query.get("per_page", 30)), 100)
    last = max(1, -(-len(items) // per_page))
    chunk = items[(number - 1) * per_page : number * per_page]
    if last == 1:
        return chunk, {}
    rest = "&".join(f"{k}={quote(v, safe=',:')}" for k, v in call.query.items() if k != "page")
    url = f"{call.api_url}{call.path}?{rest}&page="
    rels = {"prev": number - 1, "next": number + 1, "first": 1, "last": last}
    links = [f'<{url}{n}>; rel="{rel}"' for rel, n in rels.items() if 1 <= n <= last]
    return chunk, {"Link": ", ".join(links), "X-Per-Page": str(per_page)}


def validation_failed(resource: str, code: str, **detail: str) -> ApiError:
    return ApiError(422, "Validation Failed", [{"resource": resource, "code": code, **detail}])
