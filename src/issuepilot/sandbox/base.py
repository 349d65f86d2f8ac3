"""The sandbox every mode shares: running a command with exactly its environment and a fresh
home, its output kept in a file, whatever it left running killed (see the package's doc)."""

import asyncio
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

from ..errors import InputError

Mode = Literal["user", "container", "none"]
# The runner's files a sandboxed process must not read; never passed to it either.
RUNNER_FILES = (
    "RUNNER_TEMP",
    "GITHUB_OUTPUT",
    "GITHUB_ENV",
    "GITHUB_PATH",
    "GITHUB_STATE",
    "GITHUB_STEP_SUMMARY",
)
NO_SANDBOX = (
    "sandbox: none: the agent command ran as IssuePilot's own user and could read the job's "
    "secrets (tokens, the Redis URL, the model key)"
)


class SandboxUnavailable(InputError):
    """The sandbox the config asks for cannot be set up on this runner."""


@dataclass(frozen=True, slots=True)
class Ran:
    code: int | None  # None: killed at the timeout
    output: str  # the last `cap` bytes of stdout and stderr together
    seconds: float


class Sandbox:
    """Runs commands in `workspace`, with a fresh home folder holding `home_files`
    (relative path -> text). Use as an async context manager: leaving it kills whatever
    the commands left running and restores what entering changed."""

    mode: Mode = "none"
    notice = NO_SANDBOX

    def __init__(
        self,
        workspace: Path,
        runner_env: dict[str, str],
        home_files: Mapping[str, str] | None = None,
    ) -> None:
        self.workspace = workspace
        self.runner_env = runner_env
        self.home_files = dict(home_files or {})
        self.home: Path | None = None

    async def __aenter__(self) -> Self:
        self._fill_home()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            await self.kill_all()
        finally:
            self._drop_home()

    @property
    def home_folder(self) -> Path:
        """The home folder on this machine, made on first use (before entering, so that
        what goes into it may name it)."""
        if self.home is None:
            self.home = Path(tempfile.mkdtemp(prefix="issuepilot-home-"))
        return self.home

    def _fill_home(self) -> None:
        for name, text in self.home_files.items():
            path = self.home_folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")

    def _drop_home(self) -> None:
        if self.home is not None:
            shutil.rmtree(self.home, ignore_errors=True)
            self.home = None

    @property
    def home_path(self) -> str:
        """The home folder as the sandboxed command sees it."""
        return str(self.home_folder)

    def argv(self, command: str, env: dict[str, str]) -> list[str]:
        return ["env", f"HOME={self.home_path}", "bash", "-c", command]

    def visible(self, path: Path) -> str:
        """Where the sandboxed command finds `path` (inside the workspace or the home)."""
        return str(path)

    @property
    def workdir(self) -> str:
        """The workspace as the sandboxed command sees it (its working directory)."""
        return str(self.workspace)

    async def kill_all(self) -> None:
        """Kill what the commands left behind; as IssuePilot's own user, only their process
        groups can be found."""

    async def run(
        self, command: str, env: dict[str, str], timeout: float, cap: int, cwd: Path | None = None
    ) -> Ran:
        """Run `command` with exactly `env` (and the sandbox's `HOME`); keep the last `cap`
        bytes of its output.

        The output goes to an unlinked file, not a pipe: a process the command left behind
        may hold it open, and nothing here waits for that."""
        started = time.monotonic()
        with tempfile.TemporaryFile() as out:
            proc = await asyncio.create_subprocess_exec(
                *self.argv(command, env),
                cwd=cwd or self.workspace,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                await asyncio.wait_for(proc.wait(), timeout)
                code: int | None = proc.returncode
            except TimeoutError:
                code = None
            finally:
                _kill_group(proc.pid)
                await self.kill_all()
                await proc.wait()
            size = out.seek(0, os.SEEK_END)
            out.seek(max(0, size - cap))
            output = out.read().decode(errors="replace")
        return Ran(code, output, time.monotonic() - started)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def filtered(env: dict[str, str], drop: Sequence[str] = RUNNER_FILES) -> dict[str, str]:
    """`env` without the runner's file-command variables and temporary folder."""
    return {k: v for k, v in env.items() if k not in drop}
