"""The reusable workflow's job-level `if:` lets through what the CLI acts on, and drops
the rest before a runner starts: the same payloads go through both. (Called from a
repository's workflow, `github.*` is the caller's event; `inputs` are what it passes.)"""

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from issuepilot.events import Action, Rules, decide, parse_payload
from issuepilot.labels import Labels
from issuepilot.testing.github.events import Activity

from .expressions import evaluate

ROOT = Path(__file__).parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "reusable.yml"
BOT = "github-actions[bot]"
Event = tuple[str, Any]


def job() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    return dict(data["jobs"]["step"])


def passes(event: Event, prefix: str | None) -> bool:
    name, payload = event
    github = {"event_name": name, "event": payload, "workflow": "IssuePilot"}
    contexts = {"github": github, "inputs": {"label-prefix": prefix or ""}}
    return bool(evaluate(job()["if"], contexts))


def acts(event: Event, prefix: str) -> bool:
    rules = Rules(labels=Labels(prefix))
    return decide(event[0], parse_payload(event[1]), rules).action is not Action.IGNORE


def events(prefix: str) -> Iterator[Event]:
    """Every kind of event the workflow subscribes to, with what matters varied."""
    repo = Activity("octo/demo", {"README.md": "x"}, None, None)
    labels = [prefix, f"{prefix}:approved", f"{prefix}:revise", f"{prefix}:retry"]
    labels += [name.upper() for name in labels]
    labels += [f"{prefix}:done", f"{prefix}:queued", f"{prefix}x", "bug", "issuepilot"]
    for sender in ("octocat", BOT):
        for label in labels:
            for add in (True, False):
                yield repo.label_event(repo.open_issue("t"), label, sender, add)
        bodies = [
            "/issuepilot approve",
            "  /issuepilot approve",
            "\n\t/issuepilot revise use tabs",
            "/IssuePilot Approve",
            "/issuepilot",
            "/issuepilotx approve",
            "/issuepilot frobnicate",
            "please /issuepilot approve",
            "lgtm",
            "",
        ]
        for body in bodies:
            yield repo.comment_event(repo.open_issue("t"), body, sender)
        with_label = repo.open_issue("t")
        repo.label_event(with_label, prefix)
        for number in (with_label, repo.open_issue("t")):
            yield repo.close_issue_event(number, sender)
            yield repo.reopen_issue_event(number, sender)
    for branch in (f"{prefix}/issue-3", "feature/x", f"{prefix.upper()}/issue-4"):
        number = repo.open_pull(branch)
        for sender in ("octocat", BOT):
            for state in ("changes_requested", "approved", "commented"):
                yield repo.review_event(number, state, sender=sender)
            yield repo.comment_event(number, "/issuepilot fix the name", sender)
            yield repo.comment_event(number, "/issuepilot approve", sender)
        for conclusion in ("failure", "timed_out", "success", "cancelled"):
            yield repo.workflow_run_event(number, conclusion)
            yield repo.check_run_event(number, conclusion)
        for merged in (True, False):
            yield repo.merge_pull(repo.open_pull(branch), merged)
    yield repo.dispatch_event({"issue": "3", "command": "approve"})
    yield repo.schedule_event()


def looser(event: Event, prefix: str) -> bool:
    """Where the filter may let more through than the CLI acts on, since expressions have
    neither a trim nor a pattern: a comment that names /issuepilot anywhere (a command may
    follow blank space), and a branch name that differs only in case."""
    name, payload = event
    if name == "issue_comment":
        return "/issuepilot" in (payload["comment"]["body"] or "").casefold()
    ref = {
        "pull_request": lambda: payload["pull_request"]["head"]["ref"],
        "pull_request_review": lambda: payload["pull_request"]["head"]["ref"],
        "workflow_run": lambda: payload["workflow_run"]["head_branch"],
        "check_run": lambda: payload["check_run"]["check_suite"]["head_branch"],
    }.get(name)
    return ref is not None and str(ref()).casefold().startswith(f"{prefix}/issue-".casefold())


@pytest.mark.parametrize("prefix", [None, "pilot"])
def test_the_filter_lets_through_what_the_cli_acts_on_and_drops_the_rest(
    prefix: str | None,
) -> None:
    labels = prefix or "issuepilot"
    checked = 0
    for event in events(labels):
        cli, workflow = acts(event, labels), passes(event, prefix)
        if cli:
            assert workflow, f"the filter drops an event the CLI acts on: {_show(event)}"
        elif workflow:
            assert looser(event, labels), f"the filter lets through {_show(event)}"
        checked += 1
    assert checked > 80


@pytest.mark.parametrize("prefix", [None, "pilot"])
def test_pull_requests_pass_only_for_the_tasks_branches(prefix: str | None) -> None:
    labels = prefix or "issuepilot"
    repo = Activity("octo/demo", {"README.md": "x"}, None, None)
    for branch, expected in [
        (f"{labels}/issue-3", True),
        ("feature/x", False),
        (f"{labels}-issue-3", False),
    ]:
        event = repo.merge_pull(repo.open_pull(branch))
        assert passes(event, prefix) is expected
        assert acts(event, labels) is expected


