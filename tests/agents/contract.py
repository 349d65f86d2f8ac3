"""What every test of a real agent CLI shares: the CLI as `issuepilot agents install` left
it (never installed by a test), a checkout, the runner's secrets that must reach no one, a
proxy that shows any request to another host, and one run of the CLI by the command
backend itself (`CommandAgent`), as the sandbox user, against a scripted endpoint.

A test whose CLI is not installed is skipped, with the command that installs it; with
`ISSUEPILOT_REQUIRE_AGENTS` set (CI installs every preset's CLI first) it fails instead."""

import json
import os
import re
import socketserver
import subprocess
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

from issuepilot.agents.base import IssueText, RepoFiles
from issuepilot.agents.command import CommandAgent, PresetRun
from issuepilot.agents.install import cache_dir, installed
from issuepilot.agents.presets import Preset, Report, Role
from issuepilot.agents.tools import ToolBox
from issuepilot.errors import IssuePilotError
from issuepilot.models import Plan
from issuepilot.testing.fake_llm import FakeLLM
from issuepilot.workspace import CheckoutWorkspace

from ..security.test_agent_reads_the_jobs_secrets import can_sandbox

CACHE = cache_dir(dict(os.environ))
DOCS = Path(__file__).parents[2] / "docs" / "agents.md"
# A recipe in the docs: a shell block that starts with the command that prints it.
RECIPE = re.compile(r"^```sh\n(# issuepilot agents recipe .*?)^```", re.DOTALL | re.MULTILINE)
REQUIRED = "ISSUEPILOT_REQUIRE_AGENTS"
# What else a runner's environment holds: none of it may reach the CLI or its endpoint.
DECOYS = {
    "GITHUB_TOKEN": "ghs_decoygithubtoken0000000000000000",
    "ISSUEPILOT_REDIS_URL": "redis://:decoy-redis-password@127.0.0.1:6379/0",
    "AWS_SECRET_ACCESS_KEY": "decoy-aws-secret-key",
    "OPENAI_API_KEY": "sk-decoy-openai-key",
}
PLAN_FILE = re.compile(r"\.issuepilot-plan-[0-9a-f]+\.json")


def real_cli(preset: Preset) -> str:
    """The preset's CLI, installed where the command backend finds it; the test is skipped
    (failed, with ISSUEPILOT_REQUIRE_AGENTS) when it cannot run here."""
    why = can_sandbox()
    found = installed(CACHE, preset)
    if not why and found is None:
        why = (
            f"{preset.title} {preset.install.version} is not installed in {CACHE}: run "
            f"`issuepilot agents install {preset.name}`"
        )
    if why and os.environ.get(REQUIRED):
        pytest.fail(f"{why} ({REQUIRED} is set)", pytrace=False)
    if why or found is None:
        pytest.skip(why)
    return found.command


def decoys_for(preset: Preset) -> dict[str, str]:
    """The decoys, less those under a name the preset takes its own key from."""
    return {name: value for name, value in DECOYS.items() if name not in preset.keys}


def plan_file_in(text: str) -> str:
    """The plan file a planning prompt names (a new name each run)."""
    found = PLAN_FILE.search(text)
    assert found, "the prompt names no plan file"
    return found[0]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", ".")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message)


def checkout_of(folder: Path, files: dict[str, str]) -> Path:
    """A git checkout of `files` in `folder`/repo, everything committed."""
    repo = folder / "repo"
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "init")
    return repo


def diff(checkout: Path) -> str:
    """The working tree's change, without the blob ids."""
    lines = git(checkout, "diff").splitlines(keepends=True)
    return "".join(line for line in lines if not line.startswith("index "))


def everything_changed(checkout: Path) -> str:
    """Every changed, untracked or ignored path, as `git status --porcelain` lists them."""
    return git(checkout, "status", "--porcelain", "--untracked-files=all", "--ignored")


