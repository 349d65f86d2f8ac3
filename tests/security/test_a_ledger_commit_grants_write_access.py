"""A commit to the ledger by anything else allowed to push plants a cached answer of
GitHub's permission API: an outsider with "admin". With a record key the entry does not
verify, GitHub is asked again, and the outsider's approval is refused."""

import pytest

from ..e2e.harness import World
from .forgery import KEY, edit_ledger


@pytest.mark.stores("github")
def test_a_permission_planted_in_the_ledger_lets_no_outsider_approve(world: World) -> None:
    world.extra_env["ISSUEPILOT_RECORD_KEY"] = KEY
    gh = world.github
    issue = gh.open_issue("Innocent", "Edit `src/app.py`.")
    world.step(gh.label_event(issue, "issuepilot"))
    world.drain()

    def plant(data: dict[str, object]) -> None:
        flags = data["flags"]
        flags[f"issuepilot:{{{gh.repo}}}:perm:mallory"] = ["admin", None]  # type: ignore[index]

    edit_ledger(gh, plant)
    approval = world.step(gh.comment_event(issue, "/issuepilot approve", sender="mallory"))
    assert approval.code == 0, approval.stdout + approval.stderr
    assert "@mallory cannot approve" in approval.stdout
    assert gh.dispatches == [] and "issuepilot:plan-review" in gh.issues[issue].labels
