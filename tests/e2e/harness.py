"""Drive the real `issuepilot` CLI as a subprocess, with the environment a runner gives."""

import asyncio
import functools
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from issuepilot.github.client import GitHub
from issuepilot.keys import Keys
from issuepilot.ledger import BRANCH, Ledger
from issuepilot.models import Task
from issuepilot.store import RedisTaskStore
from issuepilot.table import Table
from issuepilot.testing.fake_llm import FakeLLM
from issuepilot.testing.github import FakeGitHub

from ..conftest import lapse_locks
from .action import read_outputs, step_env

Event = tuple[str, Any]
WORKFLOW = ".github/workflows/issuepilot.yml"


def passthrough() -> dict[str, str]:
    """What a child process may inherit: PATH, and coverage's settings so it is measured."""
    keep = {k: v for k, v in os.environ.items() if k.startswith("COVERAGE")}
    return {"PATH": os.environ.get("PATH", ""), **keep}


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str


@dataclass
class World:
    github: FakeGitHub
    model: FakeLLM
    redis_url: str
    tmp: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    runs: int = 0
    # When set, the step's ISSUEPILOT_* environment is built from action.yml as the runner
    # builds it: these `with:` inputs, every other input at its default.
    action_inputs: dict[str, str] | None = None

    @property
    def http_log(self) -> Path:
        return self.tmp / "http.jsonl"

    def env(self, event: Event) -> dict[str, str]:
        self.runs += 1
        run = self.tmp / f"run{self.runs}"
        run.mkdir()
        (run / "event.json").write_text(json.dumps(event[1]))
        env = {
            **passthrough(),
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": event[0],
            "GITHUB_EVENT_PATH": str(run / "event.json"),
            "GITHUB_REPOSITORY": self.github.repo,
            "GITHUB_API_URL": self.github.url,
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_TOKEN": "ghs_fake",
            "GITHUB_OUTPUT": str(run / "output"),
            "GITHUB_STEP_SUMMARY": str(run / "summary"),
            "GITHUB_WORKFLOW_REF": f"{self.github.repo}/{WORKFLOW}@refs/heads/main",
            "GITHUB_WORKSPACE": str(self.tmp / "workspace"),
            "GITHUB_RUN_ID": str(self.runs),
            "ISSUEPILOT_REDIS_URL": self.redis_url,
            "ISSUEPILOT_MODEL": "fake-model",
            "ISSUEPILOT_MODEL_BASE_URL": self.model.url,
            "ISSUEPILOT_MODEL_API_KEY": "fake-model-key",
            "ISSUEPILOT_HTTP_LOG": str(self.http_log),
            **self.extra_env,
        }
        if self.action_inputs is not None:
            env = {k: v for k, v in env.items() if not k.startswith("ISSUEPILOT_")}
            github = {"token": env["GITHUB_TOKEN"]}
            env.update(step_env("step", self.action_inputs, github))
            env["ISSUEPILOT_HTTP_LOG"] = str(self.http_log)
        env["RUN_DIR"] = str(run)
        return env

    def start(self, event: Event) -> tuple[subprocess.Popen[str], Path]:
        env = self.env(event)
        cmd = [sys.executable, "-m", "issuepilot", "step"]
        proc = subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        return proc, Path(env["RUN_DIR"])

    def finish(self, proc: subprocess.Popen[str], run: Path) -> Result:
        stdout, stderr = proc.communicate(timeout=120)
        output = run / "output"
        outputs = read_outputs(output.read_text()) if output.exists() else {}
        summary = (run / "summary").read_text() if (run / "summary").exists() else ""
        return Result(proc.returncode, stdout, stderr, outputs, summary)

    def step(self, event: Event) -> Result:
        return self.finish(*self.start(event))

    def drain(self) -> list[Result]:
        """Run the workflow_dispatch runs the action queued for itself."""
        results = []
        while self.github.dispatches:
            inputs = self.github.dispatches.pop(0)["inputs"]
            results.append(self.step(self.github.dispatch_event(inputs)))
        return results

    def kill_next_run_at(self, method: str, path_regex: str) -> None:
        """Run the dispatched step and kill it (SIGKILL) while GitHub is carrying out the
        matching request, which completes after the run is gone: a crash between two calls."""
        [dispatch] = self.github.dispatches
        self.github.dispatches.clear()
        self.kill_run_at(self.github.dispatch_event(dispatch["inputs"]), method, path_regex)

    def kill_run_at(self, event: Event, method: str, path_regex: str) -> None:
        """Run the step for `event` and kill it (SIGKILL) while GitHub is carrying out the
        matching request, which completes after the run is gone."""
        arrived, release = self.github.hold(method, path_regex)
        proc, run = self.start(event)
        assert arrived.wait(60)
        os.kill(proc.pid, signal.SIGKILL)
        self.finish(proc, run)
        release.set()

    def checkout(self, config: str = "", persisted: str = "header") -> None:
        """A checkout of the fake repository's main branch, as actions/checkout leaves it
        with persist-credentials: the credential in .git/config (`header`, up to v5), or
        in a file of the runner's temporary folder that .git/config includes (`include`,
        v6 on; see tests/security/test_the_checkout_persisted_a_token.py)."""
        ws = self.tmp / "workspace"
        files = {**self.github.files_at("main"), ".github/issuepilot.yml": config}
        for path, text in files.items():
            if text:
                (ws / path).parent.mkdir(parents=True, exist_ok=True)
                (ws / path).write_text(text)
        git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
        subprocess.run([*git, "init", "-q"], cwd=ws, check=True)
        subprocess.run([*git, "add", "."], cwd=ws, check=True)
        subprocess.run([*git, "commit", "-qm", "init"], cwd=ws, check=True)
        extraheader = ["http.https://github.com/.extraheader", "AUTHORIZATION: basic c2VjcmV0"]
        if persisted == "header":
            subprocess.run(["git", "config", *extraheader], cwd=ws, check=True)
            return
        temp = self.tmp / "runner_temp"
        temp.mkdir(exist_ok=True)
        credentials = temp / "git-credentials-0b9c3c3e-1f2a-4b3c-8d4e-5f60718293a4.config"
        subprocess.run(["git", "config", "--file", str(credentials), *extraheader], check=True)
        for gitdir in (f"{ws}/.git", f"{ws}/.git/worktrees/*"):
            include = [f"includeIf.gitdir:{gitdir}.path", str(credentials)]
            subprocess.run(["git", "config", *include], cwd=ws, check=True)
        self.extra_env["RUNNER_TEMP"] = str(temp)

    def sweep(self) -> Result:
        """A scheduled run: the sweep."""
        return self.step(self.github.schedule_event())

    @property
    def store(self) -> str:
        """Where the action keeps its tasks: "redis", or "github" (the repository's ledger,
        when no Redis URL is given)."""
        return "redis" if self.redis_url else "github"

    def flush(self) -> None:
        """The store loses everything of the repository: Redis restarted without
        persistence, or the ledger ref deleted by hand."""
        if self.store == "github":
            self.github.refs.pop(f"heads/{BRANCH}", None)
            return

        async def wipe() -> None:
            redis = Redis.from_url(self.redis_url)
            pattern = f"issuepilot:{{{self.github.repo}}}:*"
            if keys := [k async for k in redis.scan_iter(match=pattern)]:
                await redis.delete(*keys)
            await redis.aclose()

        asyncio.run(wipe())

    def expire_lease(self, issue: int, locks: bool = True) -> None:
        """What the passing of time does to a dead run's lease: the record's lease and the
        task's file locks lapse. Set directly, instead of sleeping until they do."""

        async def in_ledger() -> None:
            gh = GitHub(self.github.repo, "ghs_fake", self.github.url)

            def lapse(table: Table, now: float) -> None:
                version, data = table.records[issue]
                task = Task.model_validate_json(data).model_copy(update={"lease_until": 0.0})
                table.records[issue] = (version + 1, task.to_json())
                for held in table.held.values():
                    if locks and held.task == str(issue):
                        held.until = now

            await Ledger(gh).change(lapse, "a dead run's lease lapses")
            await gh.aclose()

        if self.store == "github":
            asyncio.run(in_ledger())
            return

        async def lapse() -> None:
            redis = Redis.from_url(self.redis_url)
            store = RedisTaskStore(redis, self.github.repo)
            task = await store.load(issue)
            assert task is not None
            assert await store.commit(task.model_copy(update={"lease_until": 0.0})) is not None
            if locks:
                members = await redis.zrangebylex(
                    Keys(self.github.repo).held, f"[{issue}\0", f"({issue}\1"
                )
                paths = [m.decode().split("\0", 1)[1] for m in members]
                await lapse_locks(redis, self.github.repo, paths)
            await redis.aclose()

        asyncio.run(lapse())

    def comment(self, issue: int) -> str:
        """The status comment's body (the bot's only comment with a marker)."""
        bodies = [
            c["body"]
            for c in self.github.comments.values()
            if c["issue"] == issue
            and "issuepilot:task" in c["body"]
            and c["user"].endswith("[bot]")
        ]
        assert len(bodies) == 1, f"expected one status comment, found {len(bodies)}"
        return bodies[0]


@functools.cache
def rsa_key(name: str = "app") -> tuple[str, str]:
    """An RSA key pair as PEM: (private, public); one per name per test session (slow)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public
