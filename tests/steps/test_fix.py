"""Fix rounds: PR_OPEN -> EXECUTING -> PR_OPEN on the task's open pull request, for a review
that requests changes, `/issuepilot fix`, red CI, a failed check, or `/issuepilot rebase`.
Each trigger starts at most one round, however often it is delivered."""

import asyncio
import copy
import subprocess
from pathlib import Path

import pytest

from issuepilot.agents.base import RepoFiles
from issuepilot.config import RepoConfig
from issuepilot.errors import ModelError
from issuepilot.machine import TaskState
from issuepilot.models import ChangeSet, FileChange, Plan
from issuepilot.steps.fix import HANDLED, RECENT, REPLIED
from issuepilot.testing.github.state import BOT

from .harness import Event, Sim

S = TaskState
APP = "src/app.py"
BODY = "The greeting in `src/app.py` needs a `!`."
UPDATED = "Updated by IssuePilot."
MORE = "Change `src/app.py`, `src/util.py` and `docs/new.md`."


async def opened(sim: Sim, body: str = BODY) -> tuple[int, int]:
    """An issue whose task has its pull request open, through the real steps: (issue, PR)."""
    issue = sim.github.open_issue("Greet politely", body)
    task = await sim.to_pr_open(issue)
    assert task.state is S.PR_OPEN
    sim.executed.clear()
    sim.feedback.clear()
    return issue, task.pr


def head(sim: Sim, pr: int) -> str:
    return sim.github.refs[f"heads/{sim.github.pulls[pr]['head']}"]


def replies(sim: Sim, pr: int) -> list[str]:
    return [
        c["body"]
        for c in sim.github.review_comments.values()
        if c["pull"] == pr and c.get("in_reply_to") and c["user"].endswith("[bot]")
    ]


def brief(sim: Sim, n: int = -1) -> str:
    """What the agent was asked to fix in round `n`: the newest item of its feedback."""
    return sim.executed[n][0].feedback[-1]


def round_comments(sim: Sim, pr: int) -> list[str]:
    return [b for b in sim.comments(pr) if "IssuePilot: fix round" in b]


def red_ci(sim: Sim, pr: int, log: str = "E   AssertionError: Hello Ada\n1 failed\n") -> Event:
    jobs = [
        {
            "name": "test",
            "conclusion": "failure",
            "steps": [{"name": "Run tests", "conclusion": "failure"}],
            "log": log,
        },
        {"name": "lint", "conclusion": "success", "steps": [], "log": "ok"},
    ]
    return sim.github.workflow_run_event(pr, jobs=jobs)


def again(event: Event) -> Event:
    """The same delivery once more: a redelivered webhook, a re-run workflow."""
    return event[0], copy.deepcopy(event[1])


# -- each trigger starts at most one round --------------------------------------------


async def test_a_review_delivered_twice_makes_one_round(sim: Sim) -> None:
    issue, pr = await opened(sim)
    comments = [{"path": APP, "line": 3, "body": "Say it louder."}]
    review = sim.github.review_event(pr, body="Not quite.", comments=comments)
    first = await sim.run(review)
    moved = head(sim, pr)
    second = await sim.run(again(review))
    assert first.message.startswith("fix round 1: pushed")
    assert second.message == "this review already started fix round 1: not again"
    assert len(sim.executed) == 1, "one model session"
    assert head(sim, pr) == moved, "the branch moved once"
    assert len(replies(sim, pr)) == 1 and len(round_comments(sim, pr)) == 1
    task = await sim.task(issue)
    assert task.rounds == 1 and task.handled == {f"review:{review[1]['review']['id']}": 1}


async def test_a_fix_command_repeated_makes_one_round_and_a_new_command_another(
    sim: Sim,
) -> None:
    issue, pr = await opened(sim)
    command = sim.github.comment_event(pr, "/issuepilot fix mention the name twice")
    await sim.run(command)
    repeated = await sim.run(again(command))
    assert repeated.message == "this command already started fix round 1: not again"
    assert len(sim.executed) == 1 and "mention the name twice" in brief(sim)
    await sim.run(sim.github.comment_event(pr, "/issuepilot fix once more"))
    assert len(sim.executed) == 2 and (await sim.task(issue)).rounds == 2


