"""Before a task may execute: find what would make the step fail half-way.

Run when a plan is approved, so the maintainer learns at once, in the status comment,
instead of after a branch was pushed and the pull request refused.
"""

from ..github.auth import APP_PERMISSIONS
from ..models import Task
from .context import Context
from .scope import protected_paths

WORKFLOWS = ".github/workflows/"
# What the execute step writes with, as GitHub App permission names.
NEEDED = {name: level for name, level in APP_PERMISSIONS.items() if level == "write"}
# Repository rules that stop the task's branch from being created or updated through the API.
# https://docs.github.com/en/repositories/configuring-branches-and-merges-in-your-repository/managing-rulesets/available-rules-for-rulesets
BLOCKING_RULES = {
    "creation": "creating the branch",
    "update": "updating the branch",
    "deletion": None,  # never needed
}


async def preflight(ctx: Context, task: Task) -> list[str]:
    """The problems found; empty when the task may execute."""
    assert task.plan is not None
    problems: list[str] = []
    branch = ctx.labels.branch(task.issue)
    rules = await ctx.gh.branch_rules(branch)  # also mints an App token, if one is used
    for rule in rules:
        if BLOCKING_RULES.get(rule):
            problems.append(
                f"a repository rule ({rule}) forbids {BLOCKING_RULES[rule]} `{branch}`: exempt "
                f"`{ctx.labels.branch_prefix}*` or the token's actor from it"
            )
    app = ctx.gh.app
    if app is not None:
        missing = [
            f"`{name}: {level}`"
            for name, level in NEEDED.items()
            if not _grants(app.permissions.get(name, ""), level)
        ]
        if missing:
            problems.append(f"the GitHub App lacks {', '.join(missing)} on this repository")
    protected = protected_paths(task.plan.paths, ctx.config)
    if protected and not ctx.config.allow_protected:
        problems.append(
            f"the plan changes protected paths ({', '.join(protected)}), which a change may "
            "never touch: revise the plan, or set `allow-protected: true`"
        )
    if any(path.startswith(WORKFLOWS) for path in task.plan.paths):
        if app is not None and not _grants(app.permissions.get("workflows", ""), "write"):
            problems.append(
                "the plan changes workflow files, and the GitHub App lacks `workflows: write`"
            )
        elif app is None and not ctx.config.token_can_write_workflows:
            problems.append(
                "the plan changes files in .github/workflows/, which GITHUB_TOKEN can never "
                "write: revise the plan, or use a token with the `workflow` scope and set "
                "`token-can-write-workflows: true`"
            )
    return problems


def _grants(granted: str, needed: str) -> bool:
    order = ["", "read", "write", "admin"]
    return order.index(granted if granted in order else "") >= order.index(needed)
