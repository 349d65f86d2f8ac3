"""What CI leaves on a pull request's head: workflow runs with their jobs, steps and logs,
and check runs with their output and annotations, as the Actions and Checks APIs show them.
https://docs.github.com/en/rest/actions/workflow-jobs
https://docs.github.com/en/rest/checks/runs"""

import time
from typing import Any

from .state import API, EPOCH, WEB, RepoState, stable_id

Json = Any
BOM = "\ufeff"  # GitHub's job logs start with one
CYAN, RED, RESET = "\x1b[36;1m", "\x1b[31;1m", "\x1b[0m"
TICKS = 10**7  # a log line's time has seven decimal places
FAILED_TESTS = f"""\
============================= test session starts ==============================
collected 3 items

tests/test_app.py ..F                                                    [100%]

=================================== FAILURES ===================================
{RED}E       AssertionError: assert 'hello' == 'hi'{RESET}

tests/test_app.py:9: AssertionError
=========================== short test summary info ============================
{RED}FAILED{RESET} tests/test_app.py::test_greeting - AssertionError: assert 'hello' == 'hi'
{RED}========================= 1 failed, 2 passed in 0.05s =========================={RESET}"""
PASSED_TESTS = "3 passed in 0.04s"
# The App that runs Actions' own checks.
ACTIONS_APP = {"id": 15368, "name": "GitHub Actions", "owner": "github"}


def default_jobs(conclusion: str) -> list[Json]:
    """One job "test" whose step "Run tests" ends as the run does."""
    steps = [
        {"name": "Set up job", "conclusion": "success"},
        {"name": "Run tests", "conclusion": conclusion, "command": "pytest -q"},
        {"name": "Complete job", "conclusion": "success"},
    ]
    log = FAILED_TESTS if conclusion == "failure" else PASSED_TESTS
    return [{"name": "test", "conclusion": conclusion, "steps": steps, "log": log}]


def add_run(repo: RepoState, run: Json, jobs: list[Json]) -> None:
    """Keep a finished workflow run and its jobs, each with its log."""
    repo.runs[run["id"]] = {**run, "jobs": []}
    for job in jobs:
        job_id, started_at = repo.new_id(), repo.tick()
        steps = [dict(step) for step in job.get("steps", [])]
        log = render_log(steps, job.get("log", ""), repo.seconds)
        stored = {
            "id": job_id,
            "run": run["id"],
            "name": job["name"],
            "conclusion": job.get("conclusion", run["conclusion"]),
            "steps": steps,
            "log": log,
            "started_at": started_at,
            "completed_at": repo.tick(),
        }
        repo.jobs[job_id] = stored
        repo.runs[run["id"]]["jobs"].append(job_id)


def render_log(steps: list[Json], text: str, started: int) -> bytes:
    """A job's log as GitHub keeps it: every line stamped with its time; the runner's own
    lines for "Set up job" and "Complete job"; each other step a group opened by its
    `command` (by default its name without "Run "), echoed in colour, then its output:
    `text` for the first failing step (or the last step; all there is without steps), and
    an error line under each failing step."""
    carrier = next((s for s in steps if s.get("conclusion") == "failure"), None)
    carrier = carrier or (steps[-1] if steps else None)
    lines: list[str] = [] if steps else text.splitlines()
    for step in steps:
        command = step.get("command") or str(step["name"]).removeprefix("Run ")
        if step["name"] == "Set up job":
            lines += ["Current runner version: '2.321.0'", "Runner name: 'GitHub Actions 2'"]
        elif step["name"] == "Complete job":
            lines += ["Cleaning up orphan processes"]
        else:
            lines += [f"##[group]Run {command}", f"{CYAN}{command}{RESET}"]
            lines += ["shell: /usr/bin/bash -e {0}", "##[endgroup]"]
        if step is carrier:
            lines += text.splitlines()
        if step.get("conclusion") == "failure":
            lines.append("##[error]Process completed with exit code 1.")
    start = (EPOCH + started) * TICKS
    stamped = [f"{_stamp(start + i * 123_457)} {line}" for i, line in enumerate(lines)]
    return (BOM + "\n".join(stamped) + "\n").encode()


def _stamp(ticks: int) -> str:
    seconds, fraction = divmod(ticks, TICKS)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{fraction:07d}Z"


