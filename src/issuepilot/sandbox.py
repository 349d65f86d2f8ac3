"""Where untrusted code runs: agent commands and the repository's checks.

`sandbox: user` (the default) runs them as an unprivileged user of this run's own, created
when the sandbox opens and deleted when it closes. A process of another user cannot read
IssuePilot's or the runner's `/proc/<pid>/environ` (where the tokens, the Redis password
and the model key sit), and while the sandbox is open the runner's temporary folder and the
step's command files (`GITHUB_OUTPUT`, `GITHUB_ENV`, ...) are closed to other users. The
workspace is handed over (chown, and closed to every other user) for the run and given back
after. Closing kills every process of the run's user, whatever it detached from, and
deletes the files it left in the shared temporary folders: since no other run shares the
user, two jobs on one machine never see or kill each other's processes. A user whose run
died before it could close (a killed job) is removed by the next sandbox that opens.

Each sandbox has a fresh home folder (`HOME`), holding only the files its opener puts
there (an agent CLI's settings), so nothing one run leaves in a home reaches the next.

`sandbox: container` runs them with `docker run`, only the workspace and the home mounted.
`sandbox: none` runs them as IssuePilot's own user: chosen explicitly, and said in the step
log and the status comment, since the agent can then read the job's secrets.

Root runs the privileged parts directly; any other user through passwordless `sudo -n`
(GitHub-hosted runners and most self-hosted ones have it).
"""

import asyncio
import contextlib
import fcntl
import os
import pwd
import re
import secrets
import shlex
import shutil
import signal
import stat
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

from .errors import InputError

Mode = Literal["user", "container", "none"]
# A run's user: `issuepilot-<pid of the IssuePilot process>-<random>`; the pid tells the
# next sandbox whether the run that made it is still alive.
USER_NAME = re.compile(r"^issuepilot-(\d+)-[0-9a-f]{6}$")
# Where a run's user may leave files that outlive it; deleted when its sandbox closes.
SHARED_TEMP = ("/tmp", "/var/tmp", "/dev/shm")
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


class UserSandbox(Sandbox):
    """A user of this run's own: created on entering, every process of it killed and the
    user deleted on leaving."""

    mode: Mode = "user"
    notice = ""

    def __init__(
        self,
        workspace: Path,
        runner_env: dict[str, str],
        home_files: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(workspace, runner_env, home_files)
        self.user = f"issuepilot-{os.getpid()}-{secrets.token_hex(3)}"
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
        await reap_orphans(self.admin)
        self.account = await self._add_user()
        try:
            for name in RUNNER_FILES:
                if value := self.runner_env.get(name):
                    self._close(Path(value))
            for parent in self.workspace.resolve().parents:
                self._traversable(parent)
            self._private(self.workspace)  # another run's user cannot even look inside
            await self._hand_over(self.workspace)
            self._fill_home()
            await self._hand_over(self.home_folder)
        except BaseException:
            await self._leave()
            raise
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._leave()

    async def _leave(self) -> None:
        try:
            await self.kill_all()
        finally:
            await self._restore()
            self._drop_home()
            if self.account is not None:
                await remove_user(self.admin, self.user)

    async def _hand_over(self, path: Path) -> None:
        """Give `path` (recursively) to the sandbox user until the sandbox closes."""
        assert self.account is not None
        owner = f"{self.account.pw_uid}:{self.account.pw_gid}"
        await self._admin("chown", "-R", "--no-dereference", owner, str(path))
        self.handed.append(path)

    def argv(self, command: str, env: dict[str, str]) -> list[str]:
        assert self.account is not None
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
            f"HOME={self.home_path}",
            f"USER={self.user}",
            f"LOGNAME={self.user}",
            "bash",
            "-c",
            command,
        ]

    async def kill_all(self) -> None:
        """Kill every process of this run's user: detached, `setsid`, daemonised or not."""
        if self.account is not None:
            await kill_user(self.admin, self.account.pw_uid)

    async def _add_user(self) -> pwd.struct_passwd:
        """Create this run's user; `useradd` of concurrent runs may find the account files
        locked, and is tried again."""
        created = 0
        for attempt in range(20):
            created = await self._admin(
                "useradd",
                "--system",
                "--user-group",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/bin/bash",
                self.user,
                check=False,
            )
            if created == 0:
                break
            await asyncio.sleep(0.05 * (attempt + 1))
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

    def _private(self, path: Path) -> None:
        """Only the owner (the sandbox user, once handed over) may enter `path`."""
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            self.modes.setdefault(path, mode)
            os.chmod(path, mode & stat.S_IRWXU)

    def _traversable(self, path: Path) -> None:
        """Let other users pass through `path` (not list it) to reach the workspace. Left so
        when the sandbox closes: another run's sandbox may still need to pass (two jobs
        whose checkouts share a parent), and passing names nothing it could not reach while
        a sandbox is open anyway."""
        mode = path.stat().st_mode
        if not mode & stat.S_IXOTH:
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
        return await admin(self.admin, *argv, check=check)


