"""`issuepilot demo`, as a newcomer runs it: the whole lifecycle on the store a new
repository gets (its ledger branch, no Redis at all), and on Redis when asked."""

import subprocess
import sys

from issuepilot.testing.redis_server import free_port

from .harness import passthrough


def demo(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "issuepilot", "demo", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**passthrough(), **env},
    )


def ends_done(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, done.stderr
    assert "task #1 ends done" in done.stdout
    assert '+ name + "!"' in done.stdout and "unknown routes: 0" in done.stdout


def test_the_demo_keeps_its_tasks_on_the_ledger_branch_without_redis() -> None:
    # A Redis URL that nothing answers: the demo would fail if it touched Redis.
    done = demo(env={"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    ends_done(done)
    assert "store: the repository's ledger (branch issuepilot/ledger)" in done.stdout
    assert "the ledger branch issuepilot/ledger holds ledger.json" in done.stdout


def test_the_demo_on_redis(redis_url: str) -> None:
    done = demo("--store", "redis", env={"REDIS_URL": redis_url})
    ends_done(done)
    assert "store: Redis at REDIS_URL" in done.stdout and "ledger branch" not in done.stdout


def test_a_redis_url_without_the_redis_store_is_bad_input() -> None:
    done = demo("--redis-url", "redis://127.0.0.1:1/0", env={})
    assert done.returncode == 2
    assert done.stderr.strip() == "issuepilot: error: --redis-url goes with --store redis"
