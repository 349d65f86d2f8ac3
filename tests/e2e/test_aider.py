"""A repository that adds only `agent: aider` and its OpenAI key: aider, the real CLI at its
pinned version, plans, writes the fix that becomes the pull request, and answers a review
in a fix round, through real `issuepilot step` runs, as the sandbox user, against the
scripted chat-completions endpoint."""

import json
import re
from collections.abc import Iterator

import pytest

from issuepilot.agents.presets import PRESETS
from issuepilot.testing.fake_llm import Answer, FakeLLM, Messages

from ..agents.contract import CACHE, DECOYS, cannot_run
from .harness import World
from .test_fix_rounds import APP, GREETING
from .test_lifecycle import plan_and_approve, record

PRESET = PRESETS["aider"]
pytestmark = pytest.mark.skipif(bool(cannot_run(PRESET)), reason=cannot_run(PRESET) or "ok")
KEY = "sk-e2e-openai-key-0123456789"
CONFIG = f"command-roles: [plan, execute]\nchecks:\n  greeting: {json.dumps(GREETING)}\n"
PLAN = {
    "summary": "End the greeting with an exclamation mark",
    "steps": ["Append '!' to the greeting in src/app.py"],
    "files": [{"path": APP, "action": "modify", "why": "the greeting lives there"}],
    "risks": [],
}
OLD = '    return "Hello " + name\n'
POLITE = '    return "Hello " + name + "!"\n'
LOUD = '    return "Hello " + name + "!!"\n'


def search_replace(path: str, search: str, replace: str) -> str:
    """An answer in aider's `diff` edit format (the one it uses with gpt-4.1)."""
    return f"{path}\n```\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n```\n"


def model(messages: Messages, tools: list[str]) -> Answer:
    """The scripted model: the plan into the file the prompt names (a new name each run),
    the fix, and a louder one once a review asks for it."""
    sent = json.dumps(messages)
    if named := re.findall(r"\.issuepilot-plan-[0-9a-f]+\.json", sent):
        return "The plan:\n\n" + search_replace(named[0], "", json.dumps(PLAN) + "\n")
    if "Louder, please." in sent:
        return search_replace(APP, POLITE, LOUD)
    return search_replace(APP, OLD, POLITE)


@pytest.fixture
def endpoint(world: World) -> Iterator[FakeLLM]:
    """The chat-completions endpoint, and a runner whose environment holds the key (and a
    decoy: a secret that must reach no one)."""
    with FakeLLM(reply=model) as fake:
        world.extra_env.update(
            ISSUEPILOT_AGENT=PRESET.name,
            ISSUEPILOT_AGENT_MODEL="gpt-4.1",
            ISSUEPILOT_AGENT_BASE_URL=fake.url,
            ISSUEPILOT_AGENT_CACHE=str(CACHE),
            OPENAI_API_KEY=KEY,
            AWS_SECRET_ACCESS_KEY=DECOYS["AWS_SECRET_ACCESS_KEY"],
        )
        yield fake


def test_aider_plans_writes_the_fix_and_answers_a_review(world: World, endpoint: FakeLLM) -> None:
    gh = world.github
    world.checkout(config=CONFIG)
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

    # Every model call of the three runs counted; the built-in agent made none.
    assert world.model.requests == [] and not endpoint.unknown
    assert len(endpoint.requests) == 3
    usage = record(world, issue)["usage"]
    assert isinstance(usage, dict)
    assert usage["model_calls"] == 3
    assert usage["tokens"] == sum(u["total_tokens"] for u in endpoint.usages)
    assert usage["cost"] > 0  # priced by aider from gpt-4.1's list prices
    for request, headers in zip(endpoint.requests, endpoint.headers, strict=True):
        assert headers["authorization"] == f"Bearer {KEY}"
        sent = json.dumps(headers) + json.dumps(request)
        assert "ghs_fake" not in sent and DECOYS["AWS_SECRET_ACCESS_KEY"] not in sent
