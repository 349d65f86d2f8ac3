"""Is the change what was approved? Compared with the plan, protected paths and size limits
before anything is committed."""

import difflib
from fnmatch import fnmatch

from ..agents.base import RepoFiles
from ..config import RepoConfig
from ..errors import ModelError
from ..models import ChangeSet, Plan


class ScopeError(ModelError):
    """The change goes where it may not, or is too large."""


def changed_lines(changes: ChangeSet, before: RepoFiles) -> int:
    total = 0
    for change in changes.files:
        old = (before.files.get(change.path) or "").splitlines()
        matcher = difflib.SequenceMatcher(None, old, change.lines, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag != "equal":
                total += (i2 - i1) + (j2 - j1)
    return total


def protected_paths(paths: list[str], config: RepoConfig) -> list[str]:
    """The paths no change may touch unless `allow-protected` (setting protected-paths)."""
    return [p for p in paths if any(fnmatch(p, glob) for glob in config.protected_paths)]


def check_change(
    changes: ChangeSet, plan: Plan, before: RepoFiles, config: RepoConfig
) -> list[str]:
    """Raise `ScopeError` for a change that may not be committed; return the changed paths
    outside the plan that must be locked in addition (config `out-of-scope: lock`)."""
    paths = sorted({c.path for c in changes.files})
    protected = protected_paths(paths, config)
    if protected and not config.allow_protected:
        raise ScopeError(
            f"the change touches protected paths: {', '.join(protected)} "
            "(settings protected-paths, allow-protected)"
        )
    if len(paths) > config.max_files:
        raise ScopeError(f"the change touches {len(paths)} files; the limit is {config.max_files}")
    check_sizes(changes, config)
    lines = changed_lines(changes, before)
    if lines > config.max_changed_lines:
        raise ScopeError(
            f"the change adds or removes {lines} lines; the limit is {config.max_changed_lines}"
        )
    outside = [p for p in paths if p not in set(plan.paths)]
    if outside and config.out_of_scope == "refuse":
        raise ScopeError(
            f"the change touches files outside the approved plan: {', '.join(outside)}"
        )
    return outside


def check_sizes(changes: ChangeSet, config: RepoConfig) -> None:
    """Refuse, before anything is uploaded, a file or a change too large to review."""
    for change in changes.files:
        if change.size > config.max_file_bytes:
            raise ScopeError(
                f"{change.path} would be {change.size} bytes; the limit is "
                f"{config.max_file_bytes} (setting max-file-bytes)"
            )
    total = sum(change.size for change in changes.files)
    if total > config.max_change_bytes:
        raise ScopeError(
            f"the change writes {total} bytes; the limit is {config.max_change_bytes} "
            "(setting max-change-bytes)"
        )
