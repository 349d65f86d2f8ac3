"""A repository that adds only `agent: opencode` and its OpenAI key: OpenCode, the real CLI
at its pinned version, plans, writes the fix that becomes the pull request, and answers a
review in a fix round, through real `issuepilot step` runs, as the sandbox user, against the
scripted chat-completions endpoint."""

import json
import re
from collections.abc import Iterator

import pytest

from issuepilot.agents.presets import PRESETS
from issuepilot.testing.fake_llm import Answer, Calls, FakeLLM, Messages

from ..agents.contract import CACHE, DECOYS, cannot_run
from .harness import World
from .test_fix_rounds import APP, GREETING
from .test_lifecycle import plan_and_approve, record

PRESET = PRESETS["opencode"]
pytestmark = pytest.mark.skipif(bool(cannot_run(PRESET)), reason=cannot_run(PRESET) or "ok")
KEY = "sk-e2e-openai-key-0123456789"
CONFIG = f"command-roles: [plan, execute]\nchecks:\n  greeting: {json.dumps(GREETING)}\n"
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
    if named := re.findall(r"\.issuepilot-plan-[0-9a-f]+\.json", sent):
        return Calls([("write", {"filePath": named[0], "content": json.dumps(PLAN)})])
    if "Louder, please." in sent:
        return edit(POLITE, LOUD)
    return edit(OLD, POLITE)


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


def test_opencode_plans_writes_the_fix_and_answers_a_review(
    world: World, endpoint: FakeLLM
) -> None:
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

    # Three calls in each of the three runs, all counted; the built-in agent made none.
    assert world.model.requests == [] and not endpoint.unknown
    assert len(endpoint.requests) == 9
    usage = record(world, issue)["usage"]
    assert isinstance(usage, dict)
    assert usage["model_calls"] == 9
    assert usage["tokens"] == sum(u["total_tokens"] for u in endpoint.usages)
    for request, headers in zip(endpoint.requests, endpoint.headers, strict=True):
        assert headers["authorization"] == f"Bearer {KEY}"
        sent = json.dumps(headers) + json.dumps(request)
        assert "ghs_fake" not in sent and DECOYS["AWS_SECRET_ACCESS_KEY"] not in sent
