"""Two jobs on one self-hosted runner machine run their agents at the same time. Each
sandbox is a user of its run's own: one run's end kills none of the other's processes, and
neither can read the other's checkout or environment. A run killed before it could close
its sandbox leaves a user that the next sandbox removes, with its processes."""

import asyncio
import os
import pwd
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from issuepilot.sandbox import USER_NAME, UserSandbox, remove_user

from .test_agent_reads_the_jobs_secrets import can_sandbox

pytestmark = pytest.mark.skipif(bool(can_sandbox()), reason=can_sandbox() or "available")
ENV = {"PATH": os.environ["PATH"], "SECRET_OF_A": "a-secret-5e1f0b"}


def workspace(root: Path, name: str) -> Path:
    ws = root / name
    ws.mkdir()
    (ws / "private.txt").write_text(f"only {name} may read this\n")
    return ws


async def test_one_runs_end_kills_nothing_of_the_other_and_neither_reads_the_other(
    tmp_path: Path,
) -> None:
    a, b = workspace(tmp_path, "a"), workspace(tmp_path, "b")
    async with UserSandbox(a, {}) as box_a:
        slow = asyncio.create_task(
            box_a.run("sleep 2 && echo finished > done.txt", ENV, timeout=60, cap=4096)
        )
        await asyncio.sleep(0.3)  # A's agent is running
        hostile = (
            f"cat {a}/private.txt > loot.txt 2>&1;"
            " for f in /proc/[0-9]*/environ; do cat $f; done >> loot.txt 2>/dev/null;"
            " kill -9 -1; pkill -9 sleep; true"
        )
        async with UserSandbox(b, {}) as box_b:
            ran_b = await box_b.run(hostile, {"PATH": ENV["PATH"]}, timeout=60, cap=4096)
        assert ran_b.code == 0
        ran_a = await slow
    assert ran_a.code == 0, f"A's agent was killed: {ran_a.output}"
    assert (a / "done.txt").read_text() == "finished\n"
    loot = (b / "loot.txt").read_text()
    assert "only a may read this" not in loot and "Permission denied" in loot
    assert ENV["SECRET_OF_A"] not in loot
    assert box_a.user != box_b.user


async def test_the_runs_user_is_gone_when_its_sandbox_closes(tmp_path: Path) -> None:
    ws = workspace(tmp_path, "w")
    async with UserSandbox(ws, {}) as box:
        ran = await box.run(
            "id -u; (setsid sleep 300 &); touch /tmp/left-by-agent-$$", ENV, timeout=60, cap=4096
        )
        uid = int(ran.output.split()[0])
        assert pwd.getpwuid(uid).pw_name == box.user
    assert box.user not in {p.pw_name for p in pwd.getpwall()}
    assert not alive(uid)
    assert not [p for p in Path("/tmp").glob("left-by-agent-*") if p.owner() == str(uid)]
    assert (ws / "private.txt").stat().st_uid == os.geteuid()  # handed back


OPENER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from issuepilot.sandbox import UserSandbox

    async def main():
        box = UserSandbox(Path(sys.argv[1]), {})
        await box.__aenter__()
        env = {"PATH": "/usr/bin:/bin"}
        await asyncio.create_subprocess_exec(*box.argv("setsid sleep 301", env), env=env)
        print(box.user, flush=True)
        await asyncio.sleep(600)

    asyncio.run(main())
    """
)


async def test_a_killed_runs_user_is_removed_by_the_next_sandbox(tmp_path: Path) -> None:
    ws = workspace(tmp_path, "killed")
    opener = subprocess.Popen(
        [sys.executable, "-c", OPENER, str(ws)], stdout=subprocess.PIPE, text=True
    )
    assert opener.stdout is not None
    orphan = opener.stdout.readline().strip()
    opener.stdout.close()
    assert USER_NAME.match(orphan)
    uid = pwd.getpwnam(orphan).pw_uid
    assert alive(uid), "the run's agent is running"
    os.kill(opener.pid, signal.SIGKILL)  # the job is killed: nothing closes its sandbox
    opener.wait()
    async with UserSandbox(workspace(tmp_path, "next"), {}):
        pass
    assert orphan not in {p.pw_name for p in pwd.getpwall()}
    assert not alive(uid)


def alive(uid: int) -> bool:
    return subprocess.run(["pgrep", "-U", str(uid)], capture_output=True).returncode == 0


async def test_one_sandbox_closing_leaves_the_other_its_way_to_its_checkout(
    tmp_path: Path,
) -> None:
    shared = tmp_path / "work"  # the checkouts' common parent, closed to other users
    shared.mkdir(mode=0o700)
    a, b = workspace(shared, "a"), workspace(shared, "b")
    first = await UserSandbox(b, {}).__aenter__()  # B opens first, A next; B ends first
    async with UserSandbox(a, {}) as box_a:
        await first.__aexit__(None, None, None)
        ran = await box_a.run(f"cat {a}/private.txt", ENV, timeout=60, cap=4096)
    assert ran.code == 0 and "only a may read this" in ran.output, ran.output


async def test_reaping_a_user_that_is_gone_touches_whoever_has_its_uid_now(
    tmp_path: Path,
) -> None:
    async with UserSandbox(workspace(tmp_path, "old"), {}) as old:
        pass  # closed: its user deleted, its uid free for the next sandbox
    async with UserSandbox(workspace(tmp_path, "new"), {}) as new:
        slow = asyncio.create_task(new.run("sleep 2; echo alive", ENV, timeout=60, cap=4096))
        await asyncio.sleep(0.3)
        await remove_user(new.admin, old.user)  # a second reaper, late, with the old name
        ran = await slow
    assert ran.code == 0 and "alive" in ran.output
