"""The command backend against small real scripts in a real git checkout."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from issuepilot.agents.base import IssueText, RepoFiles
from issuepilot.agents.budget import Budget, BudgetExceeded
from issuepilot.agents.command import CommandAgent, agent_env
from issuepilot.agents.tools import ToolBox
from issuepilot.errors import InputError, ModelError
from issuepilot.models import FileChange, Plan, PlannedFile, Usage
from issuepilot.workspace import CheckoutWorkspace

ISSUE = IssueText(7, "Tidy up", "Please tidy `src/a.py`.", ("keep it small",))
PLAN = Plan(summary="s", files=[PlannedFile(path="src/a.py"), PlannedFile(path="b.txt")])
SECRETS = {
    "GITHUB_TOKEN": "secret-github-token",
    "ISSUEPILOT_REDIS_URL": "redis://:secret-redis-password@host",
    "ISSUEPILOT_MODEL_API_KEY": "secret-model-key",
    "OPENAI_API_KEY": "secret-openai-key",
    "ACTIONS_RUNTIME_TOKEN": "secret-runtime-token",
    "ACTIONS_ID_TOKEN_REQUEST_URL": "https://secret-oidc-url",
    "AWS_SECRET_ACCESS_KEY": "secret-aws-key",
    "ANTHROPIC_API_KEY": "passed-anthropic-key",
}


def sh(cwd: Path, *args: str) -> str:
    return subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / "src" / "a.py").write_text("A = 1\n")
    (repo / "b.txt").write_text("bee\n")
    (repo / "old.txt").write_text("old name\n")
    (repo / "tool.sh").write_text("echo hi\n")
    sh(repo, "git", "init", "-q")
    sh(repo, "git", "-c", "user.name=t", "-c", "user.email=t@t", "add", ".")
    sh(repo, "git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    # What actions/checkout leaves behind with persist-credentials: true.
    sh(
        repo,
        "git",
        "config",
        "--local",
        "http.https://github.com/.extraheader",
        "AUTHORIZATION: basic eC1hY2Nlc3MtdG9rZW46Z2hzX3NlY3JldA==",
    )
    return repo


async def run(ai: CommandAgent, checkout: Path) -> list[FileChange]:
    """The command's execute role on the checkout, and the change read back with git."""
    await ai.execute(ISSUE, PLAN, ToolBox(CheckoutWorkspace(checkout), "execute"))
    return await CheckoutWorkspace(checkout).change()


def plan_tools(checkout: Path) -> ToolBox:
    return ToolBox(CheckoutWorkspace(checkout), "plan")


def agent(checkout: Path, command: str, timeout: float = 30, **kw: object) -> CommandAgent:
    env = {"PATH": os.environ["PATH"], "HOME": str(checkout.parent), **SECRETS}
    return CommandAgent(command, checkout, env, ["ANTHROPIC_API_KEY"], timeout, 4096, **kw)  # type: ignore[arg-type]


async def test_edits_deletions_renames_and_modes_are_read_back_with_git(checkout: Path) -> None:
    script = (
        'echo "A = 2" > src/a.py && rm b.txt && mv old.txt new.txt;'
        " chmod +x tool.sh; printf '\\x00\\x01\\xff' > blob.bin"
    )
    by_path = {c.path: c for c in await run(agent(checkout, script), checkout)}
    assert by_path["src/a.py"].content == "A = 2\n"
    assert by_path["b.txt"].content is None
    assert by_path["old.txt"].content is None and by_path["new.txt"].content == "old name\n"
    assert by_path["tool.sh"].executable and by_path["tool.sh"].content == "echo hi\n"
    assert by_path["blob.bin"].encoding == "base64" and by_path["blob.bin"].content == "AAH/"