def test_the_concurrency_group_is_the_tasks_branch_for_every_event() -> None:
    group = job()["concurrency"]["group"]
    expression = group.split("${{", 2)[2].rsplit("}}", 1)[0]
    repo = Activity("octo/demo", {"README.md": "x"}, None, None)
    for prefix, branch in [(None, "issuepilot/issue-7"), ("pilot", "pilot/issue-7")]:
        # A dispatch's own inputs are in its event: `inputs` are the caller's.
        contexts: dict[str, Any] = {"inputs": {"label-prefix": prefix or "", "issue": "8"}}
        for _, payload in [
            ("issues", {"issue": {"number": 7}}),
            repo.dispatch_event({"issue": "7", "command": "approve"}),
            ("pull_request", {"pull_request": {"head": {"ref": branch}}}),
            ("workflow_run", {"workflow_run": {"head_branch": branch}}),
        ]:
            assert evaluate(expression, {**contexts, "github": {"event": payload}}) == branch
        sweep = evaluate(expression, {**contexts, "github": {"event": {}}})
        assert sweep == branch.replace("7", "sweep")


def _show(event: Event) -> str:
    name, payload = event
    detail = payload.get("label", {}).get("name") or (payload.get("comment") or {}).get("body")
    sender = payload.get("sender", {}).get("login")
    return f"{name}.{payload.get('action')} {detail!r} by {sender}"


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("'a' == 'A'", True),
        ("startsWith('/IssuePilot x', '/issuepilot')", True),
        ("contains(fromJSON('[\"a\",\"b\"]'), 'B')", True),
        ("contains(github.event.labels.*.name, 'bug')", True),
        ("contains(github.event.labels.*.name, 'bu')", False),
        ("null || 'x'", "x"),
        ("'' && 'x'", ""),
        ("!github.event.missing", True),
        ("format('{0}/{1}{{}}', 'a', 7)", "a/7{}"),
        ("'it''s' != 'its'", True),
    ],
)
def test_the_evaluator_follows_githubs_rules(expression: str, value: Any) -> None:
    contexts = {"github": {"event": {"labels": [{"name": "bug"}, {"name": "x"}]}}}
    assert evaluate(expression, contexts) == value


def test_the_reusable_workflow_is_a_working_first_setup() -> None:
    """What the README's first steps rely on: the action is given only inputs it declares,
    each from an input or secret the workflow declares, the Redis URL from its secret, and
    the job asks for what the action's calls need (GitHub Models included), with
    credentials not persisted."""
    action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    # YAML 1.1 reads the key `on` as true.
    called = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))[True]["workflow_call"]
    steps = job()["steps"]
    [checkout] = [s for s in steps if str(s.get("uses", "")).startswith("actions/checkout@")]
    assert checkout["with"]["persist-credentials"] is False
    [pilot] = [s for s in steps if str(s.get("uses", "")).startswith("issuepilot/issuepilot@")]
    assert set(pilot["with"]) <= set(action["inputs"])
    assert pilot["with"]["redis-url"] == "${{ secrets.redis-url }}"
    for value in pilot["with"].values():
        for kind, name in re.findall(r"\b(inputs|secrets)\.([\w-]+)", value):
            assert name in called[kind], f"{kind}.{name} is not declared by workflow_call"
    assert job()["permissions"] == {
        "contents": "write",
        "issues": "write",
        "pull-requests": "write",
        "actions": "write",
        "models": "read",
        "checks": "read",
    }


# What a run checks out when `ref` is empty: GITHUB_REF of the event. Pull request events
# get the merge commit; the others the default branch (a dispatch: the branch it names).
# https://docs.github.com/en/actions/reference/workflows-and-actions/events-that-trigger-workflows
GITHUB_REF = {
    "pull_request": lambda p: f"refs/pull/{p['pull_request']['number']}/merge",
    "pull_request_review": lambda p: f"refs/pull/{p['pull_request']['number']}/merge",
    "workflow_dispatch": lambda p: p["ref"].removeprefix("refs/heads/"),
}


def checked_out(event: Event) -> str:
    """The branch (or ref) the job's checkout step takes for `event`."""
    [checkout] = [
        s for s in job()["steps"] if str(s.get("uses", "")).startswith("actions/checkout@")
    ]
    assert "repository" not in checkout["with"], "this repository's branches only, never a fork"
    expression = str(checkout["with"].get("ref", "")).removeprefix("${{").removesuffix("}}")
    name, payload = event
    github = {"event_name": name, "event": payload}
    ref = evaluate(expression, {"github": github}) if expression.strip() else ""
    if ref:
        return str(ref)
    default = payload.get("repository", {}).get("default_branch", "main")
    return str(GITHUB_REF.get(name, lambda _: default)(payload))


def test_every_event_checks_out_the_base_branch_never_a_pull_requests_code() -> None:
    """The steps read .github/issuepilot.yml and the base's files from the checkout, and a
    fix round lays the pull request's head over it: a review's merge commit (the agent's
    code and config, or a fork's) would be read as the maintainers' own."""
    repo = Activity("octo/demo", {"README.md": "x"}, None, None)
    seen = set()
    for event in events("issuepilot"):
        name, payload = event
        pull = payload.get("pull_request") or {}
        assert checked_out(event) == "main", f"{_show(event)} checks out {checked_out(event)}"
        assert checked_out(event) != pull.get("head", {}).get("ref")
        seen.add(name)
    caller = ROOT / ".github" / "workflows" / "issuepilot.yml"  # its triggers
    assert seen == set(yaml.safe_load(caller.read_text(encoding="utf-8"))[True])
    # A fork's pull request, reviewed: still this repository's base branch.
    fork = repo.review_event(repo.open_pull("issuepilot/issue-3"))
    fork[1]["pull_request"]["head"]["repo"]["full_name"] = "mallory/demo"
    assert checked_out(fork) == "main"
    # A dispatch run from another branch still works on the base.
    name, dispatch = repo.dispatch_event({"issue": "3"})
    assert checked_out((name, {**dispatch, "ref": "refs/heads/feature"})) == "main"
