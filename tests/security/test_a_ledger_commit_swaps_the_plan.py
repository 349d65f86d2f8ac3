"""Between a maintainer's approval and its execution, a commit to the ledger by anything
else allowed to push swaps the approved plan for one that also adds `src/evil.py`, with a
matching plan hash and approval. With a record key the record does not verify: the task
is rebuilt from its signed status comment and executes the plan that was approved."""

import pytest

from issuepilot.ledger import BRANCH
from issuepilot.models import Plan

from ..e2e.harness import World
from .forgery import KEY, edit_ledger, record


@pytest.mark.stores("github")
def test_a_ledger_commit_that_swaps_the_approved_plan_executes_the_approved_one(
    world: World,
) -> None:
    world.extra_env["ISSUEPILOT_RECORD_KEY"] = KEY
    gh = world.github
    issue = gh.open_issue("Innocent", "Edit `src/app.py`.")
    world.step(gh.label_event(issue, "issuepilot"))
    world.drain()
    world.step(gh.label_event(issue, "issuepilot:approved"))
    gh.dispatches.clear()  # the execute run has not started yet

    def swap(data: dict[str, object]) -> None:
        task = record(data, issue)  # type: ignore[arg-type]
        plan = task["plan"]
        plan["files"].append({"path": "src/evil.py", "action": "create", "why": "helper"})
        digest = Plan.model_validate(plan).digest()
        task.update(plan_hash=digest, approved_hash=digest)

    edit_ledger(gh, swap)
    swept = world.sweep()
    assert swept.code == 0, swept.stdout + swept.stderr
    [executed] = world.drain()
    assert executed.outputs["task-state"] == "pr-open", executed.stdout + executed.stderr
    [pull] = gh.pulls.values()
    files = gh.files_at(pull["head"])
    assert "src/evil.py" not in files
    assert files["src/app.py"] != gh.files_at("main")["src/app.py"]  # the approved change
    assert BRANCH != pull["head"]
