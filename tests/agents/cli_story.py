"""What the stories of a real agent CLI share: the CLI installed as the action installs it,
a checkout in a folder of the test's own, a proxy that catches any request to the outside
world, and one run of the CLI exactly as the command backend runs it, as a sandbox user."""

import asyncio
import os
import shlex
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from issuepilot.agents.command import agent_env
from issuepilot.agents.install import cache_dir, ensure
from issuepilot.agents.presets import Invocation, Preset
from issuepilot.sandbox import Ran, UserSandbox

from ..security.test_agent_reads_the_jobs_secrets import can_sandbox

# Credentials of the runner that must never reach the CLI or its endpoint.
DECOYS = {
    "GITHUB_TOKEN": "ghs_decoy-github-token-0a1b",
    "ISSUEPILOT_REDIS_URL": "redis://:decoy-redis-password@host",
    "OPENAI_API_KEY": "sk-decoy-openai-key-77c3",
    "AWS_SECRET_ACCESS_KEY": "decoy-aws-secret-9f2e",
}
PLAN_FILE = ".issuepilot-plan-5e1f.json"
PROMPT = "Fix the spelling of the greeting in src/greet.py.\n"
sandboxed = pytest.mark.skipif(bool(can_sandbox()), reason=can_sandbox() or "available")


def installed(preset: Preset) -> str:
    """The preset's pinned CLI in the agent cache, installed there first if missing."""
    return asyncio.run(ensure(cache_dir(dict(os.environ)), preset)).command


class Trap:
    """A proxy that answers nothing: the CLI is pointed at it for every host but loopback,
    so any request to the outside world shows up in `seen`."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.seen: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    @property
    def env(self) -> dict[str, str]:
        proxies = {name: self.url for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY")}
        return {**proxies, "NO_PROXY": "127.0.0.1,localhost"}

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                first = conn.recv(300).split(b"\r\n")[0].decode(errors="replace")
                if first not in self.seen:  # a CLI may retry without end
                    self.seen.append(first)


@pytest.fixture
def trap() -> Iterator[Trap]:
    found = Trap()
    yield found
    found.sock.close()


@pytest.fixture
def tmp_path() -> Iterator[Path]:
    """A folder of this test's own, open for passage, right under /tmp. Under pytest's own
    folders, a sandbox of another test that closes would close their passage again (each
    sandbox opens the folders above its workspace, and restores them when it closes)."""
    folder = Path(tempfile.mkdtemp(prefix="issuepilot-test-"))
    folder.chmod(0o711)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / "src" / "greet.py").write_text("def greet(name):\n    return 'Helo, ' + name\n")
    (repo / "README.md").write_text("# greet\n")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    return repo


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "safe.directory=*", *args], cwd=repo, capture_output=True, text=True
    )
    return done.stdout


async def run_cli(
    preset: Preset,
    run: Invocation,
    runner_env: dict[str, str],
    trap: Trap,
    prefix: list[str] | None = None,
) -> tuple[Ran, str]:
    """Run the CLI on `run.workspace` as the command backend does: the prompt on stdin,
    stdout to the output file, the preset's settings in the sandbox's fresh home, the
    runner's environment without its credentials plus the preset's; (how it ran, stdout).
    `prefix` runs before the command line (to change the machine it seems to run on)."""
    files = Path(run.workspace) / ".git" / "issuepilot-run"
    files.mkdir()
    (files / "prompt.md").write_text(PROMPT)
    run = replace(
        run,
        prompt_file=str(files / "prompt.md"),
        output_file=str(files / "output"),
        plan_file=str(Path(run.workspace) / PLAN_FILE),
    )
    command = shlex.join(preset.argv(run)) + ' < "$PROMPT_FILE" > "$OUTPUT_FILE"'
    if prefix:
        command = shlex.join(prefix) + " " + command
    async with UserSandbox(Path(run.workspace), runner_env, preset.home_files(run)) as box:
        run = replace(run, home=box.home_path)
        env = {
            **agent_env(runner_env, []),
            **preset.env(run),
            "PROMPT_FILE": run.prompt_file,
            "OUTPUT_FILE": run.output_file,
            **trap.env,
        }
        ran = await box.run(command, env, timeout=180, cap=20_000)
    return ran, (files / "output").read_text()
