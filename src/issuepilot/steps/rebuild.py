"""Load a task: from the store, or rebuilt from its status comment if the store lost it."""

from ..models import Task
from .context import Context
from .mirror import find_status_comment


async def load_task(ctx: Context, issue: int) -> Task | None:
    task = await ctx.store.load(issue)
    if task is not None:
        return task
    present = ctx.payload_labels(issue)
    if present is not None and not present & ctx.labels.states:
        return None  # no state label: there never was a task, no need to look
    found = await find_status_comment(ctx, issue)
    if found is None:
        return None
    comment_id, record = found
    rebuilt = record.model_copy(update={"version": 0, "comment_id": comment_id})
    committed = await ctx.store.commit(rebuilt)
    ctx.say(f"#{issue}: rebuilt the task from its status comment ({record.state})")
    return committed or await ctx.store.load(issue)
