"""The checks themselves must catch what they claim to: requests, answers and events that
GitHub's descriptions do not allow."""

import copy
from typing import Any

import pytest

from issuepilot.testing.github import FakeGitHub

from .openapi import answer_errors, check_request
from .schemas import event_errors, from_openapi

TREE = "http://x/repos/o/r/git/trees"


def test_documented_requests_pass() -> None:
    check_request("POST", "http://x/repos/o/r/issues/1/labels", {"labels": ["a"]})
    check_request("GET", "http://x/repos/o/r/pulls?head=o%3Ab&state=open&per_page=100", None)
    check_request(
        "POST",
        TREE,
        {"base_tree": "a", "tree": [{"path": "a", "mode": "100644", "type": "blob", "sha": None}]},
    )


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("GET", "http://x/repos/o/r/nonsense", None),
        ("PUT", TREE, {"tree": []}),
        ("POST", "http://x/repos/o/r/issues/1/labels", {"labels": []}),
        ("POST", TREE, {"tree": [{"mode": "777"}]}),
        ("POST", TREE, {"base_tree": None, "tree": []}),  # null where null is not allowed
        ("GET", "http://x/repos/o/r/pulls?colour=red", None),
        ("GET", "http://x/repos/o/r/pulls?state=sideways", None),
        ("PATCH", "http://x/repos/o/r/git/refs/heads/b", {"force": True}),
        ("POST", "http://x/repos/o/r/pulls", None),
    ],
)
def test_undocumented_requests_fail(method: str, url: str, body: object) -> None:
    with pytest.raises(AssertionError):
        check_request(method, url, body)


COMMENT = "/repos/{owner}/{repo}/issues/{issue_number}/comments"


def comment_answer() -> dict[str, Any]:
    fake = FakeGitHub("o/r")
    n = fake.open_issue("x")
    status, body, _ = fake.handle(
        "POST", f"/repos/o/r/issues/{n}/comments", b'{"body":"hi"}', "Bearer ghs_fake"
    )
    assert status == 201
    return dict(body)


def test_answers_are_checked_against_their_schema() -> None:
    answer = comment_answer()
    assert answer_errors("POST", COMMENT, 201, answer) == []
    assert answer_errors("POST", COMMENT, 201, answer | {"user": None}) == []  # nullable
    assert answer_errors("POST", COMMENT, 201, answer | {"id": "one"})
    assert answer_errors("POST", COMMENT, 201, {k: v for k, v in answer.items() if k != "url"})


def test_events_are_checked_against_their_webhook_schema() -> None:
    fake = FakeGitHub("o/r")
    _, labeled = fake.label_event(fake.open_issue("x"), "issuepilot")
    assert event_errors("issues$labeled", labeled) == []
    assert event_errors("issues$labeled", {k: v for k, v in labeled.items() if k != "sender"})
    assert event_errors("issues$labeled", labeled | {"unknown": 1})  # no other properties
    assert event_errors("issues$closed", labeled | {"action": "closed"})  # the issue is open
    broken = copy.deepcopy(labeled)
    del broken["issue"]["user"]["login"]
    assert event_errors("issues$labeled", broken)


def test_openapi_nullable_becomes_json_schemas_null() -> None:
    assert from_openapi({"type": "string", "enum": ["a"], "nullable": True}) == {
        "type": ["string", "null"],
        "enum": ["a", None],
    }
    assert from_openapi({"allOf": [{"$ref": "#/x"}], "nullable": True}) == {
        "anyOf": [{"allOf": [{"$ref": "#/x"}]}, {"type": "null"}]
    }
    named = {"properties": {"nullable": {"type": "boolean"}}}  # a property, not the keyword
    assert from_openapi(named) == named
