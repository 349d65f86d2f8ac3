"""PR_OPEN -> EXECUTING -> PR_OPEN: a fix round on the task's open pull request.

A round starts from a review that requests changes, `/issuepilot fix`, red CI on the
pull request's head (automatic rounds, capped by `fix-rounds`), or `/issuepilot rebase`
(also when a round finds the pull request in conflict with its base). The agent works
from the pull request's current head with the feedback; its change is checked like the
first one and pushed to the same branch as a fast-forward. The file locks stay held the
whole time, at the open pull request's lease. Afterwards each inline review comment gets
one reply in its thread, and the pull request one comment on the round.

A rebase rebuilds the change on the base's current head: files only the pull request
changed are taken as they are, files both sides changed go to the agent with both
versions; the result is a merge commit whose first parent is the old head, so the branch
still moves only by fast-forward (no force push, ever).
"""

from dataclasses import dataclass

from ..agents.base import Agent
from ..errors import IssuePilotError, ModelError
from ..events import Action
from ..git import git
from ..github.commits import commit_on
from ..github.objects import Pull
from ..github.status import check_lines
from ..github.untrusted import code, plain, shown
from ..locks import Lease, LockLost
from ..machine import LEASED, Move, TaskState, why_not
from ..models import Plan, PlannedFile, Task
from ..workspace import ApiWorkspace, CheckoutWorkspace, Workspace
from .change import Written, write_change
from .context import Context, Outcome, update
from .failure import fail
from .feedback import Feedback, gather
from .mirror import publish
from .recover import recover
from .transition import transition

RECENT = 30  # comments of the pull request looked at for an earlier post of the round's
HANDLED = 20  # trigger ids a task remembers: far more than a pull request's rounds
REPLIED = "<!-- issuepilot:reply -->"  # marks IssuePilot's replies in review threads
ROUND = "<!-- issuepilot:round:{n} -->"  # marks a round's comment on the pull request


@dataclass
class Start:
    """Where a round's change starts: the workspace, the tree and parents of its commit."""

    workspace: Workspace
    tree: str
    parents: list[str]
    conflicts: list[str]


async def fix(ctx: Context, task: Task) -> Outcome:
    """One fix round, for whatever the trigger asks (see the module's docstring)."""
    if task.state in LEASED:
        if task.lease_until > ctx.now():
            return Outcome(task, f"a {task.state} step is already running")
        task = await recover(ctx, task)  # a round whose run died: back to the PR
    if task.state is not TaskState.PR_OPEN or not task.pr:
        return Outcome(task, why_not(task.state, Move.ROUND))
    if (started := task.handled.get(ctx.trigger.key)) is not None:
        return Outcome(task, f"{_named(ctx)} already started fix round {started}: not again")
    config, automatic = ctx.config, ctx.trigger.action is Action.CI_FAILED
    if automatic and task.ci_rounds >= config.fix_rounds:
        note = (
            f"CI failed again after {task.ci_rounds} automatic fix rounds (fix-rounds: "
            f"{config.fix_rounds}): the pull request waits for a person (/issuepilot fix)"
        )
        if task.refusal != note:
            task = await publish(ctx, await update(ctx, task, refusal=note))
        return Outcome(task, note)
    pull = await ctx.gh.get_pull(task.pr)
    if pull.state != "open":
        return Outcome(task, f"pull request #{task.pr} is {pull.state}: nothing to fix")
    feedback = await gather(ctx, task)
    if automatic and feedback.head_sha and feedback.head_sha != pull.head.sha:
        return Outcome(task, "the failed CI judged an older commit of the pull request")
    rebase = ctx.trigger.action is Action.REBASE or pull.conflicted
    n = task.rounds + 1
    working = await transition(
        ctx,
        task,
        Move.ROUND,
        note=f"fix round {n}: {'rebase; ' if rebase else ''}{feedback.origin}",
        comment=False,
        lease_until=ctx.now() + config.lease_s,
        error="",
        rounds=n,
        ci_rounds=task.ci_rounds + (1 if automatic else 0),
        handled=_handled(task, ctx.trigger.key, n),
    )
    agent = ctx.agent("execute", working.usage)
    try:
        lease = await _hold(ctx, task)
        head, written = await _round(ctx, working, pull, feedback, rebase, agent, lease)
    except IssuePilotError as exc:
        await fail(ctx, ctx.spent(working, agent), exc, Move.ROUND_FAILED, "fix round failed")
        raise
    await ctx.locks.extend(written.lease, config.pr_lease_s)
    await _answer(ctx, working, feedback, written, head)
    spent = ctx.spent(working, agent)
    notices = [*spent.notices, *(x for x in written.notices if x not in spent.notices)]
    done = await transition(
        ctx,
        spent,
        Move.OPENED,
        note=f"fix round {n} pushed {head[:7]}",
        lost="the task moved on during the fix round (cancelled?)",
        head_sha=head,
        extra_paths=sorted({*working.extra_paths, *written.extra}),
        checks=written.checks,
        notices=notices,
    )
    ctx.report_agent(f"fix round {n}", agent, written.tools, written.checks)
    return Outcome(done, f"fix round {n}: pushed {head[:7]} to pull request #{task.pr}")


