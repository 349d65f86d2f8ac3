"""The GitHub client against the fake GitHub over loopback HTTP: auth, retries, rate limits,
pagination, Enterprise Server URLs, typed errors, commits, and conformance."""

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import jwt
import pytest

from issuepilot.errors import InputError
from issuepilot.github.client import GitHub
from issuepilot.github.commits import push_change
from issuepilot.github.errors import (
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
    ValidationFailed,
    error_for,
)
from issuepilot.github.retry import RetryPolicy
from issuepilot.models import ChangeSet, FileChange
from issuepilot.testing.github import App, FakeGitHub

from .e2e.harness import rsa_key
from .github.openapi import answer_errors, check_request

FAST = RetryPolicy(attempts=4, base_s=0.001, max_wait_s=1)


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub("octo/repo", files={"a.txt": "a\n", "old.txt": "old\n"}) as fake:
        yield fake
        assert fake.unknown == []


@pytest.fixture
async def gh(fake: FakeGitHub, tmp_path: Path) -> AsyncIterator[GitHub]:
    client = GitHub("octo/repo", "ghs_fake", fake.url, tmp_path / "log.jsonl", retry=FAST)
    yield client
    await client.aclose()


# -- GitHub App ---------------------------------------------------------------------------


async def test_app_auth_mints_caches_and_refreshes_the_installation_token(
    fake: FakeGitHub,
) -> None:
    private, public = rsa_key()
    fake.app = App("1234", public)
    fake.open_issue("x")
    seen: list[str] = []
    gh = GitHub("octo/repo", api_url=fake.url, app=("1234", private), on_token=seen.append)
    try:
        assert gh.app is not None
        claims = jwt.decode(gh.app.app_jwt(), public, algorithms=["RS256"])
        now = time.time()
        assert claims["iss"] == "1234" and abs(claims["iat"] - (now - 60)) < 5
        assert 0 < claims["exp"] - now <= 600
        await gh.get_issue(1)
        await gh.get_issue(1)
        assert len(seen) == 1 and seen[0].startswith("ghs_app_")  # cached
        assert gh.app.permissions["contents"] == "write"
        gh.app.expires_at = time.time() + 60  # close to expiry: refreshed before use
        await gh.get_issue(1)
        assert len(seen) == 2 and seen[1] != seen[0]
        tokens = [r for r in fake.requests if "access_tokens" in r[1]]
        assert len(tokens) == 2
        assert len([r for r in fake.requests if r[1].endswith("/installation")]) == 1
    finally:
        await gh.aclose()


async def test_app_not_installed_or_bad_key_is_a_clear_error(fake: FakeGitHub) -> None:
    private, public = rsa_key()
    other, _ = rsa_key("another App")
    fake.app = App("1234", public)
    gh = GitHub("octo/repo", api_url=fake.url, app=("1234", other))
    try:
        with pytest.raises(PermissionDenied, match="token is invalid"):
            await gh.get_issue(1)
    finally:
        await gh.aclose()
    with pytest.raises(InputError, match="app-id must be"):
        GitHub("octo/repo", api_url=fake.url, app=("abc", private))
    with pytest.raises(InputError, match="not a PEM private key"):
        GitHub("octo/repo", api_url=fake.url, app=("1", "hunter2"))
    fake.app = None
    gh = GitHub("octo/repo", api_url=fake.url, app=("1234", private))
    try:
        with pytest.raises(PermissionDenied):
            await gh.get_issue(1)
    finally:
        await gh.aclose()


# -- retries and rate limits ---------------------------------------------------------------


async def test_idempotent_requests_are_retried_on_5xx(gh: GitHub, fake: FakeGitHub) -> None:
    n = fake.open_issue("x")
    fake.fail("GET", rf"/issues/{n}$", status=502, times=2)
    assert (await gh.get_issue(n)).number == n
    assert len([r for r in fake.requests if r[1].endswith(f"/issues/{n}")]) == 3


async def test_retries_give_up_with_a_recoverable_error(gh: GitHub, fake: FakeGitHub) -> None:
    n = fake.open_issue("x")
    fake.fail("GET", rf"/issues/{n}$", status=503, times=10)
    with pytest.raises(ServerError, match="503") as info:
        await gh.get_issue(n)
    assert info.value.recoverable


async def test_a_timeout_is_retried(fake: FakeGitHub) -> None:
    n = fake.open_issue("x")
    arrived, release = fake.hold("GET", rf"/issues/{n}$")
    gh = GitHub("octo/repo", "ghs_fake", fake.url, retry=FAST)
    gh._client.timeout = __import__("httpx").Timeout(0.3)
    try:
        assert (await gh.get_issue(n)).number == n
        assert arrived.is_set()
    finally:
        release.set()
        await gh.aclose()


async def test_rate_limits_wait_as_told_then_go_on(gh: GitHub, fake: FakeGitHub) -> None:
    n = fake.open_issue("x")
    fake.rate_limit("POST", rf"/issues/{n}/comments$", retry_after=0)
    comment = (await gh.create_comment(n, "hello")).id  # a refused POST was not carried out
    assert [c["id"] for c in fake.comments.values()] == [comment]


