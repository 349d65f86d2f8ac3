"""A repository that adds only `agent: opencode` and its OpenAI key: OpenCode, the real CLI
at its pinned version, plans, writes the fix that becomes the pull request, and answers a
review in a fix round, through real `issuepilot step` runs, as the sandbox user, against the
scripted chat-completions endpoint. And the same CLI run by the recipe docs/agents.md
gives for `agent-command`."""

import json
from collections.abc import Iterator

import pytest

from issuepilot.agents.presets import PRESETS
from issuepilot.testing.fake_llm import Answer, Calls, FakeLLM, Messages

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

PRESET = PRESETS["opencode"]
KEY = "sk-e2e-openai-key-0123456789"
CHECKS = f"checks:\n  greeting: {json.dumps(GREETING)}\n"
PLAN = {
    "summary": "End the greeting with an exclamation mark",
    "steps": ["Append '!' to the greeting in src/app.py"],
    "files": [{"path": APP, "action": "modify", "why": "the greeting lives there"}],
    "risks": [],
}
OLD = 'return "Hello " + name'
POLITE = 'return "Hello " + name + "!"'
LOUD = 'return "Hello " + name + "!!"'


def edit(old: str, new: str) -> Calls:
    return Calls([("edit", {"filePath": APP, "oldString": old, "newString": new})])


def model(messages: Messages, tools: list[str]) -> Answer:
    """The scripted model: read the file, then write the plan into the file the prompt
    names (a new name each run), or make the fix (a louder one once a review asks for it),
    then say it is done."""
    sent = json.dumps(messages)
    if messages[-1]["role"] != "tool":
        return Calls([("read", {"filePath": APP})])
    if sent.count('"role": "tool"') > 1:
        return "Done."
    if ".issuepilot-plan-" in sent:
        return Calls([("write", {"filePath": plan_file_in(sent), "content": json.dumps(PLAN)})])
    if "Louder, please." in sent:
        return edit(POLITE, LOUD)
    return edit(OLD, POLITE)


@pytest.fixture
def endpoint(world: World) -> Iterator[tuple[FakeLLM, Tattletale]]:
    """The chat-completions endpoint, and a runner whose environment holds the key (and
    decoys: secrets that must reach no one), every host but loopback behind a recording
    proxy."""
    with FakeLLM(reply=model) as fake, Tattletale() as proxy:
        world.extra_env.update(runner_env(PRESET, KEY, proxy))
        yield fake, proxy


def only_the_key_went_out(world: World, fake: FakeLLM, proxy: Tattletale) -> None:
    secrets = ["ghs_fake", "fake-model-key", world.redis_url, "decoy-aws-secret-key"]
    assert_only_the_key_went_out(fake, "authorization", f"Bearer {KEY}", proxy.seen, secrets)


def test_opencode_plans_writes_the_fix_and_answers_a_review(
    world: World, endpoint: tuple[FakeLLM, Tattletale]
) -> None:
    fake, proxy = endpoint
    world.extra_env.update(preset_inputs(PRESET, fake.url, "gpt-4.1"))
    gh = world.github
    world.checkout(config="command-roles: [plan, execute]\n" + CHECKS)
    issue = gh.open_issue("Greet politely", "The greeting in `src/app.py` needs a `!`.")
    plan_and_approve(world, issue)
    assert PLAN["summary"] in world.comment(issue)

    [executed] = world.drain()
    assert executed.outputs["task-state"] == "pr-open", executed.stdout + executed.stderr
    pr = int(executed.outputs["pr-number"])
    before, after = gh.files_at("main"), gh.files_at(gh.pulls[pr]["head"])
    assert {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)} == {APP}
    assert after[APP] == before[APP].replace(OLD, POLITE)
    assert "**greeting**: passed" in world.comment(issue)  # run on the agent's change

    review = gh.review_event(pr, body="Louder, please.", comments=[])
    answered = world.step(review)
    assert answered.code == 0, answered.stdout + answered.stderr
    assert gh.files_at(gh.pulls[pr]["head"])[APP] == before[APP].replace(OLD, LOUD)

    # Three calls in each of the three runs, all counted; the built-in agent made none.
    assert world.model.requests == [] and not fake.unknown
    assert len(fake.requests) == 9
    usage = record(world, issue)["usage"]
    assert isinstance(usage, dict)
    assert usage["model_calls"] == 9
    assert usage["tokens"] == sum(u["total_tokens"] for u in fake.usages)
    only_the_key_went_out(world, fake, proxy)


@pytest.mark.stores("redis")  # the store is not what this story is about
def test_the_documented_recipe_as_agent_command_writes_the_fix(
    world: World, endpoint: tuple[FakeLLM, Tattletale]
) -> None:
    fake, proxy = endpoint
    world.extra_env.update(recipe_inputs(PRESET, fake.url))
    world.checkout(config=f"agent-env: [{', '.join(PRESET.keys)}]\n" + CHECKS)
    gh = world.github
    issue = gh.open_issue("Greet politely", "The greeting in `src/app.py` needs a `!`.")
    plan_and_approve(world, issue)  # by the built-in agent
    [executed] = world.drain()
    assert executed.outputs["task-state"] == "pr-open", executed.stdout + executed.stderr
    pr = int(executed.outputs["pr-number"])
    before, after = gh.files_at("main"), gh.files_at(gh.pulls[pr]["head"])
    assert {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)} == {APP}
    assert after[APP] == before[APP].replace(OLD, POLITE)
    assert "**greeting**: passed" in world.comment(issue)
    only_the_key_went_out(world, fake, proxy)
