"""A chaos run: task lifecycles driven to their end while GitHub fails, runs die, the store
forgets and an event goes missing; then the invariants every end must keep.

One seed decides everything. `lifecycles` issues are handed to IssuePilot, each naming one
of a few files (so tasks wait for each other's locks); people act on what the issues show
(approve a plan in review, retry a failed task, merge an open pull request), each action
starting the run its event would start. Throughout, every GitHub request fails at `rate`
(half answered 502 unserved, half served with the reply lost), a run now and then dies at
a random request (before or after GitHub carried it out), the store is wiped once (the
repository's Redis keys, or the ledger's branch), one merge's event never arrives, and
time passes so that dead steps' leases lapse. Then the sweep runs, with the dispatches it
makes, until a round of it changes nothing; and `violations` lists every broken rule.

Runs are the real runner and steps in-process (`FakeGitHub.transport()`), one at a time,
with the real stores: Redis, or the ledger through the fake GitHub.
"""

import random
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from redis.asyncio import Redis

from ..agents.base import IssueText, RepoFiles
from ..agents.budget import Budget
from ..agents.tools import ToolBox
from ..config import RepoConfig, Settings
from ..errors import IssuePilotError
from ..events import decide, parse_payload
from ..github.client import GitHub
from ..github.retry import RetryPolicy
from ..github.status import Seal
from ..keys import Keys
from ..ledger import BRANCH, FILE, Ledger, LedgerLocks, LedgerStore
from ..locks import FileLocks, LockManager
from ..machine import TaskState
from ..models import Plan, PlannedFile, Task, Usage
from ..runner import run
from ..steps.context import Context
from ..store import RedisTaskStore, TaskStore
from ..table import Table
from .github import FakeGitHub
from .invariants import broken
from .memory import Clock

S = TaskState
FILES = {"README.md": "# Project\n", "src/app.py": "X = 1\n", "src/util.py": "Y = 2\n"}
KEY = "the-chaos-record-key"
KILLED = 0.2  # the share of runs that die, at one of their first ten requests
Event = tuple[str, Any]


class Killed(Exception):
    """The run's process died at this point."""


@dataclass
class Figures:
    tasks: int = 0
    runs: int = 0
    killed: int = 0
    faults: int = 0
    sweeps: int = 0
    seconds: float = 0.0


@dataclass
class ChaosAgent:
    """Plans to modify the files the issue names; writes one line more into each."""

    budget: Budget
    notices: list[str] = field(default_factory=list)
    label: str = "the chaos run's agent"
    message: str = ""

    async def plan(self, issue: IssueText, context: RepoFiles, tools: ToolBox) -> Plan:
        paths = sorted(p for p in FILES if f"`{p}`" in issue.body) or ["NOTES.md"]
        files = [PlannedFile(path=p, why="named in the issue") for p in paths]
        return Plan(summary="Change what the issue names.", steps=["Edit"], files=files)

    async def execute(
        self, issue: IssueText, plan: Plan, tools: ToolBox, feedback: str = ""
    ) -> str:
        for path in plan.paths:
            text = await tools.workspace.read(path) or ""
            if refused := await tools.write(path, f"{text}# for #{issue.number}\n"):
                raise IssuePilotError(refused)
        return "Apply the approved plan"

    async def aclose(self) -> None:
        pass


