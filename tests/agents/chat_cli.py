"""Running a real agent CLI that speaks OpenAI chat completions as IssuePilot runs it: a
sandbox user on a git checkout, the prompt on stdin, its output in a file, the runner's
environment without credentials plus the preset's, the scripted model on loopback."""

import dataclasses
import json
import os
import shlex
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from issuepilot.agents.command import agent_env
from issuepilot.agents.presets import Invocation, Preset, Report, Role
from issuepilot.sandbox import UserSandbox
from issuepilot.testing.fake_llm import FakeLLM

from ..security.test_agent_reads_the_jobs_secrets import can_sandbox

CACHE = Path(os.environ.get("ISSUEPILOT_AGENT_CACHE", "/opt/issuepilot-agents"))
KEY = "sk-contract-key-0123456789"
# What else a runner's environment holds: none of it may reach the model's endpoint.
DECOYS = {
    "GITHUB_TOKEN": "ghs_decoygithubtoken0000000000000000",
    "ISSUEPILOT_REDIS_URL": "redis://:decoy-redis-password@127.0.0.1:6379/0",
    "AWS_SECRET_ACCESS_KEY": "decoy-aws-secret-key",
    "ANTHROPIC_API_KEY": "sk-ant-decoy-anthropic-key",
}
PLAN = {
    "summary": "Greet with a comma",
    "steps": ["Edit greet"],
    "files": [{"path": "app.py", "action": "modify", "why": "the greeting lives there"}],
    "risks": [],
}
PLAN_FILE = ".issuepilot-plan.json"


def installed(preset: Preset) -> Path:
    folder = CACHE / f"{preset.name}-{preset.install.version}"
    return Path(preset.install.command_in(str(folder)))


def cannot_run(preset: Preset) -> str:
    if why := can_sandbox():
        return why
    if not os.access(installed(preset), os.X_OK):
        return f"{preset.title} {preset.install.version} is not installed at {installed(preset)}"
    return ""


def story(preset: Preset) -> Callable[[Any], Any]:
    """A story with the real CLI: run with --stories, where it is installed."""
    why = cannot_run(preset)

    def mark(test: Any) -> Any:
        return pytest.mark.story(pytest.mark.skipif(bool(why), reason=why or "available")(test))

    return mark


def sh(cwd: Path, *args: str) -> str:
    return subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True).stdout


def make_checkout(root: Path, files: dict[str, str]) -> Path:
    repo = root / "repo"
    repo.mkdir()
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    sh(repo, "git", "init", "-q", "-b", "main")
    sh(repo, "git", "add", ".")
    sh(repo, "git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    return repo


def status(checkout: Path) -> str:
    """Every change, untracked and ignored file of the checkout."""
    return sh(checkout, "git", "status", "--porcelain", "--untracked-files=all", "--ignored")


def diff(checkout: Path) -> str:
    """The working tree's change, without the blob ids."""
    lines = sh(checkout, "git", "diff").splitlines(keepends=True)
    return "".join(line for line in lines if not line.startswith("index "))


@dataclass
class Ran:
    code: int | None
    report: Report
    output: str  # what it printed (its stdout)
    log: str  # its stderr
    home: str  # its home folder, as it saw it
    seconds: float


async def run_cli(
    preset: Preset,
    checkout: Path,
    role: Role,
    fake: FakeLLM,
    prompt: str,
    model: str = "gpt-4.1",
    runner_env: dict[str, str] | None = None,
    plan: dict[str, Any] | None = None,
) -> Ran:
    """One run of the CLI in a sandbox user's session on the checkout."""
    files = checkout / ".git" / "issuepilot-run"
    files.mkdir()
    (files / "prompt.md").write_text(prompt)
    if plan is not None:
        (files / "plan.json").write_text(json.dumps(plan))
    env_in = runner_env or {"PATH": os.environ["PATH"], **DECOYS}
    planned = Invocation(
        role=role,
        binary=str(installed(preset)),
        prompt_file=str(files / "prompt.md"),
        plan_file=str(files / "plan.json") if role == "execute" else str(checkout / PLAN_FILE),
        output_file=str(files / "output.txt"),
        workspace=str(checkout),
        home="/nonexistent",
        key=KEY,
        model=model,
        base_url=fake.url,
    )
    async with UserSandbox(checkout, env_in, preset.home_files(planned)) as box:
        run = dataclasses.replace(planned, home=box.home_path)
        env = {
            **agent_env(env_in, []),
            **preset.env(run),
            "PROMPT_FILE": run.prompt_file,
            "OUTPUT_FILE": run.output_file,
        }
        command = shlex.join(preset.argv(run)) + ' < "$PROMPT_FILE" > "$OUTPUT_FILE"'
        ran = await box.run(command, env, timeout=180, cap=20_000)
    output = (files / "output.txt").read_text()
    sh(checkout, "rm", "-r", str(files))
    return Ran(ran.code, preset.report(output), output, ran.output, run.home, ran.seconds)


def assert_nothing_but_the_key_reached(fake: FakeLLM) -> None:
    """Only chat completions were asked for, each with the CLI's key and no other secret."""
    assert fake.requests and not fake.unknown, f"unexpected requests: {fake.unknown}"
    assert len(fake.headers) == len(fake.requests)
    for request, headers in zip(fake.requests, fake.headers, strict=True):
        assert headers["authorization"] == f"Bearer {KEY}"
        sent = json.dumps(headers) + json.dumps(request)
        leaked = [name for name, secret in DECOYS.items() if secret in sent]
        assert not leaked, f"{leaked} reached the model's endpoint"
