"""Check runs: the annotations a check left on lines of the code.
https://docs.github.com/en/rest/checks/runs#list-check-run-annotations"""

from .. import ci
from ..state import RepoState
from .base import REPO, Answer, ApiError, Call, Route, page


def annotations(repo: RepoState, call: Call) -> Answer:
    check = repo.check_runs.get(call.number("check_run_id"))
    if check is None:
        raise ApiError(404, "Not Found")
    return page(call, [ci.annotation_json(repo, check, a) for a in check["annotations"]])


ROUTES = [
    Route("GET", REPO + "/check-runs/{check_run_id}/annotations", annotations),
]