async def test_a_long_rate_limit_fails_the_step_with_the_reset_time(
    gh: GitHub, fake: FakeGitHub
) -> None:
    n = fake.open_issue("x")
    fake.rate_limit("GET", rf"/issues/{n}$", retry_after=120)
    with pytest.raises(RateLimited, match="resets at epoch") as info:
        await gh.get_issue(n)
    assert info.value.recoverable and info.value.reset is not None


async def test_a_lost_reply_never_makes_a_second_comment(gh: GitHub, fake: FakeGitHub) -> None:
    n = fake.open_issue("x")
    fake.lose_reply("POST", rf"/issues/{n}/comments$")
    comment = (await gh.create_comment(n, "status <!-- marker -->")).id
    assert list(fake.comments) == [comment]


async def test_a_lost_reply_never_makes_a_second_pull_or_ref(gh: GitHub, fake: FakeGitHub) -> None:
    sha = fake.refs["heads/main"]
    fake.lose_reply("POST", r"/git/refs$")
    assert await gh.create_ref("topic", sha) is True
    assert fake.refs["heads/topic"] == sha
    assert await gh.create_ref("topic", sha) is False  # exists: the caller updates instead
    fake.lose_reply("POST", r"/pulls$")
    pull = await gh.create_pull("T", "topic", "main", "body")
    assert list(fake.pulls) == [pull.number] and pull.html_url.endswith(f"/pull/{pull.number}")
    assert (await gh.create_pull("T", "topic", "main", "body")).number == pull.number  # adopted
    assert len(fake.pulls) == 1


async def test_a_dispatch_is_tried_again_after_an_unclear_failure(
    gh: GitHub, fake: FakeGitHub
) -> None:
    fake.fail("POST", r"/dispatches$")
    await gh.dispatch("w.yml", "main", {"issue": "1"})
    assert len(fake.dispatches) == 1
    fake.lose_reply("POST", r"/dispatches$")  # made, its answer lost: a second run is cheap
    await gh.dispatch("w.yml", "main", {"issue": "2"})
    assert [d["inputs"]["issue"] for d in fake.dispatches] == ["1", "2", "2"]


# -- pagination, Enterprise Server, errors ---------------------------------------------------


async def test_long_lists_are_paginated(gh: GitHub, fake: FakeGitHub) -> None:
    n = fake.open_issue("x")
    for i in range(250):
        fake.comment_event(n, f"comment {i}")
    bodies = [c.body async for c in gh.list_comments(n)]
    assert bodies == [f"comment {i}" for i in range(250)]
    pages = [r for r in fake.requests if r[1].split("?")[0].endswith(f"/issues/{n}/comments")]
    assert len(pages) == 3


async def test_enterprise_server_urls() -> None:
    with FakeGitHub("octo/repo", prefix="/api/v3") as fake:
        n = fake.open_issue("x")
        for i in range(120):
            fake.comment_event(n, str(i))
        gh = GitHub("octo/repo", "ghs_fake", fake.url)
        try:
            assert len([c async for c in gh.list_comments(n)]) == 120
            await gh.create_comment(n, "hi")
        finally:
            await gh.aclose()
        assert fake.unknown == []
        assert all(r[1].startswith("/api/v3/") for r in fake.requests)


@pytest.mark.parametrize(
    ("status", "headers", "body", "kind", "text"),
    [
        (401, {}, {"message": "Bad credentials"}, PermissionDenied, "invalid or expired"),
        (
            403,
            {},
            {"message": "Resource not accessible by integration"},
            PermissionDenied,
            "lacks `pull-requests: write`",
        ),
        (
            403,
            {"x-accepted-github-permissions": "pull_requests=write"},
            {"message": "x"},
            PermissionDenied,
            "pull_requests=write",
        ),
        (
            403,
            {},
            {"message": "GitHub Actions is not permitted to create or approve pull requests."},
            PermissionDenied,
            "Settings > Actions",
        ),
        (
            403,
            {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1700000000"},
            {},
            RateLimited,
            "1700000000",
        ),
        (429, {"retry-after": "30"}, {}, RateLimited, "rate limit"),
        (404, {}, {"message": "Not Found"}, NotFound, "not found"),
        (
            422,
            {},
            {
                "message": "Validation Failed",
                "errors": [
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": "A pull request already exists",
                    }
                ],
            },
            ValidationFailed,
            "A pull request already exists",
        ),
        (500, {}, {}, ServerError, "500"),
    ],
)
def test_errors_say_what_to_do(
    status: int, headers: dict[str, str], body: object, kind: type, text: str
) -> None:
    error = error_for("POST", "/repos/o/r/pulls", status, headers, body)
    assert type(error) is kind and text in str(error)


