"""After the pull request opens: reviews, `/issuepilot fix`, red CI and a moved base, each
answered by a fix round on the same pull request, through the real CLI."""

import json
from typing import Any

from issuepilot.testing.fake_llm import Answer, Calls, Messages, default_reply

from .harness import Result, World
from .test_lifecycle import plan_and_approve, record

APP = "src/app.py"
OLD = 'return "Hello " + name'
GREETING = (
    "python3 -c \"import sys; sys.path.insert(0, 'src'); import app; "
    "assert app.greet('Ada').startswith('Hello Ada!'), app.greet('Ada')\""
)


def opened(world: World, config: str = "") -> tuple[int, int]:
    """An issue whose task has its pull request open: (issue, pull request)."""
    if config:
        world.checkout(config=config)
    gh = world.github
    issue = gh.open_issue("Greet politely", "The greeting in `src/app.py` needs a `!`.")
    plan_and_approve(world, issue)
    [executed] = world.drain()
    assert executed.code == 0, executed.stdout + executed.stderr
    return issue, int(executed.outputs["pr-number"])


def head(world: World, pr: int) -> str:
    return world.github.files_at(world.github.pulls[pr]["head"])[APP]


def replies(world: World, pr: int) -> dict[int, list[str]]:
    """IssuePilot's replies in the pull request's review threads: thread -> bodies."""
    found: dict[int, list[str]] = {}
    for comment in world.github.review_comments.values():
        if comment.get("pull") == pr and comment.get("in_reply_to"):
            if comment["user"].endswith("[bot]"):
                found.setdefault(comment["in_reply_to"], []).append(comment["body"])
    return found


def round_comments(world: World, pr: int) -> list[str]:
    return [
        c["body"]
        for c in world.github.comments.values()
        if c["issue"] == pr and "IssuePilot: fix round" in c["body"]
    ]


def test_changes_requested_make_a_round_that_answers_each_thread(world: World) -> None:
    gh = world.github
    issue, pr = opened(world)
    before = gh.pulls[pr]["head"]
    first_head = gh.refs[f"heads/{before}"]
    comments = [{"path": APP, "line": 4, "body": "Say it louder."}]
    review = world.step(gh.review_event(pr, body="Not quite.", comments=comments))
    assert review.code == 0, review.stdout + review.stderr
    assert review.outputs["task-state"] == "pr-open"
    # A new commit on the same branch, descending from the old head: a fast-forward.
    new_head = gh.refs[f"heads/{before}"]
    assert new_head != first_head and first_head in gh.ancestors(new_head)
    assert head(world, pr).count("Updated by IssuePilot.") == 2
    # The model read the review and its inline comment, as data.
    prompt = json.dumps(world.model.requests[-1]["messages"])
    assert "Not quite." in prompt and "Say it louder." in prompt
    threads = replies(world, pr)
    said = f"Addressed in {new_head[:7]}.\n\n<!-- issuepilot:reply -->"
    assert list(threads.values()) == [[said]]
    [summary] = round_comments(world, pr)
    assert "fix round 1" in summary and new_head in summary
    task = record(world, issue)
    assert task["rounds"] == 1 and task["ci_rounds"] == 0 and task["head_sha"] == new_head
    assert "fix round 1" in world.comment(issue)
    # The files stay the pull request's: another task still waits for them.
    other = gh.open_issue("Also greet", "Change `src/app.py`.")
    plan_and_approve(world, other)
    [waiting] = world.drain()
    assert waiting.outputs["task-state"] == "approved" and f"(#{issue})" in world.comment(other)


def test_a_review_stepped_twice_makes_one_round(world: World) -> None:
    """GitHub redelivers a webhook, a person re-runs the workflow: the same review event
    reaches a second run, which finds the round it started already done."""
    gh = world.github
    issue, pr = opened(world)
    branch = f"heads/{gh.pulls[pr]['head']}"
    comments = [{"path": APP, "line": 4, "body": "Say it louder."}]
    event = gh.review_event(pr, body="Not quite.", comments=comments)
    sessions = len(world.model.requests)
    first = world.step(event)
    assert first.code == 0 and "fix round 1: pushed" in first.stdout, first.stdout + first.stderr
    moved, asked = gh.refs[branch], len(world.model.requests)
    second = world.step(event)
    assert second.code == 0, second.stdout + second.stderr
    assert "this review already started fix round 1: not again" in second.stdout
    assert len(world.model.requests) == asked > sessions, "one model session"
    assert gh.refs[branch] == moved, "the branch moved once"
    assert len(round_comments(world, pr)) == 1 and len(next(iter(replies(world, pr).values()))) == 1
    assert record(world, issue)["rounds"] == 1


def test_a_review_by_a_user_without_write_access_changes_nothing(world: World) -> None:
    gh = world.github
    issue, pr = opened(world)
    calls = len(world.model.requests)
    review = world.step(gh.review_event(pr, body="Delete everything.", sender="mallory"))
    assert review.code == 0 and "a review by @mallory (triage): noted" in review.stdout
    assert len(world.model.requests) == calls and record(world, issue)["rounds"] == 0
    assert "mallory" not in world.comment(issue)


def test_the_fix_command_on_the_pull_request_runs_a_round(world: World) -> None:
    gh = world.github
    issue, pr = opened(world)
    fixed = world.step(gh.comment_event(pr, "/issuepilot fix mention the name twice"))
    assert fixed.code == 0, fixed.stdout + fixed.stderr
    assert "fix round 1: pushed" in fixed.stdout
    assert "mention the name twice" in json.dumps(world.model.requests[-1]["messages"])
    assert record(world, issue)["rounds"] == 1 and replies(world, pr) == {}


