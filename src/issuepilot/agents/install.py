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
import stat
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
    python = await shared_python(spec.pythons)
    if python is None and uv is None:
        raise InputError(
            f"{preset.title} needs Python {' or '.join(spec.pythons)} installed where every "
            "user can run it: add actions/setup-python before IssuePilot"
        )
    venv, package = str(where), f"{spec.package}=={version}"
    if uv is not None:
        # Without such a Python, uv fetches one into the cache, where the sandbox can run it.
        how = ["--python", python] if python else ["--managed-python", "--python", spec.pythons[0]]
        env = {**os.environ, "UV_PYTHON_INSTALL_DIR": str(where.parent / "python")}
        await _run(uv, "venv", "--quiet", *how, venv, env=env)
        await _run(uv, "pip", "install", "--quiet", "--python", f"{venv}/bin/python", package)
        _readable(where.parent / "python")
        return
    assert python is not None
    await _run(python, "-m", "venv", venv)
    await _run(f"{venv}/bin/python", "-m", "pip", "install", "-q", package)


async def shared_python(versions: tuple[str, ...]) -> str | None:
    """A Python of one of `versions` that every user may run (the CLI's virtual environment
    links to it, and the sandbox's user runs it): this one's base interpreter, or one on
    PATH, or the system's. A Python under a user's home (pyenv) is not."""
    names = [getattr(sys, "_base_executable", sys.executable), sys.executable]
    names += [found for v in versions if (found := shutil.which(f"python{v}"))]
    names += [f"{d}/python{v}" for v in versions for d in ("/usr/local/bin", "/usr/bin")]
    names += [found for found in (shutil.which("python3"),) if found]
    for name in names:
        path = os.path.realpath(name)
        if not _everyone_runs(path):
            continue
        proc = await asyncio.create_subprocess_exec(
            path, "-c", "import sys; print('%d.%d' % sys.version_info[:2])",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        out, _ = await proc.communicate()
        if proc.returncode == 0 and out.decode().strip() in versions:
            return path
    return None


def _everyone_runs(path: str) -> bool:
    """Whether a user of no group of its owner may run `path`: it, and every folder above."""
    try:
        if not os.stat(path).st_mode & stat.S_IXOTH:
            return False
        return all(os.stat(p).st_mode & stat.S_IXOTH for p in Path(path).parents)
    except OSError:
        return False


async def _run(*argv: str, env: dict[str, str] | None = None) -> None:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        env=env,
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
    if not where.is_dir():
        return
    for root, dirs, files in os.walk(where):
        for name in dirs + files:
            path = os.path.join(root, name)
            if os.path.islink(path):
                continue
            mode = os.stat(path).st_mode
            extra = 0o055 if (mode & 0o100 or name in dirs) else 0o044
            os.chmod(path, mode | extra)
    os.chmod(where, 0o755)
