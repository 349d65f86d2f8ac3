"""GitHub event payloads -> Trigger: what a run was woken for. Pure: no I/O, no clock.

Only the fields used are parsed (partial pydantic models), so any well-formed payload of
any event parses; what does not matter is ignored with a reason. Payload reference:
https://docs.github.com/en/webhooks/webhook-events-and-payloads
"""

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from .errors import InputError, first_error
from .github.objects import (
    CheckRun,
    Comment,
    Issue,
    Label,
    Partial,
    Pull,
    Repository,
    Review,
    User,
    WorkflowRun,
)
from .labels import Labels


class Action(StrEnum):
    ENQUEUE = "enqueue"  # start a task (trigger label added, issue reopened)
    PLAN = "plan"  # start a task if needed and plan it now (dispatch command)
    APPROVE = "approve"
    REVISE = "revise"
    RETRY = "retry"
    CANCEL = "cancel"
    ISSUE_CLOSED = "issue-closed"  # a fact, not a request: who could close it may
    FIX = "fix"  # a fix round on the open PR: changes requested, or /issuepilot fix
    REBASE = "rebase"  # rebuild the PR's change on the base's current head
    CI_FAILED = "ci-failed"  # a fact: CI failed on the task's branch (an automatic round)
    FINISH = "finish"  # the task's pull request was closed (merged or not)
    SWEEP = "sweep"  # reconcile every live task of the repository
    ADVANCE = "advance"  # do whatever the task's state calls for
    IGNORE = "ignore"


# Actions a person asks for: they count only from users allowed to act.
NEEDS_PERMISSION = frozenset(
    {
        Action.ENQUEUE,
        Action.PLAN,
        Action.APPROVE,
        Action.REVISE,
        Action.RETRY,
        Action.CANCEL,
        Action.FIX,
        Action.REBASE,
    }
)
COMMANDS = {"approve", "revise", "retry", "cancel", "fix", "rebase"}
PULL_COMMANDS = {"fix", "rebase"}  # the commands a comment on the task's PR may give
DISPATCH_COMMANDS = COMMANDS | {"advance", "plan", "sweep"}
# The webhook events `decide` acts on: what a GitHub App subscribes to. A workflow's own
# runs (`workflow_dispatch`, `schedule`) are no webhooks.
WEBHOOK_EVENTS = (
    "issues",
    "issue_comment",
    "pull_request",
    "pull_request_review",
    "workflow_run",
    "check_run",
)
FAILED = frozenset({"failure", "timed_out"})  # conclusions of CI that a round may repair


class Payload(Partial):
    action: str | None = None
    sender: User | None = None
    label: Label | None = None
    issue: Issue | None = None
    comment: Comment | None = None
    pull_request: Pull | None = None
    review: Review | None = None
    workflow_run: WorkflowRun | None = None
    check_run: CheckRun | None = None
    inputs: dict[str, Any] | None = None
    repository: Repository | None = None


@dataclass(frozen=True, slots=True)
class Rules:
    """The parts of the configuration that decide how events are read."""

    labels: Labels = Labels()
    bot_logins: frozenset[str] = frozenset({"github-actions[bot]"})
    ci_workflows: frozenset[str] = frozenset()  # workflows whose failure starts a round


@dataclass(frozen=True, slots=True)
class Trigger:
    event: str
    action: Action
    issue: int | None
    actor: str
    reason: str
    feedback: str = ""
    merged: bool = False
    pr: int = 0
    # Where a fix round's feedback is: ("review" | "run" | "check" | "comment", its id).
    source: tuple[str, int] = ("", 0)
    # The trigger's own id (`review:42`, `comment:5`, `run:9/2` for attempt 2 of run 9,
    # `check:88`): a task handles each at most once, however often GitHub delivers it or a
    # run is re-run. Empty where the event names nothing that stays the same (a dispatch).
    key: str = ""

    @property
    def needs_permission(self) -> bool:
        return self.action in NEEDS_PERMISSION and not self.event.startswith(
            ("workflow_dispatch", "schedule")
        )

    def explain(self, labels: Labels) -> dict[str, Any]:
        """The decision as `issuepilot explain` prints it. A command on a pull request names
        no issue: the run finds the task from the pull request's branch."""
        issue: int | str | None = self.issue
        if issue is None and self.pr:
            issue = (
                f"found at run time from pull request #{self.pr}'s branch, which must be "
                f"{labels.branch_prefix}<n>: the task of issue <n>"
            )
        return {
            "event": self.event,
            "action": str(self.action),
            "issue": issue,
            "actor": self.actor,
            "reason": self.reason,
        }