async def test_a_failed_run_repeated_makes_one_round_and_its_rerun_another(sim: Sim) -> None:
    issue, pr = await opened(sim)
    run = red_ci(sim, pr)
    await sim.run(run)
    repeated = await sim.run(again(run))
    assert repeated.message == "this workflow run already started fix round 1: not again"
    assert len(sim.executed) == 1
    rerun = again(run)
    rerun[1]["workflow_run"]["run_attempt"] = 2  # re-run, and it failed again
    rerun[1]["workflow_run"]["head_sha"] = head(sim, pr)
    await sim.run(rerun)
    task = await sim.task(issue)
    assert len(sim.executed) == 2 and (task.rounds, task.ci_rounds) == (2, 2)
    run_id = run[1]["workflow_run"]["id"]
    assert task.handled == {f"run:{run_id}/1": 1, f"run:{run_id}/2": 2}


async def test_a_failed_check_repeated_makes_one_round(sim: Sim) -> None:
    issue, pr = await opened(sim)
    check = sim.github.check_run_event(pr, app="ci-app")
    await sim.run(check)
    repeated = await sim.run(again(check))
    assert repeated.message == "this check run already started fix round 1: not again"
    assert len(sim.executed) == 1 and (await sim.task(issue)).ci_rounds == 1


async def test_two_runs_of_one_review_racing_make_one_round(sim: Sim) -> None:
    issue, pr = await opened(sim)
    review = sim.github.review_event(pr)
    sim.store.hold_loads(2)  # both read the task before either writes
    outcomes = await asyncio.gather(sim.run(review), sim.run(again(review)))
    messages = sorted(o.message for o in outcomes)
    assert messages[0] == "already advanced by another run"
    assert messages[1].startswith("fix round 1: pushed")
    assert len(sim.executed) == 1 and (await sim.task(issue)).rounds == 1


async def test_a_round_that_died_is_not_started_again_by_its_trigger(sim: Sim) -> None:
    issue, pr = await opened(sim)
    review = sim.github.review_event(pr)
    sim.kill_after("POST", r"/git/commits$")
    await sim.run_until_killed(review)
    assert sim.stored(issue).state is S.EXECUTING
    sim.clock.advance(sim.config.lease_s + 1)
    replayed = await sim.run(again(review))
    task = await sim.task(issue)
    assert replayed.message == "this review already started fix round 1: not again"
    assert task.state is S.PR_OPEN and task.attempts == 1 and len(sim.executed) == 1


async def test_the_record_of_handled_triggers_keeps_the_newest(sim: Sim) -> None:
    issue, pr = await opened(sim)
    old = {f"comment:{n}": n for n in range(1, HANDLED + 5)}
    sim.store.overwrite(issue, handled=old, rounds=len(old))
    await sim.run(sim.github.comment_event(pr, "/issuepilot fix"))
    task = await sim.task(issue)
    assert len(task.handled) == HANDLED and task.rounds == len(old) + 1
    assert list(task.handled)[:-1] == list(old)[-(HANDLED - 1) :], "the oldest ones go"
    assert list(task.handled.values())[-1] == task.rounds


async def test_a_dispatched_fix_is_a_new_request_each_time(sim: Sim) -> None:
    issue, _ = await opened(sim)
    for _ in range(2):
        await sim.run(sim.dispatch_event(issue, "fix try again"))
    task = await sim.task(issue)
    assert task.rounds == 2 and task.handled == {}


# -- what a round is asked, and what it answers -----------------------------------------


def only_app(plan: Plan, files: RepoFiles) -> ChangeSet:
    """A round's change: one more line in `src/app.py`, nothing else."""
    text = (files.files.get(APP) or "") + "Louder.\n"
    return ChangeSet(files=[FileChange(path=APP, content=text)], message="Say it louder")


