"""GitHub API calls and bytes per step, on a busy issue and a large change, against the fake.

The issue has 500 comments and the plan changes N files (300 by default, and 3 and 30 to
show the execute step does not grow with N). Reads of repository files for the model's
context are counted apart: from a checkout they cost nothing.

    python benchmarks/github_calls.py [--redis-url URL]
"""

import argparse
import asyncio
import os
import uuid
from typing import Any

from issuepilot.config import RepoConfig, Settings
from issuepilot.events import parse_payload
from issuepilot.testing.fake_llm import Answer, Calls, FakeLLM, Messages, calls_made
from issuepilot.testing.github import FakeGitHub
from issuepilot.testing.redis_server import ThrowawayRedis
from issuepilot.wiring import run_step


def model_for(paths: list[str]) -> FakeLLM:
    """A planner that plans every path, and an executor that writes each in one turn."""

    def reply(messages: Messages, tools: list[str]) -> Answer:
        if "planner" in messages[0]["content"].lower():
            files = [{"path": p, "action": "modify"} for p in paths]
            return Calls([("submit_plan", {"summary": "Bulk change", "files": files})])
        if not any(name == "write_file" for _, name, _ in calls_made(messages)):
            return Calls(
                [("write_file", {"path": p, "content": f"# changed {p}\n"}) for p in paths]
            )
        return Calls([("finish", {"message": "Bulk change"})])

    return FakeLLM(reply=reply)


async def measure(github: FakeGitHub, settings: Settings, event: tuple[str, Any]) -> list[Any]:
    calls, bytes_in, bytes_out = len(github.requests), github.bytes_in, github.bytes_out
    await run_step(settings, event[0], parse_payload(event[1]), say=lambda _: None)
    made = github.requests[calls:]
    reads = sum(1 for r in made if "/contents/" in r[1] or "/git/trees/" in r[1] and r[0] == "GET")
    sent, received = github.bytes_in - bytes_in, github.bytes_out - bytes_out
    return [len(made) - reads, reads, sent, received]


async def lifecycle(redis_url: str, files: int, comments: int) -> dict[str, list[Any]]:
    paths = [f"src/pkg/module_{i:03d}.py" for i in range(files)]
    repo = f"bench/calls-{uuid.uuid4().hex[:6]}"
    with (
        FakeGitHub(repo, files={p: f"# {p}\n" for p in paths}) as gh,
        model_for(paths) as model,
    ):
        settings = Settings(
            repo=repo,
            api_url=gh.url,
            token="ghs_fake",
            redis_url=redis_url,
            model_base_url=model.url,
            model_api_key="x",
            workflow_ref=f"{repo}/.github/workflows/issuepilot.yml@refs/heads/main",
            config=RepoConfig(max_files=1000),
        )
        warm = gh.open_issue("warm-up", "x")  # labels and the permission cache, once per repo
        await run_step(settings, *_ev(gh.label_event(warm, "issuepilot")), say=lambda _: None)
        issue = gh.open_issue("Bulk", "Change every module.")
        for i in range(comments):
            gh.comment_event(issue, f"discussion {i}", sender="someone")
        rows = {"enqueue": await measure(gh, settings, gh.label_event(issue, "issuepilot"))}
        gh.dispatches.clear()
        rows["plan"] = await measure(gh, settings, gh.dispatch_event({"issue": str(issue)}))
        rows["approve"] = await measure(gh, settings, gh.label_event(issue, "issuepilot:approved"))
        gh.dispatches.clear()
        rows["execute"] = await measure(gh, settings, gh.dispatch_event({"issue": str(issue)}))
        pr = max(gh.pulls)
        rows["finish"] = await measure(gh, settings, gh.merge_pull(pr))
        await _forget(redis_url, repo)
        rows["rebuild"] = await measure(gh, settings, gh.dispatch_event({"issue": str(issue)}))
        return rows


def _ev(event: tuple[str, Any]) -> tuple[str, Any]:
    return event[0], parse_payload(event[1])


async def _forget(redis_url: str, repo: str) -> None:
    """Lose Redis's record, so the next run rebuilds it from the status comment."""
    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url)
    keys = [k async for k in redis.scan_iter(match=f"issuepilot:{{{repo}}}:*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


async def main(redis_url: str) -> None:
    print("500 comments on the issue; calls exclude context reads (shown apart)")
    print(f"{'files':>5} {'step':<8} {'calls':>5} {'reads':>5} {'sent B':>9} {'received B':>11}")
    for files in (3, 30, 300):
        rows = await lifecycle(redis_url, files, comments=500)
        for step, (calls, reads, sent, received) in rows.items():
            print(f"{files:>5} {step:<8} {calls:>5} {reads:>5} {sent:>9} {received:>11}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL"))
    args = parser.parse_args()
    if args.redis_url:
        asyncio.run(main(args.redis_url))
    else:
        with ThrowawayRedis() as server:
            asyncio.run(main(server.url))
