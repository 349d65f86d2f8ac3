"""`POST /tasks`: queue a step for an issue, for bots and trackers.

    POST /tasks  Authorization: Bearer <token>
    {"repo": "octo/app", "issue": 12, "command": "plan"}      ->  202 {"status": "queued"}

The token is the service's own (`ISSUEPILOT_SERVICE_TOKEN`, compared in constant time),
or a person's GitHub token: GitHub then says who it is and whether they may write to the
repository (write, maintain or admin), as for any command. The request is queued like a
`workflow_dispatch` of the repository's workflow with that issue and command, in that
person's name; the dispatcher hands it on like a webhook.
"""

import hmac
import json
import uuid

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import GitHubError, first_error
from ..events import DISPATCH_COMMANDS
from ..github.client import GitHub
from ..github.errors import NotFound, PermissionDenied
from .queue import new_entry
from .state import Service
from .webhooks import read_body

COMMANDS = sorted(DISPATCH_COMMANDS - {"sweep"})  # about one issue
MAX_BODY = 64 * 1024
WRITE = ("admin", "maintain", "push")  # `permissions` keys that mean write access


class TaskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    repo: str = Field(pattern=r"^[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}$")
    issue: int = Field(ge=1, le=2**31 - 1)
    command: str
    feedback: str = Field("", max_length=10_000)  # for revise and fix

    @field_validator("command")
    @classmethod
    def known(cls, command: str) -> str:
        if command not in COMMANDS:
            raise ValueError(f"unknown command {command[:40]!r} (known: {', '.join(COMMANDS)})")
        return command


class Refused(Exception):
    def __init__(self, outcome: str, status: int, detail: str) -> None:
        super().__init__(detail)
        self.outcome, self.status, self.detail = outcome, status, detail


async def queue_task(request: Request) -> Response:
    service: Service = request.app.state.service
    try:
        answer = await _queue_task(service, request)
    except Refused as refused:
        service.metrics.tasks.labels(refused.outcome).inc()
        return JSONResponse({"detail": refused.detail}, status_code=refused.status)
    service.metrics.tasks.labels("queued").inc()
    return JSONResponse(answer, status_code=202)


async def _queue_task(service: Service, request: Request) -> dict[str, str]:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() not in ("bearer", "token") or not token.strip():
        detail = "authenticate with the service's token or a GitHub token (Authorization: Bearer)"
        raise Refused("unauthorized", 401, detail)
    body = await read_body(request, MAX_BODY)
    if body is None:
        raise Refused("invalid", 413, f"a task request is at most {MAX_BODY:,} bytes")
    try:
        task = TaskRequest.model_validate_json(body)
    except ValidationError as exc:
        raise Refused("invalid", 422, first_error(exc, "the request")) from None
    actor = await _actor(service, token.strip(), task.repo)
    command = f"{task.command} {task.feedback}".strip()
    payload = {
        "inputs": {"issue": str(task.issue), "command": command},
        "repository": {"full_name": task.repo},
        "sender": {"login": actor},
    }
    entry = new_entry(f"task-{uuid.uuid4()}", "workflow_dispatch", task.repo, _json(payload))
    await service.queue.add(service.queue.keys.deliveries, entry)
    return {"status": "queued"}


async def _actor(service: Service, token: str, repo: str) -> str:
    """Who asks: the service itself (its token), or the GitHub user whose token this is,
    if they may write to the repository."""
    own = service.settings.service_token.get_secret_value()
    if own and hmac.compare_digest(token.encode(), own.encode()):
        return service.bot
    app = service.settings.app
    gh = GitHub(repo, token, app.api_url, app.http_log, transport=service.transport)
    try:
        login = await gh.login()
        rights = (await gh.get_repository()).permissions or {}
    except PermissionDenied:
        raise Refused("unauthorized", 401, "GitHub does not accept this token") from None
    except NotFound:
        raise Refused("forbidden", 403, f"the token cannot see {repo}") from None
    except GitHubError as exc:
        raise Refused("unavailable", 503, f"GitHub could not say who this is: {exc}") from None
    finally:
        await gh.aclose()
    if not any(rights.get(level) for level in WRITE):
        detail = f"@{login} cannot queue tasks in {repo}: that needs write access"
        raise Refused("forbidden", 403, detail)
    return login


def _json(data: object) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()
