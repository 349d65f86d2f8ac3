"""A repository that adds only `agent: claude-code` and its Anthropic key: Claude Code, the
real CLI at its pinned version, plans, writes the fix that becomes the pull request, and
answers a review in a fix round, through real `issuepilot step` runs, as the sandbox user,
against the scripted Anthropic endpoint."""

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from issuepilot.agents.presets import PRESETS
from issuepilot.testing.fake_anthropic import Calls, FakeAnthropic

from ..agents.contract import CACHE, DECOYS, cannot_run
from .harness import World
from .test_fix_rounds import APP, GREETING
from .test_lifecycle import plan_and_approve, record

PRESET = PRESETS["claude-code"]
pytestmark = pytest.mark.skipif(bool(cannot_run(PRESET)), reason=cannot_run(PRESET) or "ok")
KEY = "sk-ant-api03-e2e-key"
CONFIG = f"command-roles: [plan, execute]\nchecks:\n  greeting: {json.dumps(GREETING)}\n"
PLAN = {
    "summary": "End the greeting with an exclamation mark",
    "steps": ["Append '!' to the greeting in src/app.py"],
    "files": [{"path": APP, "action": "modify", "why": "the greeting lives there"}],
    "risks": [],
}
OLD = 'return "Hello " + name\n'
POLITE = 'return "Hello " + name + "!"\n'
LOUD = 'return "Hello " + name + "!!"\n'


@pytest.fixture
def claude(world: World) -> Iterator[FakeAnthropic]:
    """The Anthropic endpoint, and a runner whose environment holds the key (and the
    decoys: secrets that must reach no one)."""
    with FakeAnthropic() as fake:
        world.extra_env.update(
            ISSUEPILOT_AGENT=PRESET.name,
            ISSUEPILOT_AGENT_BASE_URL=fake.url,
            ISSUEPILOT_AGENT_CACHE=str(CACHE),
            ANTHROPIC_API_KEY=KEY,
            AWS_SECRET_ACCESS_KEY=DECOYS["AWS_SECRET_ACCESS_KEY"],
        )
        yield fake


def write_the_plan(request: dict[str, Any]) -> Calls:
    """Write the plan to the file the prompt names (a new name each run)."""
    [name] = set(re.findall(r"\.issuepilot-plan-[0-9a-f]+\.json", json.dumps(request)))
    return Calls([("Write", {"file_path": name, "content": json.dumps(PLAN)})])


def edit(old: str, new: str) -> Calls:
    return Calls([("Edit", {"file_path": APP, "old_string": old, "new_string": new})])


def test_claude_code_plans_writes_the_fix_and_answers_a_review(
    world: World, claude: FakeAnthropic
) -> None:
    gh = world.github
    world.checkout(config=CONFIG)
    issue = gh.open_issue("Greet politely", "The greeting in `src/app.py` needs a `!`.")
    claude.script += [Calls([("Read", {"file_path": APP})]), write_the_plan, "Planned."]
    plan_and_approve(world, issue)
    assert PLAN["summary"] in world.comment(issue)

    claude.script += [Calls([("Read", {"file_path": APP})]), edit(OLD, POLITE), "Added the !."]
    [executed] = world.drain()
    assert executed.outputs["task-state"] == "pr-open", executed.stdout + executed.stderr
    pr = int(executed.outputs["pr-number"])
    before, after = gh.files_at("main"), gh.files_at(gh.pulls[pr]["head"])
    assert {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)} == {APP}
    assert after[APP] == before[APP].replace(OLD, POLITE)
    assert "**greeting**: passed" in world.comment(issue)  # run on the agent's change

    review = gh.review_event(pr, body="Louder, please.", comments=[])
    claude.script += [edit(POLITE, LOUD), "Louder now."]
    answered = world.step(review)
    assert answered.code == 0, answered.stdout + answered.stderr
    assert gh.files_at(gh.pulls[pr]["head"])[APP] == before[APP].replace(OLD, LOUD)
    assert "Louder, please." in json.dumps(claude.requests[-1].body)

    # Eight model calls in three runs, all counted; the built-in agent made none.
    assert world.model.requests == [] and len(claude.requests) == 8 and not claude.unknown
    usage = record(world, issue)["usage"]
    assert isinstance(usage, dict)
    assert usage["model_calls"] == 8 and usage["tokens"] == 8 * claude.usage.total
    assert usage["cost"] > 0
    for request in claude.requests:
        assert request.headers["x-api-key"] == KEY
        sent = json.dumps(request.headers) + json.dumps(request.body)
        assert "ghs_fake" not in sent and DECOYS["AWS_SECRET_ACCESS_KEY"] not in sent
