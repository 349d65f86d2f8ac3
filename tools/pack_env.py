"""Compile the venv's bytecode once, and pack its large pure-Python packages into one zip:
fewer files to restore.

A cached venv is unpacked on every run, and unpacking costs per file: `openai` alone is
three quarters of the venv's 5,500 files. Each package of more than `MANY` files with no
extension module is compiled in memory to sourceless bytecode (unchecked hash-based
`.pyc`, PEP 552, which `zipimport` reads without a source to compare with), stored in
`issuepilot-packed.zip` with its other files but not its sources, and removed; a `.pth`
file puts the zip on `sys.path`. Its metadata (`*.dist-info`) stays. Everything else is
compiled in place, on every core, so no run compiles anything.

    python tools/pack_env.py   (run by the venv's own interpreter, from tools/install-env)
"""

import compileall
import importlib.util
import marshal
import os
import shutil
import sysconfig
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

MANY = 1000  # files in one package worth packing
UNCHECKED = (1).to_bytes(4, "little")  # PEP 552 flags: hash-based, source not checked


def bytecode(source: Path, name: str) -> bytes:
    code = compile(source.read_bytes(), name, "exec", dont_inherit=True)
    return importlib.util.MAGIC_NUMBER + UNCHECKED + bytes(8) + marshal.dumps(code)


site = Path(sysconfig.get_path("purelib"))
archive = site.parent / "issuepilot-packed.zip"
packages = [
    d
    for d in sorted(site.iterdir())
    if d.is_dir()
    and not d.name.endswith((".dist-info", "__pycache__"))
    and sum(1 for _ in d.rglob("*")) > MANY
    and not any(d.rglob("*.so"))
    and not any(d.rglob("*.pyd"))
]


def compiled(job: tuple[Path, str]) -> bytes:
    return bytecode(*job)


if __name__ == "__main__":
    files = [
        Path(root) / name
        for package in packages
        for root, dirs, names in os.walk(package)
        if "__pycache__" not in Path(root).parts
        for name in names
    ]
    sources = [f for f in files if f.suffix == ".py"]
    inside = {f: f.relative_to(site).as_posix() for f in files}
    with ProcessPoolExecutor() as pool:  # compiling is most of the time: every core
        jobs = [(f, f"{archive}/{inside[f]}") for f in sources]
        codes = pool.map(compiled, jobs, chunksize=64)
        with zipfile.ZipFile(archive, "a", zipfile.ZIP_STORED) as packed:
            for source, code in zip(sources, codes, strict=True):
                packed.writestr(inside[source] + "c", code)
            for other in (f for f in files if f.suffix != ".py"):
                packed.write(other, inside[other])
    for package in packages:
        shutil.rmtree(package)
    (site / "issuepilot-packed.pth").write_text(f"{archive}\n")
    compileall.compile_dir(site, quiet=2, workers=0)
    print(f"packed {', '.join(p.name for p in packages) or 'nothing'} into {archive.name}")
