"""One run's context: its settings, clients, event, clock, and what it has learnt so far."""

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..agents.base import Agent
from ..config import RepoConfig, Settings
from ..errors import Superseded
from ..events import Payload, Rules, Trigger
from ..github.client import GitHub
from ..github.objects import Issue
from ..github.status import Seal
from ..github.untrusted import Redactor, command_data, escape, logged
from ..keys import Keys
from ..labels import Labels
from ..locks import LockManager
from ..models import STAMP, CheckResult, Task, Usage
from ..store import TaskStore


@dataclass
class Outcome:
    """What a run did. `automatic`: the task landed where its next step needs no human."""

    task: Task | None
    message: str
    automatic: bool = False


@dataclass
class Context:
    settings: Settings
    gh: GitHub
    store: TaskStore
    locks: LockManager
    agent: Callable[[str, Usage], Agent]  # (role, what the task spent so far) -> agent
    trigger: Trigger
    payload: Payload
    now: Callable[[], float] = time.time
    out: Callable[[str], None] = print  # where the step log's lines go: only through `say`
    # Labels known to be on an issue: from the payload, then kept current by `publish`,
    # so later steps of the same run do not act on the payload's stale list.
    known_labels: dict[int, set[str]] = field(default_factory=dict)
    labels_ready: bool = False  # the repository's labels exist (checked once per run)
    read_issues: dict[int, Issue] = field(default_factory=dict)  # issues this run read
    posted: set[int] = field(default_factory=set)  # issues this run posted a comment on
    dispatched: list[int] = field(default_factory=list)  # issues whose next run was started
    redact: Redactor = field(default_factory=Redactor)  # every secret this run knows
    seal: Seal | None = None  # signs task records; resolved on first use (mirror.record_seal)
    seal_fresh: bool = False  # the key was made in this run: no record on GitHub can verify
    written_at: dict[int, datetime] = field(default_factory=dict)  # status comment writes
    summary: list[str] = field(default_factory=list)  # lines for the job summary
    latest: Task | None = None  # the task as this run last stored it
    # Where the next step is started when it is not a workflow run: a worker's queue.
    next_step: Callable[[int], Awaitable[None]] | None = None

    @property
    def config(self) -> RepoConfig:
        return self.settings.config

    @property
    def keys(self) -> Keys:
        return Keys(self.settings.repo)

    @property
    def rules(self) -> Rules:
        return self.config.rules

    @property
    def labels(self) -> Labels:
        return self.rules.labels

    def payload_labels(self, issue: int) -> set[str] | None:
        """The issue's labels, if this run knows them (from the payload or its own changes)."""
        if issue in self.known_labels:
            return self.known_labels[issue]
        if self.payload.issue is not None and self.payload.issue.number == issue:
            return self.payload.issue.label_names
        return None

    def comment_count(self, issue: int) -> int | None:
        """How many comments the issue has, if this run read the issue and has posted none
        on it since (a post whose answer was lost may have made one)."""
        if issue in self.posted:
            return None
        for shown in (self.payload.issue, self.read_issues.get(issue)):
            if shown is not None and shown.number == issue:
                return shown.comments
        return None

    def label_added(self) -> str:
        """The label this run's event added, if it was a label event."""
        if self.trigger.event == "issues.labeled" and self.payload.label is not None:
            return self.payload.label.name
        return ""

    def sent_at(self) -> datetime | None:
        """When the person sent this run's request, by GitHub's clock, where it says."""
        if self.payload.comment is not None:
            return self.payload.comment.created_at
        if self.trigger.event == "issues.labeled" and self.payload.issue is not None:
            return self.payload.issue.updated_at
        return None

    @property
    def base_branch(self) -> str:
        repo = self.payload.repository
        return self.config.base_branch or (repo.default_branch if repo else "main")

    def say(self, line: str) -> None:
        """A line for the step log. Whatever it carries from a user, a model, a log or a
        check, none of it becomes a workflow command (`untrusted.logged`)."""
        self.out(logged(line))

    def group(self, title: str | None) -> None:
        """Fold the step log's next lines under `title` in GitHub Actions (None: end): the
        one workflow command a step writes itself."""
        if self.settings.runner_env.get("GITHUB_ACTIONS") == "true":
            self.out(f"::group::{command_data(title)}" if title else "::endgroup::")

    def stored(self, task: Task) -> Task:
        """Note `task` as the run's latest committed record (for a failure's report)."""
        self.latest = task
        return task

    def report(self, line: str) -> None:
        """A line for the job summary (markdown), beside the outcome."""
        self.summary.append(line)

    def report_agent(
        self, role: str, agent: Agent, used: dict[str, int], checks: Sequence[CheckResult] = ()
    ) -> None:
        """The job summary's table of what the agent did in this step: who, model calls (an
        agent CLI's turns), tools used, tokens, cost, check results."""
        usage = agent.budget.step_usage()
        tools = ", ".join(f"{name} {n}" for name, n in sorted(used.items())) or "-"
        verdicts = [f"{r.name} {'passed' if r.passed else 'failed'}" for r in checks]
        if not self.summary or not self.summary[-1].startswith("| "):
            self.summary += ["| Role | Agent | Model calls | Tools used | Tokens | Cost | Checks |"]
            self.summary += ["|---|---|---|---|---|---|---|"]
        cost = f"{usage.cost:.4f}" if usage.cost else "-"
        who = escape(self.redact(agent.label))
        row = [role, who, str(usage.model_calls), tools, f"{usage.tokens:,}", cost]
        self.summary.append("| " + " | ".join([*row, ", ".join(verdicts) or "-"]) + " |")

    def spent(self, task: Task, agent: Agent) -> Task:
        """`task` with what `agent` spent and what the maintainers must know of its run."""
        new = [n for n in agent.notices if n not in task.notices]
        for notice in new:
            self.say(f"#{task.issue}: warning: {notice}")
        update = {"usage": agent.budget.total(), "notices": [*task.notices, *new]}
        return task.model_copy(update=update)

    def stamp(self) -> str:
        return datetime.fromtimestamp(self.now(), UTC).strftime(STAMP)


async def update(ctx: Context, task: Task, **changes: Any) -> Task:
    """Compare-and-set a change that keeps the state; `Superseded` if another run wrote
    the task first."""
    committed = await ctx.store.commit(task.model_copy(update=changes))
    if committed is None:
        raise Superseded("already advanced by another run")
    return ctx.stored(committed)