async def admin(prefix: Sequence[str], *argv: str, check: bool = True) -> int:
    """Run a privileged command (`prefix` is empty as root, else `sudo -n`)."""
    proc = await asyncio.create_subprocess_exec(
        *prefix,
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


async def kill_user(prefix: Sequence[str], uid: int) -> None:
    """Kill every process of `uid`, until none is left (a fork can race one `pkill`)."""
    for _ in range(50):
        await admin(prefix, "pkill", "-KILL", "-U", str(uid), check=False)
        if await admin(prefix, "pgrep", "-U", str(uid), check=False) != 0:
            return
        await asyncio.sleep(0.02)


async def remove_user(prefix: Sequence[str], name: str) -> None:
    """Delete a run's user and what it left in the shared temporary folders (so that a
    later user given the same uid inherits nothing).

    One removal at a time on this machine, the user's uid read again under the lock: two
    runs may both find a dead run's user to reap, and once the first has deleted it, its
    uid may already belong to a new run's user that the second must not touch."""
    async with _one_remover():
        try:
            uid = pwd.getpwnam(name).pw_uid
        except KeyError:
            return  # removed already
        await kill_user(prefix, uid)
        folders = [f for f in SHARED_TEMP if os.path.isdir(f)]
        await admin(prefix, "find", *folders, "-xdev", "-user", str(uid), "-delete", check=False)
        for attempt in range(20):  # concurrent runs may hold the account files' lock
            if await admin(prefix, "userdel", name, check=False) in (0, 6):  # 6: no such user
                return
            await asyncio.sleep(0.05 * (attempt + 1))


@asynccontextmanager
async def _one_remover() -> AsyncIterator[None]:
    """An exclusive lock of this machine's IssuePilot processes (of one user), in a folder
    only that user may open: a sandboxed process cannot take it and hold up the others."""
    folder = Path(tempfile.gettempdir()) / f"issuepilot-{os.geteuid()}"
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700)
    info = folder.lstat()
    if stat.S_ISLNK(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
        raise SandboxUnavailable(f"{folder} is not a private folder of this user: remove it")
    fd = os.open(folder / "users.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # and with it the lock


async def reap_orphans(prefix: Sequence[str]) -> None:
    """Remove the users of runs that died before closing their sandbox (a killed job): a
    user's name holds the pid of the IssuePilot process that made it."""
    for account in pwd.getpwall():
        found = USER_NAME.match(account.pw_name)
        if found and not _alive(int(found.group(1))):
            await remove_user(prefix, account.pw_name)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ContainerSandbox(Sandbox):
    """`docker run` with only the workspace and the home mounted, as the workspace's owner."""

    mode: Mode = "container"
    notice = ""
    HOME = "/home/issuepilot"

    def __init__(
        self,
        workspace: Path,
        runner_env: dict[str, str],
        image: str,
        home_files: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(workspace, runner_env, home_files)
        self.image = image
        self.name = f"issuepilot-{os.getpid()}-{time.time_ns()}"

    @property
    def home_path(self) -> str:
        return self.HOME

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
            "-v",
            f"{self.home_folder}:{self.HOME}",
            "-e",
            f"HOME={self.HOME}",
            "-w",
            "/workspace",
            *names,  # `-e NAME` takes the value from docker's own environment: not in argv
            self.image,
            "bash",
            "-c",
            command,
        ]

    @property
    def workdir(self) -> str:
        return "/workspace"

    def visible(self, path: Path) -> str:
        if self.home is not None and path.is_relative_to(self.home):
            return f"{self.HOME}/{path.relative_to(self.home).as_posix()}"
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
    mode: Mode,
    workspace: Path,
    runner_env: dict[str, str],
    image: str | None = None,
    home_files: Mapping[str, str] | None = None,
) -> Sandbox:
    match mode:
        case "user":
            return UserSandbox(workspace, runner_env, home_files)
        case "container":
            if not image:
                raise InputError("sandbox: container needs sandbox-image in .github/issuepilot.yml")
            return ContainerSandbox(workspace, runner_env, image, home_files)
    return Sandbox(workspace, runner_env, home_files)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def filtered(env: dict[str, str], drop: Sequence[str] = RUNNER_FILES) -> dict[str, str]:
    """`env` without the runner's file-command variables and temporary folder."""
    return {k: v for k, v in env.items() if k not in drop}
