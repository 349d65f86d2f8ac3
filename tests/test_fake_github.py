"""The fake GitHub itself: served in-process through httpx's mock transport, its events
shaped as GitHub sends them, and the vendored descriptions current with its routes."""

import json
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest

from issuepilot.events import Action, Rules, decide, parse_payload
from issuepilot.github.client import GitHub
from issuepilot.github.errors import ServerError
from issuepilot.github.retry import RetryPolicy
from issuepilot.testing.github import FakeGitHub
from issuepilot.testing.github.events import Event
from issuepilot.testing.github.examples import events
from issuepilot.testing.github.routes import ROUTES

from .github.schemas import HERE, event_errors, rest, webhooks

FAST = RetryPolicy(attempts=3, base_s=0.001, max_wait_s=1)


@pytest.fixture
async def in_process() -> AsyncIterator[tuple[FakeGitHub, GitHub]]:
    fake = FakeGitHub("octo/repo")  # never started: no socket, no thread
    gh = GitHub("octo/repo", "ghs_fake", fake.url, transport=fake.transport(), retry=FAST)
    yield fake, gh
    await gh.aclose()


# -- in-process ------------------------------------------------------------------------------


async def test_the_client_works_in_process(in_process: tuple[FakeGitHub, GitHub]) -> None:
    fake, gh = in_process
    n = fake.open_issue("x")
    for i in range(150):  # two pages: the Link header points back at the fake
        fake.comment_event(n, f"comment {i}")
    comment = (await gh.create_comment(n, "hello")).id
    bodies = [c.body async for c in gh.list_comments(n)]
    assert bodies[-1] == "hello" and len(bodies) == 151
    assert fake.comments[comment]["user"] == "github-actions[bot]"
    assert fake.unknown == [] and fake.bytes_out > 0


async def test_unknown_routes_are_recorded_in_process(
    in_process: tuple[FakeGitHub, GitHub],
) -> None:
    fake, gh = in_process
    response = await gh.request("GET", "/repos/octo/repo/nonsense", ok=(404,))
    assert response.status_code == 404
    assert fake.unknown == [("GET", "/repos/octo/repo/nonsense")]


async def test_a_lost_reply_in_process_is_a_dropped_connection(
    in_process: tuple[FakeGitHub, GitHub],
) -> None:
    fake, gh = in_process
    n = fake.open_issue("x")
    fake.lose_reply("POST", r"/dispatches$")
    path = f"{gh.base}/actions/workflows/w.yml/dispatches"
    with pytest.raises(ServerError, match="no answer"):  # a POST is not tried again blindly
        await gh.request("POST", path, {"ref": "main", "inputs": {"issue": str(n)}})
    assert len(fake.dispatches) == 1  # carried out, though unanswered
    fake.lose_reply("POST", rf"/issues/{n}/comments$")
    comment = (await gh.create_comment(n, "once")).id
    assert list(fake.comments) == [comment]


async def test_flaky_github_fails_its_share_of_requests_both_ways_until_steady(
    in_process: tuple[FakeGitHub, GitHub],
) -> None:
    fake, gh = in_process
    n = fake.open_issue("x")
    fake.flaky(0.5, random.Random(7))
    path = f"{gh.base}/issues/{n}/comments"
    outcomes = []
    for i in range(200):
        try:
            response = await gh.request("POST", path, {"body": str(i)}, ok=(502,))
            outcomes.append("502" if response.status_code == 502 else "ok")
        except ServerError:
            outcomes.append("lost")  # carried out, the reply dropped
    assert 60 < outcomes.count("ok") < 140 and fake.injected == 200 - outcomes.count("ok")
    assert outcomes.count("502") > 20 and outcomes.count("lost") > 20
    assert len(fake.comments) == outcomes.count("ok") + outcomes.count("lost")
    fake.steady()
    assert (await gh.request("POST", path, {"body": "now"})).status_code == 201


# -- events as GitHub sends them -------------------------------------------------------------


def every_event(fake: FakeGitHub) -> dict[str, Event]:
    """Each event the fake builds, by the name of its webhook schema, from one story."""
    n = fake.open_issue("Greet politely", "Edit `a.txt`.", user="alice")
    built = {
        "issues$labeled": fake.label_event(n, "issuepilot"),
        "issues$unlabeled": fake.label_event(n, "issuepilot", add=False),
        "issue_comment$created": fake.comment_event(n, "/issuepilot approve"),
        "issues$closed": fake.close_issue_event(n),
    }
    fake.label_event(n, "issuepilot")
    built["issues$reopened"] = fake.reopen_issue_event(n)
    built["workflow_dispatch$event"] = fake.dispatch_event({"issue": str(n)})
    merged, closed = open_pull(fake, n, "a"), open_pull(fake, n + 100, "b")
    comments = [{"path": "a.txt", "line": 1, "body": "Say it twice."}]
    built["pull_request_review$submitted"] = fake.review_event(merged, comments=comments)
    built["workflow_run$completed"] = fake.workflow_run_event(merged)
    annotations = [{"path": "a.txt", "start_line": 1, "message": "assert 'a' == 'aa'"}]
    built["check_run$completed"] = fake.check_run_event(merged, annotations=annotations)
    built["check_run$completed by actions"] = fake.check_run_event(
        merged, "success", app="github-actions", text=None
    )
    built["pull_request$closed"] = fake.merge_pull(merged)
    built["pull_request$closed unmerged"] = fake.merge_pull(closed, merged=False)
    return built


