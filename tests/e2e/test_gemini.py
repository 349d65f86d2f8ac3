"""A repository that adds only `agent: gemini` and the key: the real Gemini CLI (the pinned
version from npm) plans, executes and answers a review, through real `issuepilot step`
runs, as the sandbox user, against the scripted Gemini API on loopback. And the same CLI
run by the recipe docs/agents.md gives for `agent-command`."""

import json
from collections.abc import Iterator

import pytest

from issuepilot.agents.presets import PRESETS
from issuepilot.testing.fake_gemini import Contents, FakeGemini, function_responses
from issuepilot.testing.fake_llm import Answer, Calls

from ..agents.contract import (
    PLAN_FILE,
    Tattletale,
    assert_only_the_key_went_out,
    preset_inputs,
    recipe_inputs,
    runner_env,
)
from .harness import World
from .test_codex import CHECKS, LOUDER, NEW, OLD, PLAN
from .test_fix_rounds import APP, head, replies
from .test_lifecycle import plan_and_approve, record

pytestmark = pytest.mark.stores("redis")  # the store is not what these stories are about
PRESET = PRESETS["gemini"]
KEY = "gm-gemini-key-3b7a"
LABEL = f"Gemini CLI {PRESET.install.version}"


def prompt_of(contents: Contents) -> str:
    """What IssuePilot asked: the text of the run's user turns."""
    return "\n".join(
        part.get("text", "")
        for content in contents
        if content.get("role") == "user"
        for part in content.get("parts") or []
    )


def replace(old: str, new: str) -> Calls:
    edit = {"file_path": APP, "old_string": old.strip(), "new_string": new.strip()}
    return Calls([("replace", {**edit, "instruction": "Change the greeting."})])


def scripted_gemini(contents: Contents, functions: list[str]) -> Answer:
    """The model behind Gemini CLI: one edit per run (the plan file when planning, the fix
    when executing, a louder greeting in a fix round), then its final answer."""
    if function_responses(contents):
        return "Done: the greeting ends with an exclamation mark."
    asked = prompt_of(contents)
    if found := PLAN_FILE.search(asked):
        return Calls([("write_file", {"file_path": found[0], "content": json.dumps(PLAN)})])
    if "This is a fix round" in asked:
        return replace(NEW, LOUDER)
    return replace(OLD, NEW)


@pytest.fixture
def gemini(world: World) -> Iterator[tuple[FakeGemini, Tattletale]]:
    """The Gemini API, and a runner whose environment holds the key (and decoys: secrets
    that must reach no one), every host but loopback behind a recording proxy."""
    with FakeGemini(reply=scripted_gemini) as fake, Tattletale() as proxy:
        world.extra_env.update(runner_env(PRESET, KEY, proxy))
        yield fake, proxy


def only_gemini_s_key_went_out(world: World, fake: FakeGemini, proxy: Tattletale) -> None:
    secrets = ["ghs_fake", "fake-model-key", world.redis_url, "decoy-aws-secret-key"]
    assert_only_the_key_went_out(fake, "x-goog-api-key", KEY, proxy.seen, secrets)


def test_gemini_plans_executes_and_answers_a_review(
    world: World, gemini: tuple[FakeGemini, Tattletale]
) -> None:
    fake, proxy = gemini
    world.extra_env.update(preset_inputs(PRESET, fake.url, "gemini-2.5-pro"))
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
    body = gh.pulls[pr]["body"]
    assert "**greeting**: passed" in body
    # Two runs of two model requests each (the edit, the answer): 1,580 tokens a request.
    assert f"Written by {LABEL}: 2 model calls, 3160 tokens" in body
    assert "Done: the greeting ends with an exclamation mark." in body  # its last message
    assert record(world, issue)["usage"]["model_calls"] == 4
    assert record(world, issue)["usage"]["tokens"] == 4 * 1580

    comments = [{"path": APP, "line": 2, "body": "Say it louder."}]
    review = world.step(gh.review_event(pr, body="Not quite.", comments=comments))
    assert review.code == 0, review.stdout + review.stderr
    assert head(world, pr) == "def greet(name):\n" + LOUDER
    assert "Say it louder." in prompt_of(fake.requests[-2].body["contents"])
    assert list(replies(world, pr).values()) and record(world, issue)["rounds"] == 1
    assert record(world, issue)["usage"]["model_calls"] == 6
    only_gemini_s_key_went_out(world, fake, proxy)
    assert world.model.requests == []  # the built-in agent played no role


def test_the_documented_recipe_as_agent_command_writes_the_fix(
    world: World, gemini: tuple[FakeGemini, Tattletale]
) -> None:
    fake, proxy = gemini
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
    only_gemini_s_key_went_out(world, fake, proxy)
