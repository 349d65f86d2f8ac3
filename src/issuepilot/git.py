"""IssuePilot's own git calls in a checkout an agent may have touched.

Git runs programs named in its configuration (hooks, fsmonitor, filters, textconv, pagers,
ssh commands, ...). An agent can write `.git/config` and `.gitattributes`, so every call
here runs with a fixed, neutral configuration: no system or global config (HOME and
XDG_CONFIG_HOME point at an empty folder of IssuePilot's), hooks and fsmonitor off, and
a repository config that sets any executable key is refused before git runs at all.
https://git-scm.com/docs/git-config
"""

import asyncio
import functools
import os
import re
import subprocess
import tempfile
from pathlib import Path

from .errors import ModelError

# Repository config keys through which git runs a program, reads more config, or works
# on another tree. Lower case, as git compares them.
EXECUTABLE = re.compile(
    r"^(core\.(fsmonitor|hookspath|pager|sshcommand|editor|askpass|gitproxy|worktree"
    r"|alternaterefscommand)"
    r"|diff\.external|diff\..+\.(textconv|command)|filter\..+|merge\..+\.driver"
    r"|include\.path|includeif\..+|credential\..*|sequence\.editor|gpg\.(.+\.)?program"
    r"|pager\..+|interactive\.difffilter|alias\..+|uploadpack\..+|receivepack\..+"
    r"|remote\..+\.(uploadpack|receivepack|proxy|vcs)|protocol\..+)$"
)
NEUTRAL = [
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.pager=cat",
    "-c",
    "core.quotepath=off",
]


@functools.cache
def _empty_home() -> str:
    """A folder of IssuePilot's own that git takes for HOME: no ~/.gitconfig to read."""
    return tempfile.mkdtemp(prefix="issuepilot-git-home-")


def git_env() -> dict[str, str]:
    home = _empty_home()
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": home,
        "XDG_CONFIG_HOME": home,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_OPTIONAL_LOCKS": "0",
    }


def repository_config_keys(workspace: Path) -> list[str]:
    """The keys the checkout's own config files set. Reading config runs nothing, and
    `--no-includes` follows no `include.path`."""
    git_dir = workspace / ".git"
    if git_dir.is_symlink() or not git_dir.is_dir():
        raise ModelError(f"{git_dir} is not a plain directory: refused")
    keys: list[str] = []
    for name in ("config", "config.worktree"):
        path = git_dir / name
        if path.is_symlink():
            raise ModelError(f"{path} is a symlink: refused")
        if path.exists():
            listed = subprocess.run(
                ["git", "config", "--file", str(path), "--no-includes", "--name-only", "--list"],
                capture_output=True,
                env=git_env(),
                check=False,
            )
            if listed.returncode != 0:
                raise ModelError(f"{path} is not a valid git config: refused")
            keys += listed.stdout.decode(errors="replace").lower().split()
    return keys


def check_repository_config(workspace: Path) -> None:
    """Refuse a checkout whose config would make git run something."""
    found = sorted({key for key in repository_config_keys(workspace) if EXECUTABLE.match(key)})
    if found:
        raise ModelError(
            f"the checkout's .git/config sets keys that run programs ({', '.join(found)}): "
            "refused, nothing was committed"
        )


async def git(workspace: Path, *args: str, check: bool = True) -> bytes:
    check_repository_config(workspace)
    proc = await asyncio.create_subprocess_exec(
        "git",
        *NEUTRAL,
        *args,
        cwd=workspace,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=git_env(),
    )
    out, err = await proc.communicate()
    if check and proc.returncode != 0:
        raise ModelError(
            f"git {args[0]} failed in the checkout: {err.decode(errors='replace').strip()}"
        )
    return out
