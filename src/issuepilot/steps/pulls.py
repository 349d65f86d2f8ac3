"""Which pull request is a task's: the one its record names, or, where the record lags
GitHub (the run that opened it died before recording it, or the record was lost), the
newest of the task's own branch opened since the task began. An earlier task on the same
issue used the same branch: its pull requests are older than this task."""

from datetime import datetime

from ..github.errors import NotFound
from ..github.objects import Pull
from ..labels import Labels
from ..models import Task
from .context import Context


def opened_by(task: Task, pull: Pull, labels: Labels, since: datetime | None = None) -> bool:
    """Whether `pull` is the task's (`since`: when the task began, if not its own record's
    first entry)."""
    if task.pr:
        return pull.number == task.pr
    began, created = since or task.began, pull.created_at
    mine = pull.head.ref == labels.branch(task.issue)
    return mine and not (began is not None and created is not None and created < began)


async def own_pull(ctx: Context, task: Task, since: datetime | None = None) -> Pull | None:
    """The task's pull request as GitHub shows it now (one call), if it has one."""
    if task.pr:
        try:
            pull = await ctx.gh.get_pull(task.pr)
        except NotFound:
            return None
        return pull if pull.head.ref == ctx.labels.branch(task.issue) else None
    newest = await ctx.gh.find_pull(ctx.labels.branch(task.issue), state="all")
    return newest if newest is not None and opened_by(task, newest, ctx.labels, since) else None
