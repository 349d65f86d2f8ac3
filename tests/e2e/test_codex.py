"""A repository that adds only `agent: codex` and the key: the real Codex CLI (the pinned
version from npm) plans, executes and answers a review, through real `issuepilot step`
runs, as the sandbox user, against the scripted Responses endpoint on loopback. And the
same CLI run by the recipe docs/agents.md gives for `agent-command`."""

import json
from collections.abc import Iterator

import pytest

from issuepilot.agents.presets import PRESETS
from issuepilot.testing.fake_llm import Answer, Calls
from issuepilot.testing.fake_responses import FakeResponses, Items

from ..agents.contract import (
    PLAN_FILE,
    Tattletale,
    assert_only_the_key_went_out,
    preset_inputs,
    recipe_inputs,
    runner_env,
)
from .harness import World
from .test_fix_rounds import APP, GREETING, head, replies
from .test_lifecycle import plan_and_approve, record

pytestmark = pytest.mark.stores("redis")  # the store is not what these stories are about
PRESET = PRESETS["codex"]
KEY = "sk-codex-key-5d1e"
CHECKS = f"checks:\n  greeting: {json.dumps(GREETING)}\n"
OLD = '    return "Hello " + name\n'
NEW = '    return "Hello " + name + "!"\n'
LOUDER = '    return "Hello " + name + "!!"\n'
PLAN = {
    "summary": "End the greeting with an exclamation mark.",
    "steps": ["Append '!' to the greeting in src/app.py"],
    "files": [{"path": APP, "action": "modify", "why": "the greeting is there"}],
    "risks": [],
}
LABEL = f"Codex {PRESET.install.version}"


def patch(path: str, old: str, new: str) -> str:
    return f"*** Begin Patch\n*** Update File: {path}\n@@\n-{old}+{new}*** End Patch\n"


def prompt_of(items: Items) -> str:
    """What IssuePilot asked: the text of the run's user messages."""
    return "\n".join(
        part.get("text", "")
        for item in items
        if item.get("role") == "user"
        for part in item.get("content") or []
    )


def scripted_codex(items: Items, tools: list[str]) -> Answer:
    """The model behind Codex: one patch per run (the plan file when planning, the fix when
    executing, a louder greeting in a fix round), then its final answer."""
    if any(item.get("type", "").endswith("_output") for item in items):
        return "Done: the greeting ends with an exclamation mark."
    asked = prompt_of(items)
    if found := PLAN_FILE.search(asked):
        body = "".join(f"+{line}\n" for line in json.dumps(PLAN, indent=1).splitlines())
        return Calls(
            [("apply_patch", f"*** Begin Patch\n*** Add File: {found[0]}\n{body}*** End Patch\n")]
        )
    if "This is a fix round" in asked:
        return Calls([("apply_patch", patch(APP, NEW, LOUDER))])
    return Calls([("apply_patch", patch(APP, OLD, NEW))])


@pytest.fixture
def codex(world: World) -> Iterator[tuple[FakeResponses, Tattletale]]:
    """The Responses endpoint, and a runner whose environment holds the key (and decoys:
    secrets that must reach no one), every host but loopback behind a recording proxy."""
    with FakeResponses(reply=scripted_codex) as fake, Tattletale() as proxy:
        world.extra_env.update(runner_env(PRESET, KEY, proxy))
        yield fake, proxy


def only_codex_s_key_went_out(world: World, fake: FakeResponses, proxy: Tattletale) -> None:
    secrets = ["ghs_fake", "fake-model-key", world.redis_url, "decoy-aws-secret-key"]
    assert_only_the_key_went_out(fake, "authorization", f"Bearer {KEY}", proxy.seen, secrets)


def test_codex_plans_executes_and_answers_a_review(
    world: World, codex: tuple[FakeResponses, Tattletale]
) -> None:
    fake, proxy = codex
    world.extra_env.update(preset_inputs(PRESET, fake.url, "gpt-5.5"))
    world.checkout(config="command-roles: [plan, execute]\n" + CHECKS)
    gh = world.github
    issue = gh.open_issue("Greet politely", "The greeting in `src/app.py` needs a `!`.")
    plan_and_approve(world, issue)
    assert record(world, issue)["plan"] == PLAN
    [executed] = world.drain()
    assert executed.code == 0, executed.stdout + executed.stderr
    pr = int(executed.outputs["pr-number"])
    files = gh.files_at(gh.pulls[pr]["head"])
    assert {p for p in files if files[p] != gh.files_at("main").get(p)} == {APP}
    assert head(world, pr) == "def greet(name):\n" + NEW
    assert "**greeting**: passed" in gh.pulls[pr]["body"]
    # Two runs of two model requests each (the patch, the answer): 1,240 tokens a request.
    assert record(world, issue)["usage"]["model_calls"] == 4
    assert record(world, issue)["usage"]["tokens"] == 4 * 1240
    body = gh.pulls[pr]["body"]
    assert f"Written by {LABEL}: 2 model calls, 2480 tokens" in body
    assert "Done: the greeting ends with an exclamation mark." in body  # its last message
    assert f"| {LABEL} | 2 | - | 2,480 |" in executed.summary

    comments = [{"path": APP, "line": 2, "body": "Say it louder."}]
    review = world.step(gh.review_event(pr, body="Not quite.", comments=comments))
    assert review.code == 0, review.stdout + review.stderr
    assert head(world, pr) == "def greet(name):\n" + LOUDER
    assert "Say it louder." in prompt_of(fake.requests[-2].body["input"])
    assert list(replies(world, pr).values()) and record(world, issue)["rounds"] == 1
    assert record(world, issue)["usage"]["model_calls"] == 6
    only_codex_s_key_went_out(world, fake, proxy)
    assert world.model.requests == []  # the built-in agent played no role


def test_the_documented_recipe_as_agent_command_writes_the_fix(
    world: World, codex: tuple[FakeResponses, Tattletale]
) -> None:
    fake, proxy = codex
    world.extra_env.update(recipe_inputs(PRESET, fake.url))
    world.checkout(config=f"agent-env: [{', '.join(PRESET.keys)}]\n" + CHECKS)
    gh = world.github
    issue = gh.open_issue("Greet politely", "The greeting in `src/app.py` needs a `!`.")
    plan_and_approve(world, issue)  # by the built-in agent
    [executed] = world.drain()
    assert executed.code == 0, executed.stdout + executed.stderr
    pr = int(executed.outputs["pr-number"])
    files = gh.files_at(gh.pulls[pr]["head"])
    assert {p for p in files if files[p] != gh.files_at("main").get(p)} == {APP}
    assert head(world, pr) == "def greet(name):\n" + NEW
    assert "**greeting**: passed" in gh.pulls[pr]["body"]
    assert len(fake.requests) == 2  # the patch, the answer
    only_codex_s_key_went_out(world, fake, proxy)
