"""Preflight: an approval is refused, with the reason in the status comment, when executing
would fail half-way (repository rules, App permissions, workflow files)."""

import pytest

from issuepilot.config import RepoConfig
from issuepilot.machine import TaskState

from .harness import Sim, plan_of

S = TaskState
BODY = "The greeting in `src/app.py` needs a `!`."
WORKFLOW = ".github/workflows/ci.yml"
ALL = {"contents": "write", "pull_requests": "write", "issues": "write", "actions": "write"}


async def approve(sim: Sim, path: str = "src/app.py") -> int:
    """A plan to change `path`, in review, approved with the label."""
    issue = sim.github.open_issue("Greet politely", f"Change `{path}`.")
    await sim.seed(issue, S.PLAN_REVIEW, plan=plan_of(path))
    await sim.run(sim.github.label_event(issue, "issuepilot:approved"))
    return issue


def assert_not_approved(sim: Sim, issue: int, *why: str) -> None:
    task = sim.stored(issue)
    assert task.state is S.PLAN_REVIEW and task.approved_hash == ""
    assert task.error.startswith("Not approved, since executing would fail: ")
    for part in why:
        assert part in task.error
    assert "Not approved, since executing would fail" in sim.status_comments(issue)[0]
    assert sim.labels(issue) == {"issuepilot", "issuepilot:plan-review"}, "approval taken off"
    assert sim.github.dispatches == []


@pytest.mark.parametrize(
    ("rule", "forbids"),
    [("creation", "creating the branch"), ("update", "updating the branch")],
    ids=["creation", "update"],
)
async def test_a_repository_rule_on_the_task_branch_blocks_the_approval(
    sim: Sim, rule: str, forbids: str
) -> None:
    sim.github.branch_rules["issuepilot/*"] = [rule]
    issue = await approve(sim)
    assert_not_approved(
        sim,
        issue,
        f"a repository rule ({rule}) forbids {forbids} `issuepilot/issue-{issue}`",
        "exempt `issuepilot/issue-*`",
    )


@pytest.mark.parametrize("rule", ["deletion", "pull_request", "required_signatures"])
async def test_rules_that_do_not_stop_the_branch_do_not_block(sim: Sim, rule: str) -> None:
    sim.github.branch_rules["issuepilot/*"] = [rule]
    issue = await approve(sim)
    assert sim.stored(issue).state is S.APPROVED


async def test_a_server_without_repository_rules_does_not_block(sim: Sim) -> None:
    sim.github.fail("GET", r"/rules/branches/", 404)
    issue = await approve(sim)
    assert sim.stored(issue).state is S.APPROVED


async def test_approving_again_after_fixing_the_cause_approves_and_clears_the_reason(
    sim: Sim,
) -> None:
    sim.github.branch_rules["issuepilot/*"] = ["creation"]
    issue = await approve(sim)
    sim.github.branch_rules.clear()
    await sim.run(sim.github.label_event(issue, "issuepilot:approved"))
    task = await sim.task(issue)
    assert task.state is S.APPROVED and task.error == ""
    assert "[!WARNING]" not in sim.status_comments(issue)[0]


async def test_the_command_form_is_refused_the_same_way(sim: Sim) -> None:
    sim.github.branch_rules["*"] = ["update"]
    issue = sim.github.open_issue("Greet politely", BODY)
    await sim.seed(issue, S.PLAN_REVIEW)
    outcome = await sim.run(sim.github.comment_event(issue, "/issuepilot approve"))
    assert outcome.message.startswith("Not approved") and not outcome.automatic
    assert_not_approved(sim, issue, "(update)")


async def test_a_plan_changing_workflows_cannot_be_approved_with_github_token(sim: Sim) -> None:
    issue = await approve(sim, WORKFLOW)
    assert_not_approved(sim, issue, "GITHUB_TOKEN can never write", "token-can-write-workflows")


async def test_a_token_declared_able_to_write_workflows_may_approve_them(sim: Sim) -> None:
    sim.config = RepoConfig(token_can_write_workflows=True, allow_protected=True)
    issue = await approve(sim, WORKFLOW)
    assert sim.stored(issue).state is S.APPROVED


async def test_an_app_with_every_permission_needed_may_approve(sim: Sim) -> None:
    sim.app_permissions = dict(ALL)
    issue = await approve(sim)
    assert sim.stored(issue).state is S.APPROVED


async def test_an_app_lacking_permissions_blocks_the_approval_naming_them(sim: Sim) -> None:
    sim.app_permissions = {**ALL, "contents": "read", "actions": "none"}
    sim.app_permissions.pop("issues")
    issue = await approve(sim)
    assert_not_approved(
        sim,
        issue,
        "the GitHub App lacks `contents: write`, `issues: write`, `actions: write`",
    )


async def test_an_app_without_workflows_write_cannot_change_workflows(sim: Sim) -> None:
    sim.app_permissions = dict(ALL)
    issue = await approve(sim, WORKFLOW)
    assert_not_approved(sim, issue, "the GitHub App lacks `workflows: write`")


async def test_an_app_with_workflows_write_may_change_workflows(sim: Sim) -> None:
    sim.config = RepoConfig(allow_protected=True)
    sim.app_permissions = {**ALL, "workflows": "write"}
    issue = await approve(sim, WORKFLOW)
    assert sim.stored(issue).state is S.APPROVED


async def test_every_problem_is_named_at_once(sim: Sim) -> None:
    sim.github.branch_rules["issuepilot/*"] = ["creation", "update"]
    issue = await approve(sim, WORKFLOW)
    error = sim.stored(issue).error
    assert error.count("; ") == 3 and "(creation)" in error and "(update)" in error
    assert "GITHUB_TOKEN can never write" in error and "protected paths" in error


async def test_a_plan_touching_protected_paths_cannot_be_approved_unless_allowed(
    sim: Sim,
) -> None:
    sim.config = RepoConfig(token_can_write_workflows=True)
    issue = await approve(sim, WORKFLOW)
    assert_not_approved(sim, issue, "protected")
