"""A step that errors leaves its task in FAILED, with the reason shown and its files freed."""

from ..errors import IssuePilotError, Superseded
from ..machine import Move
from ..models import Task
from .context import Context
from .transition import transition


async def fail(
    ctx: Context,
    task: Task,
    exc: IssuePilotError,
    move: Move = Move.FAIL,
    note: str = "step failed",
) -> None:
    """Record the failure (`move`: FAIL, or ROUND_FAILED for a fix round, whose pull request
    stays as it was); best effort, since the original error is what must surface.

    If another run moved the task meanwhile (a cancel, say), the error was most likely
    that move's doing: the run stops as superseded, not as failed."""
    try:
        await transition(ctx, task, move, note=note, error=str(exc))
    except Superseded:
        raise
    except IssuePilotError as second:
        ctx.say(f"#{task.issue}: could not record the failure: {second}")
