"""Where untrusted code runs: agent commands and the repository's checks.

`sandbox: user` (the default) runs them as a dedicated unprivileged user, created on first
use. A process of another user cannot read IssuePilot's or the runner's
`/proc/<pid>/environ` (where the tokens, the Redis password and the model key sit), and
while the sandbox is open the runner's temporary folder and the step's command files
(`GITHUB_OUTPUT`, `GITHUB_ENV`, ...) are closed to other users. The workspace is handed
over (chown) for the run and given back after; every process of the sandbox user is
killed when it closes, whatever it detached from.

`sandbox: container` runs them with `docker run`, only the workspace mounted. `sandbox:
none` runs them as IssuePilot's own user: chosen explicitly, and said in the step log and
the status comment, since the agent can then read the job's secrets.

Root runs the privileged parts directly; any other user through passwordless `sudo -n`
(GitHub-hosted runners and most self-hosted ones have it).
"""

import asyncio
import os
import pwd
import shlex
import signal
import stat
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

from .errors import InputError

Mode = Literal["user", "container", "none"]
SANDBOX_USER = "issuepilot-agent"
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
    """Runs commands in `workspace`. Use as an async context manager: leaving it kills
    whatever the commands left running and restores what entering changed."""

    mode: Mode = "none"
    notice = NO_SANDBOX

    def __init__(self, workspace: Path, runner_env: dict[str, str]) -> None:
        self.workspace = workspace
        self.runner_env = runner_env

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.kill_all()

    def argv(self, command: str, env: dict[str, str]) -> list[str]:
        return ["bash", "-c", command]

    def visible(self, path: Path) -> str:
        """Where the sandboxed command finds `path` (a path inside the workspace)."""
        return str(path)

    async def kill_all(self) -> None:
        """Kill what the commands left behind; as IssuePilot's own user, only their process
        groups can be found."""

    async def run(
        self, command: str, env: dict[str, str], timeout: float, cap: int, cwd: Path | None = None
    ) -> Ran:
        """Run `command` with exactly `env`; keep the last `cap` bytes of its output.

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


class UserSandbox(Sandbox):
    mode: Mode = "user"
    notice = ""

    def __init__(
        self, workspace: Path, runner_env: dict[str, str], user: str = SANDBOX_USER
    ) -> None:
        super().__init__(workspace, runner_env)
        self.user = user
        self.admin = [] if os.geteuid() == 0 else ["sudo", "-n"]
        self.handed: list[Path] = []
        self.modes: dict[Path, int] = {}  # paths whose mode entering changed, as they were
        self.account: pwd.struct_passwd | None = None

    async def __aenter__(self) -> Self:
        if sys.platform != "linux":
            raise SandboxUnavailable(
                "sandbox: user needs a Linux runner; set sandbox: container or (knowing the "
                "agent then reads the job's secrets) sandbox: none in .github/issuepilot.yml"
            )
        self.account = await self._ensure_user()
        try:
            for name in RUNNER_FILES:
                if value := self.runner_env.get(name):
                    self._close(Path(value))
            for parent in self.workspace.resolve().parents:
                self._traversable(parent)
            await self._hand_over(self.workspace)
        except BaseException:
            await self._restore()
            raise
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            await self.kill_all()
        finally:
            await self._restore()

    async def _hand_over(self, path: Path) -> None:
        """Give `path` (recursively) to the sandbox user until the sandbox closes."""
        assert self.account is not None
        owner = f"{self.account.pw_uid}:{self.account.pw_gid}"
        await self._admin("chown", "-R", "--no-dereference", owner, str(path))
        self.handed.append(path)

    def argv(self, command: str, env: dict[str, str]) -> list[str]:
        assert self.account is not None
        home = self.account.pw_dir
        # sudo resets PATH to its secure_path: `env` puts the job's PATH back.
        return [
            *self.admin,
            *(["--preserve-env"] if self.admin else []),
            "setpriv",
            f"--reuid={self.account.pw_uid}",
            f"--regid={self.account.pw_gid}",
            "--init-groups",
            "--no-new-privs",
            "--",
            "env",
            f"PATH={env.get('PATH', '/usr/bin:/bin')}",
            f"HOME={home}",
            f"USER={self.user}",
            f"LOGNAME={self.user}",
            "bash",
            "-c",
            command,
        ]

    async def kill_all(self) -> None:
        """Kill every process of the sandbox user: detached, `setsid`, daemonised or not."""
        for _ in range(50):
            await self._admin("pkill", "-KILL", "-u", self.user, check=False)
            if await self._admin("pgrep", "-u", self.user, check=False) != 0:
                return
            await asyncio.sleep(0.02)

    async def _ensure_user(self) -> pwd.struct_passwd:
        try:
            return pwd.getpwnam(self.user)
        except KeyError:
            pass
        created = await self._admin(
            "useradd",
            "--system",
            "--user-group",
            "--create-home",
            "--shell",
            "/bin/bash",
            self.user,
            check=False,
        )
        try:
            return pwd.getpwnam(self.user)
        except KeyError:
            how = "sudo -n" if self.admin else "root"
            raise SandboxUnavailable(
                f"cannot create the sandbox user {self.user!r} (useradd through {how} exited "
                f"{created}): run on a runner with passwordless sudo, or set sandbox: "
                "container, or (knowing the agent then reads the job's secrets) sandbox: none"
            ) from None

    def _close(self, path: Path) -> None:
        """Take every permission of other users off `path` until the sandbox closes."""
        try:
            mode = path.stat().st_mode
        except OSError:
            return
        if mode & stat.S_IRWXO:
            self.modes.setdefault(path, stat.S_IMODE(mode))
            os.chmod(path, stat.S_IMODE(mode) & ~stat.S_IRWXO)

    def _traversable(self, path: Path) -> None:
        """Let other users pass through `path` (not list it) to reach the workspace."""
        mode = path.stat().st_mode
        if not mode & stat.S_IXOTH:
            self.modes.setdefault(path, stat.S_IMODE(mode))
            os.chmod(path, stat.S_IMODE(mode) | stat.S_IXOTH)

    async def _restore(self) -> None:
        owner = f"{os.geteuid()}:{os.getegid()}"
        for path in reversed(self.handed):
            await self._admin("chown", "-R", "--no-dereference", owner, str(path))
        self.handed.clear()
        for path, mode in self.modes.items():
            os.chmod(path, mode)
        self.modes.clear()

    async def _admin(self, *argv: str, check: bool = True) -> int:
        proc = await asyncio.create_subprocess_exec(
            *self.admin,
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await proc.communicate()
        code = proc.returncode or 0
        if check and code != 0:
            raise SandboxUnavailable(
                f"the sandbox could not run {shlex.join(argv)}: "
                f"{err.decode(errors='replace').strip() or f'exit {code}'}"
            )
        return code


class ContainerSandbox(Sandbox):
    """`docker run` with only the workspace mounted, as the workspace's owner."""

    mode: Mode = "container"
    notice = ""

    def __init__(self, workspace: Path, runner_env: dict[str, str], image: str) -> None:
        super().__init__(workspace, runner_env)
        self.image = image
        self.name = f"issuepilot-{os.getpid()}-{time.time_ns()}"

    def argv(self, command: str, env: dict[str, str]) -> list[str]:
        owner = self.workspace.stat()
        names = [arg for key in sorted(env) if key != "PATH" for arg in ("-e", key)]
        return [
            "docker",
            "run",
            "--rm",
            "--name",
            self.name,
            "--user",
            f"{owner.st_uid}:{owner.st_gid}",
            "-v",
            f"{self.workspace.resolve()}:/workspace",
            "-w",
            "/workspace",
            *names,  # `-e NAME` takes the value from docker's own environment: not in argv
            self.image,
            "bash",
            "-c",
            command,
        ]

    def visible(self, path: Path) -> str:
        return "/workspace/" + path.relative_to(self.workspace).as_posix()

    async def kill_all(self) -> None:
        proc = await asyncio.create_subprocess_exec(
            "docker",
            "rm",
            "-f",
            self.name,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await proc.wait()


def open_sandbox(
    mode: Mode, workspace: Path, runner_env: dict[str, str], image: str | None = None
) -> Sandbox:
    match mode:
        case "user":
            return UserSandbox(workspace, runner_env)
        case "container":
            if not image:
                raise InputError("sandbox: container needs sandbox-image in .github/issuepilot.yml")
            return ContainerSandbox(workspace, runner_env, image)
    return Sandbox(workspace, runner_env)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def filtered(env: dict[str, str], drop: Sequence[str] = RUNNER_FILES) -> dict[str, str]:
    """`env` without the runner's file-command variables and temporary folder."""
    return {k: v for k, v in env.items() if k not in drop}
