"""Time and memory to build the planner's context for a repository of 5,000 files.

Builds a checkout of 5,000 files (code in nested packages, docs, data), an issue that names
8 files (some by full path, some by file name only) and mentions 2 symbols, then measures
`planner_context` from the checkout and through the API (against the fake GitHub): median
wall time, peak Python memory, and how many of the named files end up in the context.

    python benchmarks/context.py [--files 5000] [--rounds 5]
"""

import argparse
import asyncio
import statistics
import subprocess
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from issuepilot.agents.base import IssueText
from issuepilot.config import RepoConfig, Settings
from issuepilot.github.client import GitHub
from issuepilot.steps.repo_files import planner_context
from issuepilot.testing.github import FakeGitHub


def code_path(i: int) -> str:
    return f"src/pkg{i % 50:02d}/sub{i % 7}/module_{i}.py"


def make_repo(n: int) -> dict[str, str]:
    files = {}
    for i in range(n):
        if i % 10 == 0:
            files[f"docs/section{i}.md"] = f"# Section {i}\n\n" + "Some prose.\n" * 30
        elif i % 10 == 1:
            files[f"data/table{i}.csv"] = "a,b,c\n" + "1,2,3\n" * 40
        else:
            body = "".join(f"def helper_{i}_{k}(x):\n    return x + {k}\n\n" for k in range(8))
            files[code_path(i)] = body
    files[code_path(4327)] += "class InvoiceRenderer:\n    pass\n"
    files[code_path(1913)] += "def parse_amount(text):\n    return text\n"
    return files


NAMED = [
    "src/pkg02/sub2/module_2.py",
    "src/pkg22/sub3/module_122.py",
    "docs/section40.md",
    "data/table501.csv",
    "module_1005.py",
    "module_2223.py",
    "section900.md",
    "module_4999.py",
]


def issue_text() -> IssueText:
    body = "\n".join(f"- `{p}` needs a look" for p in NAMED)
    body += "\nThe InvoiceRenderer breaks when parse_amount gets an empty string."
    return IssueText(1, "Fix invoice rendering", body)


class Ctx:
    """What `planner_context` reads of a step's context: the settings and the client."""

    def __init__(self, settings: Settings, gh: Any) -> None:
        self.settings, self.gh = settings, gh

    @property
    def config(self) -> RepoConfig:
        return self.settings.config


async def measure(ctx: Ctx, rounds: int) -> tuple[float, float, int, int, int]:
    times, peaks = [], []
    files = None
    for _ in range(rounds):
        tracemalloc.start()
        start = time.perf_counter()
        files = await planner_context(ctx, issue_text(), "main")  # type: ignore[arg-type]
        times.append(time.perf_counter() - start)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert files is not None
    found = sum(
        1 for name in NAMED if any(p == name or p.endswith("/" + name) for p in files.files)
    )
    return statistics.median(times), max(peaks) / 2**20, found, len(files.files), len(files.tree)


async def main(n: int, rounds: int) -> None:
    repo = make_repo(n)
    config = RepoConfig(context_tokens=15_000, context_files=12)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for path, text in repo.items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(text)
        subprocess.run(["git", "init", "-q"], cwd=root, check=True)
        subprocess.run(["git", "add", "."], cwd=root, check=True)
        base = {
            "repo": "bench/ctx",
            "token": "ghs_fake",
            "redis_url": "redis://unused",
            "config": config,
        }
        local = await measure(Ctx(Settings(**base, workspace=root), None), rounds)
        with FakeGitHub("bench/ctx", files=repo) as fake:
            gh = GitHub("bench/ctx", "ghs_fake", fake.url)
            api = await measure(Ctx(Settings(**base, api_url=fake.url), gh), rounds)
            await gh.aclose()
    print(
        f"{n} files; issue names {len(NAMED)} files and 2 symbols; budget 15,000 tokens, 12 files"
    )
    head = ["median s", "peak MiB", "named in", "files in"]
    print(f"{'source':<9} " + " ".join(f"{h:>9}" for h in head) + f" {'tree shown':>11}")
    for label, (t, peak, found, count, tree) in (("checkout", local), ("API", api)):
        print(f"{label:<9} {t:>9.3f} {peak:>9.1f} {found:>6}/{len(NAMED)} {count:>9} {tree:>11}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.files, args.rounds))
