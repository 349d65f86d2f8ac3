"""A repository that adds only `agent: gemini` and the key: the real Gemini CLI (the pinned
version from npm) plans, executes and answers a review, through real `issuepilot step`
runs, as the sandbox user, against the scripted Gemini API on loopback."""

import json
import os
from collections.abc import Iterator

import pytest

from issuepilot.agents.install import cache_dir
from issuepilot.agents.presets import PRESETS
from issuepilot.testing.fake_gemini import Contents, FakeGemini, function_responses
from issuepilot.testing.fake_llm import Answer, Calls

from ..agents.cli_story import Trap, installed, tmp_path
from ..agents.test_gemini import KEY
from ..security.test_agent_reads_the_jobs_secrets import can_sandbox
from .harness import World
from .test_codex import LOUDER, NEW, OLD, PLAN, PLAN_FILE
from .test_fix_rounds import APP, GREETING, head, replies
from .test_lifecycle import plan_and_approve, record

__all__ = ["tmp_path"]  # a folder whose passage no other test's sandbox closes
pytestmark = [
    pytest.mark.stores("redis"),  # the store is not what this story is about
    pytest.mark.skipif(bool(can_sandbox()), reason=can_sandbox() or "available"),
]
LABEL = f"Gemini CLI {PRESETS['gemini'].install.version}"


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
def gemini(world: World) -> Iterator[tuple[FakeGemini, Trap]]:
    """The world with `agent: gemini` for both roles, its key in the runner's environment,
    and every host but loopback behind a proxy that records any request."""
    installed(PRESETS["gemini"])
    trap = Trap()
    with FakeGemini(reply=scripted_gemini) as fake:
        world.extra_env.update(
            {
                "ISSUEPILOT_AGENT": "gemini",
                "ISSUEPILOT_AGENT_MODEL": "gemini-2.5-pro",
                "ISSUEPILOT_AGENT_BASE_URL": fake.url,
                "ISSUEPILOT_AGENT_CACHE": str(cache_dir(dict(os.environ))),
                "GEMINI_API_KEY": KEY,
                **trap.env,
            }
        )
        yield fake, trap
    trap.sock.close()


def test_gemini_plans_executes_and_answers_a_review(
    world: World, gemini: tuple[FakeGemini, Trap]
) -> None:
    fake, trap = gemini
    config = f"command-roles: [plan, execute]\nchecks:\n  greeting: {json.dumps(GREETING)}\n"
    world.checkout(config=config)
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
    assert fake.requests and not fake.unknown and not trap.seen
    secrets = ["ghs_fake", "fake-model-key", world.redis_url]
    for request in fake.requests:
        assert request.headers["x-goog-api-key"] == KEY
        sent = json.dumps([request.headers, request.body])
        assert not [s for s in secrets if s in sent]
    assert world.model.requests == []  # the built-in agent played no role
