"""Repository paths: one spelling per file, never outside the repository. Pure."""

import posixpath
import re

from .errors import InputError


def normalize_path(path: str) -> str:
    """One spelling per file: `./a//b.py` -> `a/b.py`. Refuses escapes from the repository."""
    if not path or "\0" in path:
        raise InputError(f"invalid file path {path!r}")
    if path.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", path):
        raise InputError(f"absolute paths are not repository paths: {path!r}")
    norm = posixpath.normpath(path.replace("\\", "/"))
    if norm == "." or norm == ".." or norm.startswith("../"):
        raise InputError(f"path escapes the repository: {path!r}")
    return norm


def repo_path(path: str) -> str:
    """A path an agent may write: normalised, inside the repository, not in `.git/`.
    Raises ValueError, so pydantic reports it as a validation error of the field."""
    try:
        norm = normalize_path(path)
    except InputError as exc:
        raise ValueError(str(exc)) from None
    if norm == ".git" or norm.startswith(".git/"):
        raise ValueError(f"paths inside .git/ are never written: {path!r}")
    return norm
