"""The action as the runner starts it: action.yml's inputs, defaults and environment."""

from .action import step_env
from .harness import World


def test_every_input_at_its_default_works_without_a_config_file(world: World) -> None:
    """A new repository has no .github/issuepilot.yml: the default path is optional."""
    workspace = world.tmp / "workspace"
    assert not (workspace / ".github").exists()
    world.action_inputs = {
        "redis-url": world.redis_url,
        "model": "fake-model",
        "model-base-url": world.model.url,
        "model-api-key": "fake-model-key",  # the GitHub token goes to GitHub Models only
    }
    gh = world.github
    issue = gh.open_issue("Greet politely", "The greeting in `src/app.py` needs a `!`.")
    queued = world.step(gh.label_event(issue, "issuepilot"))
    assert queued.code == 0, queued.stdout + queued.stderr
    assert queued.outputs["task-state"] == "queued"
    [planned] = world.drain()
    assert planned.code == 0, planned.stdout + planned.stderr
    assert planned.outputs["task-state"] == "plan-review"


def test_a_config_path_named_explicitly_must_exist(world: World) -> None:
    world.action_inputs = {"redis-url": world.redis_url, "config-path": "ci/issuepilot.yml"}
    issue = world.github.open_issue("t")
    done = world.step(world.github.label_event(issue, "issuepilot"))
    assert done.code == 2
    assert "ci/issuepilot.yml (input config-path) does not exist" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_the_step_gets_every_input_of_action_yml() -> None:
    """Each input reaches the CLI as ISSUEPILOT_<INPUT> (python-version only sets up Python)."""
    env = step_env("step", {"redis-url": "redis://x"}, {"token": "t"})
    from .action import action

    names = {n for n in action()["inputs"] if n != "python-version"}
    assert {f"ISSUEPILOT_{n.upper().replace('-', '_')}" for n in names} <= set(env)
    assert env["ISSUEPILOT_GITHUB_TOKEN"] == "t" and env["ISSUEPILOT_CONFIG_PATH"] == ""
