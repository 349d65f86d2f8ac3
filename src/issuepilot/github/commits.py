"""Write a change set to a branch through the Git Data API: tree -> commit -> ref.

The agent never holds a push credential, and commits made with an App token show as
verified. Every file's content travels inline in the one tree request, so the call count
does not grow with the number of files.
https://docs.github.com/en/rest/git/trees#create-a-tree
"""

from typing import Any

from ..models import ChangeSet
from .client import GitHub


def tree_entries(changes: ChangeSet) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for change in changes.files:
        entry: dict[str, Any] = {"path": change.path, "mode": "100644", "type": "blob"}
        if change.content is None:
            entry["sha"] = None  # deletes the file
        else:
            entry["content"] = change.content
        entries.append(entry)
    return entries


async def push_change(gh: GitHub, base: str, branch: str, changes: ChangeSet, message: str) -> str:
    """Commit `changes` on top of `base` to `branch`; returns the new head SHA.

    A first run creates the branch. A re-run (the branch exists) commits on top of the
    branch's head with the base as second parent, so moving the ref is a fast-forward:
    GitHub refuses it if anyone moved the branch in between, never overwriting their work.
    """
    base_sha, base_tree = await gh.get_branch(base)
    tree = await gh.create_tree(base_tree, tree_entries(changes))
    commit = await gh.create_commit(message, tree, [base_sha])
    if await gh.create_ref(branch, commit):
        return commit
    head = await gh.get_ref(branch)
    parents = [head] if head == base_sha else [head, base_sha]
    commit = await gh.create_commit(message, tree, parents)
    await gh.update_ref(branch, commit)
    return commit
