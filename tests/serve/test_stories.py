"""The lifecycle driven through the service: `issuepilot serve` and `issuepilot worker` as
processes, the App's webhooks delivered to it as GitHub delivers them, on both stores.

In `actions` the service starts the repository's workflow; each run is then what the
runner would do with it (the real `issuepilot step`, as the e2e harness runs them). In
`workers` real worker processes run every step, and one killed mid-step leaves its step
to another, which does it once."""

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from issuepilot.github.status import parse_record
from issuepilot.keys import ServiceKeys
from issuepilot.relay import INPUT
from issuepilot.testing.github import App, FakeGitHub, FakeOrg, Hooks

from ..e2e.harness import World, passthrough, rsa_key
from ..github.openapi import check_request
from .conftest import APP_BOT, APP_ID, SECRET, until

pytestmark = pytest.mark.story
DEFAULTS = ".github/issuepilot.yml"


@dataclass
class Served:
    """The service (a process) in front of the world's repository."""

    world: World
    org: FakeOrg
    hooks: Hooks
    name: str
    redis_url: str
    env: dict[str, str]
    url: str = ""
    processes: list[subprocess.Popen[str]] = field(default_factory=list)
    logs: dict[int, Path] = field(default_factory=dict)

    @property
    def github(self) -> FakeGitHub:
        return self.world.github

    def start(self, *command: str) -> subprocess.Popen[str]:
        """A process of the service's, its output in a file of its own (a pipe nobody
        reads would fill up and stop it)."""
        log = self.world.tmp / f"{command[0]}-{len(self.processes)}.log"
        with log.open("w") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "issuepilot", *command],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )
        self.processes.append(proc)
        self.logs[proc.pid] = log
        return proc

    def output(self, proc: subprocess.Popen[str]) -> str:
        return self.logs[proc.pid].read_text()

    def worker(self, consumer: str) -> subprocess.Popen[str]:
        tasks_in = "redis" if self.world.store == "redis" else "github"
        return self.start(
            "worker",
            *("--redis-url", self.redis_url, "--name", self.name, "--tasks-in", tasks_in),
            *("--consumer", consumer, "--claim-idle", "2"),
        )

    def deliver(self, event: tuple[str, Any]) -> None:
        assert self.hooks.deliver(event)["status_code"] == 202

    def started_run(self) -> dict[str, Any]:
        """The workflow run the service started (the one dispatch carrying an event)."""
        until(lambda: any(INPUT in d["inputs"] for d in self.github.dispatches), "a run")
        [run] = [d for d in self.github.dispatches if INPUT in d["inputs"]]
        self.github.dispatches.remove(run)
        return run

    def run_started(self) -> Any:
        """Carry out the run the service started, as the runner would."""
        run = self.started_run()
        assert (run["workflow"], run["ref"]) == ("issuepilot.yml", "main")
        return self.world.step(self.github.dispatch_event(run["inputs"], APP_BOT))

    def labels(self, issue: int) -> set[str]:
        return set(self.github.issues[issue].labels)

    def steps_left(self) -> int:
        client = redis.Redis.from_url(self.redis_url)
        try:
            return int(client.xlen(ServiceKeys(self.name).steps))
        finally:
            client.close()


