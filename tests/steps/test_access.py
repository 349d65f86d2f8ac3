"""Who may act: `allowed-users` without asking GitHub, else the collaborator permission,
cached for `permission-cache-minutes`."""

import pytest

from issuepilot.config import RepoConfig
from issuepilot.machine import TaskState

from .harness import Sim

S = TaskState
BODY = "The greeting in `src/app.py` needs a `!`."
PERMISSION = "GET /collaborators/{}/permission"


async def test_allowed_users_act_without_a_permission_check_whatever_their_case(
    sim: Sim,
) -> None:
    sim.config = RepoConfig(allowed_users=["Mallory"])
    issue = sim.github.open_issue("Greet politely", BODY)
    since = sim.mark()
    await sim.run(sim.github.label_event(issue, "issuepilot", sender="mallory"))
    assert (await sim.task(issue)).state is S.QUEUED
    assert PERMISSION.format("mallory") not in sim.calls(since)


async def test_a_role_is_asked_once_and_cached(sim: Sim) -> None:
    first = sim.github.open_issue("One", BODY)
    second = sim.github.open_issue("Two", BODY)
    await sim.run(sim.github.label_event(first, "issuepilot"))
    since = sim.mark()
    await sim.run(sim.github.label_event(second, "issuepilot"))
    assert PERMISSION.format("octocat") not in sim.calls(since)
    assert (await sim.task(second)).state is S.QUEUED


async def test_a_cached_role_expires_with_the_cache(sim: Sim) -> None:
    first = sim.github.open_issue("One", BODY)
    second = sim.github.open_issue("Two", BODY)
    await sim.run(sim.github.label_event(first, "issuepilot"))
    sim.github.permissions["octocat"] = "read"  # access withdrawn meanwhile
    sim.clock.advance(sim.config.permission_cache_minutes * 60)
    since = sim.mark()
    outcome = await sim.run(sim.github.label_event(second, "issuepilot"))
    assert PERMISSION.format("octocat") in sim.calls(since)
    assert "(has: read)" in outcome.message and sim.labels(second) == set()


async def test_without_a_cache_every_run_asks(sim: Sim) -> None:
    sim.config = RepoConfig(permission_cache_minutes=0)
    first = sim.github.open_issue("One", BODY)
    second = sim.github.open_issue("Two", BODY)
    await sim.run(sim.github.label_event(first, "issuepilot"))
    since = sim.mark()
    await sim.run(sim.github.label_event(second, "issuepilot"))
    assert sim.calls(since).count(PERMISSION.format("octocat")) == 1
    assert sim.store.flags.keys() == {f"issuepilot:{{{sim.github.repo}}}:labels"}


async def test_a_user_who_is_no_collaborator_has_no_role(sim: Sim) -> None:
    sim.github.fail("GET", r"/collaborators/eve/permission", 404)
    issue = sim.github.open_issue("Greet politely", BODY)
    outcome = await sim.run(sim.github.label_event(issue, "issuepilot", sender="eve"))
    assert outcome.task is None and "(has: none)" in outcome.message


@pytest.mark.parametrize(
    ("role", "may"),
    [("admin", True), ("maintain", True), ("write", True), ("triage", False), ("read", False)],
)
async def test_only_write_roles_may_start_a_task(sim: Sim, role: str, may: bool) -> None:
    sim.github.permissions["dana"] = role
    issue = sim.github.open_issue("Greet politely", BODY)
    await sim.run(sim.github.label_event(issue, "issuepilot", sender="dana"))
    assert (issue in sim.store.records) is may


async def test_events_of_the_action_itself_need_no_permission(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    since = sim.mark()
    await sim.run(sim.dispatch_event(issue, command="plan"))
    assert not [c for c in sim.calls(since) if "/collaborators/" in c]
    assert (await sim.task(issue)).state is S.PLAN_REVIEW
