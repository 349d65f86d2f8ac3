"""The sweep against GitHub's facts when events were lost, steps died and Redis forgot:
the real CLI, the fake GitHub, real Redis."""

import json

import pytest

from issuepilot.github.status import parse_record

from .harness import World

BODY = "The greeting in `src/app.py` needs a `!`."


def state(world: World, issue: int) -> str:
    found = parse_record(world.comment(issue))
    assert found is not None
    return str(found.task.state)


def to_pr_open(world: World, issue: int) -> int:
    gh = world.github
    world.step(gh.label_event(issue, "issuepilot"))
    world.drain()
    world.step(gh.label_event(issue, "issuepilot:approved"))
    [executed] = world.drain()
    assert executed.outputs["task-state"] == "pr-open", executed.stdout + executed.stderr
    return int(executed.outputs["pr-number"])


def test_a_merge_whose_event_was_lost_finishes_the_task(world: World) -> None:
    gh = world.github
    issue = gh.open_issue("Greet", BODY)
    pr = to_pr_open(world, issue)
    gh.merge_pull(pr)  # the pull_request event never starts a run
    swept = world.sweep()
    assert swept.code == 0, swept.stdout + swept.stderr
    assert state(world, issue) == "done"
    assert set(gh.issues[issue].labels) == {"issuepilot", "issuepilot:done"}


def test_after_the_store_lost_everything_the_sweep_resumes_a_queued_task_and_a_waiting_one(
    world: World,
) -> None:
    gh = world.github
    holder = gh.open_issue("Holds the file", BODY)
    to_pr_open(world, holder)
    waiter = gh.open_issue("Waits for it", BODY)
    world.step(gh.label_event(waiter, "issuepilot"))
    world.drain()
    world.step(gh.label_event(waiter, "issuepilot:approved"))
    [waited] = world.drain()
    assert waited.outputs["task-state"] == "approved" and "Waiting for files" in world.comment(
        waiter
    )
    queued = gh.open_issue("Queued, its dispatch lost", BODY)
    world.step(gh.label_event(queued, "issuepilot"))
    gh.dispatches.clear()  # the dispatch never started a run
    world.flush()
    gh.merge_pull(max(gh.pulls))  # the holder's PR merges; that event is lost too
    swept = world.sweep()
    assert swept.code == 0, swept.stdout + swept.stderr
    where = "Redis" if world.store == "redis" else "the ledger (branch issuepilot/ledger)"
    assert f"#{waiter}: {where} had no record of it: rebuilt" in swept.stdout  # says so
    assert state(world, holder) == "done"
    woken = {int(d["inputs"]["issue"]) for d in gh.dispatches}
    assert woken == {queued}, swept.stdout
    world.drain()
    assert state(world, queued) == "plan-review"
    # The record key went with the store: the waiter's plan is back, its approval is not.
    assert state(world, waiter) == "plan-review"
    assert "issuepilot:approved" not in gh.issues[waiter].labels
    world.step(gh.label_event(waiter, "issuepilot:approved"))
    world.drain()
    assert state(world, waiter) == "pr-open"


def test_an_approval_label_added_before_its_event_ran_is_kept_and_acted_on(world: World) -> None:
    gh = world.github
    issue = gh.open_issue("Greet", BODY)
    world.step(gh.label_event(issue, "issuepilot"))
    world.drain()
    approval = gh.label_event(issue, "issuepilot:approved")  # the run starts late
    swept = world.sweep()
    assert swept.code == 0, swept.stdout + swept.stderr
    assert state(world, issue) == "approved"
    assert "issuepilot:approved" in gh.issues[issue].labels
    late = world.step(approval)
    assert late.code == 0 and state(world, issue) in ("approved", "pr-open")


