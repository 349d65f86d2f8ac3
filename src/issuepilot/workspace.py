"""Where an agent reads the repository and writes its change: the job's checkout, or, with
none, the base branch through the API with the edits kept in memory.

Either way the change is read back the same way for every backend: from the checkout with
git (added, modified, deleted, renamed files and modes; the agent's tools and an agent
command alike), or from the edits kept in memory.
"""

import base64
import os
import stat
from fnmatch import fnmatch
from pathlib import Path
from typing import Protocol

from .aio import CONCURRENCY, together
from .errors import ModelError
from .git import git
from .github.client import GitHub
from .models import FileChange
from .paths import repo_path


class Workspace(Protocol):
    root: Path | None  # the checkout, where there is one (checks need it)

    async def files(self, pattern: str = "") -> list[str]: ...
    async def read(self, path: str) -> str | None: ...
    async def pin(self) -> None: ...
    async def original(self, path: str) -> str | None: ...
    async def write(self, path: str, content: str) -> None: ...
    async def delete(self, path: str) -> None: ...
    async def change(self) -> list[FileChange]: ...


def checked(path: str) -> str:
    """A path an agent may touch: in the repository, outside `.git/`."""
    try:
        return repo_path(path)
    except ValueError as exc:
        raise ModelError(f"the agent changed a path it may not: {exc}") from None


def matches(path: str, pattern: str) -> bool:
    """A glob over repository paths: `*.py` matches at any depth, `src/*.py` from the top."""
    return not pattern or fnmatch(path, pattern) or fnmatch(path.rsplit("/", 1)[-1], pattern)


class CheckoutWorkspace:
    """The job's checkout. Writes go to disk; the change is read back with git, against
    the commit the work started from (`pin`): an agent's own commits, amends or branch
    switches change nothing of what is read back."""

    def __init__(self, root: Path) -> None:
        self.root: Path | None = root
        self._root = root
        self.base = "HEAD"  # the commit the work started from, once pinned

    async def pin(self) -> None:
        """Remember the commit the checkout is at, before any agent works in it."""
        self.base = (
            (await git(self._root, "rev-parse", "--verify", "HEAD^{commit}")).decode().strip()
        )

    async def files(self, pattern: str = "") -> list[str]:
        out = await git(self._root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
        paths = {p for p in out.decode(errors="replace").split("\0") if p}
        return sorted(p for p in paths if matches(p, pattern) and (self._root / p).is_file())

    def _full(self, path: str) -> Path:
        full = self._root / checked(path)
        for parent in [full, *full.parents]:
            if parent == self._root:
                break
            if parent.is_symlink():
                raise ModelError(f"{path} goes through a symlink: refused")
        return full

    async def read(self, path: str) -> str | None:
        full = self._full(path)
        if not full.is_file():
            return None
        return full.read_bytes().decode("utf-8", errors="replace")

    async def original(self, path: str) -> str | None:
        shown = await git(self._root, "show", f"{self.base}:{checked(path)}", check=False)
        return shown.decode("utf-8", errors="replace") if shown else None

    async def write(self, path: str, content: str) -> None:
        full = self._full(path)
        if full.is_dir():
            raise ModelError(f"{path} is a folder, not a file")
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_text(content, encoding="utf-8")

    async def delete(self, path: str) -> None:
        full = self._full(path)
        if full.is_file():
            full.unlink()

    async def change(self) -> list[FileChange]:
        return await read_back(self._root, self.base)


class ApiWorkspace:
    """The base branch through the contents API, with every edit kept in memory."""

    def __init__(self, gh: GitHub, ref: str) -> None:
        self.root: Path | None = None
        self.gh, self.ref = gh, ref
        self._tree: list[str] | None = None
        self._originals: dict[str, str | None] = {}
        self._edits: dict[str, str | None] = {}  # path -> new text, None when deleted

    async def files(self, pattern: str = "") -> list[str]:
        if self._tree is None:
            self._tree, _ = await self.gh.list_tree(self.ref)
        paths = (set(self._tree) | set(self._edits)) - {
            p for p, text in self._edits.items() if text is None
        }
        return sorted(p for p in paths if matches(p, pattern))

    async def pin(self) -> None:
        """Nothing to pin: the edits are kept apart from the branch."""

    async def original(self, path: str) -> str | None:
        path = checked(path)
        if path not in self._originals:
            self._originals[path] = await self.gh.get_file(path, self.ref)
        return self._originals[path]

    async def originals(self, paths: list[str]) -> dict[str, str | None]:
        """Many files at the base, at most eight requests at once."""
        texts = await together(*(self.original(p) for p in paths), limit=CONCURRENCY)
        return dict(zip(paths, texts, strict=True))

    async def read(self, path: str) -> str | None:
        path = checked(path)
        return self._edits[path] if path in self._edits else await self.original(path)

    async def write(self, path: str, content: str) -> None:
        self._edits[checked(path)] = content

    async def delete(self, path: str) -> None:
        self._edits[checked(path)] = None

    async def change(self) -> list[FileChange]:
        originals = await self.originals(sorted(self._edits))
        return [
            FileChange(path=path, content=text)
            for path, text in sorted(self._edits.items())
            if text != originals[path]
        ]


async def read_back(root: Path, base: str = "HEAD") -> list[FileChange]:
    """The working tree's changes against the commit `base`, as file changes (renames
    become a deletion and an addition). Paths outside the repository, into .git/, and
    symlinks are refused. The change is staged: `restore` puts the tree back to it after
    the checks ran."""
    await git(root, "add", "--all")
    raw = await git(root, "diff", "--cached", "--raw", "-M", "-z", base)
    fields = raw.decode(errors="surrogateescape").split("\0")
    changes: list[FileChange] = []
    i = 0
    while i < len(fields) - 1:
        meta, i = fields[i].split(), i + 1
        status = meta[4][0]
        paths = [fields[i]] + ([fields[i + 1]] if status in "RC" else [])
        i += len(paths)
        if status == "R":
            changes.append(FileChange(path=checked(paths[0]), content=None))
        target = paths[-1]
        if status == "D":
            changes.append(FileChange(path=checked(target), content=None))
            continue
        changes.append(_read(root, checked(target), meta[1]))
    return changes


async def restore(root: Path) -> None:
    """Put the checkout back to the change `read_back` staged: what the checks left behind
    (bytecode, caches, build folders, coverage files, a formatter's rewrite) is gone, even
    where no `.gitignore` names it. Ignored files (a virtual environment) stay."""
    await git(root, "checkout", "--", ".")
    await git(root, "clean", "-fdq")


def _read(root: Path, path: str, mode: str) -> FileChange:
    full = root / path
    if mode == "120000" or full.is_symlink():
        target = os.readlink(full)
        inside = (full.parent / target).resolve().is_relative_to(root.resolve())
        where = "inside" if inside else "outside"
        raise ModelError(f"the agent made {path} a symlink ({where} the repository): refused")
    data = full.read_bytes()
    executable = bool(full.stat().st_mode & stat.S_IXUSR)
    try:
        return FileChange(path=path, content=data.decode("utf-8"), executable=executable)
    except UnicodeDecodeError:
        text = base64.b64encode(data).decode()
        return FileChange(path=path, content=text, encoding="base64", executable=executable)
