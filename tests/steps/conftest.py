from collections.abc import Iterator

import pytest

from .harness import FILES, REPO, LocalGitHub, Sim


@pytest.fixture
def sim() -> Iterator[Sim]:
    github = LocalGitHub(REPO, files=FILES, permissions={"mallory": "triage"})
    yield Sim(github)
    assert github.unknown == [], f"requests to routes the fake does not know: {github.unknown}"
