"""Compile the venv's bytecode once, and pack its large pure-Python packages into one zip:
fewer files to restore.

A cached venv is unpacked on every run, and unpacking costs per file: `openai` alone is
three quarters of the venv's 5,500 files. Each package of more than `MANY` files with no
extension module is compiled to sourceless bytecode beside its sources (`compileall -b`,
which `zipimport` reads), stored in `issuepilot-packed.zip` without the sources, and
removed; a `.pth` file puts the zip on `sys.path`. Its metadata (`*.dist-info`) stays.
Everything else is compiled in place, so no run compiles anything.

    python tools/pack_env.py   (run by the venv's own interpreter, from tools/install-env)
"""

import compileall
import os
import shutil
import sysconfig
import zipfile
from pathlib import Path

MANY = 1000  # files in one package worth packing

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
with zipfile.ZipFile(archive, "a", zipfile.ZIP_STORED) as packed:
    for package in packages:
        compileall.compile_dir(package, quiet=2, legacy=True)
        for root, dirs, files in os.walk(package):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for name in files:
                if name.endswith(".py"):
                    continue  # the bytecode beside it is what zipimport reads
                path = Path(root) / name
                packed.write(path, path.relative_to(site))
        shutil.rmtree(package)
(site / "issuepilot-packed.pth").write_text(f"{archive}\n")
compileall.compile_dir(site, quiet=2)
print(f"packed {', '.join(p.name for p in packages) or 'nothing'} into {archive.name}")
