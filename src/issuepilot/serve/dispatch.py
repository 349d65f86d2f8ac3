"""The dispatcher: each queued delivery to where its step runs.

It reads the repository's settings (its organisation's defaults under its own file),
asks `decide` (the same as the Action) whether the event matters, and hands it on:

- `run-steps-in: actions` (the default): a `workflow_dispatch` of the repository's own
  IssuePilot workflow, or, for a repository without one, of a central runner
  repository's workflow, which checks the repository out with an App token for it alone.
  The event travels in the `event` input (`relay`), so the run acts as if GitHub had
  started it for the event, permission checks included. The client asks again at once
  when a dispatch's answer is lost (a doubled run finds the task advanced); the delivery
  is marked handed on before the request, so a dispatcher that dies mid-request, or a
  dispatch that keeps failing, starts no later run (a lost one only delays the task until
  its next event or sweep);
- `run-steps-in: workers`: an entry in the workers' queue, in the same script that
  finishes the delivery, so a step is queued once.

Entries that fail for a passing reason (GitHub or Redis unavailable, a rate limit) stay
pending and are taken again after a while, at most `MAX_ATTEMPTS` times.
"""

import asyncio
import dataclasses
import json
import time
import uuid
from collections.abc import Callable

from ..aio import CONCURRENCY, together
from ..errors import InputError, IssuePilotError
from ..events import DISPATCH_COMMANDS, Action, Payload, Trigger, decide, parse_payload
from ..github.client import GitHub
from ..github.errors import NotFound, ValidationFailed
from ..relay import INPUT, pack
from ..store import REDIS_FAILURES
from .queue import DISPATCHERS, Entry, new_entry
from .state import Service

MAX_ATTEMPTS = 10
CLAIM_IDLE_MS = 60_000  # a dispatcher's entry untouched this long is taken over
BATCH = 64  # entries taken at once; handed on CONCURRENCY at a time, as GitHub asks
RUNNER_MEMORY_S = 600.0  # a repository found without a workflow of its own, remembered
SERVED_DAYS = 30  # repositories heard of within this are swept


class Unclear(IssuePilotError):
    """Starting the run failed after the delivery was marked handed on: it is not tried
    again (it may have started)."""

    recoverable = False