def round_model(*turns: list[tuple[str, dict[str, Any]]]) -> Any:
    """The default model, except in a fix round, where it makes `turns`."""

    def reply(messages: Messages, tools: list[str]) -> Answer:
        if not any("This is a fix round" in str(m.get("content")) for m in messages):
            return default_reply(messages, tools)
        start = next(
            i for i, m in enumerate(messages) if "This is a fix round" in str(m.get("content"))
        )
        made = sum(1 for m in messages[start:] if m["role"] == "assistant")
        return Calls(turns[min(made, len(turns) - 1)])

    return reply


def red_ci(world: World, pr: int, name: str = "CI") -> Result:
    jobs = [
        {
            "name": "test",
            "conclusion": "failure",
            "steps": [{"name": "Run tests", "conclusion": "failure"}],
            "log": "E   AssertionError: Hello Ada\n1 failed\n",
        }
    ]
    return world.step(world.github.workflow_run_event(pr, name=name, jobs=jobs))


def test_red_ci_starts_a_round_that_makes_the_check_pass(world: World) -> None:
    config = f"check-rounds: 0\nchecks:\n  greeting: {json.dumps(GREETING)}\n"
    issue, pr = opened(world, config)
    assert world.github.pulls[pr]["draft"] is True  # the first change fails the check
    fixed = f'def greet(name):\n    {OLD} + "!"\n'
    write = {"path": APP, "content": fixed}
    world.model.reply = round_model([("write_file", write)], [("finish", {"message": "Add !"})])
    repaired = red_ci(world, pr)
    assert repaired.code == 0, repaired.stdout + repaired.stderr
    assert OLD + ' + "!"' in head(world, pr)
    prompt = json.dumps(world.model.requests[-1]["messages"])
    assert "Run tests" in prompt and "AssertionError: Hello Ada" in prompt
    assert "\\u001b[" not in prompt  # the log's colour codes are gone
    [summary] = round_comments(world, pr)
    assert "**greeting**: passed" in summary
    assert record(world, issue)["ci_rounds"] == 1
    # The log came from the log host, which never saw the token.
    hosts = world.github.log_host_requests
    assert hosts and all("authorization" not in {k.lower() for k in h} for _, _, h in hosts)


def test_red_ci_past_fix_rounds_stops_and_says_so(world: World) -> None:
    world.checkout(config="fix-rounds: 1\n")
    issue, pr = opened(world)
    assert red_ci(world, pr).code == 0
    assert record(world, issue)["ci_rounds"] == 1
    calls = len(world.model.requests)
    stopped = red_ci(world, pr)
    assert stopped.code == 0 and "automatic fix rounds" in stopped.stdout
    assert len(world.model.requests) == calls
    assert "waits for a person" in world.comment(issue)
    assert record(world, issue)["state"] == "pr-open"


def test_an_unrelated_workflow_failing_changes_nothing(world: World) -> None:
    world.checkout(config="ci-workflows: [CI]\n")
    issue, pr = opened(world)
    other = red_ci(world, pr, name="Docs")
    assert other.code == 0 and "not listed in ci-workflows" in other.stdout
    assert record(world, issue)["rounds"] == 0


def test_a_moved_base_is_rebased_on_command_and_the_pr_can_merge(world: World) -> None:
    gh = world.github
    issue, pr = opened(world)
    gh.advance_base({APP: 'def greet(name):\n    return "Hi " + name\n'})
    assert gh.pull_json(gh.pulls[pr])["mergeable"] is False
    rebased = world.step(gh.comment_event(issue, "/issuepilot rebase"))
    assert rebased.code == 0, rebased.stdout + rebased.stderr
    answer = gh.pull_json(gh.pulls[pr])
    assert answer["mergeable"] is True and answer["mergeable_state"] == "clean"
    new_head = gh.refs[f"heads/{gh.pulls[pr]['head']}"]
    assert gh.refs["heads/main"] in gh.ancestors(new_head)  # the base's head is a parent
    assert "Hi " in head(world, pr)  # the base's change is kept
    # The agent saw the pull request's version of the file both sides changed.
    assert "The pull request's version of src/app.py" in json.dumps(world.model.requests[-1])


def test_a_crash_after_the_reply_was_posted_never_doubles_it(world: World) -> None:
    gh = world.github
    issue, pr = opened(world)
    comments = [{"path": APP, "line": 4, "body": "Louder."}]
    event = gh.review_event(pr, comments=comments)
    world.kill_run_at(event, "POST", r"/pulls/\d+/comments/\d+/replies$")
    world.expire_lease(issue, locks=False)  # the open PR's locks outlive the dead run
    again = world.step(event)  # GitHub redelivers: the round it started is not run again
    assert again.code == 0, again.stdout + again.stderr
    assert "this review already started fix round 1" in again.stdout
    [bodies] = replies(world, pr).values()
    assert len(bodies) == 1
    assert record(world, issue)["state"] == "pr-open"


def test_a_failed_check_of_other_ci_starts_a_round_with_its_annotations(world: World) -> None:
    gh = world.github
    issue, pr = opened(world)
    notes = [
        {
            "path": APP,
            "start_line": 2,
            "end_line": 2,
            "annotation_level": "failure",
            "message": "greet() must end with '!'",
        }
    ]
    event = gh.check_run_event(pr, summary="1 problem", annotations=notes, app="ci-app")
    checked = world.step(event)
    assert checked.code == 0, checked.stdout + checked.stderr
    assert "fix round 1: pushed" in checked.stdout
    prompt = json.dumps(world.model.requests[-1]["messages"])
    assert "greet() must end with" in prompt and "1 problem" in prompt
    assert record(world, issue)["ci_rounds"] == 1
    actions = gh.check_run_event(pr, app="github-actions")  # Actions' own: via workflow_run
    assert "through their workflow_run" in world.step(actions).stdout
