"""In-process runs: the real runner and steps against the fake GitHub served through
`httpx.MockTransport`, the in-memory store and locks on an injected clock, and a scripted
agent. No subprocess, no socket, no sleeping: a failure names the broken rule.

Races are staged, never timed: `Sim.rival` lands another run's commit right before one of
this run's, `Sim.on_request` acts (or kills the run) when a given GitHub request arrives,
`Sim.hold_loads` makes concurrent runs read the same version before either writes, and a
scripted agent answer may itself be a coroutine that runs a second run mid-step.
"""

import asyncio
import inspect
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from issuepilot.agents.base import IssueText, RepoFiles
from issuepilot.agents.budget import Budget
from issuepilot.agents.tools import ToolBox
from issuepilot.config import RepoConfig, Settings
from issuepilot.errors import IssuePilotError
from issuepilot.events import decide, parse_payload
from issuepilot.github.auth import AppAuth
from issuepilot.github.client import GitHub
from issuepilot.github.retry import RetryPolicy
from issuepilot.github.status import MARKER, parse_record
from issuepilot.github.untrusted import Redactor
from issuepilot.keys import Keys
from issuepilot.machine import FINAL, LEASED, TaskState, shown
from issuepilot.models import ChangeSet, FileChange, Plan, PlannedFile, Task, Usage
from issuepilot.runner import run
from issuepilot.steps.context import Context, Outcome
from issuepilot.steps.scope import ScopeError
from issuepilot.testing.github import FakeGitHub
from issuepilot.testing.github.state import BOT, Issue
from issuepilot.testing.loopback import LostReply
from issuepilot.testing.memory import Clock, MemoryLocks, MemoryStore

Event = tuple[str, Any]
REPO = "octo/app"
API_URL = "https://api.github.test"
FILES = {
    "README.md": "# Project\n",
    "src/app.py": 'def greet(name):\n    return "Hello " + name\n',
    "src/util.py": "X = 1\n",
}
NAMED = re.compile(r"`([\w./-]+\.\w+)`")
S = TaskState
T = TypeVar("T")
Write = Callable[[Plan, RepoFiles], ChangeSet | Awaitable[ChangeSet]]
PlanScript = Callable[[IssueText, RepoFiles], Awaitable[Plan]]
# Where a seeded task rested before its state (the state it returns to on expiry or retry).
RESTED = {S.PLANNING: S.QUEUED, S.EXECUTING: S.APPROVED, S.FAILED: S.APPROVED}


class Killed(Exception):
    """The runner died at this point (a test kills a run on purpose)."""


class LocalGitHub(FakeGitHub):
    """The fake GitHub without its loopback server: every request arrives through
    `httpx.MockTransport`, so links it writes into answers point at the API URL."""

    @property
    def url(self) -> str:
        return API_URL + self.prefix


def named_plan(issue: IssueText) -> Plan:
    """The default plan: modify the files the issue names in backticks."""
    return plan_of(*sorted(set(NAMED.findall(issue.body))) or ["NOTES.md"])


def plan_of(*paths: str, summary: str = "Make the change the issue asks for.") -> Plan:
    """A plan to modify `paths`, as the default planner words it."""
    return Plan(
        summary=summary,
        steps=[f"Edit {p}" for p in paths],
        files=[PlannedFile(path=p, why="named in the issue") for p in paths],
    )


def append_line(plan: Plan, files: RepoFiles) -> ChangeSet:
    """The default change: one line appended to every planned file."""
    return ChangeSet(
        files=[
            FileChange(path=p, content=(files.files.get(p) or "") + "Updated by IssuePilot.\n")
            for p in plan.paths
        ],
        message="Apply the approved plan",
    )


def also_write(*paths: str) -> Write:
    """A change: the default one, plus a line appended to `paths` (outside the plan)."""

    def write(plan: Plan, files: RepoFiles) -> ChangeSet:
        change = append_line(plan, files)
        extra = [FileChange(path=p, content="Also updated.\n") for p in paths]
        return ChangeSet(files=[*change.files, *extra], message=change.message)

    return write


