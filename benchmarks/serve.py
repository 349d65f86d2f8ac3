"""`issuepilot serve` under load, on loopback: what a delivery waits for its answer, and
whether every delivery is handed on exactly once.

1. Deliveries: `issuepilot serve` (a process) takes N signed `issues.labeled` deliveries
   from S concurrent senders (another process), one in ten a repeat of an earlier
   delivery id, while its dispatcher starts the repository's workflow for each new one
   against the local fake GitHub. Figures: the acknowledgement latency (request sent to
   its 202 read, p50 / p99; target p99 < 50 ms on this machine), then deliveries lost
   (not dispatched) and dispatched twice (target: 0 and 0).
2. Workers: the repository's steps run in `workers`; M issues are labeled (one in ten
   delivered twice), two `issuepilot worker` processes run their steps (enqueue, then
   plan, against the scripted model), and the worker in the middle of one plan step is
   killed (SIGKILL) and replaced. Figures: tasks planned once, twice or never, and the
   time until every task waits for review.

Redis is REDIS_URL, else 127.0.0.1:6379, else a throwaway server.

    python benchmarks/serve.py [--deliveries 5000] [--senders 200] [--rate 400] [--issues 20]
"""

import argparse
import asyncio
import copy
import hashlib
import hmac
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import redis

from issuepilot.github.status import parse_record
from issuepilot.keys import ServiceKeys
from issuepilot.relay import INPUT
from issuepilot.testing.fake_llm import FakeLLM
from issuepilot.testing.github import App, FakeGitHub, FakeOrg, Hooks
from issuepilot.testing.redis_server import ThrowawayRedis

SECRET = "benchmark-webhook-secret"
APP_ID = "4242"
APP_BOT = "issuepilot-test[bot]"
FILES = {"README.md": "# Project\n", "src/app.py": 'def greet(name):\n    return "Hi " + name\n'}


def rsa_pair() -> tuple[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public.decode()


@contextmanager
def redis_url() -> Iterator[str]:
    if url := os.environ.get("REDIS_URL"):
        yield url
        return
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.3):
            yield "redis://127.0.0.1:6379/0"
            return
    except OSError:
        pass
    with ThrowawayRedis() as server:
        yield server.url


def until(condition: Callable[[], object], what: str, timeout: float) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)
    return time.monotonic() - started


class World:
    """The fake GitHub of one organisation, the service and its workers as processes."""

    def __init__(self, url: str, tmp: Path) -> None:
        self.redis_url, self.tmp = url, tmp
        self.name = f"bench-{uuid.uuid4().hex[:8]}"
        self.private, public = rsa_pair()
        self.github = FakeGitHub(f"bench/app-{uuid.uuid4().hex[:6]}", files=FILES)
        self.github.workflows = {"issuepilot.yml": {"issue", "command", INPUT}}
        self.dotgithub = FakeGitHub("bench/.github", files={"README.md": "# Defaults\n"})
        self.hooks = Hooks(url="http://127.0.0.1:9/", secret=SECRET, app_id=APP_ID)
        app = App(APP_ID, public)
        self.org = FakeOrg(self.github, self.dotgithub, app=app, hooks=self.hooks).start()
        self.model = FakeLLM().start()
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.url = ""

    def env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", ""),
            "ISSUEPILOT_APP_ID": APP_ID,
            "ISSUEPILOT_APP_PRIVATE_KEY": self.private,
            "ISSUEPILOT_WEBHOOK_SECRET": SECRET,
            "ISSUEPILOT_REDIS_URL": self.redis_url,
            "ISSUEPILOT_MODEL": "fake-model",
            "ISSUEPILOT_MODEL_BASE_URL": self.model.url,
            "ISSUEPILOT_MODEL_API_KEY": "fake-model-key",
            "GITHUB_API_URL": self.org.url,
        }

    def start(self, name: str, *command: str) -> subprocess.Popen[bytes]:
        log = (self.tmp / f"{name}.log").open("wb")
        argv = [sys.executable, "-m", "issuepilot", *command]
        self.processes[name] = subprocess.Popen(argv, env=self.env(), stdout=log, stderr=log)
        return self.processes[name]

    def serve(self) -> None:
        self.start("serve", "serve", "--port", "0", "--name", self.name)
        log = self.tmp / "serve.log"
        until(lambda: "listening on" in log.read_text(), "the service", 60)
        self.url = log.read_text().split("listening on ", 1)[1].split()[0]
        until(lambda: healthy(self.url), "the service to answer", 60)
        self.hooks.url = self.url + "/webhooks/github"

    def worker(self, name: str) -> None:
        self.start(
            name,
            *("worker", "--redis-url", self.redis_url, "--name", self.name),
            *("--consumer", name, "--claim-idle", "2"),
        )

    def close(self) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in self.processes.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.org.stop()
        self.model.stop()
        client = redis.Redis.from_url(self.redis_url)
        keys = list(client.scan_iter(match=f"{ServiceKeys(self.name).prefix}*"))
        keys += list(client.scan_iter(match=f"issuepilot:{{{self.github.repo}}}:*"))
        if keys:
            client.delete(*keys)
        client.close()


def healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


# -- 1. deliveries --------------------------------------------------------------------------


def deliveries(world: World, count: int) -> list[tuple[str, bytes]]:
    """(delivery id, body): each new one labels its own issue; one in ten repeats one."""
    issue = world.github.open_issue("Greet politely", "The greeting needs a `!`.")
    _, template = world.github.label_event(issue, "issuepilot")
    template["installation"] = {"id": 77}
    rng, made = random.Random(7), []
    for n in range(count):
        if n % 10 == 9:
            made.append(rng.choice(made[: len(made) - 1] or made))  # a repeat of an earlier one
            continue
        payload = copy.deepcopy(template)
        payload["issue"]["number"] = n + 1
        made.append((str(uuid.uuid4()), json.dumps(payload).encode()))
    return made


def send_all(
    url: str, sends: list[tuple[str, bytes]], senders: int, rate: float
) -> tuple[list[tuple[float, int]], float]:
    """(seconds, status) of each request, sent by `senders` concurrent senders, each over a
    kept-alive connection of its own, and the seconds from the first to the last answer.
    With `rate`, request i is due i / rate seconds after the start and its time counts
    from then (a sender still waiting for its previous answer makes it late, and the
    lateness counts); without, each sender sends its next as soon as it has an answer.
    Plain HTTP/1.1 over asyncio streams, as a load generator does it: a full client's own
    bookkeeping would be measured instead."""
    parts = httpx.URL(url)
    # Signed ahead, as GitHub signs: the clock measures the service, not the sender.
    requests = [request(parts, delivery, body) for delivery, body in sends]

    async def main() -> tuple[list[tuple[float, int]], float]:
        todo = iter(enumerate(requests))
        found: list[tuple[float, int]] = []
        connections = [
            await asyncio.open_connection(parts.host, parts.port) for _ in range(senders)
        ]
        start = time.perf_counter()

        async def sender(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for n, raw in todo:
                due = start + n / rate if rate else time.perf_counter()
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                writer.write(raw)
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                found.append((time.perf_counter() - due, int(head.split(b" ", 2)[1])))
            writer.close()

        await asyncio.gather(*(sender(*pair) for pair in connections))
        return found, time.perf_counter() - start

    return asyncio.run(main())


def request(url: httpx.URL, delivery: str, body: bytes) -> bytes:
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    head = (
        f"POST {url.raw_path.decode()} HTTP/1.1\r\n"
        f"Host: {url.host}:{url.port}\r\n"
        "Content-Type: application/json\r\n"
        "User-Agent: GitHub-Hookshot/benchmark\r\n"
        "X-GitHub-Event: issues\r\n"
        f"X-GitHub-Delivery: {delivery}\r\n"
        f"X-Hub-Signature-256: sha256={digest}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def bench_deliveries(world: World, count: int, senders: int, rate: float) -> None:
    sends = deliveries(world, count)
    unique = {d for d, _ in sends}
    # The senders run in a process of their own: the fake GitHub serves the dispatcher's
    # requests from this one, and must not slow the clock of the measurement.
    plan = world.tmp / "sends.jsonl"
    plan.write_text("".join(json.dumps([d, body.decode()]) + "\n" for d, body in sends))
    url = world.url + "/webhooks/github"
    command = [sys.executable, __file__, "--send", url, str(plan), str(senders), str(rate)]
    sent = subprocess.run(command, capture_output=True, text=True, check=True)
    found, sent_s = json.loads(sent.stdout)
    timings = [(float(t), int(status)) for t, status in found]
    handed = until(
        lambda: len(world.github.dispatches) >= len(unique) and backlog(world) == 0,
        "every delivery handed on",
        300,
    )
    time.sleep(1)  # anything handed on twice would show by now
    latencies = sorted(t * 1000 for t, _ in timings)
    # The first twentieth warms the service up (connections to Redis and GitHub opened,
    # the App's token made, the repository's settings read): shown apart.
    warm = sorted(t * 1000 for t, _ in timings[len(timings) // 20 :])
    statuses = Counter(status for _, status in timings)
    per_issue = Counter(int(d["inputs"]["issue"]) for d in world.github.dispatches)
    expected = {int(json.loads(body)["issue"]["number"]) for _, body in sends}
    how = f"at {rate:,.0f} a second" if rate else "each as soon as the last was answered"
    print(f"{count:,} deliveries ({count - len(unique):,} repeats), {senders} senders, {how}:")
    print(
        f"  answered {dict(sorted(statuses.items()))} in {sent_s:.1f} s "
        f"({count / sent_s:,.0f} a second); acknowledged in p50 "
        f"{percentile(latencies, 50):.1f} ms, p99 {percentile(latencies, 99):.1f} ms, "
        f"max {latencies[-1]:.1f} ms; once warm p50 {percentile(warm, 50):.1f} ms, "
        f"p99 {percentile(warm, 99):.1f} ms"
        + (" (target p99 < 50 ms)" if rate else f" ({senders} always waiting: the capacity)")
    )
    print(
        f"  {len(per_issue):,} workflow runs started, the last {handed:.1f} s after the last "
        f"answer; lost {len(expected - set(per_issue))}, started twice "
        f"{sum(1 for n in per_issue.values() if n > 1)}"
    )


def percentile(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


def backlog(world: World) -> int:
    client = redis.Redis.from_url(world.redis_url)
    try:
        keys = ServiceKeys(world.name)
        return int(client.xlen(keys.deliveries)) + int(client.xlen(keys.steps))
    finally:
        client.close()


# -- 2. workers -----------------------------------------------------------------------------


def bench_workers(world: World, issues: int) -> None:
    gh = world.github
    world.dotgithub.commit_files(
        "main", {".github/issuepilot.yml": "run-steps-in: workers\n"}, "steps in workers"
    )
    # A short lease, so the step of the killed worker is recovered within seconds (a lease
    # is the longest a step may take; the default is half an hour).
    gh.commit_files("main", {".github/issuepilot.yml": "lease-minutes: 0.25\n"}, "short lease")
    numbers = [
        gh.open_issue(f"Task {n}", "The greeting in `src/app.py` needs a `!`.")
        for n in range(issues)
    ]
    victim = numbers[len(numbers) // 2]
    arrived, release = gh.hold("POST", rf"/issues/{victim}/comments$")
    world.worker("worker-1")
    world.worker("worker-2")
    for n, issue in enumerate(numbers):
        attempt = world.hooks.deliver(gh.label_event(issue, "issuepilot"))
        if n % 10 == 9:
            world.hooks.redeliver(attempt["id"])  # GitHub delivers it again
    assert arrived.wait(300), "the plan step of the chosen issue never ran"
    killed = holder_of(world, victim)
    os.kill(world.processes[killed].pid, signal.SIGKILL)
    release.set()
    world.worker("worker-3")  # the replacement
    review = "issuepilot:plan-review"
    done = until(
        lambda: all(review in gh.issues[n].labels for n in numbers) and backlog(world) == 0,
        "every task to wait for review",
        600,
    )
    once = twice = never = 0
    for issue in numbers:
        bodies = [
            c["body"]
            for c in gh.comments.values()
            if c["issue"] == issue and "issuepilot:task" in c["body"]
        ]
        records = [parse_record(body) for body in bodies]
        plans = sum([h.state for h in r.task.history].count("plan-review") for r in records if r)
        once += plans == 1 and len(bodies) == 1
        twice += plans > 1 or len(bodies) > 1
        never += plans == 0
    print(f"workers: {issues} issues labeled ({issues // 10} delivered twice), 2 workers")
    print(f"  {killed} killed in the plan step of #{victim}; a third worker started")
    print(
        f"  every task waits for review after {done:.1f} s (the killed step's lease lapses "
        f"after 15 s); planned once: {once}, twice: {twice}, never: {never}"
    )


def holder_of(world: World, issue: int) -> str:
    """The worker whose step of `issue` is pending (the one to kill)."""
    client = redis.Redis.from_url(world.redis_url)
    keys = ServiceKeys(world.name)
    try:
        for entry in client.xpending_range(keys.steps, "workers", "-", "+", 100):
            [(_, fields)] = client.xrange(keys.steps, entry["message_id"], entry["message_id"])
            body = json.loads(fields[b"body"])
            if str((body.get("inputs") or {}).get("issue")) == str(issue):
                return str(entry["consumer"].decode())
    finally:
        client.close()
    raise SystemExit(f"no worker holds a step of #{issue}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=5000)
    parser.add_argument("--senders", type=int, default=200)
    parser.add_argument("--issues", type=int, default=20)
    parser.add_argument(
        "--rate",
        type=float,
        default=400,
        help="deliveries a second of the paced run (the other sends as fast as answered)",
    )
    parser.add_argument("--send", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.send:  # the senders' process
        url, file, count, rate = args.send
        lines = Path(file).read_text().splitlines()
        sends = [(d, body.encode()) for d, body in map(json.loads, lines)]
        print(json.dumps(send_all(url, sends, int(count), float(rate))))
        return
    with redis_url() as url, tempfile.TemporaryDirectory() as tmp:
        for rate in (args.rate, 0.0):
            world = World(url, Path(tmp))
            try:
                world.serve()
                bench_deliveries(world, args.deliveries, args.senders, rate)
            finally:
                world.close()
        world = World(url, Path(tmp))
        try:
            world.serve()
            bench_workers(world, args.issues)
        finally:
            world.close()


if __name__ == "__main__":
    main()
