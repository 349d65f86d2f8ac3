from typing import Any

import pytest

from issuepilot.errors import InputError
from issuepilot.events import Action, Rules, decide, parse_payload
from issuepilot.labels import Labels

RULES = Rules()
REPO = {"full_name": "o/r", "default_branch": "main"}


def issue(number: int = 7, labels: tuple[str, ...] = (), pr: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "number": number,
        "title": "t",
        "body": "b",
        "labels": [{"name": n} for n in labels],
    }
    if pr:
        data["pull_request"] = {"url": "x"}
    return data


def run(name: str, payload: dict[str, Any]) -> Any:
    return decide(
        name, parse_payload({"repository": REPO, "sender": {"login": "ann"}, **payload}), RULES
    )


@pytest.mark.parametrize(
    ("action", "label", "expected"),
    [
        ("labeled", "issuepilot", Action.ENQUEUE),
        ("labeled", "issuepilot:approved", Action.APPROVE),
        ("labeled", "issuepilot:revise", Action.REVISE),
        ("labeled", "issuepilot:retry", Action.RETRY),
        ("labeled", "bug", Action.IGNORE),
        ("labeled", "issuepilot:done", Action.IGNORE),
        ("unlabeled", "issuepilot", Action.CANCEL),
        ("unlabeled", "issuepilot:approved", Action.IGNORE),
    ],
)
def test_labels(action: str, label: str, expected: Action) -> None:
    trigger = run("issues", {"action": action, "label": {"name": label}, "issue": issue()})
    assert trigger.action is expected and trigger.issue == 7 and trigger.actor == "ann"
    assert trigger.event == f"issues.{action}" and trigger.reason


def test_issue_close_and_reopen() -> None:
    closed = run("issues", {"action": "closed", "issue": issue()})
    assert closed.action is Action.ISSUE_CLOSED and not closed.needs_permission  # a fact
    reopened = run("issues", {"action": "reopened", "issue": issue(labels=("issuepilot",))})
    assert reopened.action is Action.ENQUEUE
    assert run("issues", {"action": "reopened", "issue": issue()}).action is Action.IGNORE
    assert run("issues", {"action": "edited", "issue": issue()}).reason.startswith("issue edited")


def test_pull_requests_are_not_issues() -> None:
    labeled = run(
        "issues", {"action": "labeled", "label": {"name": "issuepilot"}, "issue": issue(pr=True)}
    )
    assert labeled.action is Action.IGNORE and "not issues" in labeled.reason
    body = {"body": "/issuepilot approve", "user": {"login": "ann"}}
    comment = run("issue_comment", {"action": "created", "issue": issue(pr=True), "comment": body})
    assert comment.action is Action.IGNORE


def test_events_caused_by_the_action_itself_are_ignored() -> None:
    payload = parse_payload(
        {
            "action": "labeled",
            "label": {"name": "issuepilot"},
            "issue": issue(),
            "sender": {"login": "github-actions[bot]"},
        }
    )
    assert decide("issues", payload, RULES).action is Action.IGNORE
    # ...but its own dispatches drive the chain.
    dispatch = parse_payload({"inputs": {"issue": "7"}, "sender": {"login": "github-actions[bot]"}})
    assert decide("workflow_dispatch", dispatch, RULES).action is Action.ADVANCE


@pytest.mark.parametrize(
    ("body", "action", "feedback"),
    [
        ("/issuepilot approve", Action.APPROVE, ""),
        (
            "  /issuepilot Revise use a dict\nand keep it short",
            Action.REVISE,
            "use a dict\nand keep it short",
        ),
        ("/issuepilot retry", Action.RETRY, ""),
        ("/issuepilot cancel", Action.CANCEL, ""),
        ("/issuepilot dance", Action.IGNORE, ""),
        ("looks good! /issuepilot approve", Action.IGNORE, ""),
        ("", Action.IGNORE, ""),
    ],
)
def test_comment_commands(body: str, action: Action, feedback: str) -> None:
    comment = {"body": body, "user": {"login": "ann"}}
    trigger = run("issue_comment", {"action": "created", "issue": issue(), "comment": comment})
    assert trigger.action is action and trigger.feedback == feedback


def test_only_new_comments_count() -> None:
    comment = {"body": "/issuepilot approve", "user": {"login": "ann"}}
    assert (
        run("issue_comment", {"action": "edited", "issue": issue(), "comment": comment}).action
        is Action.IGNORE
    )


