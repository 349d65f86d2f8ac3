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
# What actions/checkout (v6 on) leaves with `persist-credentials: true`: its token in a
# file of its own, in the runner's temporary folder, included from the checkout's config
# for its git directory and its worktrees, as the runner and as a container see them:
# `includeIf.gitdir:<dir>.path = <temp>/git-credentials-<uuid>.config`.
# https://github.com/actions/checkout/blob/main/src/git-auth-helper.ts
CHECKOUT_INCLUDE = re.compile(r"includeif\.gitdir:.+\.path")
CHECKOUT_CREDENTIALS = re.compile(
    r"(?:.*/)?git-credentials-[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}\.config"
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


def config_files(workspace: Path, submodules: bool = False) -> list[Path]:
    """The checkout's own config files (and, with `submodules`, those of its submodules
    under `.git/modules/`); refused if any of them is not a plain file or folder."""
    git_dir = workspace / ".git"
    if git_dir.is_symlink() or not git_dir.is_dir():
        raise ModelError(f"{git_dir} is not a plain directory: refused")
    found = [git_dir / "config", git_dir / "config.worktree"]
    for folder, _, names in os.walk(git_dir / "modules") if submodules else []:
        found += [Path(folder) / n for n in names if n == "config"]  # links are not followed
    for path in found:
        if path.is_symlink():
            raise ModelError(f"{path} is a symlink: refused")
    return [path for path in found if path.exists()]


def config_entries(path: Path) -> list[tuple[str, str]]:
    """(key, value) of every entry of one config file, as it is: no include is followed,
    and git runs outside any repository. Reading config runs nothing."""
    listed = subprocess.run(
        ["git", "config", "--file", str(path), "--no-includes", "--null", "--list"],
        capture_output=True,
        env=git_env(),
        cwd=_empty_home(),
        check=False,
    )
    if listed.returncode != 0:
        raise ModelError(f"{path} is not a valid git config: refused")
    items = listed.stdout.decode(errors="replace").split("\0")
    return [(key, value) for key, _, value in (i.partition("\n") for i in items if i)]


def unset(path: Path, key: str, value: str) -> None:
    """Remove the entry `key = value` from one config file, and no other."""
    subprocess.run(
        ["git", "config", "--file", str(path), "--fixed-value", "--unset-all", key, value],
        capture_output=True,
        env=git_env(),
        cwd=_empty_home(),
        check=False,
    )


def forget_checkout_credentials(path: Path) -> list[tuple[str, str]]:
    """Unset the includes of actions/checkout's credentials file in one config file; the
    entries left. Only the include goes: a file named by a path anyone could have written
    there is never deleted, and the credentials file itself lies in the runner's temporary
    folder, which the sandbox closes and a container does not mount."""
    entries = config_entries(path)
    theirs = [
        (key, value)
        for key, value in entries
        if CHECKOUT_INCLUDE.fullmatch(key.lower()) and CHECKOUT_CREDENTIALS.fullmatch(value)
    ]
    for key, value in theirs:
        unset(path, key, value)
    return config_entries(path) if theirs else entries


def check_repository_config(workspace: Path) -> None:
    """Refuse a checkout whose config would make git run something, once the includes of
    actions/checkout's credentials file are unset (never followed)."""
    keys = [
        key.lower()
        for path in config_files(workspace)
        for key, _ in forget_checkout_credentials(path)
    ]
    found = sorted({key for key in keys if EXECUTABLE.match(key)})
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
