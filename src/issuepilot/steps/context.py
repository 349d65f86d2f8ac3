"""Reading repository files for the agents: from the checkout when there is one, else the API."""

import asyncio
import re
from pathlib import Path

from ..agents.base import RepoFiles
from ..errors import InputError
from ..locks import normalize_path
from .common import Context

PATH_IN_TEXT = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+\.[A-Za-z0-9]{1,8})(?![\w/-])")


def named_paths(text: str, limit: int) -> list[str]:
    """Paths the issue text names, in order of first mention (at most `limit`)."""
    found: list[str] = []
    for match in PATH_IN_TEXT.finditer(text):
        try:
            path = normalize_path(match.group(1))
        except InputError:
            continue
        if path not in found and not path.startswith(".git/"):
            found.append(path)
        if len(found) >= limit:
            break
    return found


def _read_local(root: Path, path: str, budget: int) -> str | None:
    target = (root / path).resolve()
    if not target.is_relative_to(root.resolve()) or not target.is_file():
        return None
    return target.read_bytes()[:budget].decode("utf-8", errors="replace")


async def read_files(ctx: Context, paths: list[str], ref: str, budget: int) -> RepoFiles:
    """Read `paths` within a total byte budget; what does not fit is listed as left out."""
    root = ctx.settings.workspace
    if root is not None and (root / ".git").exists():
        contents = [_read_local(root, p, budget) for p in paths]
    else:
        contents = list(await asyncio.gather(*(ctx.gh.get_file(p, ref) for p in paths)))
    files: dict[str, str | None] = {}
    left_out: list[str] = []
    for path, content in zip(paths, contents, strict=True):
        if content is not None and len(content) > budget:
            left_out.append(path)
            continue
        files[path] = content
        budget -= len(content or "")
    return RepoFiles(files, tuple(left_out))