@pytest.fixture
def served(world: World, redis_url: str, tmp_path: Path) -> Iterator[Served]:
    gh = world.github
    owner = gh.repo.split("/")[0]
    private, public = rsa_key()
    hooks = Hooks(url="http://127.0.0.1:9/", secret=SECRET, app_id=APP_ID)
    dotgithub = FakeGitHub(f"{owner}/.github", files={"README.md": "# Defaults\n"})
    runner = FakeGitHub(f"{owner}/runner", files={"README.md": "# Runs IssuePilot\n"})
    inputs = {"issue", "command", INPUT}
    gh.workflows = {"issuepilot.yml": inputs}
    runner.workflows = {"issuepilot.yml": inputs | {"repository"}}
    name = f"story-{uuid.uuid4().hex[:10]}"
    world.checkout()
    with FakeOrg(gh, dotgithub, runner, app=App(APP_ID, public), hooks=hooks) as org:
        env = {
            **passthrough(),
            "ISSUEPILOT_APP_ID": APP_ID,
            "ISSUEPILOT_APP_PRIVATE_KEY": private,
            "ISSUEPILOT_WEBHOOK_SECRET": SECRET,
            "ISSUEPILOT_REDIS_URL": redis_url,
            "ISSUEPILOT_MODEL": "fake-model",
            "ISSUEPILOT_MODEL_BASE_URL": world.model.url,
            "ISSUEPILOT_MODEL_API_KEY": "fake-model-key",
            "ISSUEPILOT_HTTP_LOG": str(tmp_path / "served-http.jsonl"),
            "GITHUB_API_URL": org.url,
        }
        served = Served(world, org, hooks, name, redis_url, env)
        service = served.start("serve", "--port", "0", "--name", name, "--runner-repo", runner.repo)
        started = lambda: "listening on" in served.output(service) or service.poll() is not None  # noqa: E731
        until(started, "the service to listen")
        assert "listening on" in served.output(service), served.output(service)
        served.url = served.output(service).split("listening on ", 1)[1].split()[0]
        until(lambda: healthy(served.url), "the service to answer")
        hooks.url = served.url + "/webhooks/github"
        try:
            yield served
        finally:
            for proc in served.processes:
                proc.send_signal(signal.SIGTERM)
            for proc in served.processes:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            client = redis.Redis.from_url(redis_url)
            keys = list(client.scan_iter(match=f"{ServiceKeys(name).prefix}*"))
            if keys:
                client.delete(*keys)
            client.close()
    for log in (tmp_path / "served-http.jsonl", world.http_log):
        for line in log.read_text().splitlines() if log.exists() else []:
            entry = json.loads(line)
            if "/archives/" not in entry["url"]:
                check_request(entry["method"], entry["url"], entry["body"])


def healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def history(world: World, issue: int) -> list[str]:
    record = parse_record(world.comment(issue))
    assert record is not None
    return [entry.state for entry in record.task.history]


def test_the_lifecycle_through_the_service_in_actions(served: Served) -> None:
    world, gh = served.world, served.github
    issue = gh.open_issue("Greet politely", "The greeting in `src/app.py` needs a `!`.")
    served.deliver(gh.label_event(issue, "issuepilot"))
    queued = served.run_started()
    assert queued.code == 0 and queued.outputs["task-state"] == "queued", queued.stderr
    [planned] = world.drain()  # the run the step itself started next, with GITHUB_TOKEN
    assert planned.outputs["task-state"] == "plan-review"
    # An outsider's approval reaches the run with its author, who is refused there.
    served.deliver(gh.label_event(issue, "issuepilot:approved", "mallory"))
    refused = served.run_started()
    assert refused.outputs["task-state"] == "plan-review"
    assert "issuepilot:approved" not in served.labels(issue)
    served.deliver(gh.comment_event(issue, "/issuepilot approve"))
    approved = served.run_started()
    assert approved.outputs["task-state"] == "approved", approved.stdout + approved.stderr
    [executed] = world.drain()
    pr = int(executed.outputs["pr-number"])
    assert executed.outputs["task-state"] == "pr-open"
    served.deliver(gh.merge_pull(pr))
    done = served.run_started()
    assert done.outputs["task-state"] == "done"
    assert gh.dispatches == []  # every run accounted for
    states = history(world, issue)
    assert states == ["queued", "planning", "plan-review", "approved", "executing"] + [
        "pr-open",
        "done",
    ]


