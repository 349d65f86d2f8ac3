"""Installing an agent preset's CLI at its pinned version, where every user can run it.

Each version has a folder of its own, `<cache>/<preset>-<version>`: npm packages are
installed there with `npm install --prefix`, PyPI ones into a virtual environment made there
(uv when it is on PATH, else venv and pip). The folder is made readable by every user (the
sandbox's user runs the CLI) and marked complete last, so an install that died half-way is
redone, and concurrent installs of one version wait for each other (`flock`). The action
caches the folder across runs; the CLI then only checks the mark.
"""

import asyncio
import fcntl
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from .presets import Preset

DEFAULT_CACHE = "/opt/issuepilot-agents"
DONE = ".issuepilot-installed"


@dataclass(frozen=True, slots=True)
class Installed:
    command: str  # the CLI's absolute path
    version: str
    seconds: float  # spent installing now (0 when it was there)


def cache_dir(runner_env: dict[str, str]) -> Path:
    """`ISSUEPILOT_AGENT_CACHE`, else the runner's tool cache (where the action caches it),
    else /opt/issuepilot-agents."""
    if named := runner_env.get("ISSUEPILOT_AGENT_CACHE"):
        return Path(named)
    if tools := runner_env.get("RUNNER_TOOL_CACHE"):
        return Path(tools) / "issuepilot-agents"
    return Path(DEFAULT_CACHE)


def folder(cache: Path, preset: Preset, version: str = "") -> Path:
    return cache / f"{preset.name}-{version or preset.install.version}"


def installed(cache: Path, preset: Preset, version: str = "") -> Installed | None:
    """The CLI at that version, if its folder holds a complete install."""
    where = folder(cache, preset, version)
    command = preset.install.command_in(str(where))
    if (where / DONE).is_file() and os.access(command, os.X_OK):
        return Installed(command, version or preset.install.version, 0.0)
    return None


async def ensure(cache: Path, preset: Preset, version: str = "") -> Installed:
    """The CLI at that version, installed first if it is missing."""
    if found := installed(cache, preset, version):
        return found
    started = time.monotonic()
    cache.mkdir(parents=True, exist_ok=True)
    os.chmod(cache, 0o755)
    where = folder(cache, preset, version)
    with open(f"{where}.lock", "w") as lock:
        await asyncio.to_thread(fcntl.flock, lock, fcntl.LOCK_EX)
        if found := installed(cache, preset, version):  # another run installed it meanwhile
            return found
        shutil.rmtree(where, ignore_errors=True)
        where.mkdir()
        await _install(preset, version or preset.install.version, where)
        _readable(where)
        (where / DONE).write_text(f"{preset.install.package} {version}\n")
    found = installed(cache, preset, version)
    if found is None:
        raise InputError(
            f"installing {preset.title} left no {preset.install.binary} command in {where}"
        )
    return Installed(found.command, found.version, time.monotonic() - started)


async def _install(preset: Preset, version: str, where: Path) -> None:
    spec = preset.install
    if spec.registry == "npm":
        npm = shutil.which("npm")
        if npm is None:
            raise InputError(
                f"{preset.title} is installed with npm, and there is none on PATH: add "
                "actions/setup-node (Node.js 20 or newer) before IssuePilot"
            )
        await _run(
            npm, "install", "--prefix", str(where), "--no-audit", "--no-fund",
            "--no-save", "--loglevel=error", f"{spec.package}@{version}",
        )  # fmt: skip
        return
    uv = shutil.which("uv")
    if uv is not None:
        await _run(uv, "venv", "--quiet", "--python", sys.executable, str(where))
        python = str(where / "bin" / "python")
        await _run(
            uv, "pip", "install", "--quiet", "--python", python, f"{spec.package}=={version}"
        )
        return
    await _run(sys.executable, "-m", "venv", str(where))
    await _run(
        str(where / "bin" / "python"), "-m", "pip", "install", "-q", f"{spec.package}=={version}"
    )


async def _run(*argv: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        tail = " | ".join(out.decode(errors="replace").strip().splitlines()[-3:])
        raise InputError(f"{Path(argv[0]).name} {argv[1]} failed (exit {proc.returncode}): {tail}")


def _readable(where: Path) -> None:
    """Every user may read and run what was installed (the sandbox's user runs it)."""
    for root, dirs, files in os.walk(where):
        for name in dirs + files:
            path = os.path.join(root, name)
            if os.path.islink(path):
                continue
            mode = os.stat(path).st_mode
            extra = 0o055 if (mode & 0o100 or name in dirs) else 0o044
            os.chmod(path, mode | extra)
    os.chmod(where, 0o755)
