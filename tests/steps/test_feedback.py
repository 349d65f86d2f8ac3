"""What a fix round is asked to fix, gathered from GitHub: a review's threads (see
test_fix), a command's words, a failed run's jobs and the end of their logs, a failed
check's output and annotations. All of it reaches the agent as the round's brief."""

import re

from issuepilot.steps.feedback import clean_log

from .harness import Sim
from .test_fix import APP, brief, opened, red_ci, round_comments


def test_a_log_loses_its_colours_and_every_timestamp() -> None:
    log = (
        "\ufeff2027-01-15T08:00:00.0000000Z first\r\n"
        "2027-01-15T08:00:00.1234567Z \x1b[31;1msecond\x1b[0m\n"
    )
    assert clean_log(log) == "first\nsecond\n"


async def test_red_ci_gives_the_failing_jobs_and_the_end_of_their_clean_logs(sim: Sim) -> None:
    issue, pr = await opened(sim)
    outcome = await sim.run(red_ci(sim, pr, log="\x1b[31mE   AssertionError: Hello\x1b[0m\n"))
    assert outcome.message.startswith("fix round 1: pushed")
    said = brief(sim)
    assert "The workflow 'CI' failed on the pull request's head." in said
    assert "Job 'test' failed (failing steps: 'Run tests'). End of its log:" in said
    assert "E   AssertionError: Hello" in said and "\x1b[" not in said
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:", said), "timestamps are gone"
    assert "'lint'" not in said, "a job that passed is no feedback"
    [summary] = round_comments(sim, pr)
    assert "For: workflow 'CI' failed." in summary
    assert (await sim.task(issue)).ci_rounds == 1


async def test_a_run_that_failed_without_a_failing_job_says_so(sim: Sim) -> None:
    _, pr = await opened(sim)
    jobs = [{"name": "test", "conclusion": "cancelled", "steps": [], "log": ""}]
    await sim.run(sim.github.workflow_run_event(pr, conclusion="timed_out", jobs=jobs))
    assert "No failing job was found: the run may have been cancelled or re-run." in brief(sim)


async def test_a_failed_check_gives_its_output_and_annotations(sim: Sim) -> None:
    _, pr = await opened(sim)
    notes = [
        {"path": APP, "start_line": 2, "message": "must end with '!'"},
        {
            "path": APP,
            "start_line": 1,
            "end_line": 2,
            "annotation_level": "warning",
            "title": "Style",
            "message": "too plain",
        },
    ]
    check = sim.github.check_run_event(
        pr, name="lint", summary="2 problems", text="details here", annotations=notes
    )
    await sim.run(check)
    said = brief(sim)
    assert said.startswith("The check 'lint' failed on the pull request's head.")
    for part in ("lint: failure", "2 problems", "details here"):
        assert f"\n\n{part}" in said
    assert "failure at src/app.py:2: must end with '!'" in said
    assert "warning at src/app.py:1-2: Style: too plain" in said


async def test_a_fix_command_without_words_asks_for_another_look(sim: Sim) -> None:
    issue, pr = await opened(sim)
    outcome = await sim.run(sim.github.comment_event(issue, "/issuepilot fix"))
    assert outcome.message.startswith("fix round 1: pushed")
    assert brief(sim) == (
        "/issuepilot fix by @octocat:\nLook at the pull request again and fix what is wrong."
    )
    [summary] = round_comments(sim, pr)
    assert "For: /issuepilot fix by @&#8203;octocat." in summary
