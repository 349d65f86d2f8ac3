"""The dispatcher: what matters (by `decide` and the repository's settings) is handed on
once, to the repository's workflow, a central runner's or the workers; what does not is
dropped; a passing failure is tried again, an unclear one never."""

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from issuepilot.events import Action, Rules, Trigger, decide, parse_payload
from issuepilot.github.retry import RetryPolicy
from issuepilot.keys import ServiceKeys
from issuepilot.relay import INPUT, unpack
from issuepilot.serve import repos
from issuepilot.serve.dispatch import Dispatcher
from issuepilot.serve.metrics import Metrics
from issuepilot.serve.queue import DISPATCHERS, Entry, Queue, new_entry
from issuepilot.serve.repos import Repos
from issuepilot.serve.settings import ServiceSettings
from issuepilot.serve.state import Service as ServiceState
from issuepilot.testing.github import FakeGitHub
from issuepilot.wiring import connect_redis

from .conftest import APP_BOT, Org, Service, until

ORG_DEFAULTS = ".github/issuepilot.yml"


def deliver_label(org: Org, label: str = "issuepilot", sender: str = "octocat") -> int:
    issue = org.github.open_issue("Greet politely", "Add a `!`.")
    attempt = org.hooks.deliver(org.github.label_event(issue, label, sender))
    assert attempt["status_code"] == 202
    return issue


def carried(github: FakeGitHub, dispatch: dict[str, Any], repo: str = "") -> Trigger:
    """What the dispatched run decides: the event it carries, as the repository's."""
    name, payload = github.dispatch_event(dispatch["inputs"], APP_BOT)
    name, inner = unpack(name, parse_payload(payload), repo or github.repo)
    return decide(name, inner, Rules())


def test_an_event_that_matters_starts_the_repositorys_workflow_once(
    service: Service, org: Org
) -> None:
    issue = deliver_label(org)
    until(lambda: org.github.dispatches, "the dispatch")
    [dispatch] = org.github.dispatches
    assert dispatch["workflow"] == "issuepilot.yml" and dispatch["ref"] == "main"
    inputs = dispatch["inputs"]
    assert set(inputs) == {"issue", "command", INPUT}
    assert (inputs["issue"], inputs["command"]) == (str(issue), "advance")
    trigger = carried(org.github, dispatch)
    assert (trigger.action, trigger.issue, trigger.actor) == (Action.ENQUEUE, issue, "octocat")
    # The same event delivered again (GitHub's redelivery) starts nothing more.
    [attempt] = org.hooks.deliveries
    assert org.hooks.redeliver(attempt["id"])["status_code"] == 202
    duplicates = 'issuepilot_deliveries_total{event="issues",outcome="duplicate"}'
    until(lambda: service.metric(duplicates) == 1, "the redelivery")
    until(lambda: service.redis.xlen(service.keys.deliveries) == 0, "the queue to empty")
    assert len(org.github.dispatches) == 1
    # The service's tokens are each for one repository, with what it uses alone.
    asked = org.fake.app.requests
    assert asked and all(len(body["repositories"]) == 1 for body in asked)
    assert all(body["permissions"] == repos.SERVICE_PERMISSIONS for body in asked)


def test_what_does_not_matter_starts_nothing(service: Service, org: Org) -> None:
    issue = org.github.open_issue("Chat")
    org.hooks.deliver(org.github.comment_event(issue, "Nice idea!"))  # no command
    org.hooks.deliver(org.github.label_event(issue, "bug"))  # not IssuePilot's label
    org.hooks.deliver(org.github.label_event(issue, "issuepilot", APP_BOT))  # its own
    ignored = 'issuepilot_handed_total{engine="actions",outcome="ignored"}'
    until(lambda: service.metric(ignored) == 3, "three events ignored")
    assert org.github.dispatches == [] and service.redis.xlen(service.keys.deliveries) == 0


def test_a_repository_without_its_workflow_runs_on_the_central_runner(
    service: Service, org: Org
) -> None:
    org.github.workflows = {}  # the repository keeps no IssuePilot workflow
    runner = org["runner"]
    first, second = deliver_label(org), deliver_label(org)
    until(lambda: len(runner.dispatches) == 2, "two runs on the runner")
    for issue, dispatch in zip([first, second], runner.dispatches, strict=True):
        inputs = dispatch["inputs"]
        assert inputs["repository"] == org.github.repo and inputs["issue"] == str(issue)
        trigger = carried(runner, dispatch, org.github.repo)
        assert (trigger.action, trigger.issue) == (Action.ENQUEUE, issue)
    # The repository's missing workflow is remembered: one refused request, not two.
    tried = [t for m, t, _ in org.github.requests if m == "POST" and "/dispatches" in t]
    assert len(tried) == 1 and org.github.dispatches == []


