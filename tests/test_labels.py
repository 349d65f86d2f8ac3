"""Names IssuePilot gives things, and the label changes that show one state at a time."""

import pytest

from issuepilot.labels import Labels, label_changes
from issuepilot.machine import TaskState

L = Labels()
STATES = L.states


def test_names_follow_the_prefix() -> None:
    labels = Labels("bot")
    assert labels.trigger == "bot" and labels.approved == "bot:approved"
    assert labels.revise == "bot:revise" and labels.retry == "bot:retry"
    assert labels.state(TaskState.PR_OPEN) == "bot:pr-open"
    assert labels.states == {f"bot:{s}" for s in TaskState}
    assert labels.branch(12) == "bot/issue-12" and labels.issue_of("bot/issue-12") == 12


@pytest.mark.parametrize(
    "branch", ["main", "bot/issue-", "bot/issue-0", "bot/issue-1x", "x/bot/issue-1"]
)
def test_only_its_own_branches_name_an_issue(branch: str) -> None:
    assert Labels("bot").issue_of(branch) is None


def test_every_label_has_a_colour_and_a_description() -> None:
    defined = L.definitions()
    assert set(defined) == STATES | {L.trigger, L.revise, L.retry}
    for color, description in defined.values():
        assert len(color) == 6 and int(color, 16) >= 0 and description


def test_known_labels_change_exactly_what_differs() -> None:
    present = {"bug", L.trigger, "issuepilot:queued", "issuepilot:failed"}
    adds, drop = label_changes(present, "issuepilot:plan-review", None, STATES)
    assert adds == ["issuepilot:plan-review"]
    assert drop == {"issuepilot:queued", "issuepilot:failed"}  # never "bug" or the trigger


def test_known_labels_already_right_change_nothing() -> None:
    present = {L.trigger, "issuepilot:approved"}
    assert label_changes(present, "issuepilot:approved", "issuepilot:plan-review", STATES) == (
        [],
        set(),
    )


def test_unknown_labels_swap_the_one_shown_before() -> None:
    adds, drop = label_changes(None, "issuepilot:pr-open", "issuepilot:approved", STATES)
    assert adds == ["issuepilot:pr-open"] and drop == {"issuepilot:approved"}


def test_unknown_labels_unchanged_state_costs_nothing() -> None:
    assert label_changes(None, "issuepilot:queued", "issuepilot:queued", STATES) == ([], set())


def test_unknown_before_adds_the_wanted_label() -> None:
    assert label_changes(None, "issuepilot:failed", None, STATES) == (["issuepilot:failed"], set())


def test_removed_action_labels_only_where_present_when_known() -> None:
    present = {L.trigger, "issuepilot:failed", L.retry}
    adds, drop = label_changes(present, "issuepilot:queued", None, STATES, remove=(L.retry, "x"))
    assert adds == ["issuepilot:queued"] and drop == {"issuepilot:failed", L.retry}
    adds, drop = label_changes(None, "issuepilot:queued", "issuepilot:failed", STATES, (L.retry,))
    assert drop == {"issuepilot:failed", L.retry}


def test_the_wanted_label_is_never_removed() -> None:
    adds, drop = label_changes(None, L.approved, L.approved, STATES, remove=(L.approved,))
    assert adds == [] and drop == set()
