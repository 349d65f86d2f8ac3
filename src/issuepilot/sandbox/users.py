"""The accounts of `sandbox: user`: a user per run, created and deleted through root or
`sudo -n`; a dead run's user found by the pid in its name and removed, one removal at a
time on the machine."""

import asyncio
import contextlib
import fcntl
import os
import pwd
import re
import shlex
import stat
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from .base import SandboxUnavailable

# A run's user: `issuepilot-<pid of the IssuePilot process>-<random>`; the pid tells the
# next sandbox whether the run that made it is still alive.
USER_NAME = re.compile(r"^issuepilot-(\d+)-[0-9a-f]{6}$")
# Where a run's user may leave files that outlive it; deleted when its sandbox closes.
SHARED_TEMP = ("/tmp", "/var/tmp", "/dev/shm")


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
