"""A credential sits in a variable whose name says nothing (`DATABASE`, `ENDPOINT`): it is
kept from the agent by its value, unless `agent-env` names it."""

from issuepilot.agents.command import agent_env

RUNNER = {
    "PATH": "/usr/bin",
    "DATABASE": "postgres://app:s3cret-pw@db:5432/app",
    "ENDPOINT": "https://hooks.example/ghp_" + "x" * 36,
    "DEPLOY": "github_pat_" + "y" * 40,
    "SIGNING": "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----",
    "PLAIN_URL": "https://example.com/path",
    "GITHUB_OUTPUT": "/home/runner/work/_temp/_runner_file_commands/set_output_1",
}


def test_credentials_are_known_by_value_and_passed_only_by_name() -> None:
    env = agent_env(RUNNER, pass_env=[])
    assert env == {"PATH": "/usr/bin", "PLAIN_URL": "https://example.com/path"}
    assert agent_env(RUNNER, pass_env=["DATABASE"])["DATABASE"] == RUNNER["DATABASE"]
