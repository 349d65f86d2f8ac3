"""`issuepilot worker`: runs the steps of repositories whose steps run in `workers`.

A worker reads the steps stream through its consumer group, one entry at a time: first
an entry a silent worker left (`XAUTOCLAIM`, after `claim-idle` seconds), else a new one.
Each step runs as the Action runs it, with the same store, sandbox and agents: in a fresh
checkout of the repository's default branch, as the GitHub App, with the repository's
settings (its organisation's defaults under its own file). The entry is acknowledged once
the step is over, so its commit (a compare-and-set on the task's record) came first: a
worker killed mid-step leaves the entry to another, whose step finds the task as the dead
one left it, and at-least-once delivery does each step's work once in effect.

While a step runs, the worker keeps its entry fresh so nobody takes it over. A step that
finds another step's lease on the task (`planning`, `executing`) leaves its entry to be
taken again later: once that lease lapses the task is recovered and the step done.
"""

import asyncio
import contextlib
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import SecretStr

from ..config import DEFAULT_CONFIG_PATH, Settings, load_config
from ..errors import IssuePilotError
from ..events import Payload, parse_payload
from ..github.app import AppClient
from ..github.retry import RetryPolicy
from ..keys import ServiceKeys
from ..machine import LEASED
from ..store import REDIS_FAILURES
from ..wiring import connect_redis, run_step
from .checkout import fresh_checkout
from .metrics import WorkerMetrics
from .queue import WORKERS, Entry, Queue, new_entry
from .repos import Repos
from .settings import WorkerSettings

# A step found busy (or unable to begin) this often is dropped, and left to the sweep: with
# the default claim-idle, 50 minutes, past the default step lease of 30.
MAX_ATTEMPTS = 50
LEASED_STATES = {str(state) for state in LEASED}


class Worker:
    def __init__(
        self,
        settings: WorkerSettings,
        base: Settings,
        queue: Queue,
        bot: str,
        say: Callable[[str], None] = print,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.settings, self.base, self.queue, self.say = settings, base, queue, say
        self.bot = bot  # the App's bot: who starts a task's next step
        reads = {"contents": "read", "metadata": "read"}  # checkouts, settings files
        self.repos = Repos(settings.app, permissions=reads, retry=retry)
        self.metrics = WorkerMetrics()
        self.scratch = Path(tempfile.mkdtemp(prefix="issuepilot-worker-"))

    async def aclose(self) -> None:
        await self.repos.aclose()
        shutil.rmtree(self.scratch, ignore_errors=True)

    async def run(self, stop: asyncio.Event) -> None:
        keys, idle_ms = self.queue.keys, int(self.settings.claim_idle_s * 1000)
        while not stop.is_set():
            try:
                entries = await self.queue.take(
                    keys.steps, WORKERS, self.settings.consumer, 1, 1000, idle_ms
                )
            except REDIS_FAILURES as exc:
                self.say(f"worker: Redis is unavailable ({exc}); trying again")
                await asyncio.sleep(1)
                continue
            for entry in entries:
                await self.handle(entry)

    async def handle(self, entry: Entry) -> str:
        """Run one step and acknowledge it, unless it must be tried again later."""
        started = time.monotonic()
        keeping = asyncio.create_task(self._keep(entry))
        try:
            outcome = await self._step(entry)
        except IssuePilotError as exc:  # the task says so, where it could: done with
            self.say(f"{entry.repo}: the step failed: {exc}")
            outcome = "failed"
        except Exception as exc:  # not the step's: a later attempt may do better
            self.say(f"{entry.repo}: the step broke: {type(exc).__name__}: {exc}")
            outcome = "error"
        finally:
            keeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeping
        self.metrics.steps.labels(outcome).observe(time.monotonic() - started)
        if outcome in ("busy", "error") and entry.attempts < MAX_ATTEMPTS:
            return outcome  # left pending: taken again after claim-idle
        await self.queue.done(self.queue.keys.steps, WORKERS, entry)
        return outcome

    async def _keep(self, entry: Entry) -> None:
        keys, every = self.queue.keys, self.settings.claim_idle_s / 3
        while True:
            await asyncio.sleep(every)
            with contextlib.suppress(*REDIS_FAILURES):
                await self.queue.keep(keys.steps, WORKERS, self.settings.consumer, entry)

    async def _step(self, entry: Entry) -> str:
        payload = parse_payload(json.loads(entry.body))
        try:
            workspace = await self._checkout(entry.repo, payload)
        except IssuePilotError as exc:
            if not exc.recoverable:
                raise
            self.say(f"{entry.repo}: no checkout yet ({exc}): again later")
            return "error"  # the step has not begun: nothing of it may be lost
        try:
            settings = await self._settings(entry.repo, workspace)
            self.say(f"{entry.repo}: {entry.event} ({entry.delivery})")
            outputs, _ = await run_step(
                settings,
                entry.event,
                payload,
                say=lambda line: self.say(f"{entry.repo}: {line}"),
                next_step=lambda issue: self._next(entry.repo, issue),
            )
        finally:
            await asyncio.to_thread(shutil.rmtree, workspace, True)
        return "busy" if outputs.get("task-state") in LEASED_STATES else "done"

    async def _checkout(self, repo: str, payload: Payload) -> Path:
        """A fresh checkout of the repository's default branch."""
        gh = self.repos.client(repo)
        shown = payload.repository
        if shown is not None and "default_branch" in shown.model_fields_set:
            branch = shown.default_branch
        else:
            branch = (await gh.get_repository()).default_branch
        return await fresh_checkout(gh, branch, self.scratch)

    async def _settings(self, repo: str, workspace: Path) -> Settings:
        defaults = await self.repos.org_defaults(repo)
        config = load_config(workspace / DEFAULT_CONFIG_PATH, defaults)
        if self.bot not in config.bot_logins:  # its comments and labels are IssuePilot's own
            config = config.model_copy(update={"bot_logins": [*config.bot_logins, self.bot]})
        redis_url = self.settings.redis_url if self.settings.tasks_in == "redis" else None
        return self.base.model_copy(
            update={
                "repo": repo,
                "workspace": workspace,
                "config": config,
                "redis_url": redis_url or SecretStr(""),
                "workflow_ref": "",
                "run_url": "",
            }
        )

    async def _next(self, repo: str, issue: int) -> None:
        """A task's next step, queued for the workers as a dispatch of the App's."""
        payload = {
            "inputs": {"issue": str(issue), "command": "advance"},
            "repository": {"full_name": repo},
            "sender": {"login": self.bot},
        }
        entry = new_entry(f"next-{time.time_ns()}", "workflow_dispatch", repo, _json(payload))
        await self.queue.add(self.queue.keys.steps, entry)


async def work(
    settings: WorkerSettings, base: Settings, stop: asyncio.Event, say: Callable[[str], None]
) -> None:
    """Run steps until `stop` is set."""
    app = settings.app
    github = AppClient(app.app_id, app.private_key.get_secret_value(), app.api_url, app.http_log)
    try:
        bot = f"{await github.slug()}[bot]"  # who IssuePilot is here
    finally:
        await github.aclose()
    redis = await connect_redis(settings.redis_url.get_secret_value())
    queue = Queue(redis, ServiceKeys(settings.name))
    worker = Worker(settings, base, queue, bot, say)
    try:
        await queue.setup()
        if settings.metrics_port:
            from prometheus_client import start_http_server

            start_http_server(settings.metrics_port, registry=worker.metrics.registry)
        await worker.run(stop)
    finally:
        await worker.aclose()
        await redis.aclose()


def _json(data: object) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()
