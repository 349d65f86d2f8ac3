"""What this copy of IssuePilot is: its version and the repository it is released from,
both from pyproject.toml (their one home), through the installed package's metadata, or
the file itself where the action runs the source tree without installing it; and the
references a workflow pins to reach the same release.

Releases are tagged `v<version>`; the major tag (`v0`) follows the newest release of its
line (docs/releasing.md).
"""

import tomllib
from functools import cache
from importlib import metadata
from pathlib import Path

PACKAGE = "issuepilot"
# The reusable workflow a repository's workflow calls, inside the released repository.
REUSABLE_WORKFLOW = ".github/workflows/reusable.yml"


@cache
def _project() -> tuple[str, dict[str, str]]:
    """(version, project URLs by label)."""
    try:
        meta = metadata.metadata(PACKAGE)
        entries = [entry.partition(",") for entry in meta.get_all("Project-URL") or []]
        return meta["Version"], {label.strip(): url.strip() for label, _, url in entries}
    except metadata.PackageNotFoundError:  # the action: src/ on the path, not installed
        with open(Path(__file__).parents[2] / "pyproject.toml", "rb") as file:
            project = tomllib.load(file)["project"]
        return project["version"], project["urls"]


def version() -> str:
    return _project()[0]


def repository() -> str:
    """owner/name of the repository the package is released from (its `Source` URL)."""
    return "/".join(_project()[1]["Source"].rstrip("/").split("/")[-2:])


def tag(of: str | None = None) -> str:
    """The release tag of a version (this one by default)."""
    return f"v{of or version()}"


def workflow_ref(ref: str | None = None) -> str:
    """What a `uses:` names to call the reusable workflow at `ref` (this release's tag)."""
    return f"{repository()}/{REUSABLE_WORKFLOW}@{ref or tag()}"


def action_ref(ref: str | None = None) -> str:
    """What a `uses:` names to run the action at `ref` (this release's tag)."""
    return f"{repository()}@{ref or tag()}"