def test_backoff_grows_with_jitter() -> None:
    import random

    policy = RetryPolicy(base_s=1)
    rng = random.Random(1)
    waits = [policy.backoff(a, rng) for a in range(4)]
    assert all(2**a <= w <= 2 ** (a + 1) for a, w in enumerate(waits))
    assert policy.rate_limit_wait({"retry-after": "7"}, 0) == 7
    reset = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1000"}
    assert policy.rate_limit_wait(reset, 990) == 11
    assert policy.rate_limit_wait({}, 0) == 60


# -- commits ---------------------------------------------------------------------------------


async def test_a_large_change_set_costs_the_same_few_calls(gh: GitHub, fake: FakeGitHub) -> None:
    files = [FileChange(path=f"pkg/m{i:03d}.py", content=f"X = {i}\n") for i in range(300)]
    binary = bytes(range(256)) * 4
    big = "y" * (1024 * 1024 + 10)
    files += [
        FileChange(
            path="img/logo.png", content=base64.b64encode(binary).decode(), encoding="base64"
        ),
        FileChange(path="data/big.txt", content=big),
        FileChange(path="bin/run.sh", content="#!/bin/sh\necho hi\n", executable=True),
        FileChange(path="old.txt", content=None),  # a rename: delete the old path...
        FileChange(path="new.txt", content="old\n"),  # ...and write the new one
    ]
    before = len(fake.requests)
    head = await push_change(gh, "main", "topic", ChangeSet(files=files), "Big change")
    calls = [r[:2] for r in fake.requests[before:]]
    # branch, 2 blobs (the binary and the >1 MB file), tree, commit, ref: not one per file.
    assert len(calls) == 6
    tree = fake.trees[fake.commits[head]["tree"]]
    assert fake.files_at("topic")["pkg/m299.py"] == "X = 299\n"
    assert fake.blobs[tree["img/logo.png"][1]] == binary
    assert fake.files_at("topic")["data/big.txt"] == big
    assert tree["bin/run.sh"][0] == "100755" and tree["a.txt"][0] == "100644"
    assert "old.txt" not in tree and fake.files_at("topic")["new.txt"] == "old\n"


async def test_branch_updates_never_overwrite_a_moved_branch(gh: GitHub, fake: FakeGitHub) -> None:
    change = ChangeSet(files=[FileChange(path="a.txt", content="ours\n")])
    first = await push_change(gh, "main", "topic", change, "one")
    second = await push_change(gh, "main", "topic", change, "two")  # a re-run: fast-forward
    assert first in fake.commits[second]["parents"]
    stale = await gh.create_commit("stale", fake.commits[first]["tree"], [first])
    with pytest.raises(ValidationFailed, match="fast forward"):
        await gh.update_ref("topic", stale)  # someone moved the branch since `first`
    assert fake.refs["heads/topic"] == second


async def test_concurrent_pushes_to_one_branch_both_keep_history(
    gh: GitHub, fake: FakeGitHub
) -> None:
    changes = [ChangeSet(files=[FileChange(path="a.txt", content=f"{i}\n")]) for i in range(2)]
    heads = await asyncio.gather(
        *(push_change(gh, "main", "topic", c, f"run {i}") for i, c in enumerate(changes)),
        return_exceptions=True,
    )
    winners = [h for h in heads if isinstance(h, str)]
    assert winners and fake.refs["heads/topic"] in winners
    final = fake.refs["heads/topic"]
    assert all(w in fake.ancestors(final) for w in winners)


# -- conformance -------------------------------------------------------------------------------


async def test_every_client_request_and_every_fake_answer_match_the_rest_description(
    gh: GitHub, fake: FakeGitHub, tmp_path: Path
) -> None:
    n = fake.open_issue("x", "body")
    await gh.get_issue(n)
    await gh.add_labels(n, ["a", "b"])
    await gh.remove_label(n, "a")
    await gh.remove_label(n, "gone")
    await gh.create_label("c", "ededed", "desc")
    assert "c" in await gh.list_labels()
    comment = (await gh.create_comment(n, "hi")).id
    await gh.update_comment(comment, "hello")
    assert [c async for c in gh.list_comments(n)]
    assert await gh.permission("octocat") == "admin"
    await gh.get_file("a.txt", "main")
    await gh.get_file("missing.txt", "main")
    change = ChangeSet(
        files=[
            FileChange(path="b.bin", content="AAE=", encoding="base64"),
            FileChange(path="a.txt"),
        ]
    )
    head = await push_change(gh, "main", "topic", change, "m")
    await push_change(gh, "main", "topic", change, "again")
    pull = await gh.create_pull("T", "topic", "main", "b")
    await gh.update_pull(pull.number, "T2", "b2")
    assert await gh.find_pull("topic") is not None
    await gh.dispatch("w.yml", "main", {"issue": str(n)})
    assert await gh.branch_rules("issuepilot/issue-1") == []
    assert head
    for line in (tmp_path / "log.jsonl").read_text().splitlines():
        entry = json.loads(line)
        check_request(entry["method"], entry["url"], entry["body"])
    checked = 0
    for method, template, status, body in fake.answers:
        if status >= 300 or status == 204:
            continue
        errors = answer_errors(method, template, status, body)
        assert not errors, (method, template, errors[:3])
        checked += 1
    assert checked >= 20
