"""Running a real agent CLI that speaks OpenAI chat completions as the command backend
runs it (see `contract`), with the scripted model on loopback: what the model was sent, and
the key it came with, are in the fake's records; what the CLI asked of any other host, in
the proxy's."""

import dataclasses
import json
import os
import shlex
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from issuepilot.agents.command import agent_env
from issuepilot.agents.install import installed
from issuepilot.agents.presets import Invocation, Preset, Report, Role
from issuepilot.sandbox import UserSandbox
from issuepilot.testing.fake_llm import FakeLLM

from .contract import CACHE, DECOYS, Tattletale, cannot_run, commit_all, sh

KEY = "sk-contract-key-0123456789"
PLAN = {
    "summary": "Greet with a comma",
    "steps": ["Edit greet"],
    "files": [{"path": "app.py", "action": "modify", "why": "the greeting lives there"}],
    "risks": [],
}
PLAN_FILE = ".issuepilot-plan-0a1b2c3d.json"


def story(preset: Preset) -> Callable[[Any], Any]:
    """A story with the real CLI: run with --stories, where it is installed."""
    why = cannot_run(preset)

    def mark(test: Any) -> Any:
        return pytest.mark.story(pytest.mark.skipif(bool(why), reason=why or "available")(test))

    return mark


@contextmanager
def checkout_of(files: dict[str, str]) -> Iterator[Path]:
    """A git checkout of `files`, outside pytest's folder for root (see `contract`)."""
    root = Path(tempfile.mkdtemp(prefix="issuepilot-contract-"))
    repo = root / "repo"
    repo.mkdir()
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    sh(repo, "git", "init", "-q", "-b", "main")
    commit_all(repo, "init")
    try:
        yield repo
    finally:
        shutil.rmtree(root)


@dataclass
class Ran:
    code: int | None
    report: Report
    output: str  # what it printed (its stdout)
    log: str  # its stderr
    elsewhere: list[str]  # what it asked of any host but its endpoint


async def run_cli(
    preset: Preset,
    checkout: Path,
    role: Role,
    fake: FakeLLM,
    prompt: str,
    plan: dict[str, Any] | None = None,
    extra_env: dict[str, str] | None = None,
) -> Ran:
    """One run of the CLI in a sandbox user's session on the checkout, its key in
    `OPENAI_API_KEY`, the runner's environment holding the decoys and a proxy."""
    files = checkout / ".git" / "issuepilot-run"
    files.mkdir()
    (files / "prompt.md").write_text(prompt)
    if plan is not None:
        (files / "plan.json").write_text(json.dumps(plan))
    proxy = Tattletale()
    runner_env = {
        "PATH": os.environ["PATH"],
        **DECOYS,
        **{name: proxy.url for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy")},
        "NO_PROXY": "127.0.0.1",
        **(extra_env or {}),
    }
    found = installed(CACHE, preset)
    assert found is not None
    planned = Invocation(
        role=role,
        binary=found.command,
        prompt_file=str(files / "prompt.md"),
        plan_file=str(files / "plan.json") if role == "execute" else str(checkout / PLAN_FILE),
        output_file=str(files / "output.txt"),
        workspace=str(checkout),
        home="",
        key=KEY,
        model="gpt-4.1",
        base_url=fake.url,
    )
    try:
        async with UserSandbox(checkout, runner_env, preset.home_files(planned)) as box:
            run = dataclasses.replace(planned, home=box.home_path)
            env = {
                **agent_env(runner_env, []),
                **preset.env(run),
                "ISSUEPILOT_PROMPT_FILE": run.prompt_file,
                "ISSUEPILOT_OUTPUT_FILE": run.output_file,
            }
            command = shlex.join(preset.argv(run)) + ' < "$ISSUEPILOT_PROMPT_FILE"'
            command += ' > "$ISSUEPILOT_OUTPUT_FILE"'
            ran = await box.run(command, env, timeout=180, cap=20_000)
        output = (files / "output.txt").read_text()
    finally:
        shutil.rmtree(files)
        proxy.shutdown()
        proxy.server_close()
    return Ran(ran.code, preset.report(output), output, ran.output, proxy.seen)


def assert_nothing_but_the_key_reached(fake: FakeLLM, ran: Ran) -> None:
    """Only chat completions were asked for, each with the CLI's key and no other secret,
    and no other host was asked anything."""
    assert fake.requests and not fake.unknown, f"unexpected requests: {fake.unknown}"
    assert ran.elsewhere == [], f"requests to other hosts: {ran.elsewhere}"
    assert len(fake.headers) == len(fake.requests)
    for request, headers in zip(fake.requests, fake.headers, strict=True):
        assert headers["authorization"] == f"Bearer {KEY}"
        sent = json.dumps(headers) + json.dumps(request)
        leaked = [name for name, secret in DECOYS.items() if secret in sent]
        assert not leaked, f"{leaked} reached the model's endpoint"
