"""A repository that adds only `agent: codex` and the key: the real Codex CLI (the pinned
version from npm) plans, executes and answers a review, through real `issuepilot step`
runs, as the sandbox user, against the scripted Responses endpoint on loopback."""

import json
import os
import re
from collections.abc import Iterator

import pytest

from issuepilot.agents.install import cache_dir
from issuepilot.agents.presets import PRESETS
from issuepilot.testing.fake_llm import Answer, Calls
from issuepilot.testing.fake_responses import FakeResponses, Items

from ..agents.cli_story import Trap, installed, tmp_path
from ..agents.test_codex import KEY
from ..security.test_agent_reads_the_jobs_secrets import can_sandbox
from .harness import World
from .test_fix_rounds import APP, GREETING, head, replies
from .test_lifecycle import plan_and_approve, record

__all__ = ["tmp_path"]  # a folder whose passage no other test's sandbox closes
pytestmark = [
    pytest.mark.stores("redis"),  # the store is not what this story is about
    pytest.mark.skipif(bool(can_sandbox()), reason=can_sandbox() or "available"),
]
OLD = '    return "Hello " + name\n'
NEW = '    return "Hello " + name + "!"\n'
LOUDER = '    return "Hello " + name + "!!"\n'
PLAN = {
    "summary": "End the greeting with an exclamation mark.",
    "steps": ["Append '!' to the greeting in src/app.py"],
    "files": [{"path": APP, "action": "modify", "why": "the greeting is there"}],
    "risks": [],
}
LABEL = f"Codex {PRESETS['codex'].install.version}"
PLAN_FILE = re.compile(r"\.issuepilot-plan-[0-9a-f]+\.json")


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
def codex(world: World) -> Iterator[tuple[FakeResponses, Trap]]:
    """The world with `agent: codex` for both roles, its key in the runner's environment,
    and every host but loopback behind a proxy that records any request."""
    installed(PRESETS["codex"])
    trap = Trap()
    with FakeResponses(reply=scripted_codex) as fake:
        world.extra_env.update(
            {
                "ISSUEPILOT_AGENT": "codex",
                "ISSUEPILOT_AGENT_MODEL": "gpt-5.5",
                "ISSUEPILOT_AGENT_BASE_URL": fake.url,
                "ISSUEPILOT_AGENT_CACHE": str(cache_dir(dict(os.environ))),
                "CODEX_API_KEY": KEY,
                **trap.env,
            }
        )
        yield fake, trap
    trap.sock.close()


def only_codex_s_key_went_out(world: World, fake: FakeResponses, trap: Trap) -> None:
    assert fake.requests and not fake.unknown and not trap.seen
    secrets = ["ghs_fake", "fake-model-key", world.redis_url]
    for request in fake.requests:
        assert request.headers["authorization"] == f"Bearer {KEY}"
        sent = json.dumps([request.headers, request.body])
        assert not [s for s in secrets if s in sent]
    assert world.model.requests == []  # the built-in agent played no role


def test_codex_plans_executes_and_answers_a_review(
    world: World, codex: tuple[FakeResponses, Trap]
) -> None:
    fake, trap = codex
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
    only_codex_s_key_went_out(world, fake, trap)
