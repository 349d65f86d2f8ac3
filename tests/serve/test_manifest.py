"""The App to create asks for what IssuePilot uses and nothing else: the permissions the
steps' tokens ask for, the events `decide` acts on, and what GitHub needs to send those."""

import json
import subprocess
import sys

import pytest

from issuepilot.events import WEBHOOK_EVENTS, Action, Rules, decide, parse_payload
from issuepilot.github.auth import APP_PERMISSIONS
from issuepilot.serve.manifest import EVENT_PERMISSION, manifest, permissions

from ..test_workflow_filter import events


def test_the_permissions_are_the_steps_and_what_the_events_need() -> None:
    asked = permissions()
    assert {k: v for k, v in asked.items() if k in APP_PERMISSIONS} == APP_PERMISSIONS
    assert set(asked) - set(APP_PERMISSIONS) == {"checks"}  # check_run events
    assert asked["checks"] == "read"
    for event in WEBHOOK_EVENTS:
        assert EVENT_PERMISSION[event] in asked, event
    assert permissions(workflows=True)["workflows"] == "write"


def test_the_events_are_those_the_action_handles() -> None:
    handled = {name for name, _ in events("issuepilot")} - {"workflow_dispatch", "schedule"}
    assert set(WEBHOOK_EVENTS) == handled


@pytest.mark.story  # the real CLI as a process
def test_the_command_prints_the_manifest() -> None:
    url = "https://pilot.example.com/webhooks/github"
    run = subprocess.run(
        [sys.executable, "-m", "issuepilot", "app-manifest", "--webhook-url", url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    printed = json.loads(run.stdout)
    assert printed == manifest("IssuePilot", url, printed["url"])
    assert printed["hook_attributes"] == {"url": url, "active": True}
    assert printed["default_events"] == list(WEBHOOK_EVENTS) and printed["public"] is False


def test_every_other_event_is_ignored() -> None:
    payload = parse_payload({"action": "published", "sender": {"login": "octocat"}})
    for name in ("push", "release", "installation", "star"):
        trigger = decide(name, payload, Rules())
        assert trigger.action is Action.IGNORE and "does not act" in trigger.reason
