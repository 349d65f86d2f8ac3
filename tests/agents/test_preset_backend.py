"""The command backend running a preset: a stand-in CLI (a shell script, installed into the
agent cache the way a real CLI is) that behaves as agent CLIs do — commits its own work,
leaves its own files, reports its usage as JSON — run as the sandbox user."""

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from issuepilot.agents.base import IssueText, RepoFiles
from issuepilot.agents.budget import Budget, BudgetExceeded
from issuepilot.agents.command import CommandAgent, PresetRun
from issuepilot.agents.install import DONE, folder, installed
from issuepilot.agents.presets import Install, Invocation, Preset, Report
from issuepilot.agents.tools import ToolBox
from issuepilot.errors import ModelError
from issuepilot.models import Plan, PlannedFile
from issuepilot.workspace import CheckoutWorkspace

from ..security.test_agent_reads_the_jobs_secrets import can_sandbox

ISSUE = IssueText(7, "Tidy up", "Please set A to 2 in `src/a.py`.", ())
PLAN = Plan(summary="Set A", files=[PlannedFile(path="src/a.py")])
RUNNER = {
    "PATH": os.environ["PATH"],
    "STANDIN_API_KEY": "standin-key-31d0",
    "GITHUB_TOKEN": "ghs_decoy_token_value",
    "ISSUEPILOT_REDIS_URL": "redis://:decoy-password@host",
}
# The stand-in CLI: does what STANDIN_DO says, then prints its usage as one JSON line.
CLI = r"""#!/bin/bash
prompt=$(cat)
case "$STANDIN_DO" in
  plan-file) printf '%s' "$STANDIN_PLAN" > "$STANDIN_PLAN_FILE"; msg="wrote it" ;;
  plan-answer) msg="Here it is: $(printf '%s' "$STANDIN_PLAN" | sed 's/"/\\"/g')" ;;
  commit)
    sed -i 's/A = 1/A = 2/' src/a.py
    git -c user.name=cli -c user.email=cli@x commit -qam "the CLI's own commit"
    git checkout -qb cli-branch
    mkdir -p .standin && echo history > .standin/history && echo state > .standin.json
    msg="set A to 2" ;;
  fail) msg="gave up" ;;
esac
seen=$(env | grep -c -e ghs_decoy -e decoy-password)
home=$(cat "$HOME/.standin/settings.json")
printf '{"turns": 3, "tokens": 1200, "cost": 0.05, "message": "%s", "seen": %s, ' "$msg" "$seen"
printf '"home": %s, "do": "%s", "key": "%s", ' "$home" "$STANDIN_DO" "$STANDIN_KEY"
printf '"prompt_bytes": %s}\n' "${#prompt}"
"""


