"""One mapping from a failed GitHub response to an error that says what to do.

https://docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api
"""

from collections.abc import Mapping
from typing import Any

from ..errors import GitHubError

# Which permission a failing request most likely needs, by a piece of its path.
# https://docs.github.com/en/rest/authentication/permissions-required-for-github-apps
NEEDS = [
    ("/actions/", "actions: write"),
    ("/git/", "contents: write"),
    ("/contents/", "contents: read"),
    ("/branches/", "contents: read"),
    ("/pulls", "pull-requests: write"),
    ("/labels", "issues: write"),
    ("/comments", "issues: write"),
    ("/issues/", "issues: read"),
    ("/collaborators/", "metadata: read"),
]


class NotFound(GitHubError):
    """404: the thing does not exist, or the token cannot see it."""


class PermissionDenied(GitHubError):
    """401/403 other than rate limits: the token lacks a permission or is invalid."""

    recoverable = False


class ValidationFailed(GitHubError):
    """422: GitHub refused the request's content; `errors` is GitHub's list."""

    def __init__(self, message: str, status: int, errors: list[Any]) -> None:
        super().__init__(message, status)
        self.errors = errors


class RateLimited(GitHubError):
    """403/429 from a primary or secondary rate limit; `reset` is epoch seconds, if known."""

    def __init__(self, message: str, status: int, reset: float | None) -> None:
        super().__init__(message, status)
        self.reset = reset


class ServerError(GitHubError):
    """5xx, or no answer at all: GitHub had a problem; a later run can try again."""


def is_rate_limited(status: int, headers: Mapping[str, str], message: str) -> bool:
    if status not in (403, 429):
        return False
    if status == 429 or "retry-after" in headers or headers.get("x-ratelimit-remaining") == "0":
        return True
    return "rate limit" in message.lower()


def error_for(
    method: str, path: str, status: int, headers: Mapping[str, str], data: Any
) -> GitHubError:
    message = str(data.get("message", "")) if isinstance(data, dict) else ""
    where = f"{method} {path}"
    if is_rate_limited(status, headers, message):
        reset = headers.get("x-ratelimit-reset")
        when = f"; the limit resets at epoch {reset}" if reset else ""
        return RateLimited(
            f"{where}: GitHub rate limit{when}: a later run continues",
            status,
            float(reset) if reset and reset.isdigit() else None,
        )
    if status == 401:
        return PermissionDenied(f"{where}: the token is invalid or expired (401)", status)
    if status == 403:
        need = headers.get("x-accepted-github-permissions") or next(
            (p for piece, p in NEEDS if piece in path), "more permissions"
        )
        if "not permitted to create or approve pull requests" in message:
            return PermissionDenied(
                f"{where}: this repository does not let GitHub Actions create pull requests: "
                "enable it under Settings > Actions > General, or use a GitHub App token",
                status,
            )
        return PermissionDenied(f"{where}: forbidden: the token lacks `{need}` ({message})", status)
    if status == 404:
        return NotFound(f"{where}: not found, or the token cannot see it", status)
    if status == 422:
        errors = data.get("errors", []) if isinstance(data, dict) else []
        detail = "; ".join(_describe(e) for e in errors)
        return ValidationFailed(f"{where}: rejected: {message} {detail}".strip(), status, errors)
    if status >= 500:
        return ServerError(f"{where}: GitHub answered {status}: a later run can retry", status)
    return GitHubError(f"{where}: GitHub answered {status} {message}".strip(), status)


def _describe(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or f"{error.get('field', '?')} {error.get('code', '')}")
    return str(error)
