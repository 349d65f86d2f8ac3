"""The agent (or a check) prints a secret; what it printed reaches the status comment.
Every secret IssuePilot knows, and whatever looks like a credential, is redacted first."""

from issuepilot.config import RepoConfig
from issuepilot.errors import ModelError

from ..steps.harness import Sim

GITHUB_TOKEN = "ghp_" + "A1b2" * 9
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----"


async def test_secrets_in_agent_output_never_reach_github(sim: Sim) -> None:
    sim.config = RepoConfig(agent_env=["MY_VENDOR_KEY"])
    sim.runner_env = {"MY_VENDOR_KEY": "vendor-secret-5150"}
    issue = sim.github.open_issue("Leak", "Edit `src/app.py`.")
    await sim.run(sim.github.label_event(issue, "issuepilot"))
    said = (
        f"agent crashed: token {GITHUB_TOKEN}, key vendor-secret-5150,"
        f" redis rediss://default:hunter2hunter2@cache:6380, {PEM}"
    )
    sim.plans.append(ModelError(said))
    try:
        await sim.drain()
    except ModelError:
        pass
    [comment] = sim.status_comments(issue)
    for secret in (GITHUB_TOKEN, "vendor-secret-5150", "hunter2hunter2", "MIIEow"):
        assert secret not in comment, f"{secret} reached the status comment"
    assert "***" in comment and "agent crashed" in comment
