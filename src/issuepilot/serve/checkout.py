"""A fresh checkout for one step of a worker: the repository's files at a branch's head,
from its tarball (one API call and one download, with no push credential anywhere), made
a git repository of one commit, as the steps expect of a checkout (the change is read
back with git against it).
"""

import asyncio
import tarfile
import tempfile
from pathlib import Path

from ..errors import InputError
from ..git import git, git_env
from ..github.client import GitHub

AUTHOR = ["-c", "user.name=IssuePilot", "-c", "user.email=issuepilot@users.noreply.github.com"]


async def fresh_checkout(gh: GitHub, ref: str, into: Path) -> Path:
    """The files of `ref` in a new folder under `into`; returns it."""
    workspace = Path(tempfile.mkdtemp(prefix="checkout-", dir=into))
    archive = workspace.with_suffix(".tar.gz")
    try:
        await gh.download_tarball(ref, archive)
        await asyncio.to_thread(unpack, archive, workspace)
    finally:
        archive.unlink(missing_ok=True)
    init = await asyncio.create_subprocess_exec(
        "git", "init", "--quiet", cwd=workspace, env=git_env(), stdin=asyncio.subprocess.DEVNULL
    )
    if await init.wait() != 0:
        raise InputError(f"git init failed in {workspace}")
    await git(workspace, "add", "--all", "--force")
    await git(workspace, *AUTHOR, "commit", "--quiet", "--allow-empty", "-m", f"{gh.repo}@{ref}")
    return workspace


def unpack(archive: Path, into: Path) -> None:
    """GitHub's archive, its one top folder taken away. Only files, folders and links
    that stay inside `into` are unpacked (`tarfile.data_filter`)."""
    with tarfile.open(archive, "r:gz") as tar:
        members = []
        for member in tar.getmembers():
            top, _, rest = member.name.partition("/")
            if not rest:
                continue  # the top folder itself, or GitHub's `pax_global_header`
            members.append(member.replace(name=rest, deep=False))
        try:
            tar.extractall(into, members=members, filter="data")
        except tarfile.FilterError as exc:
            raise InputError(f"the repository's archive holds {exc}: refused") from None
