"""An agent command starts processes that outlive it: detached with `setsid`, in the
background, holding its stdout. When its run ends they all die, and the step never waits
on a pipe one of them holds."""

import subprocess
from pathlib import Path

import pytest

from ..test_command_agent import agent, checkout, run
from .test_agent_reads_the_jobs_secrets import can_sandbox

__all__ = ["checkout"]
LINGER = "setsid sleep 300 & (sleep 301 &); nohup sleep 302 >/dev/null 2>&1 &"


@pytest.mark.skipif(bool(can_sandbox()), reason=can_sandbox() or "sandbox available")
async def test_every_process_of_the_sandbox_user_is_killed(checkout: Path) -> None:
    ran = agent(checkout, f"{LINGER} id -u > b.txt", timeout=20, sandbox="user")
    changes = await run(ran, checkout)  # no timeout: nothing was awaited
    assert [c.path for c in changes] == ["b.txt"]
    uid = (checkout / "b.txt").read_text().strip()
    left = subprocess.run(["pgrep", "-U", uid], capture_output=True, text=True)
    assert left.returncode == 1, f"processes of the sandbox user survived: {left.stdout}"


async def test_without_a_sandbox_its_process_group_dies_and_no_pipe_is_awaited(
    checkout: Path,
) -> None:
    ran = agent(checkout, "sleep 303 & echo B > b.txt", timeout=20, sandbox="none")
    await run(ran, checkout)
    left = subprocess.run(["pgrep", "-f", "sleep 303"], capture_output=True)
    assert left.returncode == 1, "the agent's background process survived its run"
