"""`POST /tasks` over real HTTP: queued for the service's token and for people who may
write to the repository; refused, with nothing queued, for anyone else and for anything
but the request's exact shape."""

import json
from collections.abc import Iterator
from typing import Any

import pytest

from issuepilot.serve.settings import ServiceSettings

from .conftest import APP_BOT, SERVICE_TOKEN, Org, Service, serving


@pytest.fixture
def routes(settings: ServiceSettings) -> Iterator[Service]:
    with serving(settings, background=False) as running:
        yield running


def ask(routes: Service, token: str | None, **body: object) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    answer = routes.post("/tasks", json.dumps(body).encode(), **headers)
    return answer.status_code, answer.json()


def queued(routes: Service) -> list[dict[str, object]]:
    return [
        {"event": e["event"].decode(), "repo": e["repo"].decode(), **json.loads(e["body"])}
        for e in routes.entries()
    ]


def test_the_services_token_queues_a_command_in_the_apps_name(routes: Service, org: Org) -> None:
    repo = org.github.repo
    answer = ask(routes, SERVICE_TOKEN, repo=repo, issue=12, command="plan")
    assert answer == (202, {"status": "queued"})
    [entry] = queued(routes)
    assert entry == {
        "event": "workflow_dispatch",
        "repo": repo,
        "inputs": {"issue": "12", "command": "plan"},
        "repository": {"full_name": repo},
        "sender": {"login": APP_BOT},
    }


def test_a_writer_queues_a_command_in_their_own_name(routes: Service, org: Org) -> None:
    repo = org.github.repo
    answer = ask(routes, "ghp_writer", repo=repo, issue=3, command="revise", feedback="shorter")
    assert answer == (202, {"status": "queued"})
    [entry] = queued(routes)
    assert entry["inputs"] == {"issue": "3", "command": "revise shorter"}
    assert entry["sender"] == {"login": "ann"}


def test_anyone_without_write_access_queues_nothing(routes: Service, org: Org) -> None:
    refused = [
        (None, 401, "authenticate"),
        ("ghp_unknown", 401, "does not accept this token"),
        ("ghp_triager", 403, "@mallory cannot queue tasks"),  # triage is not write
        (SERVICE_TOKEN[:-1], 401, "does not accept"),  # almost the service's: a GitHub token
    ]
    for token, status, detail in refused:
        code, answer = ask(routes, token, repo=org.github.repo, issue=1, command="approve")
        assert code == status and detail in answer["detail"], token
    assert routes.added() == 0


def test_a_request_of_another_shape_is_refused(routes: Service) -> None:
    shapes = [
        {"repo": "octo/app", "issue": 1},  # no command
        {"repo": "octo/app", "issue": "1", "command": "plan"},  # strict: a number is a number
        {"repo": "octo/app", "issue": 1, "command": "deploy"},
        {"repo": "octo/app", "issue": 1, "command": "sweep"},  # not about one issue
        {"repo": "octo", "issue": 1, "command": "plan"},
        {"repo": "octo/app", "issue": 0, "command": "plan"},
        {"repo": "octo/app", "issue": 1, "command": "plan", "as": "admin"},  # unknown field
    ]
    for body in shapes:
        assert ask(routes, SERVICE_TOKEN, **body)[0] == 422, body
    answer = routes.post("/tasks", b"plan #1 please", Authorization=f"Bearer {SERVICE_TOKEN}")
    assert answer.status_code == 422
    assert routes.added() == 0
