"""Mirror a task to GitHub: its one state label and its sticky status comment.

Calls run concurrently, so mirroring costs one round trip whatever it changes.
"""

import secrets

from ..aio import together
from ..github.client import GitHub
from ..github.errors import NotFound, ServerError
from ..github.objects import Comment
from ..github.status import Record, Seal, parse_record, render
from ..labels import Labels, label_changes
from ..machine import shown
from ..models import Task
from .context import Context, update


async def ensure_labels(ctx: Context) -> None:
    """Create IssuePilot's labels with colors and descriptions, once per repository."""
    if ctx.labels_ready:
        return
    key = ctx.keys.labels
    if await ctx.store.get_flag(key) == ctx.labels.prefix:
        ctx.labels_ready = True
        return
    await create_labels(ctx.gh, ctx.labels)
    await ctx.store.set_flag(key, ctx.labels.prefix, ttl_s=7 * 24 * 3600)
    ctx.labels_ready = True


async def create_labels(gh: GitHub, labels: Labels) -> list[str]:
    """Create those of IssuePilot's labels the repository lacks; returns their names."""
    existing = set(await gh.list_labels())
    missing = {n: d for n, d in labels.definitions().items() if n not in existing}
    await together(*(gh.create_label(n, c, d) for n, (c, d) in missing.items()))
    return sorted(missing)


async def publish(
    ctx: Context,
    task: Task,
    shown_before: str | None = None,
    comment: bool = True,
    remove: tuple[str, ...] = (),
) -> Task:
    """Show `task` on its issue: its state label (a working state keeps the label of the
    state it rested in), the status comment (if `comment`), minus `remove`d labels.
    `shown_before` is the state label the issue showed (None: unknown), for when the run
    does not know the issue's labels. Returns the task with the id of the status comment,
    if the record lacked it."""
    await ensure_labels(ctx)
    labels = ctx.labels
    present = ctx.payload_labels(task.issue)
    want = label_shown(ctx, task)
    adds, drop = label_changes(present, want, shown_before, labels.states, remove)
    learnt: list[int] = []
    calls = [ctx.gh.remove_label(task.issue, name) for name in sorted(drop)]
    if adds:
        calls.insert(0, ctx.gh.add_labels(task.issue, adds))
    if comment:
        calls.append(_write_comment(ctx, task, learnt))
    await together(*calls)
    if present is not None:
        ctx.known_labels[task.issue] = (present - drop) | set(adds)
    if learnt:
        return await update(ctx, task, comment_id=learnt[0])
    return task


def label_shown(ctx: Context, task: Task) -> str:
    """The state label the issue shows for `task` as stored."""
    return ctx.labels.state(shown(task.state, task.resting))


async def _write_comment(ctx: Context, task: Task, learnt: list[int]) -> None:
    """Edit the status comment, or create it; `learnt` gets an id the record lacked, and
    `ctx.written_at` GitHub's time of the write (what a reader could see from then on)."""
    body = render(task, ctx.labels, ctx.redact, await record_seal(ctx))
    comment_id = task.comment_id
    if not comment_id:  # one per issue: a run that died, or a lost record, may have left one
        found = await find_status_comment(ctx, task.issue, ctx.comment_count(task.issue))
        comment_id = found[0] if found is not None else 0
    written = None
    try:
        if comment_id:
            written = await _edit(ctx, comment_id, task, body)
            if written is None:
                return  # it shows a newer record already
    except NotFound:  # a person deleted it: the task gets a new one
        pass
    if written is None:
        ctx.posted.add(task.issue)
        written = await ctx.gh.create_comment(task.issue, body)
    if written.updated_at is not None:
        ctx.written_at[task.issue] = written.updated_at
    if written.id != task.comment_id:
        learnt.append(written.id)


async def _edit(ctx: Context, comment_id: int, task: Task, body: str) -> Comment | None:
    """Edit the status comment to show `task`. An edit whose outcome is unclear (GitHub
    failed, the answer was lost) is not simply sent again: by then another run may have
    shown a newer record, which a late repeat would take back. The comment is read first,
    and left as it is (None) if its record continues the task's history."""
    try:
        return await ctx.gh.update_comment(comment_id, body, retry=False)
    except ServerError:
        found = await find_status_comment(ctx, task.issue)
    if found is not None and found[0] == comment_id and continues(found[1].task, task):
        ctx.say(f"#{task.issue}: the status comment shows a newer record: left as it is")
        return None
    return await ctx.gh.update_comment(comment_id, body)


def continues(shown: Task, task: Task) -> bool:
    """Whether `shown` is a later record of the same task: its history goes on from
    `task`'s (entries compared by state and time: the shown text may be redacted)."""
    mine = [(h.state, h.at) for h in task.history]
    theirs = [(h.state, h.at) for h in shown.history]
    return len(theirs) > len(mine) and theirs[: len(mine)] == mine


async def find_status_comment(
    ctx: Context, issue: int, comments: int | None = None
) -> tuple[int, Record] | None:
    """IssuePilot's status comment on the issue, with its record, looked for from the newest
    comment back (`comments`: the issue's count, if known, saves a request).

    Only comments by IssuePilot's own logins count, and a signed record wins over any
    unsigned one (other workflows may post as the same login): the search stops at the
    newest signed record, or, when no record can verify (the key was made in this run),
    at the newest record of all."""
    if comments == 0:
        return None
    seal = await record_seal(ctx)
    fallback = None
    async for comment in ctx.gh.newest_comments(issue, comments):
        if comment.author not in ctx.rules.bot_logins:
            continue
        record = parse_record(comment.text, seal)
        if record is None or record.task.issue != issue:
            continue
        if record.signed:
            return comment.id, record
        fallback = fallback or (comment.id, record)
        if ctx.seal_fresh:
            break
    return fallback


async def record_seal(ctx: Context) -> Seal:
    """The key that signs task records: from the record-key input, else one generated once
    per repository and kept in the store, if the store is private (else none: the records
    go unsigned, and a rebuild trusts only what GitHub shows)."""
    if ctx.seal is None:
        material = ctx.settings.record_key.get_secret_value()
        if not material and not ctx.store.private:
            ctx.seal = Seal(ctx.settings.repo)
            return ctx.seal
        if not material:
            made = secrets.token_hex(32)
            material = await ctx.store.ensure_flag(ctx.keys.record_key, made)
            ctx.seal_fresh = material == made
        ctx.seal = Seal.of(ctx.settings.repo, material)
    return ctx.seal