def parse_payload(raw: Any) -> Payload:
    if not isinstance(raw, dict):
        raise InputError("the event payload is not a JSON object")
    try:
        return Payload.model_validate(raw)
    except ValidationError as exc:
        raise InputError(f"malformed event payload: {first_error(exc)}") from None


def decide(event_name: str, payload: Payload, rules: Rules) -> Trigger:
    """The one decision an event calls for."""
    actor = payload.sender.login if payload.sender else ""
    event = f"{event_name}.{payload.action}" if payload.action else event_name
    match event_name:
        case "issues" | "issue_comment" | "pull_request_review" if actor in rules.bot_logins:
            return _ignore(event, actor, payload, "caused by IssuePilot itself")
        case "issues":
            return _issues(event, actor, payload, rules)
        case "issue_comment":
            return _comment(event, actor, payload)
        case "pull_request":
            return _pull_request(event, actor, payload, rules)
        case "pull_request_review":
            return _review(event, actor, payload, rules)
        case "workflow_run":
            return _workflow_run(event, actor, payload, rules)
        case "check_run":
            return _check_run(event, actor, payload, rules)
        case "workflow_dispatch":
            return _dispatch(event, actor, payload)
        case "schedule":
            return Trigger(event, Action.SWEEP, None, actor, "scheduled sweep of all live tasks")
    return _ignore(event, actor, payload, f"IssuePilot does not act on {event_name} events")


def _ignore(event: str, actor: str, payload: Payload, reason: str) -> Trigger:
    issue = payload.issue.number if payload.issue else None
    return Trigger(event, Action.IGNORE, issue, actor, reason)


def _issues(event: str, actor: str, payload: Payload, rules: Rules) -> Trigger:
    issue = payload.issue
    if issue is None:
        raise InputError("malformed event payload: an issues event without an issue")
    if issue.pull_request is not None:
        return _ignore(event, actor, payload, "pull requests are not issues")
    label = payload.label.name if payload.label else ""
    labels = rules.labels
    n = issue.number
    # GitHub's label names are unique whatever their case, and so are they here.
    on_label = {
        labels.trigger.casefold(): Action.ENQUEUE,
        labels.approved.casefold(): Action.APPROVE,
        labels.revise.casefold(): Action.REVISE,
        labels.retry.casefold(): Action.RETRY,
    }
    named = {name.casefold() for name in issue.label_names}
    match payload.action, label.casefold():
        case "labeled", key if key in on_label:
            return Trigger(event, on_label[key], n, actor, f"label {label!r} added")
        case "unlabeled", key if key == labels.trigger.casefold():
            return Trigger(event, Action.CANCEL, n, actor, f"label {label!r} removed")
        case "closed", _:
            return Trigger(event, Action.ISSUE_CLOSED, n, actor, "issue closed")
        case "reopened", _ if labels.trigger.casefold() in named:
            return Trigger(event, Action.ENQUEUE, n, actor, "issue reopened with the trigger label")
    what = f"label {label!r} {payload.action}" if label else f"issue {payload.action}"
    return _ignore(event, actor, payload, f"{what}: nothing for IssuePilot to do")


_COMMAND = re.compile(r"\A\s*/issuepilot[ \t]+(\w+)[ \t]*(.*)\Z", re.DOTALL | re.IGNORECASE)


def _comment(event: str, actor: str, payload: Payload) -> Trigger:
    if payload.action != "created":
        return _ignore(event, actor, payload, "only new comments carry commands")
    if payload.issue is None or payload.comment is None:
        raise InputError("malformed event payload: a comment event without issue or comment")
    match = _COMMAND.match(payload.comment.body or "")
    if match is None:
        return _ignore(event, actor, payload, "the comment holds no /issuepilot command")
    word, rest = match.group(1).lower(), match.group(2).strip()
    on_pull = payload.issue.pull_request is not None
    known = PULL_COMMANDS if on_pull else COMMANDS
    if word not in known:
        where = " on a pull request" if on_pull else ""
        listed = ", ".join(sorted(known))
        return _ignore(event, actor, payload, f"unknown command {word!r}{where} (known: {listed})")
    n, source = payload.issue.number, ("comment", payload.comment.id)
    key = f"comment:{payload.comment.id}"
    if on_pull:  # the task is found from the pull request's branch
        reason = f"/issuepilot {word} on pull request #{n}"
        return Trigger(event, Action(word), None, actor, reason, rest, pr=n, source=source, key=key)
    return Trigger(
        event, Action(word), n, actor, f"/issuepilot {word}", rest, source=source, key=key
    )