async def test_a_review_round_reads_its_threads_and_answers_each_once(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", "Change `src/app.py` and `src/util.py`.")
    pr = (await sim.to_pr_open(issue)).pr
    comments = [
        {"path": APP, "line": 3, "body": "Say it louder."},
        {"path": "src/util.py", "line": 2, "body": "Is this needed?"},
    ]
    review = sim.github.review_event(pr, body="Not quite.", comments=comments)
    before = head(sim, pr)
    sim.writes.append(only_app)
    outcome = await sim.run(review)
    after = head(sim, pr)
    assert outcome.message == f"fix round 1: pushed {after[:7]} to pull request #{pr}"
    said = brief(sim)
    assert said.startswith("Review by @octocat (changes requested):\nNot quite.")
    assert "Inline comment on src/app.py:3:\n```diff\n" in said and "Say it louder." in said
    assert "Inline comment on src/util.py:2:" in said and "Is this needed?" in said
    assert sim.github.commits[after]["parents"] == [before], "a fast-forward"
    assert sim.github.commits[after]["message"] == f"Say it louder (#{issue}, fix round 1)"
    assert sorted(replies(sim, pr)) == sorted(
        [
            f"Addressed in {after[:7]}.\n\n{REPLIED}",
            f"Looked at in {after[:7]}; `src/util.py` is unchanged.\n\n{REPLIED}",
        ]
    )
    [summary] = round_comments(sim, pr)
    assert "For: changes requested by @&#8203;octocat." in summary and f"- `{APP}`" in summary
    task = await sim.task(issue)
    assert (task.state, task.rounds, task.ci_rounds, task.head_sha) == (S.PR_OPEN, 1, 0, after)
    assert await sim.locks.holders([APP]) == {APP: str(issue)}, "the PR keeps its files"


async def test_what_a_lost_record_already_posted_is_not_posted_again(sim: Sim) -> None:
    """A run posted its replies and the round's comment, and its record of the round was
    lost: the next round of that number finds them on GitHub and posts neither again."""
    issue, pr = await opened(sim)
    review = sim.github.review_event(pr, comments=[{"path": APP, "line": 3, "body": "Hm."}])
    [thread] = [c for c in sim.github.review_comments.values() if c["pull"] == pr]
    sim.github.reply_to_review_comment(pr, thread["id"], f"Addressed.\n\n{REPLIED}", user=BOT)
    sim.github.comment_event(pr, "### IssuePilot: fix round 1\n\n<!-- issuepilot:round:1 -->", BOT)
    await sim.run(review)
    assert len(replies(sim, pr)) == 1 and len(round_comments(sim, pr)) == 1
    assert (await sim.task(issue)).rounds == 1


async def test_the_rounds_comment_is_looked_for_among_the_newest_only(sim: Sim) -> None:
    _, pr = await opened(sim)
    sim.github.comment_event(pr, "### IssuePilot: fix round 1\n\n<!-- issuepilot:round:1 -->", BOT)
    for n in range(RECENT):
        sim.github.comment_event(pr, f"comment {n}")
    await sim.run(sim.github.comment_event(pr, "/issuepilot fix"))
    assert len(round_comments(sim, pr)) == 2, "one further back would have been seen by now"


# -- when no round starts ----------------------------------------------------------------


async def test_automatic_rounds_stop_at_fix_rounds_and_say_so_once(sim: Sim) -> None:
    sim.config = RepoConfig(fix_rounds=1)
    issue, pr = await opened(sim)
    await sim.run(red_ci(sim, pr))
    stopped = await sim.run(red_ci(sim, pr))
    assert stopped.message.startswith("CI failed again after 1 automatic fix rounds")
    assert "waits for a person (/issuepilot fix)" in sim.status_comments(issue)[0]
    since = sim.mark()
    await sim.run(red_ci(sim, pr))
    assert [c for c in sim.calls(since) if not c.startswith("GET")] == [], "said once"
    assert len(sim.executed) == 1
    await sim.run(sim.github.comment_event(pr, "/issuepilot fix"))  # a person may go on
    task = await sim.task(issue)
    assert (task.rounds, task.ci_rounds, task.refusal) == (2, 1, "")


async def test_ci_that_judged_an_older_commit_starts_nothing(sim: Sim) -> None:
    issue, pr = await opened(sim)
    run = red_ci(sim, pr)
    run[1]["workflow_run"]["head_sha"] = "0" * 40
    outcome = await sim.run(run)
    assert outcome.message == "the failed CI judged an older commit of the pull request"
    assert sim.executed == [] and (await sim.task(issue)).rounds == 0


async def test_a_closed_pull_request_gets_no_round(sim: Sim) -> None:
    issue, pr = await opened(sim)
    sim.github.pulls[pr]["state"] = "closed"
    outcome = await sim.run(sim.github.comment_event(issue, "/issuepilot fix"))
    assert outcome.message == f"pull request #{pr} is closed: nothing to fix"
    assert sim.executed == []


async def test_a_task_without_an_open_pull_request_gets_no_round(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet politely", BODY)
    await sim.seed(issue, S.PLAN_REVIEW)
    outcome = await sim.run(sim.github.comment_event(issue, "/issuepilot fix"))
    assert outcome.message == "nothing to round: the task is plan-review"
    assert sim.executed == []


async def test_a_round_already_running_is_left_alone_until_its_lease_ends(sim: Sim) -> None:
    issue, pr = await opened(sim)
    sim.kill_after("POST", r"/git/commits$")
    await sim.run_until_killed(sim.github.comment_event(pr, "/issuepilot fix"))
    running = await sim.run(sim.github.comment_event(pr, "/issuepilot fix again"))
    assert running.message == "a executing step is already running"
    sim.clock.advance(sim.config.lease_s + 1)
    resumed = await sim.run(sim.github.comment_event(pr, "/issuepilot fix again"))
    task = await sim.task(issue)
    assert resumed.message.startswith("fix round 2: pushed")
    assert (task.state, task.attempts, task.rounds) == (S.PR_OPEN, 1, 2)


# -- failures ------------------------------------------------------------------------------


async def test_a_failed_round_leaves_the_pull_request_as_it_was(sim: Sim) -> None:
    issue, pr = await opened(sim)
    before = head(sim, pr)
    sim.writes.append(lambda plan, files: ModelError("the model gave up"))  # type: ignore[arg-type,return-value]
    with pytest.raises(ModelError, match="gave up"):
        await sim.run(sim.github.comment_event(pr, "/issuepilot fix"))
    task = await sim.task(issue)
    assert (task.state, task.error, task.rounds) == (S.PR_OPEN, "the model gave up", 1)
    assert head(sim, pr) == before and round_comments(sim, pr) == []
    assert await sim.locks.holders([APP]) == {APP: str(issue)}, "the PR keeps its files"
    assert "the model gave up" in sim.status_comments(issue)[0]


async def test_a_branch_that_moves_as_the_round_starts_fails_the_round(sim: Sim) -> None:
    issue, pr = await opened(sim)
    branch = sim.github.pulls[pr]["head"]

    def push() -> None:  # someone pushes right after the round read the pull request
        sim.github.commit_files(branch, {"NOTES.md": "pushed\n"}, "a push")

    sim.on_request("GET", rf"/pulls/{pr}$", push, after=True)
    with pytest.raises(ModelError, match="branch moved while the round started"):
        await sim.run(sim.github.comment_event(issue, "/issuepilot fix"))
    assert (await sim.task(issue)).state is S.PR_OPEN


async def test_files_whose_lease_lapsed_are_taken_again_for_the_round(sim: Sim) -> None:
    issue, pr = await opened(sim)
    sim.clock.advance(sim.config.pr_lease_s + 1)
    assert await sim.locks.holders([APP]) == {}
    await sim.run(sim.github.comment_event(pr, "/issuepilot fix"))
    assert await sim.locks.holders([APP]) == {APP: str(issue)}
    assert (await sim.task(issue)).rounds == 1


# -- in the job's checkout ------------------------------------------------------------------


def checkout_of(sim: Sim, root: Path) -> Path:
    """A checkout of the base branch, as the workflow's actions/checkout leaves it."""
    for path, text in sim.github.files_at("main").items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], cwd=root, check=True)
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-qm", "base"], cwd=root, check=True)
    sim.workspace = root
    return root