@dataclass
class ScriptedAgent:
    """Both roles; answers from the simulation's scripts, counting one call each. A plan
    script may be a coroutine function, and a write may return an awaitable: the test then
    acts while the step waits for its agent."""

    sim: "Sim"
    budget: Budget
    notices: list[str] = field(default_factory=list)
    label: str = "the scripted agent"
    message: str = ""

    async def plan(self, issue: IssueText, context: RepoFiles, tools: ToolBox) -> Plan:
        self.sim.planned.append((issue, context))
        self.budget.check()
        script = self.sim.plans.pop(0) if self.sim.plans else named_plan(issue)
        answer = await script(issue, context) if callable(script) else script
        return self._spend(answer)

    async def execute(
        self, issue: IssueText, plan: Plan, tools: ToolBox, feedback: str = ""
    ) -> str:
        """Write the scripted change through the tools (every write is guarded)."""
        files = RepoFiles({p: await tools.workspace.read(p) for p in plan.paths})
        self.sim.executed.append((issue, files))
        self.sim.feedback.append(feedback)
        self.budget.check()
        write = self.sim.writes.pop(0) if self.sim.writes else append_line
        answer = write(plan, files)
        if inspect.isawaitable(answer):
            answer = await answer
        change = self._spend(answer)
        for file in change.files:
            if refused := await tools.write(file.path, file.content):
                raise ScopeError(refused)
        return change.message

    def _spend(self, answer: T | IssuePilotError) -> T:
        self.budget.calls += 1
        self.budget.tokens += 150
        if isinstance(answer, IssuePilotError):
            raise answer
        return answer

    async def aclose(self) -> None:
        pass


@dataclass
class Hook:
    """Run `action` when a matching request arrives (before the fake carries it out), or
    after it was carried out (`after`); `action` may raise `Killed` to end the run there."""

    method: str
    pattern: re.Pattern[str]
    action: Callable[[], None]
    after: bool = False
    times: int = 1


def transport(fake: FakeGitHub, hooks: list[Hook] | None = None) -> httpx.MockTransport:
    """The fake's API, and its log host (where job logs are read, without the token)."""
    hooks = hooks if hooks is not None else []
    logs = fake.log_host.transport()

    def fire(method: str, target: str, after: bool) -> None:
        for hook in list(hooks):
            if hook.times > 0 and hook.after is after and hook.method == method:
                if hook.pattern.search(target):
                    hook.times -= 1
                    hook.action()

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.host == httpx.URL(fake.log_host.origin).host:
            return logs.handle_request(request)
        auth = request.headers.get("authorization", "")
        method, target = request.method, request.url.raw_path.decode()
        fire(method, target, after=False)
        try:
            status, body, headers = fake.handle(method, target, request.content, auth)
        except LostReply:
            raise httpx.ReadError("connection lost", request=request) from None
        fire(method, target, after=True)
        content = b"" if status == 204 else json.dumps(body).encode()
        headers = {**headers, "Content-Type": "application/json"}
        return httpx.Response(status, content=content, headers=headers)

    return httpx.MockTransport(handle)


@dataclass
class Rival:
    issue: int
    skip: int  # commits of this task to let through first
    changes: dict[str, Any]


