"""Wall time and GitHub API calls of one `issuepilot step` process, per step.

Runs the real CLI as a subprocess (as a runner does) against the local fake GitHub and a
model that answers instantly, on fresh issues, and prints per step the median wall time
(process start to exit) and the GitHub API calls it made; reads of repository files for
the model's context (the file listing and file contents) are not counted. Targets: median
<= 0.5 s; calls <= 3 enqueue, 5 plan, 5 approve, 8 execute, 11 fix (a review with one
inline comment), 4 finish.

With `--store github` (or `both`, the default) the same lifecycle runs with no Redis: the
repository's ledger is the store, and its calls are counted too. Targets: at most 10 more
calls than with Redis for plan and execute, at most 6 more for the other steps. Then 10
plan steps of different tasks start at once on the ledger: all must complete, and the
lost races (ledger updates GitHub refused as not a fast-forward) are printed.

    python benchmarks/step_overhead.py [--redis-url URL] [--rounds 7] [--store both]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from issuepilot.cli import read_outputs
from issuepilot.ledger import FILE
from issuepilot.testing.fake_llm import FakeLLM
from issuepilot.testing.github import FakeGitHub
from issuepilot.testing.redis_server import ThrowawayRedis

# fix: a review with one inline comment (10 calls, plus 1 per inline comment answered).
TARGETS = {"enqueue": 3, "plan": 5, "approve": 5, "execute": 8, "fix": 11, "finish": 4}
FILES = {"README.md": "# bench\n", "src/app.py": "print('hi')\n"}
WORKFLOW = ".github/workflows/pilot.yml"


def _context_read(url: str) -> bool:
    """A read of the repository's files for the model (the ledger's file is the store)."""
    if "/contents/" in url:
        return f"/contents/{FILE}" not in url
    return "/git/trees/" in url


class Bench:
    def __init__(self, github: FakeGitHub, model: FakeLLM, redis_url: str, tmp: Path) -> None:
        self.github, self.model, self.redis_url, self.tmp = github, model, redis_url, tmp
        self.runs = 0

    def start(self, event: tuple[str, Any]) -> tuple[subprocess.Popen[str], Path]:
        """Start one step's process, as a runner does."""
        self.runs += 1
        run = self.tmp / f"run{self.runs}"
        run.mkdir()
        (run / "event.json").write_text(json.dumps(event[1]))
        env = {
            "PATH": os.environ.get("PATH", ""),
            "GITHUB_EVENT_NAME": event[0],
            "GITHUB_EVENT_PATH": str(run / "event.json"),
            "GITHUB_REPOSITORY": self.github.repo,
            "GITHUB_API_URL": self.github.url,
            "GITHUB_TOKEN": "ghs_fake",
            "GITHUB_OUTPUT": str(run / "out"),
            "GITHUB_WORKFLOW_REF": f"{self.github.repo}/{WORKFLOW}@refs/heads/main",
            "GITHUB_WORKSPACE": str(self.tmp),
            "ISSUEPILOT_REDIS_URL": self.redis_url,
            "ISSUEPILOT_MODEL_BASE_URL": self.model.url,
            "ISSUEPILOT_MODEL_API_KEY": "fake-model-key",
            "ISSUEPILOT_HTTP_LOG": str(run / "http.jsonl"),
        }
        cmd = [sys.executable, "-m", "issuepilot", "step"]
        return subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        ), run

    def step(self, event: tuple[str, Any]) -> tuple[float, int, dict[str, str]]:
        start = time.perf_counter()
        proc, run = self.start(event)
        stdout, stderr = proc.communicate()
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"step failed: {stdout}{stderr}")
        log = run / "http.jsonl"
        calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        # Reads for the model's context (file listing, file contents) are not counted.
        counted = [c for c in calls if not _context_read(c["url"])]
        outputs = read_outputs((run / "out").read_text())
        return elapsed, len(counted), outputs

    def lifecycle(self) -> dict[str, tuple[float, int]]:
        gh = self.github
        issue = gh.open_issue("Bench", "Change `src/app.py`.")
        out: dict[str, tuple[float, int]] = {}
        t, n, _ = self.step(gh.label_event(issue, "issuepilot"))
        out["enqueue"] = (t, n)
        gh.dispatches.clear()
        t, n, _ = self.step(gh.dispatch_event({"issue": str(issue)}))
        out["plan"] = (t, n)
        t, n, _ = self.step(gh.label_event(issue, "issuepilot:approved"))
        out["approve"] = (t, n)
        gh.dispatches.clear()
        t, n, result = self.step(gh.dispatch_event({"issue": str(issue)}))
        out["execute"] = (t, n)
        pr = int(result["pr-number"])
        last = len(gh.files_at(gh.pulls[pr]["head"])["src/app.py"].splitlines())
        said = [{"path": "src/app.py", "line": last, "body": "Say more."}]  # a line it added
        t, n, _ = self.step(gh.review_event(pr, comments=said))
        out["fix"] = (t, n)
        t, n, _ = self.step(gh.merge_pull(pr))
        out["finish"] = (t, n)
        return out