def test_a_step_killed_after_creating_the_status_comment_leaves_exactly_one(
    world: World,
) -> None:
    gh = world.github
    issue = gh.open_issue("Greet", BODY)
    world.step(gh.label_event(issue, "issuepilot"))
    world.kill_next_run_at("POST", rf"/issues/{issue}/comments$")
    world.expire_lease(issue)
    world.sweep()  # recovers the dead step: QUEUED again, dispatched
    world.step(gh.comment_event(issue, "/issuepilot retry"))  # nothing to retry: no harm
    world.drain()  # the plan step
    assert state(world, issue) == "plan-review"  # world.comment asserts exactly one


def test_a_rate_limit_stops_the_sweep_and_says_when_it_goes_on(world: World) -> None:
    gh = world.github
    for title in ("one", "two"):
        issue = gh.open_issue(title, BODY)
        world.step(gh.label_event(issue, "issuepilot"))
        gh.issues[issue].labels.remove("issuepilot:queued")  # each needs a repair
    gh.dispatches.clear()
    gh.rate_limit("POST", r"/issues/\d+/labels$", retry_after=3600, times=10)
    since = len(gh.requests)
    swept = world.sweep()
    assert swept.code == 0, swept.stdout + swept.stderr
    assert "rate limit stopped the sweep after 0 of 2" in swept.stdout
    posts = [r for r in gh.requests[since:] if r[0] == "POST"]
    assert len(posts) == 1, "it stopped at once"


@pytest.mark.stores("redis")
def test_migrating_between_the_stores_loses_nothing(world: World, redis_url: str) -> None:
    from .test_cli import cli

    gh = world.github
    holder = gh.open_issue("Holds the file", BODY)
    to_pr_open(world, holder)
    queued = gh.open_issue("Queued", BODY)
    world.step(gh.label_event(queued, "issuepilot"))
    gh.dispatches.clear()
    env = {"GITHUB_REPOSITORY": gh.repo, "GITHUB_TOKEN": "ghs_fake", "GITHUB_API_URL": gh.url}
    moved = cli("migrate", "--to", "github", "--redis-url", world.redis_url, env=env)
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert moved.stdout.startswith("moved 2 tasks and the locks on 1 files from Redis to")
    world.redis_url = ""  # the workflow drops its redis-url: the ledger is the store now
    other = gh.open_issue("Wants the same file", BODY)
    world.step(gh.label_event(other, "issuepilot"))
    world.drain()
    world.step(gh.label_event(other, "issuepilot:approved"))
    [waits] = world.drain()
    assert waits.outputs["task-state"] == "approved"  # the PR's files moved with it
    back = cli("migrate", "--to", "redis", "--redis-url", redis_url, env=env)
    assert back.returncode == 0 and "from the ledger (branch issuepilot/ledger) to Redis" in (
        back.stdout
    )
    world.redis_url = redis_url
    finished = world.step(gh.merge_pull(max(gh.pulls)))
    assert finished.code == 0 and finished.outputs["task-state"] == "done"
    listed = cli("status", "--json", "--redis-url", redis_url, env=env)
    rows = {row["issue"]: row["state"] for row in json.loads(listed.stdout)}
    assert rows[queued] == "queued" and rows[other] == "approved"


@pytest.mark.stores("redis")
def test_migrating_while_a_step_runs_is_refused(world: World) -> None:
    from .test_cli import cli

    gh = world.github
    issue = gh.open_issue("Busy", BODY)
    world.step(gh.label_event(issue, "issuepilot"))
    arrived, release = gh.hold("POST", r"/issues/\d+/comments$")
    [dispatch] = gh.dispatches
    gh.dispatches.clear()
    proc, run = world.start(gh.dispatch_event(dispatch["inputs"]))
    assert arrived.wait(60)  # the plan step holds its lease
    env = {"GITHUB_REPOSITORY": gh.repo, "GITHUB_TOKEN": "ghs_fake", "GITHUB_API_URL": gh.url}
    refused = cli("migrate", "--to", "github", "--redis-url", world.redis_url, env=env)
    release.set()
    world.finish(proc, run)
    assert refused.returncode == 2
    assert f"steps are running for #{issue}: migrate when they are done" in refused.stderr