def job_json(repo: RepoState, job: Json) -> Json:
    run = repo.runs[job["run"]]
    job_id, run_id = job["id"], run["id"]
    return {
        "id": job_id,
        "run_id": run_id,
        "run_attempt": 1,
        "run_url": f"{API}/repos/{repo.repo}/actions/runs/{run_id}",
        "url": f"{API}/repos/{repo.repo}/actions/jobs/{job_id}",
        "html_url": f"{WEB}/{repo.repo}/actions/runs/{run_id}/job/{job_id}",
        "check_run_url": f"{API}/repos/{repo.repo}/check-runs/{job_id}",
        "head_sha": run["head_sha"],
        "head_branch": run["head_branch"],
        "workflow_name": run["name"],
        "name": job["name"],
        "status": "completed",
        "conclusion": job["conclusion"],
        "created_at": job["started_at"],
        "started_at": job["started_at"],
        "completed_at": job["completed_at"],
        "steps": [
            {
                "name": step["name"],
                "status": "completed",
                "conclusion": step.get("conclusion", "success"),
                "number": number,
                "started_at": job["started_at"],
                "completed_at": job["completed_at"],
            }
            for number, step in enumerate(job["steps"], start=1)
        ],
        "labels": ["ubuntu-latest"],
        "runner_id": 2,
        "runner_name": "GitHub Actions 2",
        "runner_group_id": 0,
        "runner_group_name": "GitHub Actions",
    }


def app_json(repo: RepoState, slug: str) -> Json:
    """The GitHub App behind a check: GitHub Actions (`github-actions`) or another CI's."""
    known = ACTIONS_APP if slug == "github-actions" else {}
    owner = known.get("owner", repo.owner)
    return {
        "id": known.get("id", stable_id(f"app:{slug}")),
        "slug": slug,
        "name": known.get("name", slug.replace("-", " ").title()),
        "description": "",
        "owner": repo.user_json(str(owner)),
        "html_url": f"{WEB}/apps/{slug}",
        "external_url": f"{WEB}/apps/{slug}",
        "created_at": "2018-07-30T09:30:17Z",
        "updated_at": "2019-12-10T19:04:12Z",
    }


def annotation_json(repo: RepoState, check: Json, annotation: Json) -> Json:
    path, start = annotation["path"], annotation["start_line"]
    return {
        "path": path,
        "start_line": start,
        "end_line": annotation.get("end_line", start),
        "start_column": annotation.get("start_column"),
        "end_column": annotation.get("end_column"),
        "annotation_level": annotation.get("annotation_level", "failure"),
        "title": annotation.get("title"),
        "message": annotation.get("message", ""),
        "raw_details": annotation.get("raw_details"),
        "blob_href": f"{WEB}/{repo.repo}/blob/{check['head_sha']}/{path}",
    }


def add_check(
    repo: RepoState,
    pull: Json,
    name: str,
    conclusion: str,
    output: Json,
    app: str,
    annotations: list[Json],
) -> Json:
    """Keep a finished check run on a pull request's head, in a check suite of its own,
    with its annotations; returns the check run as its event shows it."""
    check_id, suite_id, now = repo.new_id(), repo.new_id(), repo.tick()
    url = f"{API}/repos/{repo.repo}/check-runs/{check_id}"
    output = output | {
        "annotations_count": len(annotations),
        "annotations_url": f"{url}/annotations",
    }
    suite = {
        "id": suite_id,
        "head_branch": pull["head"]["ref"],
        "head_sha": pull["head"]["sha"],
        "status": "completed",
        "conclusion": conclusion,
        "url": f"{API}/repos/{repo.repo}/check-suites/{suite_id}",
        "before": pull["base"]["sha"],
        "after": pull["head"]["sha"],
        "pull_requests": [pull_reference(pull)],
        "app": app_json(repo, app),
        "created_at": now,
        "updated_at": now,
    }
    check = {
        "id": check_id,
        "name": name,
        "external_id": "",
        "head_sha": pull["head"]["sha"],
        "status": "completed",
        "conclusion": conclusion,
        "started_at": now,
        "completed_at": now,
        "output": output,
        "check_suite": suite,
        "app": app_json(repo, app),
        "pull_requests": [pull_reference(pull)],
        "html_url": f"{WEB}/{repo.repo}/runs/{check_id}",
        "details_url": f"{WEB}/{repo.repo}/runs/{check_id}",
        "url": url,
    }
    repo.check_runs[check_id] = check | {"annotations": list(annotations)}
    return check


def pull_reference(pull: Json) -> Json:
    """A pull request as runs and checks list it: number, URL, head and base."""
    return {
        "id": pull["id"],
        "number": pull["number"],
        "url": pull["url"],
        "head": _branch_reference(pull["head"]),
        "base": _branch_reference(pull["base"]),
    }


def _branch_reference(branch: Json) -> Json:
    repo = branch["repo"]
    return {
        "ref": branch["ref"],
        "sha": branch["sha"],
        "repo": {k: repo[k] for k in ("id", "url", "name")},
    }
