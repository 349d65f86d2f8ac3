"""A repository that adds only `agent: claude-code` and its Anthropic key: Claude Code, the
real CLI at its pinned version, plans, writes the fix that becomes the pull request, and
answers a review in a fix round, through real `issuepilot step` runs, as the sandbox user,
against the scripted Anthropic endpoint. And the same CLI run by the recipe docs/agents.md
gives for `agent-command`."""

import json
from collections.abc import Iterator
from typing import Any

import pytest

from issuepilot.agents.presets import PRESETS
from issuepilot.testing.fake_anthropic import Calls, FakeAnthropic

from ..agents.contract import (
    Tattletale,
    assert_only_the_key_went_out,
    plan_file_in,
    preset_inputs,
    recipe_inputs,
    runner_env,
)
from .harness import World
from .test_fix_rounds import APP, GREETING
from .test_lifecycle import plan_and_approve, record

PRESET = PRESETS["claude-code"]
KEY = "sk-ant-api03-e2e-key"
CHECKS = f"checks:\n  greeting: {json.dumps(GREETING)}\n"
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
def claude(world: World) -> Iterator[tuple[FakeAnthropic, Tattletale]]:
    """The Anthropic endpoint, and a runner whose environment holds the key (and decoys:
    secrets that must reach no one), every host but loopback behind a recording proxy."""
    with FakeAnthropic() as fake, Tattletale() as proxy:
        world.extra_env.update(runner_env(PRESET, KEY, proxy))
        yield fake, proxy


def write_the_plan(request: dict[str, Any]) -> Calls:
    """Write the plan to the file the prompt names (a new name each run)."""
    name = plan_file_in(json.dumps(request))
    return Calls([("Write", {"file_path": name, "content": json.dumps(PLAN)})])


def edit(old: str, new: str) -> Calls:
    return Calls([("Edit", {"file_path": APP, "old_string": old, "new_string": new})])


def only_claude_s_key_went_out(world: World, fake: FakeAnthropic, proxy: Tattletale) -> None:
    secrets = ["ghs_fake", "fake-model-key", world.redis_url, "decoy-aws-secret-key"]
    assert_only_the_key_went_out(fake, "x-api-key", KEY, proxy.seen, secrets)


def test_claude_code_plans_writes_the_fix_and_answers_a_review(
    world: World, claude: tuple[FakeAnthropic, Tattletale]
) -> None:
    fake, proxy = claude
    world.extra_env.update(preset_inputs(PRESET, fake.url))
    gh = world.github
    world.checkout(config="command-roles: [plan, execute]\n" + CHECKS)
    issue = gh.open_issue("Greet politely", "The greeting in `src/app.py` needs a `!`.")
    fake.script += [Calls([("Read", {"file_path": APP})]), write_the_plan, "Planned."]
    plan_and_approve(world, issue)
    assert PLAN["summary"] in world.comment(issue)

    fake.script += [Calls([("Read", {"file_path": APP})]), edit(OLD, POLITE), "Added the !."]
    [executed] = world.drain()
    assert executed.outputs["task-state"] == "pr-open", executed.stdout + executed.stderr
    pr = int(executed.outputs["pr-number"])
    before, after = gh.files_at("main"), gh.files_at(gh.pulls[pr]["head"])
    assert {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)} == {APP}
    assert after[APP] == before[APP].replace(OLD, POLITE)
    assert "**greeting**: passed" in world.comment(issue)  # run on the agent's change

    review = gh.review_event(pr, body="Louder, please.", comments=[])
    fake.script += [edit(POLITE, LOUD), "Louder now."]
    answered = world.step(review)
    assert answered.code == 0, answered.stdout + answered.stderr
    assert gh.files_at(gh.pulls[pr]["head"])[APP] == before[APP].replace(OLD, LOUD)
    assert "Louder, please." in json.dumps(fake.requests[-1].body)

    # Eight model calls in three runs, all counted; the built-in agent made none.
    assert world.model.requests == [] and len(fake.requests) == 8
    usage = record(world, issue)["usage"]
    assert isinstance(usage, dict)
    assert usage["model_calls"] == 8 and usage["tokens"] == 8 * fake.usage.total
    assert usage["cost"] > 0
    only_claude_s_key_went_out(world, fake, proxy)


@pytest.mark.stores("redis")  # the store is not what this story is about
def test_the_documented_recipe_as_agent_command_writes_the_fix(
    world: World, claude: tuple[FakeAnthropic, Tattletale]
) -> None:
    fake, proxy = claude
    world.extra_env.update(recipe_inputs(PRESET, fake.url))
    world.checkout(config=f"agent-env: [{', '.join(PRESET.keys)}]\n" + CHECKS)
    gh = world.github
    issue = gh.open_issue("Greet politely", "The greeting in `src/app.py` needs a `!`.")
    plan_and_approve(world, issue)  # by the built-in agent
    fake.script += [Calls([("Read", {"file_path": APP})]), edit(OLD, POLITE), "Added the !."]
    [executed] = world.drain()
    assert executed.outputs["task-state"] == "pr-open", executed.stdout + executed.stderr
    pr = int(executed.outputs["pr-number"])
    before, after = gh.files_at("main"), gh.files_at(gh.pulls[pr]["head"])
    assert {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)} == {APP}
    assert after[APP] == before[APP].replace(OLD, POLITE)
    assert "**greeting**: passed" in world.comment(issue)
    assert len(fake.requests) == 3
    only_claude_s_key_went_out(world, fake, proxy)
