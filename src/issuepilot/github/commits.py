"""Write a change set to a branch through the Git Data API: (blobs) -> tree -> commit -> ref.

The agent never holds a push credential, and commits made with an App token show as
verified. Text files travel inline in the one tree request, so the call count does not
grow with the number of files; only binary files and files over `INLINE_MAX` bytes need a
blob request each, which the API forces (tree entries carry UTF-8 text only). Those run
concurrently.
https://docs.github.com/en/rest/git/trees#create-a-tree
"""

import base64
from typing import Any

from ..aio import CONCURRENCY, together
from ..models import ChangeSet, FileChange
from .client import GitHub

INLINE_MAX = 1024 * 1024


def _bytes(change: FileChange) -> bytes:
    assert change.content is not None
    if change.encoding == "base64":
        return base64.b64decode(change.content)
    return change.content.encode()


async def tree_entries(gh: GitHub, changes: ChangeSet) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    blobs: list[tuple[dict[str, Any], FileChange]] = []
    for change in changes.files:
        mode = "100755" if change.executable else "100644"
        entry: dict[str, Any] = {"path": change.path, "mode": mode, "type": "blob"}
        entries.append(entry)
        if change.content is None:
            entry["sha"] = None  # deletes the file
        elif change.encoding == "base64" or len(change.content) > INLINE_MAX:
            blobs.append((entry, change))
        else:
            entry["content"] = change.content
    shas = await together(*(gh.create_blob(_bytes(c)) for _, c in blobs), limit=CONCURRENCY)
    for (entry, _), sha in zip(blobs, shas, strict=True):
        entry["sha"] = sha
    return entries


async def push_change(gh: GitHub, base: str, branch: str, changes: ChangeSet, message: str) -> str:
    """Commit `changes` on top of `base` to `branch`; returns the new head SHA.

    A first run creates the branch. A re-run (the branch exists) commits on top of the
    branch's head with the base as second parent, so moving the ref is a fast-forward:
    GitHub refuses it if anyone moved the branch in between, never overwriting their work.
    """
    (base_sha, base_tree), entries = await together(gh.get_branch(base), tree_entries(gh, changes))
    tree = await gh.create_tree(base_tree, entries)
    commit = await gh.create_commit(message, tree, [base_sha])
    if await gh.create_ref(branch, commit):
        return commit
    head = await gh.get_ref(branch)
    parents = [head] if head == base_sha else [head, base_sha]
    commit = await gh.create_commit(message, tree, parents)
    await gh.update_ref(branch, commit)
    return commit


async def commit_on(
    gh: GitHub, branch: str, tree: str, parents: list[str], changes: ChangeSet, message: str
) -> str:
    """Commit `changes` over `tree` with `parents` and move `branch` to it, as a
    fast-forward only: the first parent must be the branch's head, so GitHub refuses the
    move if anyone pushed in between. Returns the new head SHA."""
    entries = await tree_entries(gh, changes)
    commit = await gh.create_commit(message, await gh.create_tree(tree, entries), parents)
    await gh.update_ref(branch, commit)
    return commit
