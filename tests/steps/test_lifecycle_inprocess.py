"""The whole lifecycle in-process: the harness itself, and the stories the steps share."""

from issuepilot.machine import TaskState

from .harness import Sim

S = TaskState


async def test_label_to_done(sim: Sim) -> None:
    gh = sim.github
    issue = gh.open_issue("Greet politely", "The greeting in `src/app.py` needs a `!`.")
    task = await sim.to_pr_open(issue)
    assert task.state is S.PR_OPEN and task.pr
    assert gh.files_at(task.branch)["src/app.py"].endswith("Updated by IssuePilot.\n")
    assert sim.labels(issue) == {"issuepilot", "issuepilot:pr-open"}
    done = await sim.run(gh.merge_pull(task.pr))
    assert done.task is not None and done.task.state is S.DONE
    assert sim.labels(issue) == {"issuepilot", "issuepilot:done"}
    assert await sim.locks.holders(["src/app.py"]) == {}
    assert [h.state for h in (await sim.task(issue)).history] == [
        S.QUEUED,
        S.PLANNING,
        S.PLAN_REVIEW,
        S.APPROVED,
        S.EXECUTING,
        S.PR_OPEN,
        S.DONE,
    ]
