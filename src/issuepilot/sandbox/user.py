"""`sandbox: user`: the commands run as an unprivileged user of the run's own."""

import asyncio
import os
import pwd
import secrets
import stat
import sys
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

from .base import RUNNER_FILES, Mode, Sandbox, SandboxUnavailable
from .users import admin, kill_user, reap_orphans, remove_user


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