def _review(event: str, actor: str, payload: Payload, rules: Rules) -> Trigger:
    pr, review = payload.pull_request, payload.review
    if payload.action != "submitted" or pr is None or review is None:
        return _ignore(event, actor, payload, "only submitted reviews matter")
    issue = rules.labels.issue_of(pr.head.ref)
    if issue is None:
        return _ignore(event, actor, payload, f"branch {pr.head.ref!r} is not an IssuePilot branch")
    if review.state.lower() != "changes_requested":
        return _ignore(event, actor, payload, f"a review that requests no changes ({review.state})")
    reason = f"changes requested in a review of pull request #{pr.number}"
    source, key = ("review", review.id), f"review:{review.id}"
    said = review.body or ""
    return Trigger(
        event, Action.FIX, issue, actor, reason, said, pr=pr.number, source=source, key=key
    )


def _workflow_run(event: str, actor: str, payload: Payload, rules: Rules) -> Trigger:
    run = payload.workflow_run
    if payload.action != "completed" or run is None:
        return _ignore(event, actor, payload, "only completed workflow runs matter")
    issue = rules.labels.issue_of(run.head_branch or "")
    if issue is None:
        return _ignore(event, actor, payload, "the run is not on an IssuePilot branch")
    if run.conclusion not in FAILED:
        return _ignore(event, actor, payload, f"workflow {run.name!r} ended {run.conclusion}")
    if rules.ci_workflows and run.name not in rules.ci_workflows:
        why = f"workflow {run.name!r} is not listed in ci-workflows"
        return _ignore(event, actor, payload, why)
    here = payload.repository.full_name if payload.repository else ""
    if run.head_repository is not None and run.head_repository.full_name != here:
        return _ignore(event, actor, payload, "the run is of a fork's branch")
    pr = run.pull_requests[0].number if run.pull_requests else 0
    reason = f"workflow {run.name!r} failed on the task's branch"
    key = f"run:{run.id}/{run.run_attempt}"  # a re-run is a new attempt of the same run
    return Trigger(
        event, Action.CI_FAILED, issue, actor, reason, pr=pr, source=("run", run.id), key=key
    )


def _check_run(event: str, actor: str, payload: Payload, rules: Rules) -> Trigger:
    check = payload.check_run
    if payload.action != "completed" or check is None:
        return _ignore(event, actor, payload, "only completed check runs matter")
    if check.app is not None and check.app.slug == "github-actions":
        why = "checks of GitHub Actions count through their workflow_run"
        return _ignore(event, actor, payload, why)
    branch = check.check_suite.head_branch if check.check_suite else None
    issue = rules.labels.issue_of(branch or "")
    if issue is None:
        return _ignore(event, actor, payload, "the check is not on an IssuePilot branch")
    if check.conclusion not in FAILED:
        return _ignore(event, actor, payload, f"check {check.name!r} ended {check.conclusion}")
    pr = check.pull_requests[0].number if check.pull_requests else 0
    reason = f"check {check.name!r} failed on the task's branch"
    source, key = ("check", check.id), f"check:{check.id}"
    return Trigger(event, Action.CI_FAILED, issue, actor, reason, pr=pr, source=source, key=key)


def _pull_request(event: str, actor: str, payload: Payload, rules: Rules) -> Trigger:
    pr = payload.pull_request
    if payload.action != "closed" or pr is None:
        return _ignore(event, actor, payload, "only closed pull requests matter")
    issue = rules.labels.issue_of(pr.head.ref)
    if issue is None:
        return _ignore(event, actor, payload, f"branch {pr.head.ref!r} is not an IssuePilot branch")
    merged = bool(pr.merged)
    reason = f"pull request #{pr.number} {'merged' if merged else 'closed without merging'}"
    return Trigger(event, Action.FINISH, issue, actor, reason, merged=merged, pr=pr.number)


def _dispatch(event: str, actor: str, payload: Payload) -> Trigger:
    inputs = payload.inputs or {}
    issue_text = str(inputs.get("issue") or "").strip().lstrip("#")
    command_text = str(inputs.get("command") or "advance").strip()
    word, _, rest = command_text.partition(" ")
    word = word.lower() or "advance"
    if word not in DISPATCH_COMMANDS:
        known = ", ".join(sorted(DISPATCH_COMMANDS))
        raise InputError(f"unknown command {word!r} in the dispatch inputs (known: {known})")
    if not issue_text or word == "sweep":
        return Trigger(event, Action.SWEEP, None, actor, "dispatched without an issue: sweep")
    if not issue_text.isdigit():
        raise InputError(f"the dispatch input 'issue' must be an issue number, not {issue_text!r}")
    reason = f"dispatched with command {word!r}"
    return Trigger(event, Action(word), int(issue_text), actor, reason, feedback=rest.strip())
