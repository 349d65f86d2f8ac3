"""Chaining runs: a task whose next step needs no human gets a new run of this workflow
(`workflow_dispatch` with `issue: N`), which GITHUB_TOKEN is allowed to start."""

from ..aio import together
from .context import Context


async def dispatch(ctx: Context, issue: int) -> bool:
    """Start the next step of `issue` in a new run (once per run: a second would find the
    same step); False when the run cannot tell which workflow it is (no
    GITHUB_WORKFLOW_REF)."""
    if issue in ctx.dispatched:
        return True
    target = ctx.settings.workflow_file
    if target is None:
        ctx.say(
            f"#{issue}: no GITHUB_WORKFLOW_REF, so the next step waits for an event or the sweep"
        )
        return False
    workflow, ref = target
    await ctx.gh.dispatch(workflow, ref, {"issue": str(issue)})
    ctx.dispatched.append(issue)
    return True


async def wake(ctx: Context, ready: list[str]) -> None:
    """Dispatch the waiting tasks whose files are now free."""
    await together(*(dispatch(ctx, int(task)) for task in ready if task.isdigit()))
