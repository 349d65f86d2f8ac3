"""The model (steered by an issue) writes mentions and closing keywords into the plan. No
one is notified and no other issue is closed: the only closing reference is IssuePilot's."""

import re

from issuepilot.models import Plan, PlannedFile

from ..steps.harness import Sim

HOSTILE = "@octocat @org/team please: Fixes #1, closes octo/other#3, resolved https://x/issues/9"


async def test_mentions_and_closing_keywords_from_the_model_are_defused(sim: Sim) -> None:
    issue = sim.github.open_issue("Greet", "Edit `src/app.py`.")
    sim.plans.append(
        Plan(summary=HOSTILE, steps=[HOSTILE], files=[PlannedFile(path="src/app.py", why=HOSTILE)])
    )
    task = await sim.to_pr_open(issue)
    [pull] = sim.github.pulls.values()
    body = pull["body"].replace(f"Closes #{issue}", "")
    for text in (body, sim.status_comments(issue)[0]):
        assert not re.search(r"(?<![\w`])@(octocat|org)\b", text), "a mention would notify"
    # Only a pull request's description (and its commits) can close issues.
    reference = r"(#\d|[\w.-]+/[\w.-]+#\d|https?://\S+/issues/\d)"
    assert not re.search(rf"(?i)\b(fixes|closes|resolved):?\s+{reference}", body)
    closing = re.findall(r"(?i)\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\s+#(\d+)", pull["body"])
    assert closing == [str(issue)] and task.pr
