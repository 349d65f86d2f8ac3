"""Many processes contending for overlapping files through the real lock scripts: no path
is ever held twice (checked by an independent occupancy record), and nothing is left."""

import subprocess
import sys
from pathlib import Path

from redis.asyncio import Redis

from ..conftest import repo_keys


async def test_fifty_processes_never_share_a_path_and_leave_no_key(
    redis_url: str, redis: Redis, repo: str
) -> None:
    worker = Path(__file__).with_name("lock_worker.py")
    root = Path(__file__).parents[2]
    procs = [
        subprocess.Popen(
            [sys.executable, str(worker), redis_url, repo, f"w{i}", "15"],
            cwd=root,
            env={"PYTHONPATH": str(root), "PATH": ""},
        )
        for i in range(50)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0] * 50
    check = f"check:{{{repo}}}:"
    grants, conflicts, violations = await redis.mget(
        check + "grants", check + "conflicts", check + "violations"
    )
    await redis.delete(check + "grants", check + "conflicts")
    assert violations is None
    assert int(grants) > 50 and int(conflicts) > 0  # the run really contended
    assert await repo_keys(redis, repo) == set()  # nothing left behind
