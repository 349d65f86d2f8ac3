"""The fake GitHub itself: served in-process through httpx's mock transport, and the
vendored REST description current with its routes."""

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from issuepilot.github.client import GitHub
from issuepilot.github.errors import ServerError
from issuepilot.github.retry import RetryPolicy
from issuepilot.testing.github import FakeGitHub
from issuepilot.testing.github.routes import ROUTES

from .github.schemas import REST, rest

FAST = RetryPolicy(attempts=3, base_s=0.001, max_wait_s=1)


@pytest.fixture
async def in_process() -> AsyncIterator[tuple[FakeGitHub, GitHub]]:
    fake = FakeGitHub("octo/repo")  # never started: no socket, no thread
    gh = GitHub("octo/repo", "ghs_fake", fake.url, transport=fake.transport(), retry=FAST)
    yield fake, gh
    await gh.aclose()


# -- in-process ------------------------------------------------------------------------------


async def test_the_client_works_in_process(in_process: tuple[FakeGitHub, GitHub]) -> None:
    fake, gh = in_process
    n = fake.open_issue("x")
    for i in range(150):  # two pages: the Link header points back at the fake
        fake.comment_event(n, f"comment {i}")
    comment = await gh.create_comment(n, "hello")
    bodies = [c["body"] async for c in gh.list_comments(n)]
    assert bodies[-1] == "hello" and len(bodies) == 151
    assert fake.comments[comment]["user"] == "github-actions[bot]"
    assert fake.unknown == [] and fake.bytes_out > 0


async def test_unknown_routes_are_recorded_in_process(
    in_process: tuple[FakeGitHub, GitHub],
) -> None:
    fake, gh = in_process
    response = await gh.request("GET", "/repos/octo/repo/nonsense", ok=(404,))
    assert response.status_code == 404
    assert fake.unknown == [("GET", "/repos/octo/repo/nonsense")]


async def test_a_lost_reply_in_process_is_a_dropped_connection(
    in_process: tuple[FakeGitHub, GitHub],
) -> None:
    fake, gh = in_process
    n = fake.open_issue("x")
    fake.lose_reply("POST", r"/dispatches$")
    with pytest.raises(ServerError, match="no answer"):
        await gh.dispatch("w.yml", "main", {"issue": str(n)})
    assert len(fake.dispatches) == 1  # carried out, though unanswered
    fake.lose_reply("POST", rf"/issues/{n}/comments$")
    comment = await gh.create_comment(n, "once")
    assert list(fake.comments) == [comment]


# -- the vendored descriptions ---------------------------------------------------------------


def test_the_vendored_rest_description_has_every_route_the_fake_serves() -> None:
    paths = rest().document["paths"]
    missing = [
        f"{r.method} {r.template}"
        for r in ROUTES
        if r.method.lower() not in paths.get(r.template, {})
    ]
    assert not missing, f"run tools/github_data.py: {missing}"


def test_every_reference_in_the_vendored_description_resolves() -> None:
    for ref in references(json.loads(REST.read_text())):
        assert rest().resolve({"$ref": ref}) is not None, ref


def references(node: Any) -> list[str]:
    if isinstance(node, list):
        return [ref for item in node for ref in references(item)]
    if not isinstance(node, dict):
        return []
    own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
    return own + [ref for value in node.values() for ref in references(value)]
