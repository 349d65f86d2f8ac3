"""Wall time and GitHub API calls of one `issuepilot step` process, per step.

Runs the real CLI as a subprocess (as a runner does) against the local fake GitHub and a
model that answers instantly, on fresh issues, and prints per step the median wall time
(process start to exit) and the GitHub API calls it made; reads of repository files for
the model's context (the file listing and file contents) are not counted. Targets: median
<= 0.5 s; calls <= 3 enqueue, 5 plan, 5 approve, 8 execute, 11 fix (a review with one
inline comment), 4 finish.

    python benchmarks/step_overhead.py [--redis-url URL] [--rounds 7]
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
from issuepilot.testing.fake_llm import FakeLLM
from issuepilot.testing.github import FakeGitHub
from issuepilot.testing.redis_server import ThrowawayRedis

# fix: a review with one inline comment (10 calls, plus 1 per inline comment answered).
TARGETS = {"enqueue": 3, "plan": 5, "approve": 5, "execute": 8, "fix": 11, "finish": 4}
FILES = {"README.md": "# bench\n", "src/app.py": "print('hi')\n"}
WORKFLOW = ".github/workflows/pilot.yml"


class Bench:
    def __init__(self, github: FakeGitHub, model: FakeLLM, redis_url: str, tmp: Path) -> None:
        self.github, self.model, self.redis_url, self.tmp = github, model, redis_url, tmp
        self.runs = 0

    def step(self, event: tuple[str, Any]) -> tuple[float, int, dict[str, str]]:
        self.runs += 1
        run = self.tmp / f"run{self.runs}"
        run.mkdir()
        (run / "event.json").write_text(json.dumps(event[1]))
        log = run / "http.jsonl"
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
            "ISSUEPILOT_HTTP_LOG": str(log),
        }
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "issuepilot", "step"], env=env, capture_output=True, text=True
        )
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"step failed: {done.stdout}{done.stderr}")
        calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        # Reads for the model's context (file listing, file contents) are not counted.
        counted = [
            c for c in calls if "/contents/" not in c["url"] and "/git/trees/" not in c["url"]
        ]
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


def main(redis_url: str, rounds: int) -> None:
    repo = f"bench/steps-{uuid.uuid4().hex[:6]}"
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeGitHub(repo, files=FILES) as github,
        FakeLLM() as model,
    ):
        bench = Bench(github, model, redis_url, Path(tmp))
        first = bench.lifecycle()  # the first run ever also creates the repository's labels
        samples = [bench.lifecycle() for _ in range(rounds)]
    print(f"{rounds} lifecycles after one warm-up; medians; model answers instantly")
    print(f"{'step':<8} {'wall s':>7} {'calls':>6} {'target':>7} {'first run calls':>16}")
    for step, target in TARGETS.items():
        wall = statistics.median(s[step][0] for s in samples)
        calls = statistics.median(s[step][1] for s in samples)
        verdict = "ok" if calls <= target and wall <= 0.5 else "OVER"
        print(f"{step:<8} {wall:>7.3f} {calls:>6.0f} {target:>7} {first[step][1]:>16}  {verdict}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL"))
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    if args.redis_url:
        main(args.redis_url, args.rounds)
    else:
        with ThrowawayRedis() as server:
            main(server.url, args.rounds)