@pytest.mark.parametrize(
    ("pr", "expected", "issue_no", "merged"),
    [
        (
            {
                "action": "closed",
                "pull_request": {
                    "number": 9,
                    "merged": True,
                    "head": {"ref": "issuepilot/issue-7"},
                },
            },
            Action.FINISH,
            7,
            True,
        ),
        (
            {
                "action": "closed",
                "pull_request": {
                    "number": 9,
                    "merged": False,
                    "head": {"ref": "issuepilot/issue-7"},
                },
            },
            Action.FINISH,
            7,
            False,
        ),
        (
            {
                "action": "closed",
                "pull_request": {"number": 9, "merged": True, "head": {"ref": "feature/x"}},
            },
            Action.IGNORE,
            None,
            False,
        ),
        (
            {
                "action": "opened",
                "pull_request": {"number": 9, "head": {"ref": "issuepilot/issue-7"}},
            },
            Action.IGNORE,
            None,
            False,
        ),
    ],
)
def test_pull_request_closed(
    pr: dict[str, Any], expected: Action, issue_no: int | None, merged: bool
) -> None:
    trigger = run("pull_request", pr)
    assert trigger.action is expected and trigger.issue == issue_no and trigger.merged is merged
    if expected is Action.FINISH:
        assert trigger.pr == 9 and not trigger.needs_permission


@pytest.mark.parametrize(
    ("inputs", "action", "issue_no", "feedback"),
    [
        ({"issue": "12"}, Action.ADVANCE, 12, ""),
        ({"issue": "#12", "command": "plan"}, Action.PLAN, 12, ""),
        ({"issue": "12", "command": "revise shorter please"}, Action.REVISE, 12, "shorter please"),
        ({"issue": "", "command": ""}, Action.SWEEP, None, ""),
        ({"issue": "12", "command": "sweep"}, Action.SWEEP, None, ""),
        (None, Action.SWEEP, None, ""),
    ],
)
def test_workflow_dispatch(
    inputs: Any, action: Action, issue_no: int | None, feedback: str
) -> None:
    trigger = run("workflow_dispatch", {"inputs": inputs})
    assert (trigger.action, trigger.issue, trigger.feedback) == (action, issue_no, feedback)
    assert not trigger.needs_permission
    assert trigger.key == "", "a dispatch names nothing that stays the same"


@pytest.mark.parametrize("inputs", [{"issue": "twelve"}, {"issue": "1", "command": "explode"}])
def test_bad_dispatch_inputs_are_input_errors(inputs: dict[str, str]) -> None:
    with pytest.raises(InputError):
        run("workflow_dispatch", {"inputs": inputs})


def test_schedule_sweeps_and_other_events_are_ignored() -> None:
    assert run("schedule", {}).action is Action.SWEEP
    push = run("push", {"ref": "refs/heads/main"})
    assert push.action is Action.IGNORE and "push" in push.reason and push.issue is None


def test_explain_shape() -> None:
    trigger = run(
        "issues", {"action": "labeled", "label": {"name": "issuepilot"}, "issue": issue()}
    )
    assert trigger.explain(RULES.labels) == {
        "event": "issues.labeled",
        "action": "enqueue",
        "issue": 7,
        "actor": "ann",
        "reason": "label 'issuepilot' added",
    }
    assert trigger.needs_permission


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("issues", []),
        ("issues", {"action": "labeled"}),
        ("issue_comment", {"action": "created", "issue": issue()}),
        ("issues", {"issue": {"number": "seven"}}),
    ],
)
def test_malformed_payloads(name: str, raw: Any) -> None:
    with pytest.raises(InputError, match="payload"):
        decide(name, parse_payload(raw), RULES)


def test_custom_prefix() -> None:
    rules = Rules(labels=Labels("bot"), bot_logins=frozenset())
    payload = parse_payload(
        {"action": "labeled", "label": {"name": "bot:approved"}, "issue": issue()}
    )
    assert decide("issues", payload, rules).action is Action.APPROVE
    assert rules.labels.branch(7) == "bot/issue-7"


# -- after the pull request opens ------------------------------------------------------


def pull(ref: str = "issuepilot/issue-7", number: int = 9) -> dict[str, Any]:
    return {"number": number, "head": {"ref": ref, "sha": "abc"}, "base": {"ref": "main"}}


def review(state: str = "changes_requested", ref: str = "issuepilot/issue-7") -> dict[str, Any]:
    body = {"id": 55, "state": state, "body": "Rename it.", "user": {"login": "ann"}}
    return {"action": "submitted", "review": body, "pull_request": pull(ref)}