def open_pull(fake: FakeGitHub, issue: int, content: str) -> int:
    """Open a pull request from an IssuePilot branch, as the action does."""
    branch = f"issuepilot/issue-{issue}"
    fake.refs[f"heads/{branch}"] = fake.put_commit(
        fake.put_tree({"a.txt": ("100644", fake.put_blob(content.encode()))}),
        [fake.refs["heads/main"]],
        "change",
    )
    status, pull, _ = fake.handle(
        "POST",
        "/repos/octo/repo/pulls",
        json.dumps({"title": "T", "head": branch, "base": "main"}).encode(),
        "Bearer ghs_fake",
    )
    assert status == 201
    return int(pull["number"])


@pytest.mark.parametrize("name", list(every_event(FakeGitHub("octo/repo"))))
def test_every_event_matches_githubs_webhook_schema(name: str) -> None:
    event, payload = every_event(FakeGitHub("octo/repo"))[name]
    definition = name.split()[0]
    assert event == definition.split("$")[0]
    errors = event_errors(definition, payload)
    assert not errors, errors[:5]
    assert payload["repository"]["full_name"] == "octo/repo"


def test_the_schedule_payload_has_githubs_repository() -> None:
    # `schedule` is no webhook: GitHub publishes no schema for it. Its documented fields
    # are checked here, and its repository against the webhooks' repository schema.
    schema = {
        "type": "object",
        "required": ["schedule", "repository"],
        "properties": {
            "schedule": {"type": "string"},
            "workflow": {"type": "string"},
            "repository": {"$ref": "#/definitions/repository"},
        },
        "additionalProperties": False,
    }
    event, payload = FakeGitHub("octo/repo").schedule_event("0 * * * *")
    assert event == "schedule" and payload["schedule"] == "0 * * * *"
    assert webhooks().errors(payload, schema) == []


def test_issuepilot_reads_the_events_as_github_sends_them() -> None:
    built = every_event(FakeGitHub("octo/repo"))
    built["schedule"] = FakeGitHub("octo/repo").schedule_event()
    expected = {
        "issues$labeled": (Action.ENQUEUE, 1),
        "issues$unlabeled": (Action.CANCEL, 1),
        "issue_comment$created": (Action.APPROVE, 1),
        "issues$closed": (Action.ISSUE_CLOSED, 1),
        "issues$reopened": (Action.ENQUEUE, 1),
        "workflow_dispatch$event": (Action.ADVANCE, 1),
        "pull_request_review$submitted": (Action.FIX, 1),
        "workflow_run$completed": (Action.CI_FAILED, 1),
        "check_run$completed": (Action.CI_FAILED, 1),
        "check_run$completed by actions": (Action.IGNORE, None),
        "pull_request$closed": (Action.FINISH, 1),
        "pull_request$closed unmerged": (Action.FINISH, 101),
        "schedule": (Action.SWEEP, None),
    }
    for name, (event, payload) in built.items():
        trigger = decide(event, parse_payload(payload), Rules())
        assert (trigger.action, trigger.issue) == expected[name], (name, trigger)
    merged = decide("pull_request", parse_payload(built["pull_request$closed"][1]), Rules())
    unmerged = built["pull_request$closed unmerged"][1]
    assert merged.merged and not decide("pull_request", parse_payload(unmerged), Rules()).merged


def test_events_change_the_fakes_state() -> None:
    fake = FakeGitHub("octo/repo")
    n = fake.open_issue("x")
    _, closed = fake.close_issue_event(n)
    assert closed["issue"]["state"] == "closed" and closed["issue"]["closed_at"]
    _, reopened = fake.reopen_issue_event(n)
    assert reopened["issue"]["state_reason"] == "reopened" and fake.issues[n].state == "open"
    pr = open_pull(fake, n, "new")
    head = fake.refs[f"heads/issuepilot/issue-{n}"]
    _, run = fake.workflow_run_event(pr, name="CI")
    assert run["workflow_run"]["head_sha"] == head and run["workflow_run"]["name"] == "CI"
    assert run["workflow_run"]["conclusion"] == "failure"
    assert run["workflow_run"]["head_branch"] == f"issuepilot/issue-{n}"
    _, check = fake.check_run_event(pr)
    assert check["check_run"]["head_sha"] == head
    assert [p["number"] for p in check["check_run"]["pull_requests"]] == [pr]
    _, review = fake.review_event(pr)
    assert review["review"]["state"] == "changes_requested"
    assert review["pull_request"]["number"] == pr
    fake.merge_pull(pr)
    assert fake.files_at("main")["a.txt"] == "new"


# -- the vendored descriptions ---------------------------------------------------------------


def test_the_vendored_rest_description_has_every_route_the_fake_serves() -> None:
    paths = rest().document["paths"]
    missing = [
        f"{r.method} {r.template}"
        for r in ROUTES
        if r.method.lower() not in paths.get(r.template, {})
    ]
    assert not missing, f"run tools/github_data.py: {missing}"


def test_the_vendored_webhook_schemas_have_every_event_the_fake_builds() -> None:
    names = [name for name in events() if "$" in name]
    missing = [name for name in names if name not in webhooks().document["definitions"]]
    assert names and not missing, f"run tools/github_data.py: {missing}"


@pytest.mark.parametrize("name", ["rest-api.json", "webhooks.json"])
def test_every_reference_in_the_vendored_files_resolves(name: str) -> None:
    document = json.loads((HERE / name).read_text())
    schemas = rest() if name == "rest-api.json" else webhooks()
    for ref in references(document):
        assert schemas.resolve({"$ref": ref}) is not None, ref


def references(node: Any) -> list[str]:
    if isinstance(node, list):
        return [ref for item in node for ref in references(item)]
    if not isinstance(node, dict):
        return []
    own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
    return own + [ref for value in node.values() for ref in references(value)]