async def test_in_the_checkout_the_round_starts_from_the_pull_requests_head(
    sim: Sim, tmp_path: Path
) -> None:
    issue, pr = await opened(sim, MORE)
    branch = sim.github.pulls[pr]["head"]
    sim.github.commit_files(branch, {"src/util.py": None, "docs/new.md": "new\n"}, "more")
    root = checkout_of(sim, tmp_path / "checkout")
    sim.writes.append(only_app)
    await sim.run(sim.github.comment_event(pr, "/issuepilot fix"))
    [(_, files)] = sim.executed
    assert files.files[APP].count(UPDATED) == 1, "the agent read the head's version"
    assert not (root / "src/util.py").exists() and (root / "docs/new.md").read_text() == "new\n"
    at_head = sim.github.files_at(branch)
    assert at_head[APP].endswith(f"{UPDATED}\nLouder.\n") and "src/util.py" not in at_head
    assert at_head["docs/new.md"] == "new\n"


# -- rebase -------------------------------------------------------------------------------


async def test_a_rebase_with_conflicts_gives_the_agent_both_sides(sim: Sim) -> None:
    issue, pr = await opened(sim, MORE)
    branch = sim.github.pulls[pr]["head"]
    sim.github.commit_files(branch, {"src/util.py": None, "docs/new.md": "new\n"}, "more")
    old_head = head(sim, pr)
    base = sim.github.advance_base({APP: 'def greet(name):\n    return "Hi " + name\n'})
    sim.writes.append(only_app)
    outcome = await sim.run(sim.github.comment_event(issue, "/issuepilot rebase"))
    assert outcome.message.startswith("fix round 1: pushed")
    new_head = head(sim, pr)
    assert sim.github.commits[new_head]["parents"] == [old_head, base], "a merge, forward"
    said = brief(sim)
    assert "The base branch moved and changed files this pull request changed too." in said
    assert f"The pull request's version of {APP}:\n```\n" in said and UPDATED in said
    [(_, files)] = sim.executed
    assert "Hi " in files.files[APP], "the agent starts from the base's version"
    at_head = sim.github.files_at(branch)
    assert "src/util.py" not in at_head and at_head["docs/new.md"] == "new\n"
    assert sim.github.pull_json(sim.github.pulls[pr])["mergeable"] is True
    history = (await sim.task(issue)).history[-2].note
    assert history.startswith("fix round 1: rebase; /issuepilot rebase by @octocat")


async def test_a_rebase_without_conflicts_needs_no_agent(sim: Sim, tmp_path: Path) -> None:
    issue, pr = await opened(sim)
    checkout_of(sim, tmp_path / "checkout")  # at the old base: the round works through the API
    base = sim.github.advance_base({"README.md": "# Project, renamed\n"})
    await sim.run(sim.github.comment_event(pr, "/issuepilot rebase"))
    assert sim.executed == [], "nothing for the agent to do"
    at_head = sim.github.files_at(sim.github.pulls[pr]["head"])
    assert at_head["README.md"] == "# Project, renamed\n" and UPDATED in at_head[APP]
    assert base in sim.github.commits[head(sim, pr)]["parents"]


async def test_a_round_that_finds_a_conflict_rebases_too(sim: Sim) -> None:
    issue, pr = await opened(sim)
    sim.github.advance_base({APP: "def greet(name):\n    return name\n"})
    await sim.run(sim.github.comment_event(pr, "/issuepilot fix keep the greeting"))
    assert "The pull request's version of src/app.py" in brief(sim)
    assert (await sim.task(issue)).history[-2].note.startswith("fix round 1: rebase; ")
