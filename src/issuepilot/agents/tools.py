"""The tools of the built-in agent: one contract for every model (JSON Schema function
definitions), carried out on a `Workspace`.

Read tools: `list_files`, `read_file` (line ranges), `search`. Edit tools: `edit_file`
(one exact, unique replacement), `write_file` (a new or small file), `delete_file`. Then
`run_check` (a configured check, in the sandbox), and the role's last call: `submit_plan`
(planner) or `finish` (executor). A tool never raises: what goes wrong comes back to the
model as the tool's answer, so it can correct itself. Every edit is checked before it
touches the disk (`EditGuard`): the plan, protected paths, sizes, `.git/`, escapes.
"""

import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from ..errors import IssuePilotError, first_error
from ..models import Plan
from ..workspace import Workspace

LISTED = 300  # paths list_files answers with at most
READ_LINES = 400  # lines read_file answers with at most
MATCHES = 100  # lines search answers with at most
SEARCHED_FILES = 2_000  # files search looks into at most
SMALL_FILE_LINES = 200  # write_file replaces an existing file only below this size
ANSWER_CHARS = 30_000  # the longest tool answer the model gets


def _tool(name: str, text: str, properties: dict[str, Any], required: list[str]) -> Any:
    parameters = {"type": "object", "properties": properties, "required": required}
    return {
        "type": "function",
        "function": {"name": name, "description": text, "parameters": parameters},
    }


S, INT = {"type": "string"}, {"type": "integer"}
STRINGS = {"type": "array", "items": S}
TOOLS: dict[str, Any] = {
    "list_files": _tool(
        "list_files",
        "List repository paths, optionally matching a glob (`*.py`, `src/**/test_*.py`).",
        {"pattern": S},
        [],
    ),
    "read_file": _tool(
        "read_file",
        f"Read a file as numbered lines, at most {READ_LINES} at a time.",
        {"path": S, "start_line": INT, "end_line": INT},
        ["path"],
    ),
    "search": _tool(
        "search",
        "Search file contents with a regular expression; answers `path:line: text`.",
        {"pattern": S, "path_glob": S},
        ["pattern"],
    ),
    "edit_file": _tool(
        "edit_file",
        "Replace exactly one occurrence of old_text in a file with new_text. Include enough "
        "surrounding lines in old_text to make it unique.",
        {"path": S, "old_text": S, "new_text": S},
        ["path", "old_text", "new_text"],
    ),
    "write_file": _tool(
        "write_file",
        f"Create a file (or replace one under {SMALL_FILE_LINES} lines) with this content.",
        {"path": S, "content": S},
        ["path", "content"],
    ),
    "delete_file": _tool("delete_file", "Delete a file.", {"path": S}, ["path"]),
    "run_check": _tool(
        "run_check",
        "Run one of the repository's configured checks; answers its exit code and the end "
        "of its output.",
        {"name": S},
        ["name"],
    ),
    "submit_plan": _tool(
        "submit_plan",
        "Submit the plan: a summary, the steps, every file the change will touch, the risks.",
        {
            "summary": S,
            "steps": STRINGS,
            "files": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "path": S,
                        "action": {"type": "string", "enum": ["create", "modify", "delete"]},
                        "why": S,
                    },
                    "required": ["path", "action"],
                },
            },
            "risks": STRINGS,
        },
        ["summary", "files"],
    ),
    "finish": _tool(
        "finish", "The change is complete: give its one-line commit message.", {"message": S}, []
    ),
}
READ_TOOLS = ["list_files", "read_file", "search"]
ROLE_TOOLS = {
    "plan": [*READ_TOOLS, "submit_plan"],  # no run_check: planning runs no repository code
    "execute": [*READ_TOOLS, "edit_file", "write_file", "delete_file", "run_check", "finish"],
}

# What may be written: an error to show the model, or None. (path, new text or None.)
EditGuard = Callable[[str, str | None], Awaitable[str | None]]
# Run a configured check by name: (exit code or None on timeout, output tail).
CheckRunner = Callable[[str], Awaitable[tuple[int | None, str]]]


class ToolError(Exception):
    """What the model did wrong: answered to it, not raised to the step."""


