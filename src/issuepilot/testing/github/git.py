"""Git objects as GitHub's Git Data API shows them: blobs, trees and commits addressed by
their content, and refs that name commits.

Trees are flat (path -> mode and blob), which is all the fake needs: the client writes
whole trees with `base_tree` and reads them back recursively. SHAs are computed the way
git computes a blob's, so equal contents share one object.
"""

import hashlib
import io
import json
import tarfile
from typing import Any

Tree = dict[str, tuple[str, str]]  # path -> (mode, blob SHA)
FILE_MODE = "100644"


def object_sha(kind: str, data: bytes) -> str:
    return hashlib.sha1(f"{kind} {len(data)}\0".encode() + data).hexdigest()


class GitObjects:
    """A repository's object store and its refs (`heads/<branch>` -> commit SHA)."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.trees: dict[str, Tree] = {}
        self.commits: dict[str, dict[str, Any]] = {}  # SHA -> tree, parents, message
        self.refs: dict[str, str] = {}
        self._commits_made = 0  # part of each commit's SHA: two commits never share one

    def put_blob(self, data: bytes) -> str:
        sha = object_sha("blob", data)
        self.blobs[sha] = data
        return sha

    def put_tree(self, entries: Tree) -> str:
        sha = object_sha("tree", json.dumps(sorted(entries.items())).encode())
        self.trees[sha] = dict(entries)
        return sha

    def put_commit(self, tree: str, parents: list[str], message: str) -> str:
        self._commits_made += 1
        sha = object_sha(
            "commit", json.dumps([tree, parents, message, self._commits_made]).encode()
        )
        self.commits[sha] = {"tree": tree, "parents": parents, "message": message}
        return sha

    def seed(self, files: dict[str, str], branch: str = "main") -> None:
        """Start `branch` with one commit holding `files`."""
        blobs = {path: (FILE_MODE, self.put_blob(text.encode())) for path, text in files.items()}
        self.refs[f"heads/{branch}"] = self.put_commit(self.put_tree(blobs), [], "initial commit")

    def ancestors(self, *shas: str) -> set[str]:
        """The commits and every commit they descend from."""
        seen, todo = set(), list(shas)
        while todo:
            commit = todo.pop()
            if commit not in seen:
                seen.add(commit)
                todo += self.commits[commit]["parents"]
        return seen

    def merge_base(self, one: str, other: str) -> str | None:
        """The best common ancestor of two commits, as `git merge-base` finds it: one no
        other common ancestor descends from (the least SHA of several, after criss-cross
        merges); None when the histories are unrelated."""
        common = self.ancestors(one) & self.ancestors(other)
        below = self.ancestors(*(p for sha in common for p in self.commits[sha]["parents"]))
        return min(common - below, default=None)

    def tree_at(self, commit: str | None) -> Tree:
        """A commit's tree (empty for no commit: the start of history)."""
        return self.trees[self.commits[commit]["tree"]] if commit else {}

    def text_at(self, commit: str | None, path: str) -> str | None:
        entry = self.tree_at(commit).get(path)
        return None if entry is None else self.blobs[entry[1]].decode(errors="replace")

    def changes(self, old: str | None, new: str) -> dict[str, str]:
        """What changed from commit `old` to commit `new`: path -> added, modified or
        removed, by path."""
        before, after = self.tree_at(old), self.tree_at(new)
        found = {path: "added" for path in after.keys() - before.keys()}
        found |= {path: "removed" for path in before.keys() - after.keys()}
        found |= {p: "modified" for p in after.keys() & before.keys() if after[p] != before[p]}
        return dict(sorted(found.items()))

    def conflicts(self, base: str, head: str) -> set[str]:
        """The paths both commits changed, each its own way, since their merge base: what
        keeps `head` from merging into `base` cleanly."""
        since = self.merge_base(base, head)
        ours, theirs = self.tree_at(base), self.tree_at(head)
        both = self.changes(since, base).keys() & self.changes(since, head).keys()
        return {path for path in both if ours.get(path) != theirs.get(path)}

    def commit_files(self, branch: str, files: dict[str, str | None], message: str) -> str:
        """Commit `files` (text, or None to delete) on top of `branch` and move it there."""
        entries = dict(self.tree_at(self.refs[f"heads/{branch}"]))
        for path, text in files.items():
            if text is None:
                entries.pop(path, None)
            else:
                entries[path] = (FILE_MODE, self.put_blob(text.encode()))
        parent = self.refs[f"heads/{branch}"]
        self.refs[f"heads/{branch}"] = self.put_commit(self.put_tree(entries), [parent], message)
        return self.refs[f"heads/{branch}"]

    def commit_at(self, ref: str) -> str | None:
        """The commit a branch name or a commit SHA stands for, if any."""
        return self.refs.get(f"heads/{ref}", ref if ref in self.commits else None)

    def merge(self, base: str, head: str, message: str) -> str:
        """Merge branch `head` into branch `base` with a merge commit taking head's tree."""
        head_sha, base_sha = self.refs[f"heads/{head}"], self.refs[f"heads/{base}"]
        tree = self.commits[head_sha]["tree"]
        self.refs[f"heads/{base}"] = self.put_commit(tree, [base_sha, head_sha], message)
        return self.refs[f"heads/{base}"]

    def files_at(self, branch: str) -> dict[str, str]:
        """Every file's text at a branch (a test helper)."""
        tree = self.tree_at(self.refs[f"heads/{branch}"])
        return {path: self.blobs[sha].decode(errors="replace") for path, (_, sha) in tree.items()}

    def tarball(self, commit: str, top: str) -> bytes:
        """A commit's files as GitHub's repository archive: a gzipped tarball with every
        path under one folder, `top`."""
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w:gz") as tar:
            for path, (mode, sha) in sorted(self.tree_at(commit).items()):
                info = tarfile.TarInfo(f"{top}/{path}")
                info.size, info.mode = len(self.blobs[sha]), int(mode[-3:], 8)
                tar.addfile(info, io.BytesIO(self.blobs[sha]))
        return out.getvalue()