def _handled(task: Task, key: str, n: int) -> dict[str, int]:
    """The task's record of handled triggers with `key` as the one that started round `n`:
    in the same compare-and-set as the round, so a trigger delivered twice (a redelivered
    webhook, a re-run workflow) starts one round however the two runs interleave."""
    if not key:
        return task.handled
    kept = [(k, r) for k, r in task.handled.items() if k != key][-(HANDLED - 1) :]
    return dict([*kept, (key, n)])


def _named(ctx: Context) -> str:
    """The trigger as people know it, for the step log."""
    kinds = {"review": "this review", "run": "this workflow run", "check": "this check run"}
    return kinds.get(ctx.trigger.source[0], "this command")


async def _hold(ctx: Context, task: Task) -> Lease:
    """The pull request's files, at its lease, for the whole round; taken again (with the
    task's token) if they lapsed meanwhile and nobody else took them."""
    lease = Lease(str(task.issue), task.lock_token, tuple(task.locked_paths))
    try:
        await ctx.locks.extend(lease, ctx.config.pr_lease_s)
    except LockLost:
        paths = task.locked_paths
        lease = await ctx.locks.acquire(lease.task, paths, ctx.config.pr_lease_s, lease.token)
    return lease


async def _round(
    ctx: Context,
    task: Task,
    pull: Pull,
    feedback: Feedback,
    rebase: bool,
    agent: Agent,
    lease: Lease,
) -> tuple[str, Written]:
    start = await (_rebased(ctx, task, pull) if rebase else _at_head(ctx, task, pull))
    brief = feedback.brief
    if start.conflicts:
        brief += "\n\n" + await _conflicts(ctx, task, pull, start.conflicts)
    needed = agent if not rebase or start.conflicts or feedback.threads else None
    written = await write_change(
        ctx, task, _scope(task), lease, needed, workspace=start.workspace, brief=brief
    )
    said = plain(written.changes.message or f"Fix round {task.rounds}", ctx.redact)
    message = f"{said} (#{task.issue}, fix round {task.rounds})"
    branch = ctx.labels.branch(task.issue)
    head = await commit_on(ctx.gh, branch, start.tree, start.parents, written.changes, message)
    return head, written


def _scope(task: Task) -> Plan:
    """The approved plan, with the files the pull request took outside it: a round may
    touch what the pull request holds; anything new obeys `out-of-scope` as before."""
    assert task.plan is not None
    known = set(task.plan.paths)
    extra = [PlannedFile(path=p, why="taken outside the plan") for p in task.extra_paths]
    return task.plan.model_copy(
        update={"files": [*task.plan.files, *(f for f in extra if f.path not in known)]}
    )


