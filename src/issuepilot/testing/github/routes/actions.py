"""Workflow dispatches, a run's jobs and their logs, and the repository rules that apply
to a branch.
https://docs.github.com/en/rest/actions/workflows#create-a-workflow-dispatch-event
https://docs.github.com/en/rest/actions/workflow-jobs
https://docs.github.com/en/rest/repos/rules#get-rules-for-a-branch"""

from fnmatch import fnmatch

from .. import ci
from ..state import RepoState
from .base import REPO, Answer, ApiError, Call, Route, page, paged


def dispatch(repo: RepoState, call: Call) -> Answer:
    """Where the fake knows its workflows (`workflows`), only those take a dispatch, and
    only with the inputs they declare."""
    if "ref" not in call.body:
        raise ApiError(422, "Invalid request: ref is missing")
    if repo.workflows is not None:
        declared = repo.workflows.get(call.params["workflow_id"])
        if declared is None:
            raise ApiError(404, "Not Found")
        if unexpected := sorted(set(call.body.get("inputs", {})) - declared):
            raise ApiError(422, f"Unexpected inputs provided: {unexpected}")
    repo.dispatches.append(
        {
            "workflow": call.params["workflow_id"],
            "ref": call.body["ref"],
            "inputs": call.body.get("inputs", {}),
        }
    )
    return Answer(204)


def run_jobs(repo: RepoState, call: Call) -> Answer:
    """A run's jobs. A run here has one attempt, so `filter=latest` (the default) and
    `filter=all` list the same jobs."""
    run = repo.runs.get(call.number("run_id"))
    if run is None:
        raise ApiError(404, "Not Found")
    jobs = [ci.job_json(repo, repo.jobs[job_id]) for job_id in run["jobs"]]
    chunk, headers = paged(call, jobs)
    return Answer(200, {"total_count": len(jobs), "jobs": chunk}, headers)


def job_logs(repo: RepoState, call: Call) -> Answer:
    """Not the log itself: a redirect to a short-lived URL on the log host, which needs no
    token (and must not be sent one)."""
    job_id = call.number("job_id")
    if job_id not in repo.jobs:
        raise ApiError(404, "Not Found")
    return Answer(302, None, {"Location": repo.log_host.signed_url(job_id)})


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
    Route("GET", REPO + "/actions/runs/{run_id}/jobs", run_jobs),
    Route("GET", REPO + "/actions/jobs/{job_id}/logs", job_logs),
    Route("GET", REPO + "/rules/branches/{branch}", branch_rules),
]
