"""Two jobs of two repositories run IssuePilot on one self-hosted runner machine at the same
time, each with an agent command. One job's agent ends first, having tried to kill every
process it can and to read the other job's checkout; the other job's agent, still working,
is untouched, and its pull request holds its change."""

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from issuepilot.testing.fake_llm import FakeLLM
from issuepilot.testing.github import FakeGitHub

from ..security.test_agent_reads_the_jobs_secrets import can_sandbox
from .conftest import FILES
from .harness import World

pytestmark = pytest.mark.skipif(bool(can_sandbox()), reason=can_sandbox() or "available")


def approve(world: World, title: str, body: str) -> int:
    gh = world.github
    issue = gh.open_issue(title, body)
    assert world.step(gh.label_event(issue, "issuepilot")).code == 0
    [planned] = world.drain()
    assert planned.outputs["task-state"] == "plan-review", planned.stdout + planned.stderr
    world.step(gh.label_event(issue, "issuepilot:approved"))
    return issue


@pytest.mark.stores("github")
def test_one_jobs_agent_neither_kills_nor_reads_the_others(world: World, tmp_path: Path) -> None:
    slow_ws = world.tmp / "workspace"
    world.checkout()
    # The slow agent says it started, then works until the test says the other job is done.
    signals = Path(tempfile.mkdtemp(dir="/tmp"))
    os.chmod(signals, 0o777)
    world.extra_env["ISSUEPILOT_AGENT_COMMAND"] = (
        f"touch {signals}/started; for i in $(seq 600); do [ -e {signals}/go ] && break;"
        " sleep 0.1; done; echo slow-and-steady > notes.txt"
    )
    slow = approve(world, "Slow", "Write `notes.txt`.")
    (tmp_path / "other" / "workspace").mkdir(parents=True)
    with (
        FakeGitHub("other/repo", files=FILES) as github,
        FakeLLM() as model,
    ):
        other = World(github, model, "", tmp_path / "other")
        other.checkout()
        other.extra_env["ISSUEPILOT_AGENT_COMMAND"] = (
            f"cat {slow_ws}/README.md > loot.txt 2>&1; ls {slow_ws} >> loot.txt 2>&1;"
            " for f in /proc/[0-9]*/environ; do tr '\\0' '\\n' < $f; done >> loot.txt 2>/dev/null;"
            " kill -9 -1; pkill -9 sleep; true"
        )
        quick = approve(other, "Quick", "Write `loot.txt`.")
        [dispatch] = world.github.dispatches
        world.github.dispatches.clear()
        running = world.start(world.github.dispatch_event(dispatch["inputs"]))
        deadline = time.monotonic() + 60
        while not (signals / "started").exists():  # the slow job's agent is at work
            assert time.monotonic() < deadline and running[0].poll() is None
            time.sleep(0.05)
        [quick_run] = other.drain()
        assert quick_run.outputs["task-state"] == "pr-open", quick_run.stdout + quick_run.stderr
        loot = github.files_at(github.pulls[int(quick_run.outputs["pr-number"])]["head"])
        assert "# Project" not in loot["loot.txt"] and "Permission denied" in loot["loot.txt"]
        assert "ghs_fake" not in loot["loot.txt"]
        assert quick == 1
    (signals / "go").touch()
    slow_run = world.finish(*running)
    shutil.rmtree(signals)
    assert slow_run.outputs["task-state"] == "pr-open", slow_run.stdout + slow_run.stderr
    pull = world.github.pulls[int(slow_run.outputs["pr-number"])]
    assert world.github.files_at(pull["head"])["notes.txt"] == "slow-and-steady\n"
    assert slow == 1