@dataclass
class Chaos:
    seed: int
    store: str  # "redis" or "ledger"
    redis_url: str = ""
    lifecycles: int = 6
    rate: float = 0.2
    repo: str = ""
    figures: Figures = field(default_factory=Figures)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.repo = self.repo or f"chaos/s{self.seed}-{self.store}-{random.getrandbits(32):x}"
        self.github = FakeGitHub(self.repo, files=FILES)
        self.clock = Clock()
        self.github.clock = self.clock
        self.config = RepoConfig(retry_backoff_seconds=0)
        self.redis: Redis | None = Redis.from_url(self.redis_url) if self.store == "redis" else None
        self.served = self.github.transport()
        self.kill_at: tuple[int, bool] | None = None  # (request number, after it was served)
        self.requests = 0
        self.issues: list[int] = []
        self.log: list[str] = []  # what the runs said, for a failure's report
        self.wiped, self.dropped = False, 0  # the store was wiped; whose merge went unheard

    # -- one run -------------------------------------------------------------------------

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        dies = self.kill_at is not None and self.requests == self.kill_at[0]
        if dies and self.kill_at is not None and not self.kill_at[1]:
            raise Killed(f"before {request.method} {request.url.path}")
        response = self.served.handle_request(request)
        if dies:
            raise Killed(f"after {request.method} {request.url.path}")
        return response

    def _stores(self, gh: GitHub) -> tuple[TaskStore, LockManager]:
        if self.redis is not None:
            return RedisTaskStore(self.redis, self.repo), FileLocks(self.redis, self.repo)
        ledger = Ledger(gh, clock=self.clock, rng=self.rng, seal=Seal.of(self.repo, KEY))
        return LedgerStore(ledger), LedgerLocks(ledger)

    def settings(self) -> Settings:
        return Settings(
            repo=self.repo,
            api_url="https://api.github.test",
            token="ghs_fake",
            workflow_ref=f"{self.repo}/.github/workflows/issuepilot.yml@refs/heads/main",
            run_url=f"https://github.com/{self.repo}/actions/runs/{self.figures.runs}",
            record_key=KEY if self.store == "ledger" else "",
            config=self.config,
        )

    async def step(self, event: Event, may_die: bool = True) -> None:
        """One workflow run for `event`; it may die at a random request."""
        self.figures.runs += 1
        self.clock.advance(self.rng.uniform(1, 5))
        settings, payload = self.settings(), parse_payload(event[1])
        retry = RetryPolicy(base_s=0, max_wait_s=0)
        transport = httpx.MockTransport(self._handle)
        gh = GitHub(self.repo, "ghs_fake", settings.api_url, transport=transport, retry=retry)
        store, locks = self._stores(gh)
        self.requests = 0
        dies = may_die and self.rng.random() < KILLED
        self.kill_at = (self.rng.randint(1, 10), self.rng.random() < 0.5) if dies else None

        def agent(role: str, spent: Usage) -> ChaosAgent:
            return ChaosAgent(Budget.of(self.config, spent))

        ctx = Context(
            settings=settings,
            gh=gh,
            store=store,
            locks=locks,
            agent=agent,
            trigger=decide(event[0], payload, self.config.rules),
            payload=payload,
            now=self.clock,
            out=lambda line: self.log.append(f"  {line}"),
        )
        self.log.append(f"run {self.figures.runs}: {event[0]} {ctx.trigger.reason}")
        try:
            self.log.append(f"  => {(await run(ctx)).message}")
        except Killed as killed:
            self.figures.killed += 1
            self.log.append(f"  killed {killed}")
        except IssuePilotError as exc:  # exit 1: the task is where a later run recovers it
            self.log.append(f"  failed: {exc}")
        finally:
            self.kill_at = None
            await gh.aclose()

    async def drain(self, may_die: bool = True) -> None:
        """The runs the action dispatched for itself."""
        while self.github.dispatches:
            inputs = self.github.dispatches.pop(0)["inputs"]
            await self.step(self.github.dispatch_event(inputs), may_die)

    async def sweep(self, may_die: bool = True) -> None:
        self.figures.sweeps += 1
        await self.step(self.github.schedule_event(), may_die)
        await self.drain(may_die)

    # -- what people and time do ---------------------------------------------------------

    def labels(self, issue: int) -> set[str]:
        return set(self.github.issues[issue].labels)

    def open_pull(self, issue: int) -> int | None:
        branch = self.config.rules.labels.branch(issue)
        pulls = self.github.pulls.values()
        return next(
            (p["number"] for p in pulls if p["head"] == branch and p["state"] == "open"), None
        )

    def people(self, dropped: int) -> list[Event]:
        """What the maintainers do, seeing the issues: each action's event (None for a
        merge whose event is lost)."""
        events, gh, labels = [], self.github, self.config.rules.labels
        for issue in self.issues:
            shown = self.labels(issue)
            if labels.state(S.PLAN_REVIEW) in shown and labels.approved not in shown:
                events.append(gh.label_event(issue, labels.approved))
            elif labels.state(S.FAILED) in shown and self.rng.random() < 0.5:
                events.append(gh.comment_event(issue, "/issuepilot retry"))
            elif (pr := self.open_pull(issue)) is not None and self.rng.random() < 0.5:
                merged = gh.merge_pull(pr)
                if issue != dropped:
                    events.append(merged)
        return events

    async def time_passes(self) -> None:
        """Long enough for a dead step's lease, and its file locks, to lapse."""
        seconds = self.config.lease_s + 60
        self.clock.advance(seconds)
        if self.redis is None:
            return  # the ledger's locks follow the clock
        keys = Keys(self.repo)
        server, _ = await self.redis.time()
        soon = (server + seconds) * 1000
        for path, value in (await self.redis.hgetall(keys.locks)).items():
            holder, until = _text(value).rsplit(" ", 1)
            if int(until) <= soon:
                now = server * 1000 - 1
                await self.redis.hset(keys.locks, _text(path), f"{holder} {now}")
                await self.redis.zadd(keys.expiry, {_text(path): now})

    async def wipe(self) -> None:
        """The store loses everything of the repository."""
        self.log.append("the store loses everything")
        self.wiped = True
        if self.redis is None:
            self.github.refs.pop(f"heads/{BRANCH}", None)
            return
        keys = [k async for k in self.redis.scan_iter(match=f"{Keys(self.repo).prefix}*")]
        if keys:
            await self.redis.delete(*keys)

    # -- the run ---------------------------------------------------------------------------

    async def play(self) -> Figures:
        started = time.perf_counter()
        gh, labels = self.github, self.config.rules.labels
        for n in range(self.lifecycles):
            body = f"Change `{list(FILES)[1 + n % 2]}` please."
            self.issues.append(gh.open_issue(f"Task {n + 1}", body))
        gh.flaky(self.rate, self.rng)
        wipe_at, self.dropped = self.rng.randint(2, 8), self.rng.choice(self.issues)
        for issue in self.issues:
            await self.step(gh.label_event(issue, labels.trigger))
        for turn in range(60):
            await self.drain()
            if turn == wipe_at:
                await self.wipe()
            for event in self.people(self.dropped):
                await self.step(event)
            if turn % 3 == 2:
                await self.time_passes()
                await self.sweep()
            if await self.finished():
                break
        await self.settle()
        self.figures.tasks = len(self.issues)
        self.figures.faults = gh.injected
        self.figures.seconds = time.perf_counter() - started
        return self.figures

    async def finished(self) -> bool:
        found = await self._load()
        return all(t is not None and t.state is S.DONE for t in found.values())

    async def settle(self, rounds: int = 12) -> None:
        """Sweep (with the dispatches it makes) until a round of it changes nothing."""
        for _ in range(rounds):
            before = await self.snapshot()
            await self.time_passes()
            await self.sweep(may_die=False)
            if await self.snapshot() == before:
                return

    async def snapshot(self) -> Any:
        gh = self.github
        tasks = {n: t.to_json() if t else None for n, t in (await self._load()).items()}
        shown = {n: sorted(i.labels) for n, i in gh.issues.items()}
        comments = {c: b["body"] for c, b in gh.comments.items()}
        pulls = {n: (p["state"], p["merged"]) for n, p in gh.pulls.items()}
        return tasks, shown, comments, pulls

    async def _load(self) -> dict[int, Task | None]:
        """The records as the store holds them, read past the faults."""
        if self.redis is None:
            table = self._ledger()
            return {n: table.load(n) for n in self.issues}
        found = await RedisTaskStore(self.redis, self.repo).load_many(self.issues)
        return {n: found.get(n) for n in self.issues}

    def _ledger(self) -> Table:
        text = (
            self.github.files_at(BRANCH).get(FILE)
            if f"heads/{BRANCH}" in self.github.refs
            else None
        )
        return Table.from_json(text, Seal.of(self.repo, KEY)) if text else Table()

    async def _holders(self) -> dict[str, str]:
        if self.redis is None:
            return self._ledger().holders(list(FILES), self.clock())
        return await FileLocks(self.redis, self.repo).holders(list(FILES))

    async def violations(self) -> list[str]:
        """Every invariant the run's end breaks (see `invariants.broken`)."""
        tasks = await self._load()
        return broken(self.github, self.config.rules.labels, tasks, await self._holders())

    async def aclose(self) -> None:
        if self.redis is not None:
            await self.wipe()
            await self.redis.aclose()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
