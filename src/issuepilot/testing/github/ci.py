"""What CI leaves on a pull request's head: workflow runs with their jobs, steps and logs,
as the Actions API shows them.
https://docs.github.com/en/rest/actions/workflow-jobs"""

import time
from typing import Any

from .state import API, EPOCH, WEB, RepoState

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
