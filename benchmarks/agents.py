"""What IssuePilot adds around an agent CLI, and what installing one costs.

- `around the CLI`: one execute run of the command backend with a CLI that does nothing
  but report its usage: finding the installed CLI (its folder's mark), scrubbing the
  checkout's credentials, opening the sandbox (a user of the run's own, the checkout handed
  over, a fresh home with the preset's settings), closing it (every process killed, the
  user deleted, the checkout given back), reading the output into the budget, dropping
  leftovers and reading the change back with git. The time of the CLI itself is not in it.
  Median of `--rounds` runs, under the sandbox the machine allows (`user` as root or with
  sudo). Target: under 2 s.
- per preset: `cached` is the check the step makes when the action restored the CLI from
  its cache; `cold` installs the pinned version into an empty folder from the registry
  (npm, or a virtual environment for PyPI), with npm's, pip's and uv's download caches
  empty too — what a cache miss costs on a fresh runner; skipped with `--no-install`.

    python benchmarks/agents.py [--rounds 10] [--no-install] [--presets claude-code codex]
"""

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from issuepilot.agents.base import IssueText
from issuepilot.agents.command import CommandAgent, PresetRun
from issuepilot.agents.install import DONE, ensure, folder, installed
from issuepilot.agents.presets import PRESETS, Install, Invocation, Preset, Report
from issuepilot.agents.tools import ToolBox
from issuepilot.models import Plan, PlannedFile
from issuepilot.workspace import CheckoutWorkspace

PLAN = Plan(summary="s", files=[PlannedFile(path="a.txt")])
ISSUE = IssueText(1, "Edit a.txt", "Append a line to `a.txt`.", ())
CLI = '#!/bin/sh\ncat > /dev/null\necho more >> a.txt\necho \'{"turns": 1, "tokens": 10}\'\n'


class Quiet(Preset):
    """A CLI that appends a line and reports its usage: everything else is IssuePilot's."""

    name, title = "quiet", "Quiet"
    install = Install("pypi", "quiet", "1.0", "quiet")
    keys = ("QUIET_API_KEY",)
    leftovers = (".quiet",)

    def argv(self, run: Invocation) -> list[str]:
        return [run.binary]

    def env(self, run: Invocation) -> dict[str, str]:
        return {"QUIET_KEY": run.key}

    def home_files(self, run: Invocation) -> dict[str, str]:
        return {".quiet/settings.json": "{}"}

    def report(self, output: str) -> Report:
        data = json.loads(output.strip().splitlines()[-1])
        return Report(data["turns"], data["tokens"])


def sandbox_mode() -> str:
    if os.geteuid() == 0 or shutil.which("sudo"):
        return "user"
    return "none"


async def around_the_cli(rounds: int) -> list[float]:
    root = Path(tempfile.mkdtemp(prefix="issuepilot-bench-", dir="/tmp"))
    os.chmod(root, 0o755)
    cache = root / "agents"
    where = folder(cache, Quiet())
    (where / "bin").mkdir(parents=True)
    (where / "bin" / "quiet").write_text(CLI)
    os.chmod(where / "bin" / "quiet", 0o755)
    (where / DONE).write_text("quiet 1.0\n")
    for path in (cache, where, where / "bin"):
        os.chmod(path, 0o755)
    repo = root / "repo"
    repo.mkdir()
    (repo / "a.txt").write_text("a\n")
    git = ["git", "-c", "user.name=b", "-c", "user.email=b@b"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "init"], cwd=repo, check=True)
    env = {"PATH": os.environ["PATH"], "QUIET_API_KEY": "k"}
    seconds = []
    try:
        for _ in range(rounds):
            subprocess.run(["git", "checkout", "-q", "--", "."], cwd=repo, check=True)
            workspace = CheckoutWorkspace(repo)
            started = time.perf_counter()
            await workspace.pin()
            agent = CommandAgent(
                "", repo, env, [], 60, 4096, sandbox=sandbox_mode(),  # type: ignore[arg-type]
                preset=PresetRun(Quiet(), cache),
            )  # fmt: skip
            await agent.execute(ISSUE, PLAN, ToolBox(workspace, "execute"))
            changed = await workspace.change()
            seconds.append(time.perf_counter() - started)
            assert [c.path for c in changed] == ["a.txt"]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return seconds


def megabytes(where: Path) -> int:
    """What the install takes on disk (a file linked twice, once)."""
    sizes = {}
    for path in where.rglob("*"):
        found = path.lstat()
        sizes[found.st_dev, found.st_ino] = found.st_size
    return sum(sizes.values()) // 1_000_000


async def install_costs(names: list[str]) -> list[tuple[str, str, float, int, float]]:
    rows: list[tuple[str, str, float, int, float]] = []
    for name in names:
        preset = PRESETS[name]
        cache = Path(tempfile.mkdtemp(prefix="issuepilot-bench-agents-", dir="/tmp"))
        # Empty download caches: everything comes from the registry, as on a fresh runner.
        os.environ.update(
            npm_config_cache=str(cache / ".npm"),
            UV_CACHE_DIR=str(cache / ".uv"),
            PIP_NO_CACHE_DIR="1",
        )
        try:
            done = await ensure(cache, preset)
            started = time.perf_counter()
            assert installed(cache, preset) is not None
            cached = time.perf_counter() - started
            rows.append(
                (name, done.version, done.seconds, megabytes(folder(cache, preset)), cached)
            )
        finally:
            shutil.rmtree(cache, ignore_errors=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--no-install", action="store_true")
    parser.add_argument("--presets", nargs="*", default=sorted(PRESETS))
    args = parser.parse_args()
    seconds = asyncio.run(around_the_cli(args.rounds))
    print(
        f"around the CLI (sandbox {sandbox_mode()}): median {statistics.median(seconds):.3f} s, "
        f"min {min(seconds):.3f} s, max {max(seconds):.3f} s over {len(seconds)} runs "
        "(target < 2 s)"
    )
    if args.no_install:
        return
    print(f"{'preset':12} {'version':10} {'cold install':>13} {'size':>8} {'cached check':>13}")
    for name, version, cold, size, cached in asyncio.run(install_costs(args.presets)):
        print(f"{name:12} {version:10} {cold:>11.1f} s {size:>5} MB {cached * 1000:>10.2f} ms")


if __name__ == "__main__":
    main()