@dataclass
class ToolBox:
    workspace: Workspace
    role: str
    guard: EditGuard | None = None
    check: CheckRunner | None = None
    plan: Plan | None = None  # what submit_plan gave
    message: str | None = None  # what finish gave: the role is done
    used: dict[str, int] = field(default_factory=dict)  # tool -> calls
    log: Callable[[str], None] = lambda _: None

    @property
    def done(self) -> bool:
        return self.plan is not None or self.message is not None

    def schemas(self) -> list[Any]:
        return [TOOLS[name] for name in ROLE_TOOLS[self.role]]

    async def call(self, name: str, arguments: str) -> str:
        """Carry out one tool call; the answer is text for the model, errors included."""
        started = time.monotonic()
        self.used[name] = self.used.get(name, 0) + 1
        try:
            if name not in ROLE_TOOLS[self.role]:
                raise ToolError(f"there is no tool {name!r}; use one of {ROLE_TOOLS[self.role]}")
            args = json.loads(arguments or "{}")
            if not isinstance(args, dict):
                raise ToolError("the arguments must be a JSON object")
            answer = str(await getattr(self, "_" + name)(**args))
        except (ToolError, IssuePilotError) as exc:
            answer = f"error: {exc}"
        except (TypeError, ValueError) as exc:  # wrong or missing arguments, bad JSON
            answer = f"error: bad arguments for {name}: {exc}"
        answer = answer if len(answer) <= ANSWER_CHARS else answer[:ANSWER_CHARS] + "\n[cut]"
        what = _subject(arguments)
        seconds = time.monotonic() - started
        self.log(f"{name} {what} -> {len(answer)} chars in {seconds:.2f} s".replace("  ", " "))
        return answer

    # -- reading -----------------------------------------------------------------------

    async def _list_files(self, pattern: str = "") -> str:
        paths = await self.workspace.files(pattern)
        more = f"\n[{len(paths) - LISTED} more not listed]" if len(paths) > LISTED else ""
        return "\n".join(paths[:LISTED]) + more if paths else "no files match"

    async def _read_file(self, path: str, start_line: int = 1, end_line: int = 0) -> str:
        text = await self.workspace.read(path)
        if text is None:
            raise ToolError(f"{path} does not exist")
        lines = text.splitlines()
        start = max(1, start_line)
        end = min(len(lines), end_line or start + READ_LINES - 1, start + READ_LINES - 1)
        shown = [f"{n:>5}  {lines[n - 1]}" for n in range(start, end + 1)]
        more = f"\n[lines {end + 1}-{len(lines)} not shown]" if end < len(lines) else ""
        return "\n".join(shown) + more if shown else f"{path} has {len(lines)} lines"

    async def _search(self, pattern: str, path_glob: str = "") -> str:
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise ToolError(f"not a regular expression: {exc}") from None
        found: list[str] = []
        for path in (await self.workspace.files(path_glob))[:SEARCHED_FILES]:
            text = await self.workspace.read(path) or ""
            for n, line in enumerate(text.splitlines(), 1):
                if regex.search(line):
                    found.append(f"{path}:{n}: {line.strip()[:200]}")
                    if len(found) >= MATCHES:
                        return "\n".join(found) + f"\n[stopped at {MATCHES} matches]"
        return "\n".join(found) or "no matches"

    # -- writing -----------------------------------------------------------------------

    async def _edit_file(self, path: str, old_text: str, new_text: str) -> str:
        text = await self.workspace.read(path)
        if text is None:
            raise ToolError(f"{path} does not exist (write_file creates files)")
        count = text.count(old_text) if old_text else 0
        if count != 1:
            raise ToolError(_not_unique(path, text, old_text, count))
        await self._write(path, text.replace(old_text, new_text, 1))
        line = text[: text.index(old_text)].count("\n") + 1
        return f"edited {path} at line {line}"

    async def _write_file(self, path: str, content: str) -> str:
        text = await self.workspace.read(path)
        if text is not None and len(text.splitlines()) >= SMALL_FILE_LINES:
            raise ToolError(f"{path} has {len(text.splitlines())} lines: change it with edit_file")
        await self._write(path, content)
        return f"wrote {path} ({len(content.splitlines())} lines)"

    async def _delete_file(self, path: str) -> str:
        if await self.workspace.read(path) is None:
            raise ToolError(f"{path} does not exist")
        await self._write(path, None)
        return f"deleted {path}"

    async def write(self, path: str, content: str | None) -> str | None:
        """Write (None deletes) through the guard; the refusal, if it refused."""
        try:
            await self._write(path, content)
        except (ToolError, IssuePilotError) as exc:
            return str(exc)
        return None

    async def _write(self, path: str, content: str | None) -> None:
        if self.guard is not None and (refused := await self.guard(path, content)):
            raise ToolError(refused)
        if content is None:
            await self.workspace.delete(path)
        else:
            await self.workspace.write(path, content)

    async def _run_check(self, name: str) -> str:
        if self.check is None:
            raise ToolError("checks need a checkout of the repository; none is here")
        code, tail = await self.check(name)
        status = "timed out" if code is None else f"exited {code}"
        return f"check {name!r} {status}\n{tail}"

    # -- ending ------------------------------------------------------------------------

    async def _submit_plan(self, **fields: Any) -> str:
        try:
            self.plan = Plan.model_validate(fields)
        except ValidationError as exc:
            raise ToolError(f"the plan is invalid: {first_error(exc, 'plan')}") from None
        return "plan received"

    async def _finish(self, message: str = "") -> str:
        self.message = message.strip().splitlines()[0][:200] if message.strip() else ""
        return "done"


def _not_unique(path: str, text: str, old: str, count: int) -> str:
    """Why an edit cannot be made, with the lines the model should look at."""
    if count == 0:
        first = old.strip().splitlines()[0] if old.strip() else ""
        near = [
            f"{n}: {line}"
            for n, line in enumerate(text.splitlines(), 1)
            if first and first.strip()[:40] in line
        ][:5]
        hint = ("; lines like its first line:\n" + "\n".join(near)) if near else ""
        return f"old_text was not found in {path}{hint}"
    lines = [text[: m.start()].count("\n") + 1 for m in re.finditer(re.escape(old), text)]
    return (
        f"old_text occurs {count} times in {path} (lines {', '.join(map(str, lines[:10]))}): "
        "include more of the surrounding lines so it occurs once"
    )


def _subject(arguments: str) -> str:
    """What a tool call was about, for the step log: its path, name or pattern; never text."""
    try:
        args = json.loads(arguments or "{}")
    except ValueError:
        return ""
    if not isinstance(args, dict):
        return ""
    for key in ("path", "name", "pattern", "path_glob"):
        if isinstance(args.get(key), str):
            return str(args[key])[:120]
    return ""
