from collections.abc import Iterator
from pathlib import Path

import pytest

from issuepilot.testing.fake_llm import FakeLLM
from issuepilot.testing.github import FakeGitHub

from .harness import World

FILES = {
    "README.md": "# Project\n",
    "src/app.py": 'def greet(name):\n    return "Hello " + name\n',
    "src/util.py": "X = 1\n",
}


@pytest.fixture
def world(
    request: pytest.FixtureRequest, redis_url: str, repo: str, tmp_path: Path
) -> Iterator[World]:
    """The action's world: the fake GitHub, the fake model, and the store, which is Redis
    or (no Redis URL) the repository's own ledger: each story runs against both."""
    (tmp_path / "workspace").mkdir()
    with (
        FakeGitHub(repo, files=FILES, permissions={"mallory": "triage"}) as github,
        FakeLLM() as model,
    ):
        yield World(github, model, redis_url if request.param == "redis" else "", tmp_path)
        assert github.unknown == [], f"requests to routes the fake does not know: {github.unknown}"