def test_a_repository_without_its_workflow_runs_on_the_central_runner(served: Served) -> None:
    world, gh = served.world, served.github
    runner = served.org[f"{gh.owner}/runner"]
    gh.workflows = {}  # the repository keeps no IssuePilot workflow
    issue = gh.open_issue("Greet politely", "The greeting in `src/app.py` needs a `!`.")
    served.deliver(gh.label_event(issue, "issuepilot"))
    until(lambda: runner.dispatches, "a run on the runner")
    [run] = runner.dispatches
    assert run["inputs"]["repository"] == gh.repo
    # The runner's job: the repository checked out with a token for it alone, the step told
    # which repository it is for, and more than one step in the job (its next run cannot
    # be started from there: the service or the sweep starts it).
    world.extra_env = {
        "GITHUB_REPOSITORY": runner.repo,
        "GITHUB_WORKFLOW_REF": f"{runner.repo}/.github/workflows/issuepilot.yml@refs/heads/main",
        "ISSUEPILOT_REPOSITORY": gh.repo,
        "ISSUEPILOT_MAX_STEPS": "3",
    }
    result = world.step(runner.dispatch_event(run["inputs"], APP_BOT))
    assert result.code == 0, result.stdout + result.stderr
    assert result.outputs["task-state"] == "plan-review"  # queued, then planned, one job
    assert gh.dispatches == [] and runner.dispatches == [run]
    assert history(world, issue) == ["queued", "planning", "plan-review"]


def workers_serve(served: Served) -> None:
    served.org[f"{served.github.owner}/.github"].commit_files(
        "main", {DEFAULTS: "run-steps-in: workers\n"}, "IssuePilot's steps run in workers"
    )


def test_the_lifecycle_through_the_service_with_workers(served: Served) -> None:
    workers_serve(served)
    world, gh = served.world, served.github
    served.worker("one")
    issue = gh.open_issue("Greet politely", "The greeting in `src/app.py` needs a `!`.")
    served.deliver(gh.label_event(issue, "issuepilot"))
    wait = 90.0
    until(lambda: "issuepilot:plan-review" in served.labels(issue), "the plan", wait)
    # A person approves what they see once the step is over (an approval sent before the
    # plan was last shown does not count).
    until(lambda: served.steps_left() == 0, "the plan step to end", wait)
    served.deliver(gh.label_event(issue, "issuepilot:approved"))
    until(lambda: "issuepilot:pr-open" in served.labels(issue), "the pull request", wait)
    until(lambda: served.steps_left() == 0, "the execute step to end", wait)
    [pr] = [n for n, p in gh.pulls.items() if p["head"] == f"issuepilot/issue-{issue}"]
    assert gh.files_at(gh.pulls[pr]["head"])["src/app.py"].endswith("Updated by IssuePilot.\n")
    served.deliver(gh.merge_pull(pr))
    until(lambda: "issuepilot:done" in served.labels(issue), "the task to end", wait)
    until(lambda: served.steps_left() == 0, "the last step to end", wait)
    assert gh.dispatches == []  # no workflow run: the workers did it all
    assert history(world, issue) == [
        "queued",
        "planning",
        "plan-review",
        "approved",
        "executing",
        "pr-open",
        "done",
    ]


@pytest.mark.stores("redis")
def test_a_worker_killed_mid_step_leaves_it_to_another_which_does_it_once(
    served: Served,
) -> None:
    workers_serve(served)
    world, gh = served.world, served.github
    issue = gh.open_issue("Greet politely", "The greeting in `src/app.py` needs a `!`.")
    # The plan step is held while it writes the status comment; its worker dies there.
    arrived, release = gh.hold("POST", rf"/issues/{issue}/comments$")
    doomed = served.worker("doomed")
    served.deliver(gh.label_event(issue, "issuepilot"))
    assert arrived.wait(90), "the plan step never wrote its status comment"
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait()
    release.set()  # the comment is made after all: the next attempt must find it
    world.expire_lease(issue, locks=False)  # what the passing of time would do
    heir = served.worker("heir")
    until(lambda: "issuepilot:plan-review" in served.labels(issue), "the plan", 90)
    until(lambda: served.steps_left() == 0, "the queue to empty")
    assert history(world, issue) == ["queued", "planning", "queued", "planning", "plan-review"]
    record = parse_record(world.comment(issue))  # one status comment, not two
    assert record is not None and record.task.plan_version == 1
    out = served.output(heir)
    assert out.count(": workflow_dispatch (next-") == 1, out  # the step it took over, once
