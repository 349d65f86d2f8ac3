"""A worker's fresh checkout: the default branch's files from the repository's tarball,
read from the archive host without the token, made one commit; an archive whose entries
would land outside the checkout is refused."""

import io
import subprocess
import tarfile
from pathlib import Path

import pytest

from issuepilot.errors import InputError
from issuepilot.github.client import GitHub
from issuepilot.serve.checkout import fresh_checkout, unpack
from issuepilot.testing.github import FakeGitHub

FILES = {"README.md": "# Project\n", "src/app.py": "print('hi')\n", ".gitignore": "src/\n"}


async def test_the_checkout_is_the_branchs_files_in_one_commit(tmp_path: Path) -> None:
    with FakeGitHub("octo/app", files=FILES) as fake:
        gh = GitHub("octo/app", "ghs_fake", fake.url)
        try:
            workspace = await fresh_checkout(gh, "main", tmp_path)
        finally:
            await gh.aclose()
        headers = [h for _, _, h in fake.log_host_requests]
    found = {p.relative_to(workspace).as_posix() for p in workspace.rglob("*") if p.is_file()}
    assert {f for f in found if not f.startswith(".git/")} == set(FILES)
    assert (workspace / "src/app.py").read_text() == FILES["src/app.py"]
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=workspace, capture_output=True, text=True, check=True
    ).stdout.split()
    assert sorted(tracked) == sorted(FILES)  # ignored files too: they are the repository's
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=workspace, capture_output=True, text=True
    )
    assert status.stdout == ""
    assert headers and all("authorization" not in h for h in headers)


@pytest.mark.parametrize("name", ["top/../../evil.txt", "top/a/../../../evil.txt", "top/link"])
def test_an_archive_reaching_outside_is_refused(tmp_path: Path, name: str) -> None:
    archive = tmp_path / "a.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo(name)
        if name.endswith("link"):
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        else:
            info.size = 4
        tar.addfile(info, io.BytesIO(b"evil"))
    into = tmp_path / "checkout"
    into.mkdir()
    with pytest.raises(InputError, match="refused"):
        unpack(archive, into)
    assert not (tmp_path / "evil.txt").exists() and list(into.iterdir()) == []
