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
from .github.objects import Comment, Issue, Label, Partial, Pull, Repository, User
from .labels import Labels


class Action(StrEnum):
    ENQUEUE = "enqueue"  # start a task (trigger label added, issue reopened)
    PLAN = "plan"  # start a task if needed and plan it now (dispatch command)
    APPROVE = "approve"
    REVISE = "revise"
    RETRY = "retry"
    CANCEL = "cancel"
    ISSUE_CLOSED = "issue-closed"  # a fact, not a request: who could close it may
    FINISH = "finish"  # the task's pull request was closed (merged or not)
    SWEEP = "sweep"  # reconcile every live task of the repository
    ADVANCE = "advance"  # do whatever the task's state calls for
    IGNORE = "ignore"


# Actions a person asks for: they count only from users allowed to act.
NEEDS_PERMISSION = frozenset(
    {Action.ENQUEUE, Action.PLAN, Action.APPROVE, Action.REVISE, Action.RETRY, Action.CANCEL}
)
COMMANDS = {"approve", "revise", "retry", "cancel"}
DISPATCH_COMMANDS = COMMANDS | {"advance", "plan", "sweep"}


class Payload(Partial):
    action: str | None = None
    sender: User | None = None
    label: Label | None = None
    issue: Issue | None = None
    comment: Comment | None = None
    pull_request: Pull | None = None
    inputs: dict[str, Any] | None = None
    repository: Repository | None = None


@dataclass(frozen=True, slots=True)
class Rules:
    """The parts of the configuration that decide how events are read."""

    labels: Labels = Labels()
    bot_logins: frozenset[str] = frozenset({"github-actions[bot]"})


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

    @property
    def needs_permission(self) -> bool:
        return self.action in NEEDS_PERMISSION and not self.event.startswith(
            ("workflow_dispatch", "schedule")
        )

    def explain(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "action": str(self.action),
            "issue": self.issue,
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
        case "issues" | "issue_comment" if actor in rules.bot_logins:
            return _ignore(event, actor, payload, "caused by IssuePilot itself")
        case "issues":
            return _issues(event, actor, payload, rules)
        case "issue_comment":
            return _comment(event, actor, payload)
        case "pull_request":
            return _pull_request(event, actor, payload, rules)
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
    if payload.issue.pull_request is not None:
        return _ignore(event, actor, payload, "commands on pull requests are not read")
    match = _COMMAND.match(payload.comment.body or "")
    if match is None:
        return _ignore(event, actor, payload, "the comment holds no /issuepilot command")
    word, rest = match.group(1).lower(), match.group(2).strip()
    if word not in COMMANDS:
        known = ", ".join(sorted(COMMANDS))
        return _ignore(event, actor, payload, f"unknown command {word!r} (known: {known})")
    n = payload.issue.number
    return Trigger(event, Action(word), n, actor, f"/issuepilot {word}", feedback=rest)


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
