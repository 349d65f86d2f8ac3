"""The status comment is public on a public repository. Its record holds what a rebuild
needs and nothing that grants anything: a reader who copies it cannot release or renew
the task's locks."""

from ..steps.harness import Sim


async def test_the_public_record_holds_no_lock_token(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet", "Edit `src/app.py`.")
    task = await sim.to_pr_open(issue)
    assert task.lock_token  # the store has it
    [comment] = sim.status_comments(issue)
    assert task.lock_token not in comment and "lock_token" not in comment
    assert sim.shown_record(issue).lock_token == ""
