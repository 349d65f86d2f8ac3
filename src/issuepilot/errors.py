"""One exception root. `recoverable` says whether a later run can finish the job.

Only `cli.py` turns these into `::error::` lines and exit codes: 2 for bad input or
configuration (`InputError`), 1 for a step that failed.
"""

from pydantic import ValidationError


class IssuePilotError(Exception):
    """Base of every error IssuePilot raises on purpose. `report` is the step's outputs and
    job summary (what was known when it failed), set by the run that raised it."""

    recoverable = True
    report: tuple[dict[str, str], str] | None = None


class InputError(IssuePilotError):
    """Bad input, event payload or configuration: the user must change something."""

    recoverable = False


class BackendError(IssuePilotError):
    """Redis could not be reached or answered unexpectedly; nothing was decided."""


class GitHubError(IssuePilotError):
    """The GitHub API refused or failed a request."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class ModelError(IssuePilotError):
    """The model endpoint failed or kept answering with something unusable."""


class IllegalTransition(IssuePilotError):
    """The state machine does not allow this move."""

    recoverable = False


class Superseded(IssuePilotError):
    """Another run moved the task first (its compare-and-set won). Not a failure: the run
    stops and says so; the winner carries on."""


def error_parts(exc: ValidationError) -> tuple[str, str]:
    """(where, what) of a pydantic error's first problem: `files.0.path`, the message."""
    first = exc.errors()[0]
    return ".".join(str(p) for p in first["loc"]), first["msg"]


def first_error(exc: ValidationError, whole: str = "value") -> str:
    """A pydantic error as one line; `whole` names the value when the problem is all of it."""
    where, what = error_parts(exc)
    return f"{where or whole}: {what}"
