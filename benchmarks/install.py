"""Seconds before IssuePilot's step can start, the ways action.yml can get there.

- `pip, unpinned`: what every run paid before: a fresh venv, then `pip install` of the
  action (resolving the newest versions of every dependency, building the package).
- `uv, cold`: `tools/install-env` with uv and an empty uv cache (a cache miss on a new
  runner): a venv and the locked, hash-checked dependencies.
- `pip, locked`: the same script where uv cannot run: pip from the same lock file.
- `cached venv`: what a cache hit costs: unpacking the venv as actions/cache packs it
  (tar + zstd, gzip where zstd is missing), then `tools/install-env`'s check.

Each is run `--rounds` times (median printed), in each folder of `--dirs`: by default the
temporary folder on this machine's disk and a RAM disk (/dev/shm) where there is one,
since unpacking 5,000 small files is bound by a disk's cost per file (runners' SSDs are
closer to the RAM disk than to a shared VM's disk). Downloads come from the package index
this machine is configured with.
Targets: cold under 5 s, cached under 1.5 s.

    python benchmarks/install.py [--rounds 3] [--dirs /tmp /dev/shm]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INSTALL = ROOT / "tools" / "install-env"
PYTHON = shutil.which("python3") or sys.executable


def run(cmd: list[str], env: dict[str, str] | None = None) -> None:
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)


def timed(prepare: Callable[[], None], action: Callable[[], None], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        prepare()
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(rounds: int, dirs: list[str]) -> None:
    for where in dirs:
        print(f"in {where}:")
        measure(rounds, Path(where))
        print()


def measure(rounds: int, where: Path) -> None:
    uv = shutil.which("uv")
    if uv is None:
        sys.exit("uv is not on PATH: pip install uv")
    work = Path(tempfile.mkdtemp(prefix="issuepilot-install-", dir=where))
    venv = work / "venv"
    no_uv = os.pathsep.join(
        p for p in os.environ["PATH"].split(os.pathsep) if p != str(Path(uv).parent)
    )
    base = {**os.environ, "PIP_QUIET": "1"}

    def fresh() -> None:
        shutil.rmtree(venv, ignore_errors=True)
        cache = work / "uv-cache"
        shutil.rmtree(cache, ignore_errors=True)
        base["UV_CACHE_DIR"] = str(cache)
        base["PIP_NO_CACHE_DIR"] = "1"

    def pip_unpinned() -> None:
        run([PYTHON, "-m", "venv", str(venv)])
        run([str(venv / "bin" / "pip"), "install", "--quiet", str(ROOT)], base)

    def uv_cold() -> None:
        run([str(INSTALL), str(venv), PYTHON], base)

    def pip_locked() -> None:
        run([str(INSTALL), str(venv), PYTHON], {**base, "PATH": no_uv})

    rows = [
        ("pip, unpinned (before)", timed(fresh, pip_unpinned, rounds)),
        ("uv, cold", timed(fresh, uv_cold, rounds)),
        ("pip, locked (no uv)", timed(fresh, pip_locked, rounds)),
    ]
    # A cache hit: the venv packed as actions/cache packs it, unpacked in its place.
    fresh()
    uv_cold()
    zstd = shutil.which("zstd") is not None
    archive = work / ("cache.tzst" if zstd else "cache.tgz")
    pack = ["--use-compress-program", "zstd -T0"] if zstd else ["-z"]
    run(["tar", "-c", *pack, "-f", str(archive), "-C", str(work), "venv"])
    unpack = ["--use-compress-program", "unzstd"] if zstd else ["-z"]

    def restore() -> None:
        run(["tar", "-x", *unpack, "-f", str(archive), "-C", str(work)])
        run([str(INSTALL), str(venv), PYTHON], base)

    rows.append(
        (f"cached venv ({'zstd' if zstd else 'gzip'})", timed(fresh, restore, max(rounds, 5)))
    )
    files = [f for f in venv.rglob("*") if f.is_file()]
    size = sum(f.stat().st_size for f in files)
    shutil.rmtree(work)
    before = rows[0][1]
    print(f"{'install':28} {'median s':>9} {'vs before':>10}")
    for name, seconds in rows:
        print(f"{name:28} {seconds:>9.2f} {seconds / before:>9.0%}")
    print(f"venv: {len(files):,} files, {size / 1e6:.0f} MB unpacked, archive {archive.name}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    ram = ["/dev/shm"] if Path("/dev/shm").is_dir() else []
    parser.add_argument("--dirs", nargs="+", default=[tempfile.gettempdir(), *ram])
    args = parser.parse_args()
    main(args.rounds, args.dirs)
