"""The short workflow a repository keeps (this repository's own copy, and what
`issuepilot init` writes) stays in step with the reusable workflow it calls: it subscribes
to exactly the events the filter and the CLI handle, with the activity types they act on,
passes only inputs and secrets the reusable workflow declares, grants what its job asks
for, and calls the action of the same release."""

from pathlib import Path
from typing import Any

import yaml

from issuepilot import relay, release, scaffold
from issuepilot.events import DISPATCH_COMMANDS

from .test_workflow_filter import acts, events

WORKFLOWS = Path(__file__).parents[1] / ".github" / "workflows"


def load(name: str) -> dict[Any, Any]:
    data: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    return data


CALLER, CALLED = load("issuepilot.yml"), load("reusable.yml")
# YAML 1.1 reads the key `on` as true.
TRIGGERS: dict[str, Any] = CALLER[True]
[CALL] = CALLER["jobs"].values()
DECLARED = CALLED[True]["workflow_call"]
[JOB] = CALLED["jobs"].values()


def test_this_repositorys_copy_is_what_init_writes_with_the_major_tag() -> None:
    text = (WORKFLOWS / "issuepilot.yml").read_text(encoding="utf-8")
    assert text == scaffold.workflow_text("v0")
    assert CALL["uses"] == f"{release.repository()}/{release.REUSABLE_WORKFLOW}@v0"
    assert (WORKFLOWS.parents[1] / release.REUSABLE_WORKFLOW).exists()


def test_the_caller_subscribes_to_exactly_the_events_the_cli_handles() -> None:
    handled = {name for name, _ in events("issuepilot")}
    assert set(TRIGGERS) == handled
    # The filter decides each event that is not IssuePilot's own run or the schedule.
    for name in handled - {"workflow_dispatch", "schedule"}:
        assert f"github.event_name != '{name}'" in JOB["if"], name


def test_the_caller_asks_for_every_activity_the_cli_acts_on() -> None:
    for name, payload in events("issuepilot"):
        trigger = TRIGGERS[name]
        types = trigger.get("types") if isinstance(trigger, dict) else None
        if types is not None and acts((name, payload), "issuepilot"):
            assert payload["action"] in types, f"{name}.{payload['action']} never arrives"


def test_the_dispatch_inputs_are_the_ones_the_cli_reads() -> None:
    inputs = TRIGGERS["workflow_dispatch"]["inputs"]
    assert set(inputs) == {"issue", "command", relay.INPUT}
    assert set(inputs["command"]["options"]) == DISPATCH_COMMANDS
    assert inputs["command"]["default"] == "advance"


def test_the_caller_passes_only_what_the_reusable_workflow_declares() -> None:
    assert set(CALL.get("with") or {}) <= set(DECLARED["inputs"])
    assert set(CALL.get("secrets") or {}) <= set(DECLARED["secrets"])
    assert CALL["secrets"]["redis-url"] == "${{ secrets.ISSUEPILOT_REDIS_URL }}"


def test_the_caller_grants_what_the_called_job_asks_for() -> None:
    # A called workflow's token can only have less than the calling job grants.
    assert CALL["permissions"] == JOB["permissions"]
    assert CALLER["permissions"] == {} and CALLED["permissions"] == {}


def test_the_reusable_workflow_runs_the_action_of_its_own_release() -> None:
    [action] = [s["uses"] for s in JOB["steps"] if s["uses"].startswith(release.repository())]
    assert action == release.action_ref(), "bump the action's tag with the version"


def test_the_readme_lists_every_input_and_secret_of_the_reusable_workflow() -> None:
    readme = (WORKFLOWS.parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Use it in a repository", 1)[1].split("\n## ", 1)[0]
    for name in [*DECLARED["inputs"], *DECLARED["secrets"]]:
        assert f"`{name}`" in section, f"README: say what {name} does"