async def test_the_agent_sees_its_files_and_no_credentials(checkout: Path) -> None:
    script = (
        'env > "$ISSUEPILOT_PLAN_FILE.env"; cp "$ISSUEPILOT_PROMPT_FILE" prompt.md;'
        ' cp "$ISSUEPILOT_TASK_FILE" task.json; cp "$ISSUEPILOT_PLAN_FILE" plan.json;'
        " cp .git/config gitconfig; env > env.txt"
    )
    files = {c.path: c.content or "" for c in await run(agent(checkout, script), checkout)}
    env = files["env.txt"]
    for name, value in SECRETS.items():
        if name == "ANTHROPIC_API_KEY":
            assert f"{name}={value}" in env  # passed on purpose by the config
        else:
            assert value not in env, name
    assert "ISSUEPILOT_ROLE=execute" in env and "ISSUEPILOT_ISSUE=7" in env
    assert "extraheader" not in files["gitconfig"] and "AUTHORIZATION" not in files["gitconfig"]
    assert json.loads(files["task.json"])["feedback"] == ["keep it small"]
    assert Plan.model_validate_json(files["plan.json"]) == PLAN
    assert "Never follow" in files["prompt.md"] and "<issue>" in files["prompt.md"]
    assert "keep it small" in files["prompt.md"]


async def test_a_hanging_agent_is_killed_at_the_timeout(checkout: Path) -> None:
    with pytest.raises(ModelError, match="ran past its 0.3 s timeout.*started"):
        await run(agent(checkout, "echo started; sleep 30 & sleep 30", timeout=0.3), checkout)


async def test_megabytes_of_output_are_capped(checkout: Path) -> None:
    cmd = "head -c 5000000 /dev/zero | tr '\\0' 'x'; echo; echo the-end; exit 3"
    ai = agent(checkout, cmd)
    with pytest.raises(ModelError, match="exited with 3.*the-end"):
        await run(ai, checkout)
    assert len(ai.output) <= 4096 and ai.output.endswith("the-end\n")


async def test_an_agent_that_changes_nothing_or_escapes_is_refused(checkout: Path) -> None:
    assert await run(agent(checkout, "true"), checkout) == []  # the step says "no change"
    with pytest.raises(ModelError, match="symlink .outside"):
        await run(agent(checkout, "ln -s /etc/passwd src/link"), checkout)


async def test_plans_from_the_command_are_validated(checkout: Path) -> None:
    good = json.dumps(PLAN.model_dump())
    plan = await agent(checkout, f"echo '{good}' > \"$ISSUEPILOT_PLAN_FILE\"").plan(
        ISSUE, RepoFiles(), plan_tools(checkout)
    )
    assert plan == PLAN
    bad = json.dumps({"summary": "s", "files": [{"path": "../x"}]})
    with pytest.raises(ModelError, match="plan is invalid: files.0.path"):
        await agent(checkout, f"echo '{bad}' > \"$ISSUEPILOT_PLAN_FILE\"").plan(
            ISSUE, RepoFiles(), plan_tools(checkout)
        )
    with pytest.raises(ModelError, match="wrote no plan"):
        await agent(checkout, "echo thinking").plan(ISSUE, RepoFiles(), plan_tools(checkout))


async def test_agent_time_counts_against_the_budget(checkout: Path) -> None:
    budget = Budget(spent=Usage(seconds=100), max_seconds=100.5)
    ai = agent(checkout, "sleep 5; echo x > b.txt", budget=budget)
    with pytest.raises(ModelError, match="past its 0.5 s timeout"):  # what the budget had left
        await run(ai, checkout)
    assert budget.total().seconds >= 100.5
    with pytest.raises(BudgetExceeded, match="agent seconds"):
        await run(ai, checkout)


async def test_a_credential_it_cannot_remove_stops_the_agent(checkout: Path) -> None:
    (checkout / ".git" / "config").write_text(
        (checkout / ".git" / "config").read_text()
        + '[url "x"]\n\tinsteadOf = AUTHORIZATION: basic x\n'
    )
    with pytest.raises(InputError, match="persist-credentials: false"):
        await run(agent(checkout, "echo x > b.txt"), checkout)


def test_no_checkout_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="actions/checkout"):
        CommandAgent("true", tmp_path, {}, [], 1, 1000)


def test_agent_env_drops_credentials_unless_passed() -> None:
    env = agent_env({"PATH": "/bin", "HOME": "/h", "CI": "true", **SECRETS}, ["OPENAI_API_KEY"])
    assert env == {
        "PATH": "/bin",
        "HOME": "/h",
        "CI": "true",
        "OPENAI_API_KEY": "secret-openai-key",
    }
