"""Writing the change: the agent's rounds, every edit checked as it happens, and the
repository's checks between rounds.

The agent works in the job's checkout (or, with none, on the base branch through the API,
its edits kept in memory); its change is read back the same way for every backend. Each
edit of the built-in agent is checked before it touches the disk (`Guard`); IssuePilot
then runs the configured checks itself, and a failing check goes back to the agent for
another round, up to `check-rounds`.
"""

from dataclasses import dataclass, field
from pathlib import Path

from ..agents.base import Agent, IssueText, RepoFiles
from ..agents.prompts import check_feedback
from ..agents.tools import ToolBox
from ..checks import Checks, failures
from ..errors import ModelError
from ..locks import Lease, LockConflict
from ..models import ChangeSet, CheckResult, FileChange, Plan, Task, holders_text
from ..workspace import ApiWorkspace, CheckoutWorkspace, Workspace, checked
from .context import Context
from .scope import ScopeError, check_change

ROUND_START = (
    "This is a fix round on the pull request you opened: the checkout holds its current "
    "head. Address the last item of maintainer_feedback, then finish."
)


class ChecksFailed(ModelError):
    """The change still fails its checks after the last round (`on-check-failure: fail`)."""


@dataclass
class Written:
    changes: ChangeSet
    checks: list[CheckResult]
    lease: Lease
    extra: list[str]  # files changed outside the plan, locked in addition
    rounds: int
    notices: list[str]
    tools: dict[str, int] = field(default_factory=dict)  # tool -> calls


def workspace_of(ctx: Context, ref: str) -> Workspace:
    """The job's checkout when there is one, else the branch `ref` through the API."""
    root = ctx.settings.workspace
    if root is not None and (root / ".git").is_dir():
        return CheckoutWorkspace(root)
    return ApiWorkspace(ctx.gh, ref)


class Guard:
    """What an edit may do, checked before it is written, by the same rules as the whole
    change (`scope.check_change`): repository paths outside `.git/`, no protected path,
    the plan's files (others take extra locks or are refused, by `out-of-scope`), the
    limits on files, lines and bytes."""

    def __init__(self, ctx: Context, plan: Plan, lease: Lease, workspace: Workspace) -> None:
        self.ctx, self.plan, self.lease, self.workspace = ctx, plan, lease, workspace
        self.written: dict[str, str | None] = {}  # path -> its new text (None: deleted)
        self.before: dict[str, str | None] = {}  # path -> its text at the base

    async def __call__(self, path: str, content: str | None) -> str | None:
        path = checked(path)
        if path not in self.before:
            self.before[path] = await self.workspace.original(path)
        written = {**self.written, path: content}
        change = ChangeSet(files=[FileChange(path=p, content=c) for p, c in written.items()])
        try:
            outside = check_change(change, self.plan, RepoFiles(self.before), self.ctx.config)
        except ScopeError as refused:
            return str(refused)
        try:
            self.lease = await _lock_more(self.ctx, self.lease, outside)
        except ScopeError as refused:
            return str(refused)
        self.written = written
        return None


async def write_change(
    ctx: Context,
    task: Task,
    plan: Plan,
    lease: Lease,
    agent: Agent | None,
    workspace: Workspace | None = None,
    brief: str = "",
) -> Written:
    """The agent's change, checked: rounds until the checks pass or `check-rounds` ends.

    By default the agent works on the base branch; a fix round passes its `workspace` (the
    pull request's head) and its `brief` (the review, the command, the red CI), which the
    agent reads as the newest maintainers' feedback. Without an `agent` the change is what
    the workspace holds already, checked once."""
    config = ctx.config
    workspace = workspace or workspace_of(ctx, ctx.base_branch)
    await workspace.pin()
    checks = _checks(ctx, workspace.root)
    guard = Guard(ctx, plan, lease, workspace)
    check = checks.for_the_agent if checks is not None else None
    tools = ToolBox(workspace, "execute", guard, check, log=ctx.say)
    ctx.group("The agent's tool calls")
    said = (*task.feedback, brief) if brief else tuple(task.feedback)
    issue = IssueText(task.issue, task.title, task.body, said)
    try:
        feedback, results = (ROUND_START if brief else ""), []
        for round_ in range(1 + config.check_rounds):
            message = await agent.execute(issue, plan, tools, feedback) if agent else ""
            files = await workspace.change()
            if not files:
                raise ModelError("the agent changed no files")
            results = await checks.run_all() if checks is not None else []
            ctx.say(f"#{task.issue}: round {round_ + 1}: " + _verdict(results))
            if agent is None or all(r.passed for r in results):
                break
            feedback = check_feedback(failures(results))
    finally:
        ctx.group(None)
    if not all(r.passed for r in results) and config.on_check_failure == "fail":
        raise ChecksFailed(f"the change still fails its checks: {_verdict(results)}")
    changes = ChangeSet(files=files, message=message or task.title)
    before = RepoFiles({f.path: await workspace.original(f.path) for f in files})
    extra = check_change(changes, plan, before, config)  # every backend, whole change
    lease = await _lock_more(ctx, guard.lease, extra)
    notices = [checks.notice] if checks is not None and checks.notice else []
    return Written(changes, results, lease, extra, round_ + 1, notices, dict(tools.used))


async def _lock_more(ctx: Context, lease: Lease, extra: list[str]) -> Lease:
    """Take the files the change touched outside the plan, under the same token (a retry
    of what the guard took already writes nothing)."""
    if not set(extra) - set(lease.paths):
        return lease
    try:
        more = await ctx.locks.acquire(
            lease.task, extra, ttl_s=ctx.config.lease_s, token=lease.token
        )
    except LockConflict as conflict:
        held = holders_text(conflict.holders)
        raise ScopeError(f"the change also touches files other tasks hold: {held}") from None
    return Lease(lease.task, lease.token, tuple(sorted({*lease.paths, *more.paths})))


def _checks(ctx: Context, root: Path | None) -> Checks | None:
    if not ctx.config.checks:
        return None
    if root is None:
        raise ModelError(
            "checks are configured, and they need a checkout: add actions/checkout before "
            "IssuePilot in the workflow"
        )
    return Checks(root, ctx.config, ctx.settings.runner_env, ctx.redact)


def _verdict(results: list[CheckResult]) -> str:
    if not results:
        return "no checks configured"
    return ", ".join(f"{r.name} {'passed' if r.passed else 'failed'}" for r in results)