def test_a_review_requesting_changes_starts_a_fix_round() -> None:
    found = run("pull_request_review", review())
    assert (found.action, found.issue, found.pr) == (Action.FIX, 7, 9)
    assert found.feedback == "Rename it." and found.source == ("review", 55)
    assert found.key == "review:55"
    assert found.needs_permission


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        (review("approved"), "requests no changes"),
        (review("commented"), "requests no changes"),
        (review(ref="feature/x"), "not an IssuePilot branch"),
        ({**review(), "action": "edited"}, "only submitted reviews"),
    ],
)
def test_other_reviews_change_nothing(payload: dict[str, Any], why: str) -> None:
    found = run("pull_request_review", payload)
    assert found.action is Action.IGNORE and why in found.reason


def test_the_actions_own_reviews_are_ignored() -> None:
    raw = {"repository": REPO, "sender": {"login": "github-actions[bot]"}, **review()}
    assert decide("pull_request_review", parse_payload(raw), RULES).action is Action.IGNORE


def workflow_run(
    name: str = "CI", conclusion: str = "failure", branch: str = "issuepilot/issue-7"
) -> dict[str, Any]:
    run_ = {
        "id": 77,
        "name": name,
        "head_branch": branch,
        "head_sha": "abc",
        "conclusion": conclusion,
        "pull_requests": [{"number": 9, "head": {"ref": branch, "sha": "abc"}}],
    }
    return {"action": "completed", "workflow_run": run_}


CI = Rules(ci_workflows=frozenset({"CI"}))


def test_a_failed_listed_workflow_on_the_tasks_branch_starts_an_automatic_round() -> None:
    raw = parse_payload({"repository": REPO, "sender": {"login": "ann"}, **workflow_run()})
    found = decide("workflow_run", raw, CI)
    assert (found.action, found.issue, found.pr, found.source) == (
        Action.CI_FAILED,
        7,
        9,
        ("run", 77),
    )
    assert not found.needs_permission  # a fact, not a request
    assert found.key == "run:77/1"
    rerun = workflow_run()
    rerun["workflow_run"]["run_attempt"] = 2  # the same run, re-run: another trigger
    raw = parse_payload({"repository": REPO, "sender": {"login": "ann"}, **rerun})
    assert decide("workflow_run", raw, CI).key == "run:77/2"


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        (workflow_run(conclusion="success"), "ended success"),
        (workflow_run(name="Docs"), "not listed in ci-workflows"),  # when it lists some
        (workflow_run(branch="main"), "not on an IssuePilot branch"),
    ],
)
def test_other_workflow_runs_change_nothing(payload: dict[str, Any], why: str) -> None:
    raw = parse_payload({"repository": REPO, "sender": {"login": "ann"}, **payload})
    found = decide("workflow_run", raw, CI)
    assert found.action is Action.IGNORE and why in found.reason


def check_run(app: str = "ci-app", conclusion: str = "failure") -> dict[str, Any]:
    check = {
        "id": 88,
        "name": "lint",
        "head_sha": "abc",
        "conclusion": conclusion,
        "app": {"slug": app},
        "check_suite": {"head_branch": "issuepilot/issue-7"},
        "pull_requests": [{"number": 9}],
    }
    return {"action": "completed", "check_run": check}


def test_a_failed_check_of_other_ci_starts_an_automatic_round() -> None:
    found = run("check_run", check_run())
    assert (found.action, found.issue, found.source) == (Action.CI_FAILED, 7, ("check", 88))
    assert found.key == "check:88"
    assert run("check_run", check_run(conclusion="success")).action is Action.IGNORE
    actions = run("check_run", check_run(app="github-actions"))
    assert actions.action is Action.IGNORE and "workflow_run" in actions.reason


def test_fix_and_rebase_commands_on_the_pull_request_name_it_not_the_issue() -> None:
    on_pr = {
        "action": "created",
        "issue": issue(9, pr=True),
        "comment": {"id": 5, "body": "/issuepilot fix use a constant"},
    }
    found = run("issue_comment", on_pr)
    assert (found.action, found.issue, found.pr) == (Action.FIX, None, 9)
    assert found.feedback == "use a constant" and found.source == ("comment", 5)
    assert found.key == "comment:5"
    approve = {**on_pr, "comment": {"id": 6, "body": "/issuepilot approve"}}
    assert run("issue_comment", approve).action is Action.IGNORE
    rebase = {**on_pr, "comment": {"id": 7, "body": "/issuepilot rebase"}}
    assert run("issue_comment", rebase).action is Action.REBASE
    for trigger in (found, run("issue_comment", rebase)):  # not "issue": None
        assert trigger.explain(Labels("bot"))["issue"] == (
            "found at run time from pull request #9's branch, which must be bot/issue-<n>: "
            "the task of issue <n>"
        )
    on_issue = {**on_pr, "issue": issue(7)}
    assert run("issue_comment", on_issue).issue == 7
    assert run("issue_comment", on_issue).key == "comment:5"