class StandIn(Preset):
    name, title = "standin", "Stand-in"
    install = Install("pypi", "standin-cli", "1.0.0", "standin")
    keys = ("STANDIN_API_KEY",)
    leftovers = (".standin", ".standin.json")

    def __init__(self, do: str) -> None:
        self.do = do

    def argv(self, run: Invocation) -> list[str]:
        return [run.binary]

    def env(self, run: Invocation) -> dict[str, str]:
        plan = json.dumps(PLAN.model_dump())
        return {
            "STANDIN_KEY": run.key,
            "STANDIN_DO": self.do,
            "STANDIN_PLAN": plan,
            "STANDIN_PLAN_FILE": run.plan_file,
        }

    def home_files(self, run: Invocation) -> dict[str, str]:
        return {".standin/settings.json": json.dumps({"telemetry": False, "home": run.home})}

    def report(self, output: str) -> Report:
        data: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
        StandIn.last = data
        failed = "the CLI gave up" if data["do"] == "fail" else ""
        return Report(data["turns"], data["tokens"], data["cost"], data["message"], failed)

    last: dict[str, Any] = {}


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    """The agent cache holding the stand-in CLI as an install leaves one."""
    root = tmp_path / "agents"
    where = folder(root, StandIn("x"))
    (where / "bin").mkdir(parents=True)
    (where / "bin" / "standin").write_text(CLI)
    os.chmod(where / "bin" / "standin", 0o755)
    (where / DONE).write_text("standin-cli 1.0.0\n")
    for path in (tmp_path, root, where, where / "bin"):
        os.chmod(path, 0o755)
    return root


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / "src" / "a.py").write_text("A = 1\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "init"], cwd=repo, check=True)
    return repo


def standin(checkout: Path, cache: Path, do: str, budget: Budget | None = None) -> CommandAgent:
    sandbox = "none" if can_sandbox() else "user"
    return CommandAgent(
        "", checkout, RUNNER, [], 30, 4096, budget=budget, sandbox=sandbox,
        preset=PresetRun(StandIn(do), cache),
    )  # fmt: skip


def test_an_installed_cli_is_found_by_its_mark(cache: Path) -> None:
    found = installed(cache, StandIn("x"))
    assert found is not None and found.command.endswith("standin-1.0.0/bin/standin")
    assert installed(cache, StandIn("x"), "2.0.0") is None  # another version: not there


async def test_its_own_commits_and_leftovers_change_nothing_of_what_is_read_back(
    checkout: Path, cache: Path
) -> None:
    workspace = CheckoutWorkspace(checkout)
    await workspace.pin()
    ai = standin(checkout, cache, "commit")
    await ai.execute(ISSUE, PLAN, ToolBox(workspace, "execute"))
    changes = await workspace.change()
    assert [(c.path, c.content) for c in changes] == [("src/a.py", "A = 2\n")]
    assert await workspace.original("src/a.py") == "A = 1\n"  # the commit it started from
    assert not (checkout / ".standin").exists() and not (checkout / ".standin.json").exists()


async def test_its_usage_is_counted_and_its_last_word_kept(checkout: Path, cache: Path) -> None:
    budget = Budget()
    ai = standin(checkout, cache, "commit", budget)
    await ai.execute(ISSUE, PLAN, ToolBox(CheckoutWorkspace(checkout), "execute"))
    assert (budget.calls, budget.tokens, budget.cost) == (3, 1200, 0.05)
    assert ai.message == "set A to 2" and ai.label == "Stand-in 1.0.0"
    seen = StandIn.last
    assert seen["seen"] == 0, "a credential of the runner reached the CLI"
    assert seen["key"] == RUNNER["STANDIN_API_KEY"]  # its own key, by name
    assert seen["home"]["telemetry"] is False and seen["prompt_bytes"] > 100


async def test_a_run_that_spends_past_a_limit_stops_the_task(checkout: Path, cache: Path) -> None:
    ai = standin(checkout, cache, "commit", Budget(max_tokens=1000))
    with pytest.raises(BudgetExceeded, match="model tokens"):
        await ai.execute(ISSUE, PLAN, ToolBox(CheckoutWorkspace(checkout), "execute"))


async def test_a_failure_the_cli_reports_fails_the_step(checkout: Path, cache: Path) -> None:
    with pytest.raises(ModelError, match="Stand-in 1.0.0 reported a failure: the CLI gave up"):
        await standin(checkout, cache, "fail").execute(
            ISSUE, PLAN, ToolBox(CheckoutWorkspace(checkout), "execute")
        )


@pytest.mark.parametrize("how", ["plan-file", "plan-answer"])
async def test_a_plan_comes_from_its_file_or_its_answer_and_leaves_nothing(
    checkout: Path, cache: Path, how: str
) -> None:
    ai = standin(checkout, cache, how)
    plan = await ai.plan(ISSUE, RepoFiles(), ToolBox(CheckoutWorkspace(checkout), "plan"))
    assert plan == PLAN
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=checkout, capture_output=True, text=True
    )
    assert status.stdout == "", "planning left files in the checkout"
