"""The layering of docs/decisions.md, enforced: a module imports only from its own layer or
below, and the pure core imports no I/O at all."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parents[1] / "src" / "issuepilot"
# Bottom to top. A module belongs to the first layer whose prefix it matches.
LAYERS: list[tuple[str, ...]] = [
    ("errors", "aio", "release"),
    ("paths", "machine", "labels", "models", "keys", "github.objects", "github.retry"),
    ("github.untrusted",),
    ("events", "config", "github.status", "agents.base", "agents.budget", "agents.prompts"),
    ("relay",),
    ("github", "store", "locks", "agents", "git", "sandbox", "workspace", "checks", "overview"),
    ("table", "ledger"),
    ("steps",),
    ("runner",),
    ("testing",),
    ("wiring", "demo", "migrate", "scaffold", "usage"),
    ("serve",),
    ("cli", "__main__", "__init__"),
]
PURE = {
    "paths",
    "machine",
    "labels",
    "models",
    "keys",
    "events",
    "relay",
    "github.objects",
    "github.untrusted",
}
IO = {"httpx", "redis", "openai", "jwt", "subprocess", "os", "socket", "asyncio", "time"}


def layer(module: str) -> int:
    matches = [
        (len(prefix), i)
        for i, prefixes in enumerate(LAYERS)
        for prefix in prefixes
        if module == prefix or module.startswith(prefix + ".")
    ]
    assert matches, f"{module} is in no layer: add it to LAYERS and to docs/decisions.md"
    return max(matches)[1]


def imports(path: Path) -> tuple[str, list[str], list[str]]:
    """(module, modules of issuepilot it imports, other top-level packages it imports)."""
    module = ".".join(path.relative_to(SRC).with_suffix("").parts)
    package = module.rsplit(".", 1)[0] if "." in module else ""
    if path.name == "__init__.py":
        module = package = module.removesuffix(".__init__").removesuffix("__init__")
    ours, theirs = [], []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for block in ast.walk(tree):  # imports for type checking only load nothing at run time
        if isinstance(block, ast.If) and ast.unparse(block.test) == "TYPE_CHECKING":
            block.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            parts = package.split(".") if package else []
            base = parts[: len(parts) - (node.level - 1)]
            ours.append(".".join(base + ([node.module] if node.module else [])))
        elif isinstance(node, ast.ImportFrom) and node.module:
            theirs.append(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            theirs += [alias.name.split(".")[0] for alias in node.names]
    return module or "__init__", [m for m in ours if m], theirs


MODULES = sorted(SRC.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_point_down(path: Path) -> None:
    module, ours, _ = imports(path)
    for target in ours:
        if target in ("", "agents", "steps", "github", "testing"):
            continue  # a package's own __init__
        assert layer(target) <= layer(module), f"{module} (layer {layer(module)}) imports {target}"


@pytest.mark.parametrize("module", sorted(PURE))
def test_the_core_is_pure(module: str) -> None:
    path = SRC / (module.replace(".", "/") + ".py")
    _, _, theirs = imports(path)
    assert not set(theirs) & IO, f"{module} imports I/O: {set(theirs) & IO}"