class Refuse(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        assert isinstance(self.server, Tattletale)
        self.server.seen.append(self.rfile.readline().decode(errors="replace").strip())
        self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")


class Tattletale(socketserver.ThreadingTCPServer):
    """The runner's proxy for every host but loopback, forwarding nothing: each request is
    kept in `seen` and refused. Whether or not the machine has a network, this shows what
    the CLI would have sent elsewhere."""

    daemon_threads = True

    def __init__(self) -> None:
        self.seen: list[str] = []
        super().__init__(("127.0.0.1", 0), Refuse)
        threading.Thread(target=self.serve_forever, args=(0.02,), daemon=True).start()

    @property
    def env(self) -> dict[str, str]:
        """The runner's variables that send every request but loopback's to it."""
        url = f"http://127.0.0.1:{self.server_address[1]}"
        names = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy")
        local = "127.0.0.1,localhost"
        return {**dict.fromkeys(names, url), "NO_PROXY": local, "no_proxy": local}

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.shutdown()
        self.server_close()


@dataclass
class Ran:
    error: str  # why the command backend failed the run; "" when it did not
    report: Report  # what the backend counted into the budget, and the CLI's last message
    log: str  # the end of what the CLI printed to stderr, as the backend keeps it
    elsewhere: list[str]  # the requests it made to any host but its endpoint
    plan: Plan | None = None  # planning: the plan the backend took from the CLI


async def run_cli(
    preset: Preset,
    checkout: Path,
    role: Role,
    issue: IssueText,
    key: str,
    base_url: str,
    plan: Plan | None = None,
    model: str = "",
    env: dict[str, str] | None = None,
) -> Ran:
    """One role played by the preset's CLI through the command backend, in a sandbox user's
    session on the checkout: the runner's environment holds the key under the preset's
    first name for it, the decoys, a proxy, and `env`."""
    real_cli(preset)
    with Tattletale() as proxy:
        runner_env = {
            "PATH": os.environ["PATH"],
            **decoys_for(preset),
            preset.keys[0]: key,
            **proxy.env,
            **(env or {}),
        }
        agent = CommandAgent(
            "", checkout, runner_env, [], timeout_s=300, output_cap=20_000, sandbox="user",
            preset=PresetRun(preset, CACHE, model=model, base_url=base_url),
        )  # fmt: skip
        tools = ToolBox(CheckoutWorkspace(checkout), role)
        error, planned = "", None
        try:
            if role == "plan":
                planned = await agent.plan(issue, RepoFiles(), tools)
            else:
                assert plan is not None, "the executor carries out a plan"
                await agent.execute(issue, plan, tools)
        except IssuePilotError as exc:
            error = str(exc)
    spent = agent.budget
    report = Report(spent.calls, spent.tokens, spent.cost, agent.message)
    return Ran(error, report, agent.output, proxy.seen, planned)


def sent(fake: Any) -> list[tuple[dict[str, str], Any]]:
    """What a scripted endpoint received: (headers, body) of each request."""
    if isinstance(fake, FakeLLM):
        return list(zip(fake.headers, fake.requests, strict=True))
    return [(request.headers, request.body) for request in fake.requests]


def assert_only_the_key_went_out(
    fake: Any,
    header: str,
    value: str,
    elsewhere: list[str],
    secrets: Iterable[str] = DECOYS.values(),
) -> None:
    """The endpoint heard only the routes it knows, each request with the CLI's key (`value`
    in `header`) and none of the `secrets`; no other host heard anything."""
    assert fake.requests and not fake.unknown, f"unexpected requests: {fake.unknown}"
    assert elsewhere == [], f"requests to other hosts: {elsewhere}"
    for headers, body in sent(fake):
        assert headers.get(header) == value, headers
        text = json.dumps([headers, body])
        leaked = [secret for secret in secrets if secret and secret in text]
        assert not leaked, f"{leaked} reached the model's endpoint"


# -- the stories: a runner whose environment runs a preset, or its documented recipe -------


def runner_env(preset: Preset, key: str, proxy: Tattletale) -> dict[str, str]:
    """What the runner's environment adds for a story of the preset's CLI: its key under
    the preset's first name for it, decoys of other credentials, and the proxy."""
    others = {"AWS_SECRET_ACCESS_KEY", "OPENAI_API_KEY"}  # the world has its own token, URL
    decoys = {name: value for name, value in decoys_for(preset).items() if name in others}
    return {preset.keys[0]: key, **decoys, **proxy.env}


def preset_inputs(preset: Preset, base_url: str, model: str = "") -> dict[str, str]:
    """The action's inputs of a repository that runs the preset: `agent`, its endpoint and
    model, and the agent cache the CLI was installed in."""
    real_cli(preset)
    return {
        "ISSUEPILOT_AGENT": preset.name,
        "ISSUEPILOT_AGENT_MODEL": model,
        "ISSUEPILOT_AGENT_BASE_URL": base_url,
        "ISSUEPILOT_AGENT_CACHE": str(CACHE),
    }


def documented_recipes() -> dict[str, str]:
    """The recipes of docs/agents.md, by the preset they were made from."""
    found = {}
    for text in RECIPE.findall(DOCS.read_text()):
        name = text.split("\n", 1)[0].split()[4]
        assert name not in found, f"docs/agents.md has two recipes for {name}"
        found[name] = text
    return found


def recipe_inputs(preset: Preset, base_url: str) -> dict[str, str]:
    """The inputs of a repository that runs the preset's documented recipe as its
    agent-command, on the endpoint at `base_url`, the CLI on PATH."""
    cli = real_cli(preset)
    recipe = documented_recipes()[preset.name]
    assert preset.endpoint in recipe
    return {
        "ISSUEPILOT_AGENT_COMMAND": recipe.replace(preset.endpoint, base_url),
        "PATH": f"{os.path.dirname(cli)}:{os.environ['PATH']}",
    }