def test_the_organisations_defaults_decide_under_the_repositorys_own(
    service: Service, org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    org[".github"].commit_files(
        "main", {ORG_DEFAULTS: "run-steps-in: workers\nlabel-prefix: pilot\n"}, "defaults"
    )
    deliver_label(org, "issuepilot")  # not the organisation's trigger label
    issue = deliver_label(org, "pilot")
    until(lambda: service.added("steps") == 1, "a step for the workers")
    [step] = service.entries("steps")
    assert json.loads(step["body"])["issue"]["number"] == issue and org.github.dispatches == []
    # The repository's own file overrides a key: its steps run in Actions again, with the
    # organisation's label prefix still.
    org.github.commit_files("main", {ORG_DEFAULTS: "run-steps-in: actions\n"}, "own")
    monkeypatch.setattr(repos, "SETTINGS_TTL_S", 0.0)  # read again now, not in a minute
    deliver_label(org, "pilot")
    until(lambda: org.github.dispatches, "a workflow run")
    assert service.added("steps") == 1


@pytest.fixture
async def dispatcher(settings: ServiceSettings, org: Org) -> AsyncIterator[Dispatcher]:
    """A dispatcher of the test's own, fed by hand."""
    redis = await connect_redis(settings.redis_url.get_secret_value())
    queue = Queue(redis, ServiceKeys(settings.name))
    await queue.setup()
    clients = Repos(settings.app, retry=RetryPolicy(base_s=0))
    state = ServiceState(settings, queue, Metrics(), clients, APP_BOT)
    yield Dispatcher(state, "me", lambda _: None)
    await clients.aclose()
    await redis.aclose()


async def queued(dispatcher: Dispatcher, org: Org, label: str = "issuepilot") -> Entry:
    issue = org.github.open_issue("Greet")
    name, payload = org.github.label_event(issue, label)
    entry = new_entry(f"d-{issue}", name, org.github.repo, json.dumps(payload).encode())
    queue = dispatcher.queue
    await queue.add(queue.keys.deliveries, entry)
    [taken] = await queue.take(queue.keys.deliveries, DISPATCHERS, "me", 1, 100, 60_000)
    return taken


async def test_a_delivery_taken_twice_is_handed_on_once(
    dispatcher: Dispatcher, org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = await queued(dispatcher, org)
    assert await dispatcher.handle(entry) == "started"
    assert await dispatcher.handle(entry) == "duplicate"
    assert len(org.github.dispatches) == 1
    org[".github"].commit_files("main", {ORG_DEFAULTS: "run-steps-in: workers\n"}, "workers")
    monkeypatch.setattr(repos, "SETTINGS_TTL_S", 0.0)
    entry = await queued(dispatcher, org)
    assert await dispatcher.handle(entry) == "queued"
    assert await dispatcher.handle(entry) == "duplicate"
    assert await dispatcher.queue.redis.xlen(dispatcher.queue.keys.steps) == 1


async def test_a_passing_failure_is_tried_again_an_unclear_one_never(
    dispatcher: Dispatcher, org: Org
) -> None:
    org.github.fail("GET", r"/contents/\.github/issuepilot\.yml", status=502, times=4)
    entry = await queued(dispatcher, org)
    assert await dispatcher.handle(entry) == "retry"
    queue = dispatcher.queue
    pending = await queue.redis.xpending(queue.keys.deliveries, DISPATCHERS)
    assert pending["pending"] == 1  # left for a later attempt
    assert await dispatcher.handle(entry) == "started"
    # A dispatch whose answer is lost is asked again at once (a doubled run finds the task
    # advanced); one that keeps failing may have started the run: it is not tried again.
    org.github.lose_reply("POST", r"/dispatches$")
    entry = await queued(dispatcher, org)
    assert await dispatcher.handle(entry) == "started"
    assert len(org.github.dispatches) == 3
    org.github.fail("POST", r"/dispatches$", times=100)
    entry = await queued(dispatcher, org)
    assert await dispatcher.handle(entry) == "failed"
    assert await dispatcher.handle(entry) == "duplicate"
    assert len(org.github.dispatches) == 3


async def test_the_chore_sweeps_the_repositories_no_schedule_sweeps(
    dispatcher: Dispatcher, org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(repos, "SETTINGS_TTL_S", 0.0)
    assert await dispatcher.sweep() == 0  # nothing heard of yet
    await dispatcher.handle(await queued(dispatcher, org))
    assert await dispatcher.sweep() == 0  # its own workflow sweeps on its schedule
    org[".github"].commit_files("main", {ORG_DEFAULTS: "run-steps-in: workers\n"}, "workers")
    assert await dispatcher.sweep() == 1
    queue = dispatcher.queue
    [(_, step)] = await queue.redis.xrange(queue.keys.steps)
    body = json.loads(step[b"body"])
    assert body["inputs"] == {"issue": "", "command": "sweep"}
    assert body["sender"] == {"login": APP_BOT}
    # One copy of the service does the chore each period.
    assert await queue.my_turn("chores", 60) and not await queue.my_turn("chores", 60)
    # A repository the central runner serves is swept there.
    org[".github"].commit_files("main", {ORG_DEFAULTS: "run-steps-in: actions\n"}, "actions")
    org.github.workflows = {}
    assert await dispatcher.handle(await queued(dispatcher, org)) == "started"
    assert await dispatcher.sweep() == 1
    runner = org["runner"]
    assert runner.dispatches[-1]["inputs"] == {
        "repository": org.github.repo,
        "issue": "",
        "command": "sweep",
    }
