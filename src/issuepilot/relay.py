"""A webhook event handed on to a workflow run. Pure: no I/O.

`issuepilot serve` receives a GitHub App's webhooks; where a repository's steps run in
GitHub Actions it starts the IssuePilot workflow with `workflow_dispatch`, whose `event`
input carries the event. The run then acts on it exactly as if GitHub had started it for
that event: the person who acted is the actor, whose permission is checked as always.
Only an App may hand an event on (the dispatch's sender is a bot): a person's "Run
workflow" cannot replay someone else's request.

Only what IssuePilot reads of the payload travels (`Payload`'s fields), and not the
issue's text, which the plan step reads from GitHub when a payload lacks it: a dispatch's
inputs hold at most 65,535 characters.
https://docs.github.com/en/rest/actions/workflows#create-a-workflow-dispatch-event
"""

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import InputError
from .events import WEBHOOK_EVENTS, Payload, parse_payload

INPUT = "event"  # the dispatch input that carries the event
MAX_CHARS = 60_000  # GitHub takes 65,535 characters of inputs; the others are short
CARRIED = frozenset({*WEBHOOK_EVENTS, "workflow_dispatch"})  # a queued task is a dispatch


class TooLarge(InputError):
    """The event does not fit in a dispatch's inputs."""


class Carried(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    name: str
    payload: dict[str, Any]


def pack(name: str, payload: Payload) -> str:
    """The `event` input for a run that is to act on this event."""
    data = payload.model_dump(mode="json", exclude_unset=True)
    if isinstance(data.get("issue"), dict):
        data["issue"].pop("body", None)  # the plan step reads it from GitHub
    text = json.dumps({"name": name, "payload": data}, separators=(",", ":"))
    if len(text) > MAX_CHARS:
        raise TooLarge(
            f"the {name} event is {len(text):,} characters once reduced to what IssuePilot "
            f"reads; a workflow's inputs hold {MAX_CHARS:,}"
        )
    return text


def unpack(name: str, payload: Payload, repo: str) -> tuple[str, Payload]:
    """The event a dispatch of this repository carries, or the event itself when it
    carries none."""
    inputs = payload.inputs or {}
    if name != "workflow_dispatch" or not inputs.get(INPUT):
        return name, payload
    sender = payload.sender.login if payload.sender else ""
    if not sender.endswith("[bot]"):
        raise InputError(
            f"the dispatch input {INPUT!r} is for IssuePilot's service (a GitHub App), not "
            f"for @{sender or 'someone'}: leave it empty"
        )
    try:
        carried = Carried.model_validate_json(str(inputs[INPUT]))
    except ValidationError:
        raise InputError(f"the dispatch input {INPUT!r} does not hold an event") from None
    if carried.name not in CARRIED:
        raise InputError(f"the dispatch input {INPUT!r} holds a {carried.name} event")
    inner = parse_payload(carried.payload)
    if carried.name == "workflow_dispatch" and (inner.inputs or {}).get(INPUT):
        raise InputError(f"the dispatch input {INPUT!r} holds a dispatch that holds an event")
    named = inner.repository.full_name if inner.repository else ""
    if named.lower() != repo.lower():
        raise InputError(
            f"the dispatch input {INPUT!r} holds an event of {named or 'no repository'}, "
            f"not of {repo}"
        )
    return carried.name, inner