async def _at_head(ctx: Context, task: Task, pull: Pull) -> Start:
    """The pull request's head: in the checkout (its files laid over it and committed
    there, so the round's change is what the agent does), else through the API."""
    branch = ctx.labels.branch(task.issue)
    sha, tree = await ctx.gh.get_branch(branch)
    if sha != pull.head.sha:
        raise ModelError("the pull request's branch moved while the round started: try again")
    root = ctx.settings.workspace
    if root is None or not (root / ".git").is_dir():
        return Start(ApiWorkspace(ctx.gh, sha), tree, [sha], [])
    compared = await ctx.gh.compare(ctx.base_branch, sha)
    for changed in compared.files:
        text = None if changed.status == "removed" else await ctx.gh.get_file(changed.filename, sha)
        full = root / changed.filename
        if text is None:
            full.unlink(missing_ok=True)
        else:
            full.parent.mkdir(parents=True, exist_ok=True)
            full.write_text(text, encoding="utf-8")
    await git(root, "add", "--all")
    await git(root, *IDENTITY, "commit", "-q", "--no-verify", "--allow-empty", "-m", "head")
    return Start(CheckoutWorkspace(root), tree, [sha], [])


IDENTITY = ("-c", "user.name=IssuePilot", "-c", "user.email=issuepilot@users.noreply.github.com")


async def _rebased(ctx: Context, task: Task, pull: Pull) -> Start:
    """The base's current head with the pull request's change laid over it; the files both
    sides changed are left as the base has them, for the agent."""
    base_sha, base_tree = await ctx.gh.get_branch(ctx.base_branch)
    ours = await ctx.gh.compare(base_sha, pull.head.sha)
    theirs = await ctx.gh.compare(ours.merge_base_commit.sha, base_sha)
    changed_there = {f.filename for f in theirs.files}
    root = ctx.settings.workspace
    workspace: Workspace = ApiWorkspace(ctx.gh, base_sha)
    if root is not None and (root / ".git").is_dir():
        if (await git(root, "rev-parse", "HEAD")).decode().strip() == base_sha:
            workspace = CheckoutWorkspace(root)
    conflicts = []
    for changed in ours.files:
        if changed.filename in changed_there:
            conflicts.append(changed.filename)
        elif changed.status == "removed":
            await workspace.delete(changed.filename)
        else:
            text = await ctx.gh.get_file(changed.filename, pull.head.sha)
            await workspace.write(changed.filename, text or "")
    return Start(workspace, base_tree, [pull.head.sha, base_sha], sorted(conflicts))


async def _conflicts(ctx: Context, task: Task, pull: Pull, paths: list[str]) -> str:
    """Both sides of each file the pull request and the base both changed."""
    parts = [
        "The base branch moved and changed files this pull request changed too. Each file "
        "below is now as the base has it: apply the pull request's change to it again."
    ]
    for path in paths:
        mine = await ctx.gh.get_file(path, pull.head.sha)
        parts.append(f"The pull request's version of {path}:\n```\n{mine or '(deleted)'}\n```")
    return "\n\n".join(parts)


async def _answer(
    ctx: Context, task: Task, feedback: Feedback, written: Written, head: str
) -> None:
    """One reply per review thread the round was asked about, and one comment on the PR
    for the round; neither twice, even after a crash between posting and recording: what
    is already on GitHub is looked up first."""
    gh, pr, short = ctx.gh, task.pr, head[:7]
    if feedback.threads:
        answered = {
            c.in_reply_to_id for c in await gh.pull_review_comments(pr) if REPLIED in c.body
        }
        changed = {f.path for f in written.changes.files}
        for thread in feedback.threads:
            if thread.id in answered:
                continue
            path = code(thread.path, ctx.redact)
            said = (
                f"Addressed in {short}."
                if thread.path in changed
                else f"Looked at in {short}; `{path}` is unchanged."
            )
            await gh.reply_to_review_comment(pr, thread.id, f"{said}\n\n{REPLIED}")
    marker, seen = ROUND.format(n=task.rounds), 0
    async for comment in gh.newest_comments(pr):
        if marker in comment.text:
            return
        seen += 1
        if seen >= RECENT:  # the round's comment would be among the newest, if posted
            break
    files = "\n".join(f"- `{code(f.path, ctx.redact)}`" for f in written.changes.files[:50])
    body = (
        f"### IssuePilot: fix round {task.rounds}\n\n"
        f"For: {shown(feedback.origin, ctx.redact)}. Pushed {head}.\n\n"
        f"{files}\n{check_lines(written.checks, ctx.redact)}\n{marker}"
    )
    await gh.create_comment(pr, body)
