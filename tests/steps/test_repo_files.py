"""What the agents get to read: the file tree and the most relevant files within a token
budget, from the checkout when there is one, else through the API."""

import subprocess
from pathlib import Path

import pytest

from issuepilot.config import RepoConfig
from issuepilot.machine import TaskState
from issuepilot.models import ChangeSet, FileChange
from issuepilot.steps.repo_files import MAX_SCAN_BYTES, named_paths, rank

from .harness import FILES, Sim, plan_of

S = TaskState
TREE = ["README.md", "docs/app.md", "src/app.py", "src/util.py", "tests/test_app.py"]


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A checkout of the repository, with a few awkward files besides."""
    root = tmp_path / "checkout"
    files = {
        **FILES,
        "src/big.py": "# padding\n" * (MAX_SCAN_BYTES // 10) + "def greet():\n",
        "docs/notes.txt": "def greet(): not code\n",
        "src/gone.py": "def greet(): deleted from disk\n",
    }
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    (root / "src/outside.py").symlink_to(tmp_path / "secret.py")
    (tmp_path / "secret.py").write_text("TOKEN = 'do not read'\n")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    commit = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base"]
    subprocess.run(commit, cwd=root, check=True)
    (root / "src/gone.py").unlink()
    return root


def test_named_paths_keep_the_order_of_mention_and_skip_what_is_no_repository_path() -> None:
    text = "See `src/app.py`, then x/../../etc.py, .git/hooks/pre.py, src/app.py and b.md"
    assert named_paths(text, limit=10) == ["src/app.py", "b.md"]
    assert named_paths("a.py b.py c.py", limit=2) == ["a.py", "b.py"]


def test_a_named_file_is_found_by_the_end_of_its_path_before_files_named_by_a_word() -> None:
    picked = rank(TREE, "Fix app.py; the util helpers too", limit=3, root=None)
    assert picked == ["src/app.py", "docs/app.md", "src/util.py"]
    assert rank(TREE, "Fix app.py and util", limit=1, root=None) == ["src/app.py"]


async def test_the_planner_reads_named_files_through_the_api_without_a_checkout(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet", "Change `src/app.py` and `missing.py`.")
    await sim.run(sim.dispatch_event(issue, command="plan"))
    [(_, context)] = sim.planned
    assert context.files == {"src/app.py": FILES["src/app.py"]}, "only files in the tree"
    assert context.tree == tuple(sorted(FILES)) and context.tree_left_out == 0


async def test_files_beyond_the_token_budget_are_listed_as_left_out(sim: Sim) -> None:
    sim.config = RepoConfig(context_tokens=10)  # 40 characters: a third for the tree
    issue = sim.github.open_issue("Greet", "Change `src/app.py` and `README.md`.")
    await sim.run(sim.dispatch_event(issue, command="plan"))
    [(_, context)] = sim.planned
    assert context.left_out == ("src/app.py",)
    assert context.files == {"README.md": FILES["README.md"]}
    assert context.tree == ("README.md",) and context.tree_left_out == 2


async def test_with_a_checkout_the_planner_reads_it_and_not_the_api(
    sim: Sim, checkout: Path
) -> None:
    sim.workspace = checkout
    issue = sim.github.open_issue("Greet", "The greet function and `src/outside.py`.")
    since = sim.mark()
    await sim.run(sim.dispatch_event(issue, command="plan"))
    assert not [c for c in sim.calls(since) if c.startswith(("GET /contents", "GET /git/trees"))]
    [(_, context)] = sim.planned
    assert "src/outside.py" in context.tree and "src/gone.py" in context.tree
    # Named, but a link out of the checkout: never read. Defines `greet`: picked. Too large
    # to search, not code, or gone from disk: not picked.
    assert context.files == {"src/outside.py": None, "src/app.py": FILES["src/app.py"]}
    assert context.left_out == ()


async def test_with_a_checkout_the_executor_reads_the_planned_files_from_it(
    sim: Sim, checkout: Path
) -> None:
    sim.workspace = checkout
    subprocess.run(["git", "checkout", "--", "."], cwd=checkout, check=True)  # a clean checkout
    issue = sim.github.open_issue("Greet", "Change `src/app.py`, create `src/new.py`.")
    sim.plans.append(plan_of("src/app.py", "src/new.py", "src"))
    sim.writes.append(
        lambda plan, files: ChangeSet(files=[FileChange(path="src/new.py", content="N = 1\n")])
    )
    await sim.to_pr_open(issue)
    [(_, files)] = sim.executed
    assert files.files == {"src/app.py": FILES["src/app.py"], "src/new.py": None, "src": None}
    assert (await sim.task(issue)).state is S.PR_OPEN
    assert not [c for c in sim.calls() if c.startswith("GET /contents")]


def test_without_symbols_nothing_is_searched(checkout: Path) -> None:
    tree = ["src/app.py", "src/util.py"]
    assert rank(tree, "the and for", limit=5, root=checkout) == []
