"""What anything else that may push to the repository can do to the ledger: rewrite
`ledger.json` on the branch `issuepilot/ledger` with a commit of its own."""

import json
from collections.abc import Callable
from typing import Any

from issuepilot.ledger import BRANCH, FILE
from issuepilot.testing.github import FakeGitHub

KEY = "a-record-key-kept-in-a-secret"


def edit_ledger(github: FakeGitHub, edit: Callable[[dict[str, Any]], None]) -> None:
    """Commit `edit` of the ledger's data to its branch, as a forger holding
    `contents: write` would (any signatures left as they were)."""
    data = json.loads(github.files_at(BRANCH)[FILE])
    edit(data)
    github.commit_files(BRANCH, {FILE: json.dumps(data)}, "Update ledger.json")


def record(data: dict[str, Any], issue: int) -> dict[str, Any]:
    """The task of `issue` as the ledger's data holds it (to edit in place)."""
    task: dict[str, Any] = data["records"][str(issue)]["task"]
    return task