class Dispatcher:
    def __init__(self, service: Service, consumer: str, say: Callable[[str], None] = print):
        self.service, self.consumer, self.say = service, consumer, say
        self.queue, self.metrics = service.queue, service.metrics
        self._uses_runner: dict[str, float] = {}  # repository -> until when
        self._runner_ref = ""

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                entries = await self.queue.take(
                    self.queue.keys.deliveries,
                    DISPATCHERS,
                    self.consumer,
                    BATCH,
                    200,  # ms: how soon a stop is noticed
                    CLAIM_IDLE_MS,
                )
            except REDIS_FAILURES as exc:
                self.say(f"dispatcher: Redis is unavailable ({exc}); trying again")
                await asyncio.sleep(1)
                continue
            try:
                await together(*(self.handle(entry) for entry in entries), limit=CONCURRENCY)
            except REDIS_FAILURES as exc:  # finishing an entry: it is taken again later
                self.say(f"dispatcher: Redis failed ({exc}); the entries are taken again later")

    async def handle(self, entry: Entry) -> str:
        """Hand one delivery on; what became of it."""
        engine, outcome = "-", "failed"
        try:
            engine, outcome, finished = await self._handle(entry)
        except Exception as exc:  # anything, a bug too, must not stop the others
            passing = not isinstance(exc, IssuePilotError) or exc.recoverable
            if passing and entry.attempts < MAX_ATTEMPTS:
                return self._later(entry, exc)
            self._failed(entry, exc)
            finished = False
        if not finished:
            await self.queue.done(self.queue.keys.deliveries, DISPATCHERS, entry)
        self.metrics.handed.labels(engine, outcome).inc()
        if outcome in ("started", "queued"):
            self.metrics.lag.observe(max(0.0, time.time() - entry.received))
        return outcome

    def _later(self, entry: Entry, exc: BaseException) -> str:
        self.metrics.errors.labels("retried").inc()
        self.say(f"{entry.repo} {entry.delivery}: {exc} (attempt {entry.attempts}, again later)")
        return "retry"

    def _failed(self, entry: Entry, exc: BaseException) -> None:
        self.metrics.errors.labels(type(exc).__name__).inc()
        self.say(f"{entry.repo} {entry.delivery}: not handed on: {exc}")

    async def _handle(self, entry: Entry) -> tuple[str, str, bool]:
        payload = parse_payload(json.loads(entry.body))
        config = await self.service.repos.config(entry.repo)
        rules = config.rules
        rules = dataclasses.replace(rules, bot_logins=rules.bot_logins | {self.service.bot})
        trigger = decide(entry.event, payload, rules)
        engine = config.run_steps_in
        if trigger.action is Action.IGNORE:
            return engine, "ignored", False
        await self.queue.heard_of(entry.repo)
        if engine == "workers":
            queued = await self.queue.hand_to_workers(entry)
            return engine, "queued" if queued else "duplicate", True
        target = await self._target(entry.repo, payload)
        inputs = {"issue": str(trigger.issue or ""), "command": command(trigger)}
        inputs[INPUT] = pack(entry.event, payload)
        if not await self.queue.claim_handing(entry.delivery):
            return engine, "duplicate", False
        try:
            await self._start(entry.repo, target, inputs)
        except IssuePilotError as exc:
            raise Unclear(f"{exc} (not tried again: the run may have started)") from None
        return engine, "started", False

    async def _target(self, repo: str, payload: Payload) -> tuple[GitHub, str]:
        """The client and branch of the workflow to start (found before the delivery is
        marked handed on: these calls may fail and be tried again)."""
        if self._runner_for(repo):
            return await self._runner()
        gh = self.service.repos.client(repo)
        shown = payload.repository
        if shown is not None and "default_branch" in shown.model_fields_set:
            return gh, shown.default_branch
        return gh, (await gh.get_repository()).default_branch

    async def _runner(self) -> tuple[GitHub, str]:
        settings = self.service.settings
        if not settings.runner_repo:
            raise InputError("no central runner repository is set (--runner-repo)")
        gh = self.service.repos.client(settings.runner_repo)
        if not self._runner_ref:
            self._runner_ref = (await gh.get_repository()).default_branch
        return gh, self._runner_ref

    def _runner_for(self, repo: str) -> bool:
        return self._uses_runner.get(repo.lower(), 0.0) > time.monotonic()

    async def _start(self, repo: str, target: tuple[GitHub, str], inputs: dict[str, str]) -> None:
        settings, (gh, ref) = self.service.settings, target
        if gh.repo.lower() == repo.lower():
            try:
                await _dispatch(gh, settings.workflow, ref, inputs)
                return
            except NotFound:
                if not settings.runner_repo:
                    raise InputError(
                        f"{repo} has no workflow {settings.workflow} to start, and no central "
                        "runner repository is set (--runner-repo)"
                    ) from None
            self._uses_runner[repo.lower()] = time.monotonic() + RUNNER_MEMORY_S
            gh, ref = await self._runner()
        await _dispatch(gh, settings.runner_workflow, ref, {"repository": repo, **inputs})

    async def sweep(self) -> int:
        """Start a sweep of every repository heard of lately whose sweep is not a workflow
        schedule of its own: those served by workers or by the central runner."""
        started = 0
        for repo in await self.queue.served(time.time() - SERVED_DAYS * 24 * 3600):
            try:
                started += await self._sweep_one(repo)
            except IssuePilotError as exc:
                self.say(f"{repo}: no sweep started: {exc}")
        return started

    async def _sweep_one(self, repo: str) -> int:
        config = await self.service.repos.config(repo)
        inputs = {"issue": "", "command": "sweep"}
        if config.run_steps_in == "workers":
            payload = {"inputs": inputs, "repository": {"full_name": repo}}
            body = json.dumps({**payload, "sender": {"login": self.service.bot}}).encode()
            entry = new_entry(f"sweep-{uuid.uuid4()}", "workflow_dispatch", repo, body)
            await self.queue.add(self.queue.keys.steps, entry)
            return 1
        if self._runner_for(repo):
            gh, ref = await self._runner()
            workflow = self.service.settings.runner_workflow
            await _dispatch(gh, workflow, ref, {"repository": repo, **inputs})
            return 1
        return 0  # the repository's own workflow sweeps on its schedule


def command(trigger: Trigger) -> str:
    """The dispatch's `command` input: what the run is for, as its inputs show it."""
    word = str(trigger.action)
    return word if word in DISPATCH_COMMANDS else "advance"


async def _dispatch(gh: GitHub, workflow: str, ref: str, inputs: dict[str, str]) -> None:
    try:
        await gh.dispatch(workflow, ref, inputs)
    except ValidationFailed as exc:
        raise InputError(
            f"{gh.repo}'s workflow {workflow} refused the run ({exc}): it must take the inputs "
            f"{', '.join(sorted(inputs))} (docs/serve.md)"
        ) from None