class SimStore(MemoryStore):
    """The in-memory store, where another run's commit can be made to land first."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self.rivals: list[Rival] = []
        self._barrier: asyncio.Barrier | None = None
        self._parties = 0

    def overwrite(self, issue: int, **changes: Any) -> None:
        """Another run commits `changes` to the task (a new version)."""
        version, data = self.records.get(issue, (0, ""))
        old = Task.model_validate_json(data) if data else Task(issue=issue, state=S.QUEUED)
        self.records[issue] = (version + 1, old.model_copy(update=changes).to_json())

    def hold_loads(self, parties: int) -> None:
        """The next `parties` loads wait for one another: concurrent runs read the same
        version before any of them writes."""
        self._barrier, self._parties = asyncio.Barrier(parties), parties

    async def load(self, issue: int) -> Task | None:
        task = await super().load(issue)
        if self._barrier is not None and self._parties > 0:
            barrier = self._barrier
            self._parties -= 1
            if self._parties == 0:
                self._barrier = None
            await barrier.wait()  # having read: the others read the same version
        return task

    async def commit(self, task: Task) -> Task | None:
        for rival in list(self.rivals):
            if rival.issue != task.issue:
                continue
            if rival.skip:
                rival.skip -= 1
                continue
            self.rivals.remove(rival)
            self.overwrite(task.issue, **rival.changes)
        return await super().commit(task)


@dataclass
class Sim:
    github: FakeGitHub
    config: RepoConfig = field(default_factory=RepoConfig)
    clock: Clock = field(default_factory=Clock)
    workspace: Path | None = None
    workflow_ref: str = f"{REPO}/.github/workflows/issuepilot.yml@refs/heads/main"
    max_steps: int = 1
    app_permissions: dict[str, str] | None = None  # set: the runs authenticate as an App
    runner_env: dict[str, str] = field(default_factory=dict)  # the job's environment
    plans: list[Plan | IssuePilotError | PlanScript] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)
    planned: list[tuple[IssueText, RepoFiles]] = field(default_factory=list)
    executed: list[tuple[IssueText, RepoFiles]] = field(default_factory=list)
    feedback: list[str] = field(default_factory=list)  # what each execute round was told
    said: list[str] = field(default_factory=list)
    dispatched: list[int] = field(default_factory=list)
    hooks: list[Hook] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.store = SimStore(self.clock)
        self.locks = MemoryLocks(self.clock)
        self.github.clock = self.clock  # GitHub's timestamps follow the same clock
        self.transport = transport(self.github, self.hooks)
        self.labels_exist()

    def settings(self) -> Settings:
        return Settings(
            repo=self.github.repo,
            api_url=API_URL,
            token="ghs_fake",
            redis_url="redis://unused",
            workflow_ref=self.workflow_ref,
            run_url="https://github.com/octo/app/actions/runs/1",
            max_steps=self.max_steps,
            runner_env=self.runner_env,
            workspace=self.workspace,
            config=self.config,
        )

    def agent(self, role: str, spent: Usage) -> ScriptedAgent:
        return ScriptedAgent(self, Budget.of(self.config, spent))

    def _app(self) -> AppAuth:
        """An App whose installation token is already minted with these permissions."""
        pem = "-----BEGIN PRIVATE KEY-----\nunused\n-----END PRIVATE KEY-----\n"
        app = AppAuth("1234", pem, self.github.repo, API_URL, clock=self.clock)
        app.token, app.expires_at = "ghs_fake", float("inf")
        app.permissions = dict(self.app_permissions or {})
        return app

    def context(self, event: Event) -> Context:
        """The context `issuepilot step` builds for `event`; close `ctx.gh` when done."""
        settings = self.settings()
        payload = parse_payload(event[1])
        retry = RetryPolicy(base_s=0, max_wait_s=0)
        gh = GitHub(
            settings.repo, "ghs_fake", settings.api_url, transport=self.transport, retry=retry
        )
        if self.app_permissions is not None:
            gh.app = self._app()
        return Context(
            settings=settings,
            gh=gh,
            store=self.store,
            locks=self.locks,
            agent=self.agent,
            trigger=decide(event[0], payload, settings.config.rules),
            payload=payload,
            now=self.clock,
            out=self.said.append,
            redact=Redactor(settings.secrets()),
        )

    async def run(self, event: Event) -> Outcome:
        """One run of the action for `event`, as `issuepilot step` does it."""
        ctx = self.context(event)
        try:
            return await run(ctx)
        finally:
            self.dispatched = ctx.dispatched
            await ctx.gh.aclose()

    async def run_until_killed(self, event: Event) -> None:
        """One run for `event` that a `kill_after` hook ends (inside a task group or not)."""
        try:
            await self.run(event)
        except Killed:
            return
        except ExceptionGroup as group:
            if group.subgroup(Killed) is None:
                raise
            return
        raise AssertionError("the run was expected to die, and finished")

    async def drain(self) -> list[Outcome]:
        """Run the workflow_dispatch runs the action queued for itself."""
        outcomes = []
        while self.github.dispatches:
            inputs = self.github.dispatches.pop(0)["inputs"]
            outcomes.append(await self.run(self.github.dispatch_event(inputs)))
        return outcomes

    # -- events ----------------------------------------------------------------------

    def dispatch_event(self, issue: int | None = None, command: str = "") -> Event:
        inputs = {"issue": "" if issue is None else str(issue)}
        if command:
            inputs["command"] = command
        return self.github.dispatch_event(inputs)

    def reopen_event(self, issue: int, sender: str = "octocat") -> Event:
        name, payload = self.github.close_issue_event(issue, sender)
        self.github.issues[issue].state = "open"
        payload["issue"]["state"] = "open"
        return name, {**payload, "action": "reopened"}

    def schedule_event(self) -> Event:
        return "schedule", {"schedule": "*/30 * * * *", "repository": {"full_name": REPO}}

    # -- staging ---------------------------------------------------------------------

    def on_request(
        self,
        method: str,
        path_regex: str,
        action: Callable[[], None],
        after: bool = False,
        times: int = 1,
    ) -> None:
        self.hooks.append(Hook(method, re.compile(path_regex), action, after, times))

    def kill_after(self, method: str, path_regex: str) -> None:
        """The run dies right after GitHub carried out the matching request."""

        def die() -> None:
            raise Killed(f"killed after {method} {path_regex}")

        self.on_request(method, path_regex, die, after=True)

    def rival(self, issue: int, skip: int = 0, **changes: Any) -> None:
        """Another run commits `changes` right before this task's next commit (after
        `skip` commits went through), so that commit loses its compare-and-set."""
        self.store.rivals.append(Rival(issue, skip, changes))

    def labels_exist(self) -> None:
        """IssuePilot's labels exist already, as an earlier run left them (remembered in
        the store): the steady state, and where `Sim` starts (see `forget_labels`)."""
        labels = self.config.rules.labels
        for name, (color, description) in labels.definitions().items():
            self.github.labels[name] = {"color": color, "description": description}
        self.store.flags[Keys(self.github.repo).labels] = (labels.prefix, None)

    def forget_labels(self) -> None:
        """A repository where IssuePilot never ran: no labels, nothing remembered."""
        self.github.labels.clear()
        self.store.flags.pop(Keys(self.github.repo).labels, None)

    async def seed(self, issue: int, state: TaskState, **changes: Any) -> Task:
        """Store a plausible task in `state` (plan, approval, locks, lease as the state has
        them), and show its labels on the issue, as runs before this one would have."""
        plan = changes.pop("plan", plan_of("src/app.py"))
        resting = changes.pop("resting", RESTED.get(state, S.QUEUED))
        planned = state not in (S.QUEUED, S.PLANNING) and not (
            state is S.FAILED and resting is S.QUEUED
        )
        approved = planned and (
            state in (S.APPROVED, S.EXECUTING, S.PR_OPEN, S.DONE) or state is S.FAILED
        )
        fields: dict[str, Any] = {
            "issue": issue,
            "state": state,
            "title": self.github.issues[issue].title,
            "resting": resting,
        }
        if planned and plan is not None:
            digest = plan.digest()
            fields |= {"plan": plan, "plan_hash": digest, "plan_version": 1}
            if approved:
                fields["approved_hash"] = digest
        if state in LEASED:
            fields["lease_until"] = self.clock() + self.config.lease_s
        if state in FINAL:
            fields["settled"] = True  # its run finished: GitHub shows the end
        if state is S.PR_OPEN:
            branch = self.config.rules.labels.branch(issue)
            pr = self.open_pull(branch, f"{self.github.issues[issue].title} (#{issue})")
            fields |= {"pr": pr, "branch": branch, "pr_url": f"https://github.com/{REPO}/pull/{pr}"}
        fields |= changes
        task = Task(**fields)
        if task.plan is not None and state in (S.EXECUTING, S.PR_OPEN) and not task.lock_token:
            ttl = self.config.pr_lease_s if state is S.PR_OPEN else self.config.lease_s
            lease = await self.locks.acquire(str(issue), task.plan.paths, ttl_s=ttl)
            task = task.model_copy(update={"lock_token": lease.token})
        self.store.records.pop(issue, None)
        committed = await self.store.commit(task)
        assert committed is not None
        labels = self.config.rules.labels
        self.github.issues[issue].labels = [
            labels.trigger,
            labels.state(shown(task.state, task.resting)),
        ]
        return committed

    def open_pull(self, branch: str, title: str) -> int:
        """A pull request of `branch` (made at the base's head), as a run or a person left it."""
        gh = self.github
        gh.refs[f"heads/{branch}"] = gh.refs["heads/main"]
        number = max([*gh.issues, *gh.pulls, 0]) + 1
        gh.issues[number] = Issue(number, title, "", BOT, is_pull=True)
        gh.pulls[number] = {
            "number": number,
            "title": title,
            "body": "",
            "head": branch,
            "base": "main",
            "state": "open",
            "merged": False,
            "user": BOT,
        }
        return number

    # -- what happened ---------------------------------------------------------------

    async def task(self, issue: int) -> Task:
        task = await self.store.load(issue)
        assert task is not None, f"issue #{issue} has no task"
        return task

    def stored(self, issue: int) -> Task:
        """The task as stored, read without awaiting (for checks made mid-step)."""
        version, data = self.store.records[issue]
        return Task.model_validate_json(data).model_copy(update={"version": version})

    def labels(self, issue: int) -> set[str]:
        return set(self.github.issues[issue].labels)

    def mark(self) -> int:
        """A point in the request log, for `calls(since)`."""
        return len(self.github.requests)

    def calls(self, since: int = 0) -> list[str]:
        """The GitHub requests made, as `METHOD path` without the repository prefix."""
        base = f"/repos/{self.github.repo}"
        return [
            f"{m} {t.split('?')[0].removeprefix(base)}" for m, t, _ in self.github.requests[since:]
        ]

    def comments(self, issue: int) -> list[str]:
        return [c["body"] for c in self.github.comments.values() if c["issue"] == issue]

    def status_comments(self, issue: int) -> list[str]:
        """The status comments IssuePilot wrote on the issue."""
        return [
            c["body"]
            for c in self.github.comments.values()
            if c["issue"] == issue and c["user"] == BOT and MARKER in c["body"]
        ]

    def shown_record(self, issue: int) -> Task:
        """The task record the issue's one status comment carries."""
        [body] = self.status_comments(issue)
        record = parse_record(body)
        assert record is not None, "the status comment carries no task record"
        return record.task

    async def to_plan_review(self, issue: int) -> Task:
        await self.run(self.github.label_event(issue, "issuepilot"))
        await self.drain()
        return await self.task(issue)

    async def to_approved(self, issue: int) -> Task:
        """Up to APPROVED, leaving the dispatched execute run queued."""
        await self.to_plan_review(issue)
        await self.run(self.github.label_event(issue, "issuepilot:approved"))
        return await self.task(issue)

    async def to_pr_open(self, issue: int) -> Task:
        await self.to_approved(issue)
        await self.drain()
        return await self.task(issue)
