"""Running a preset's real CLI as the command backend runs it: in a sandbox user's session
on a real checkout, the prompt on stdin, its machine output in a file, with the runner's
environment less its credentials plus what the preset adds. What it asks of any host but its
endpoint is caught by a proxy that forwards nothing."""

import dataclasses
import os
import shlex
import shutil
import socketserver
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from issuepilot.agents.command import agent_env
from issuepilot.agents.install import cache_dir, installed
from issuepilot.agents.presets import Invocation, Preset, Report, Role
from issuepilot.sandbox import UserSandbox

from ..security.test_agent_reads_the_jobs_secrets import can_sandbox

CACHE = cache_dir(dict(os.environ))
PROMPT = "Fix add() in app.py. Do not commit.\n"
# What else a runner's environment holds: none of it may reach the model's endpoint.
DECOYS = {
    "GITHUB_TOKEN": "ghs_decoygithubtoken0000000000000000",
    "ISSUEPILOT_REDIS_URL": "redis://:decoy-redis-password@127.0.0.1:6379/0",
    "AWS_SECRET_ACCESS_KEY": "decoy-aws-secret-key",
    "OPENAI_API_KEY": "sk-decoy-openai-key",
}


def cannot_run(preset: Preset) -> str:
    """Why the preset's CLI cannot be run here, or "" (`issuepilot agents install` puts it
    where the command backend finds it)."""
    if why := can_sandbox():
        return why
    if installed(CACHE, preset) is None:
        return f"{preset.title} {preset.install.version} is not installed in {CACHE}"
    return ""


def sh(cwd: Path, *args: str) -> str:
    return subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True).stdout


def commit_all(repo: Path, message: str) -> None:
    sh(repo, "git", "add", ".")
    sh(repo, "git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message)


@dataclass
class Ran:
    code: int | None
    report: Report
    log: str  # its stderr
    elsewhere: list[str]  # what it asked of any host but its endpoint


def tiny_repository() -> Iterator[Path]:
    """A checkout of one buggy function (a fixture's body).

    Not under pytest's folder for root, which every root pytest on the machine shares: a
    sandbox makes a checkout's parents passable for its user and restores them when it
    closes, also while another run's sandbox still needs them."""
    root = Path(tempfile.mkdtemp(prefix="issuepilot-contract-"))
    repo = root / "repo"
    repo.mkdir()
    (repo / "app.py").write_text("def add(a, b):\n    return a - b\n")
    (repo / "README.md").write_text("# calc\n")
    sh(repo, "git", "init", "-q", "-b", "main")
    commit_all(repo, "init")
    yield repo
    shutil.rmtree(root)


def diff(checkout: Path) -> str:
    """The working tree's change, without the blob ids."""
    lines = sh(checkout, "git", "diff").splitlines(keepends=True)
    return "".join(line for line in lines if not line.startswith("index "))


def everything_changed(checkout: Path) -> str:
    """Every changed, untracked or ignored path, as `git status --porcelain` lists them."""
    return sh(checkout, "git", "status", "--porcelain", "--untracked-files=all", "--ignored")


class Refuse(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        assert isinstance(self.server, Tattletale)
        self.server.seen.append(self.rfile.readline().decode(errors="replace").strip())
        self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")


class Tattletale(socketserver.ThreadingTCPServer):
    """The runner's proxy (`HTTPS_PROXY`, loopback left out by `NO_PROXY`), forwarding
    nothing: every request to another host is kept in `seen` and refused. Whether or not
    the machine has a network, this shows what the CLI would have sent."""

    daemon_threads = True

    def __init__(self) -> None:
        self.seen: list[str] = []
        super().__init__(("127.0.0.1", 0), Refuse)
        threading.Thread(target=self.serve_forever, args=(0.02,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


async def run_preset(
    preset: Preset, checkout: Path, role: Role, key_name: str, key: str, base_url: str
) -> Ran:
    """One run of the preset's CLI in a sandbox on the checkout, as the command backend
    runs it: the runner's environment holds the key under `key_name`, the decoys and a
    proxy."""
    files = checkout / ".git" / "issuepilot-run"
    files.mkdir()
    (files / "prompt.md").write_text(PROMPT)
    proxy = Tattletale()
    runner_env = {
        "PATH": os.environ["PATH"],
        key_name: key,
        **DECOYS,
        **{name: proxy.url for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy")},
        "NO_PROXY": "127.0.0.1",
    }
    found = installed(CACHE, preset)
    assert found is not None
    planned = Invocation(
        role=role,
        binary=found.command,
        prompt_file=str(files / "prompt.md"),
        plan_file=str(checkout / ".issuepilot-plan.json"),
        output_file=str(files / "output.jsonl"),
        workspace=str(checkout),
        home="",
        key=key,
        base_url=base_url,
        max_turns=20,
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
            ran = await box.run(command, env, timeout=120, cap=20_000)
        output = (files / "output.jsonl").read_text()
    finally:
        shutil.rmtree(files)
        proxy.shutdown()
        proxy.server_close()
    return Ran(ran.code, preset.report(output), ran.output, proxy.seen)
