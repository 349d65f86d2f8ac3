"""What a change may touch, and what the planner gets to read."""

import subprocess
from pathlib import Path

import pytest

from issuepilot.agents.base import RepoFiles
from issuepilot.agents.budget import Budget, BudgetExceeded
from issuepilot.agents.prompts import planner_prompt
from issuepilot.config import RepoConfig
from issuepilot.models import ChangeSet, FileChange, Plan, PlannedFile, Usage
from issuepilot.steps.repo_files import named_paths, rank
from issuepilot.steps.scope import ScopeError, changed_lines, check_change

PLAN = Plan(summary="s", files=[PlannedFile(path="src/a.py")])


def change(*paths: str, content: str = "x\n") -> ChangeSet:
    return ChangeSet(files=[FileChange(path=p, content=content) for p in paths])


def test_files_outside_the_plan_are_refused_or_locked_by_choice() -> None:
    with pytest.raises(ScopeError, match="outside the approved plan: src/b.py"):
        check_change(change("src/a.py", "src/b.py"), PLAN, RepoFiles(), RepoConfig())
    lock = RepoConfig(out_of_scope="lock")
    assert check_change(change("src/a.py", "src/b.py"), PLAN, RepoFiles(), lock) == ["src/b.py"]
    assert check_change(change("src/a.py"), PLAN, RepoFiles(), RepoConfig()) == []


def test_protected_paths_are_never_changed_unless_allowed() -> None:
    plan = Plan(summary="s", files=[PlannedFile(path=".github/workflows/ci.yml")])
    with pytest.raises(ScopeError, match="protected paths: .github/workflows/ci.yml"):
        check_change(change(".github/workflows/ci.yml"), plan, RepoFiles(), RepoConfig())
    allowed = RepoConfig(allow_protected=True)
    assert check_change(change(".github/workflows/ci.yml"), plan, RepoFiles(), allowed) == []
    custom = RepoConfig(protected_paths=["secrets/*", "*.pem"])
    with pytest.raises(ScopeError):
        check_change(change("src/a.py", "keys/x.pem"), PLAN, RepoFiles(), custom)


def test_limits_on_files_and_lines() -> None:
    before = RepoFiles({"src/a.py": "".join(f"line {i}\n" for i in range(100))})
    edited = "".join(f"line {i}\n" for i in range(100)).replace("line 5\n", "line five\n")
    assert changed_lines(change("src/a.py", content=edited), before) == 2
    with pytest.raises(ScopeError, match="adds or removes 2 lines; the limit is 1"):
        check_change(
            change("src/a.py", content=edited), PLAN, before, RepoConfig(max_changed_lines=1)
        )
    wide = Plan(summary="s", files=[PlannedFile(path=f"f{i}.py") for i in range(3)])
    with pytest.raises(ScopeError, match="touches 3 files; the limit is 2"):
        check_change(change("f0.py", "f1.py", "f2.py"), wide, RepoFiles(), RepoConfig(max_files=2))


def test_budget_limits_fail_with_the_figures() -> None:
    budget = Budget.of(RepoConfig(max_model_calls=3), Usage(model_calls=2, tokens=10))
    budget.check()
    budget.calls += 1
    with pytest.raises(BudgetExceeded, match=r"model calls is spent \(3 model calls, 10 tokens"):
        budget.check()
    priced = Budget(spent=Usage(cost=1.5), max_cost=1.0)
    with pytest.raises(BudgetExceeded, match="cost 1.5000"):
        priced.check()


TREE = [
    "README.md",
    "src/app.py",
    "src/greeting.py",
    "src/util/strings.py",
    "docs/app.py",
    "tests/test_app.py",
    "lib/parser.js",
]


def test_named_paths_come_first_then_names_then_symbols(tmp_path: Path) -> None:
    for path in TREE:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("x = 1\n")
    (tmp_path / "lib/parser.js").write_text("function parseQuery(q) { return q }\n")
    text = "In `app.py` the greeting is wrong; parseQuery breaks on empty input."
    picks = rank(TREE, text, limit=5, root=tmp_path)
    assert picks == ["src/app.py", "src/greeting.py", "docs/app.py", "lib/parser.js"]
    assert rank(TREE, text, limit=1, root=tmp_path) == ["src/app.py"]
    assert rank(TREE, text, limit=5, root=None) == ["src/app.py", "src/greeting.py", "docs/app.py"]


def test_named_paths_ignore_escapes_and_git() -> None:
    text = "see ../../etc/passwd.txt, .git/config.x, /abs/x.py and src/ok.py or ./src//ok.py"
    assert named_paths(text, 10) == ["src/ok.py"]


def test_the_prompt_says_what_was_left_out() -> None:
    from issuepilot.agents.base import IssueText

    files = RepoFiles({"src/app.py": "x"}, ("big.bin",), ("README.md", "src/app.py"), 4998)
    prompt = planner_prompt(IssueText(1, "t", "b"), files)
    assert "(4998 more not shown)" in prompt and "Left out for size: big.bin" in prompt
    assert prompt.index("README.md") < prompt.index("=== FILE src/app.py ===")


def test_context_from_a_checkout(tmp_path: Path) -> None:
    import asyncio

    from issuepilot.config import Settings
    from issuepilot.steps.repo_files import planner_context

    for path in TREE:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(f"# {path}\n" + "y = 2\n" * 80)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "."], cwd=tmp_path, check=True)

    class Ctx:
        settings = Settings(
            repo="o/r",
            token="t",
            redis_url="redis://x",
            workspace=tmp_path,
            config=RepoConfig(context_tokens=200),
        )
        config = settings.config
        gh = None

    from issuepilot.agents.base import IssueText

    issue = IssueText(1, "Fix `src/app.py`", "and `src/greeting.py`")
    files = asyncio.run(planner_context(Ctx(), issue, "main"))  # type: ignore[arg-type]
    assert list(files.files) == ["src/app.py"]
    assert files.left_out == ("src/greeting.py", "docs/app.py")
    assert set(files.tree) <= set(TREE) and len(files.tree) + files.tree_left_out == len(TREE)
