"""An event handed on to a workflow run: it arrives as it was sent, minus the issue's text;
only an App may hand one on, for the repository whose run it is."""

import json

import pytest

from issuepilot.errors import InputError
from issuepilot.events import Action, Payload, Rules, decide, parse_payload
from issuepilot.relay import INPUT, MAX_CHARS, TooLarge, pack, unpack
from issuepilot.testing.github import FakeGitHub

REPO = "octo/app"
APP_BOT = "issuepilot-test[bot]"


def dispatch(github: FakeGitHub, event: str, sender: str = APP_BOT) -> tuple[str, Payload]:
    name, payload = github.dispatch_event(
        {"issue": "1", "command": "advance", INPUT: event}, sender
    )
    return name, parse_payload(payload)


def test_the_run_acts_on_the_event_as_sent() -> None:
    github = FakeGitHub(REPO)
    issue = github.open_issue("Greet", "A long text " * 100)
    name, raw = github.comment_event(issue, "/issuepilot revise shorter, please", "maintainer")
    payload = parse_payload(raw)
    carried = pack(name, payload)
    assert len(carried) < 4000 and "A long text" not in carried  # read from GitHub instead
    outer, wrapper = dispatch(github, carried)
    inner_name, inner = unpack(outer, wrapper, REPO)
    assert inner_name == "issue_comment"
    trigger = decide(inner_name, inner, Rules())
    assert (trigger.action, trigger.issue, trigger.actor) == (Action.REVISE, issue, "maintainer")
    assert trigger.feedback == "shorter, please" and trigger.needs_permission
    assert inner.issue is not None and "body" not in inner.issue.model_fields_set
    assert inner.comment == payload.comment and inner.sender == payload.sender


def test_a_dispatch_without_an_event_is_itself() -> None:
    github = FakeGitHub(REPO)
    name, payload = github.dispatch_event({"issue": "1"})
    parsed = parse_payload(payload)
    assert unpack(name, parsed, REPO) == (name, parsed)


@pytest.mark.parametrize(
    ("sender", "event", "message"),
    [
        ("octocat", None, "not for @octocat"),  # a person's Run workflow replays nothing
        (APP_BOT, "{not json", "does not hold an event"),
        (APP_BOT, json.dumps({"name": "push", "payload": {}}), "holds a push event"),
        (APP_BOT, None, "not of octo/app"),  # another repository's event
    ],
)
def test_only_an_app_hands_on_an_event_of_this_repository(
    sender: str, event: str | None, message: str
) -> None:
    github = FakeGitHub(REPO)
    issue = github.open_issue("Greet")
    name, raw = github.label_event(issue, "issuepilot:approved", "octocat")
    if message.startswith("not of"):
        raw["repository"]["full_name"] = "evil/other"
    outer, wrapper = dispatch(github, event or pack(name, parse_payload(raw)), sender)
    with pytest.raises(InputError, match=message):
        unpack(outer, wrapper, REPO)


def test_a_dispatch_inside_a_dispatch_is_refused() -> None:
    github = FakeGitHub(REPO)
    name, inner = github.dispatch_event({"issue": "1", INPUT: "x"}, APP_BOT)
    outer, wrapper = dispatch(github, pack(name, parse_payload(inner)))
    with pytest.raises(InputError, match="a dispatch that holds an event"):
        unpack(outer, wrapper, REPO)


def test_an_event_too_large_for_a_dispatch_is_refused() -> None:
    github = FakeGitHub(REPO)
    issue = github.open_issue("Greet")
    name, raw = github.comment_event(issue, "/issuepilot revise " + "x" * MAX_CHARS)
    with pytest.raises(TooLarge, match="characters"):
        pack(name, parse_payload(raw))
