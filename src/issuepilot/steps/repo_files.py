"""Repository context for the agents: the file tree and the most relevant files, within a
token budget; from the checkout when there is one, else through the API.

Relevance, in order: paths the issue names (exactly, or by their end: `app.py` finds
`src/app.py`), files whose name the issue mentions, files that define a symbol the issue
mentions (searched in the checkout only). What does not fit is listed as left out.
"""

import re
from pathlib import Path

from ..agents.base import IssueText, RepoFiles
from ..aio import CONCURRENCY, together
from ..errors import InputError
from ..git import git
from ..paths import normalize_path
from .context import Context

PATH_IN_TEXT = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+\.[A-Za-z0-9]{1,8})(?![\w/-])")
WORD = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]{2,}\b")
CODE = {
    ".py",
    ".js",
    ".ts",
    ".tsx",
    ".jsx",
    ".go",
    ".rs",
    ".java",
    ".kt",
    ".rb",
    ".php",
    ".c",
    ".h",
    ".cc",
    ".cpp",
    ".hpp",
    ".cs",
    ".swift",
    ".scala",
    ".sh",
    ".lua",
}
CHARS_PER_TOKEN = 4
TREE_SHARE = 3  # the file tree takes at most a third of the budget
MAX_SCAN_BYTES = 200_000  # larger files are not searched for symbols
COMMON = {
    "the",
    "and",
    "for",
    "with",
    "this",
    "that",
    "should",
    "from",
    "not",
    "are",
    "can",
    "file",
    "line",
    "when",
    "use",
    "add",
    "fix",
    "make",
    "test",
    "tests",
    "issue",
    "bug",
}


def named_paths(text: str, limit: int) -> list[str]:
    """Paths the text names, in order of first mention (at most `limit`)."""
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


def rank(tree: list[str], text: str, limit: int, root: Path | None) -> list[str]:
    """The `limit` most relevant paths of `tree` for the issue text."""
    picked: list[str] = []

    def add(path: str) -> None:
        if path not in picked and len(picked) < limit:
            picked.append(path)

    by_suffix = sorted(tree, key=len)
    for named in named_paths(text, limit * 4):
        for path in by_suffix:
            if path == named or path.endswith("/" + named):
                add(path)
                break
    words = {w.lower() for w in WORD.findall(text)} - COMMON
    for path in tree:
        stem = Path(path).stem.lower()
        if stem in words:
            add(path)
    if root is not None and len(picked) < limit:
        symbols = {w for w in WORD.findall(text) if w.lower() not in COMMON}
        for path in _defining(root, tree, symbols):
            add(path)
    return picked


def _defining(root: Path, tree: list[str], symbols: set[str]) -> list[str]:
    """Code files that define one of `symbols` (def, class, function, fn, func, type ...)."""
    if not symbols:
        return []
    names = "|".join(sorted(re.escape(s) for s in symbols))
    definition = re.compile(
        rf"\b(?:def|class|function|fn|func|type|interface|struct|enum|const|let|var)\s+({names})\b".encode()
    )
    found = []
    for path in tree:
        if Path(path).suffix not in CODE:
            continue
        full = root / path
        try:
            if full.stat().st_size > MAX_SCAN_BYTES:
                continue
            if definition.search(full.read_bytes()):
                found.append(path)
        except OSError:
            continue
    return found


def _checkout(ctx: Context) -> Path | None:
    root = ctx.settings.workspace
    return root if root is not None and (root / ".git").exists() else None


async def list_tree(ctx: Context, ref: str) -> list[str]:
    root = _checkout(ctx)
    if root is not None:
        out = await git(root, "ls-files", "-z")
        return [p for p in out.decode(errors="replace").split("\0") if p]
    paths, _ = await ctx.gh.list_tree(ref)
    return paths


async def planner_context(ctx: Context, issue: IssueText, ref: str) -> RepoFiles:
    config = ctx.config
    budget = config.context_tokens * CHARS_PER_TOKEN
    tree = await list_tree(ctx, ref)
    shown: list[str] = []
    used = 0
    for path in tree:
        if used + len(path) + 1 > budget // TREE_SHARE:
            break
        shown.append(path)
        used += len(path) + 1
    text = f"{issue.title}\n{issue.body}\n" + "\n".join(issue.feedback)
    picks = rank(tree, text, config.context_files, _checkout(ctx))
    files = await read_files(ctx, picks, ref, budget - used)
    return RepoFiles(files.files, files.left_out, tuple(shown), len(tree) - len(shown))


def _read_local(root: Path, path: str) -> str | None:
    target = (root / path).resolve()
    if not target.is_relative_to(root.resolve()) or not target.is_file():
        return None
    return target.read_bytes().decode("utf-8", errors="replace")


async def read_files(ctx: Context, paths: list[str], ref: str, budget: int) -> RepoFiles:
    """Read `paths` within a total character budget; what does not fit is listed as left out."""
    root = _checkout(ctx)
    if root is not None:
        contents = [_read_local(root, p) for p in paths]
    else:
        reads = (ctx.gh.get_file(p, ref) for p in paths)
        contents = await together(*reads, limit=CONCURRENCY)
    files: dict[str, str | None] = {}
    left_out: list[str] = []
    for path, content in zip(paths, contents, strict=True):
        if content is not None and len(content) > budget:
            left_out.append(path)
            continue
        files[path] = content
        budget -= len(content or "")
    return RepoFiles(files, tuple(left_out))