EXTRA = {"plan": 10, "execute": 10}  # more calls allowed with the ledger; others 6


def measure(url: str, rounds: int) -> tuple[dict[str, tuple[float, int]], list[dict[str, Any]]]:
    """One warm-up lifecycle (the first run ever also creates the labels), then `rounds`."""
    repo = f"bench/steps-{uuid.uuid4().hex[:6]}"
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeGitHub(repo, files=FILES) as github,
        FakeLLM() as model,
    ):
        bench = Bench(github, model, url, Path(tmp))
        first = bench.lifecycle()
        return first, [bench.lifecycle() for _ in range(rounds)]


def contention(tasks: int = 10) -> tuple[int, int, float]:
    """`tasks` plan steps of different issues at once on the ledger: (completed, lost
    races, wall seconds)."""
    repo = f"bench/race-{uuid.uuid4().hex[:6]}"
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeGitHub(repo, files=FILES) as github,
        FakeLLM() as model,
    ):
        bench = Bench(github, model, "", Path(tmp))
        issues = [github.open_issue(f"Race {i}", "Change `src/app.py`.") for i in range(tasks)]
        for issue in issues:
            bench.step(github.label_event(issue, "issuepilot"))
        github.dispatches.clear()
        start = time.perf_counter()
        procs = [bench.start(github.dispatch_event({"issue": str(n)})) for n in issues]
        done = 0
        for proc, _ in procs:
            stdout, stderr = proc.communicate(timeout=300)
            done += proc.returncode == 0
            if proc.returncode != 0:
                print(f"a step failed: {(stdout + stderr).strip().splitlines()[-1]}")
        wall = time.perf_counter() - start
        lost = sum(
            1
            for method, target, _ in github.requests
            if method == "PUT" and f"/contents/{FILE}" in target
        ) - sum(
            1 for method, template, status, _ in github.answers if method == "PUT" and status < 300
        )
        return done, lost, wall


def main(redis_url: str, rounds: int, stores: list[str]) -> None:
    results = {s: measure(redis_url if s == "redis" else "", rounds) for s in stores}
    print(f"{rounds} lifecycles after one warm-up per store; medians; model answers instantly")
    head = f"{'step':<8} {'store':<7} {'wall s':>7} {'calls':>6} {'target':>7} {'first run':>10}"
    print(head)
    medians: dict[tuple[str, str], float] = {}
    for step, target in TARGETS.items():
        for store, (first, samples) in results.items():
            wall = statistics.median(s[step][0] for s in samples)
            calls = statistics.median(s[step][1] for s in samples)
            medians[step, store] = calls
            allowed = target if store == "redis" else f"+{EXTRA.get(step, 6)}"
            print(
                f"{step:<8} {store:<7} {wall:>7.3f} {calls:>6.0f} {allowed:>7} {first[step][1]:>10}"
            )
    if {"redis", "github"} <= set(stores):
        print("extra calls with the ledger:")
        for step in TARGETS:
            extra = medians[step, "github"] - medians[step, "redis"]
            verdict = "ok" if extra <= EXTRA.get(step, 6) else "OVER"
            print(f"  {step:<8} {extra:+.0f} (at most +{EXTRA.get(step, 6)})  {verdict}")
    if "github" in stores:
        done, lost, wall = contention()
        print(
            f"10 plan steps at once on the ledger: {done}/10 completed in {wall:.1f} s, "
            f"{lost} lost races retried"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL"))
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--store", choices=["redis", "github", "both"], default="both")
    args = parser.parse_args()
    stores = ["redis", "github"] if args.store == "both" else [args.store]
    if args.redis_url:
        main(args.redis_url, args.rounds, stores)
    else:
        with ThrowawayRedis() as server:
            main(server.url, args.rounds, stores)
