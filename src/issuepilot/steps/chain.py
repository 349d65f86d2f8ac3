"""Chaining runs: a task whose next step needs no human gets a new run of this workflow
(`workflow_dispatch` with `issue: N`), which GITHUB_TOKEN is allowed to start; under
`issuepilot worker`, a new entry in the workers' queue."""

from ..aio import together
from .context import Context


async def dispatch(ctx: Context, issue: int) -> bool:
    """Start the next step of `issue` in a new run (once per run: a second would find the
    same step); False when the run cannot tell which workflow to start (no
    GITHUB_WORKFLOW_REF, or a workflow of another repository: a central runner's, whose next
    run its service starts)."""
    if issue in ctx.dispatched:
        return True
    if ctx.next_step is not None:
        await ctx.next_step(issue)
        ctx.dispatched.append(issue)
        return True
    target = ctx.settings.workflow_file
    if target is None:
        why = "GITHUB_WORKFLOW_REF names no workflow of this repository"
        ctx.say(f"#{issue}: {why}, so the next step waits for an event or the sweep")
        return False
    workflow, ref = target
    await ctx.gh.dispatch(workflow, ref, {"issue": str(issue)})
    ctx.dispatched.append(issue)
    return True


async def wake(ctx: Context, ready: list[str]) -> None:
    """Dispatch the waiting tasks whose files are now free."""
    await together(*(dispatch(ctx, int(task)) for task in ready if task.isdigit()))
