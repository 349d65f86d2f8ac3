"""Workflow dispatches and the repository rules that apply to a branch.
https://docs.github.com/en/rest/actions/workflows#create-a-workflow-dispatch-event
https://docs.github.com/en/rest/repos/rules#get-rules-for-a-branch"""

from fnmatch import fnmatch

from ..state import RepoState
from .base import REPO, Answer, ApiError, Call, Route, page


def dispatch(repo: RepoState, call: Call) -> Answer:
    if "ref" not in call.body:
        raise ApiError(422, "Invalid request: ref is missing")
    repo.dispatches.append(
        {
            "workflow": call.params["workflow_id"],
            "ref": call.body["ref"],
            "inputs": call.body.get("inputs", {}),
        }
    )
    return Answer(204)


def branch_rules(repo: RepoState, call: Call) -> Answer:
    branch = call.params["branch"]
    types = [t for pattern, ts in repo.branch_rules.items() if fnmatch(branch, pattern) for t in ts]
    rules = [
        {
            "type": t,
            "ruleset_source_type": "Repository",
            "ruleset_source": repo.repo,
            "ruleset_id": 1,
        }
        for t in types
    ]
    return page(call, rules)


ROUTES = [
    Route("POST", REPO + "/actions/workflows/{workflow_id}/dispatches", dispatch),
    Route("GET", REPO + "/rules/branches/{branch}", branch_rules),
]
