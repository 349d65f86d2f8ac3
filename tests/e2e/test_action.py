"""The action as the runner starts it: action.yml's inputs, defaults and environment."""

import platform
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from issuepilot.cli import write_outputs

from .action import ACTION, read_outputs, run_action, step_env
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


def test_a_failed_step_still_writes_its_outputs_and_summary(world: World) -> None:
    """Exit 1: the task's state and the error reach the outputs and the job summary."""
    gh = world.github
    issue = gh.open_issue("Greet politely", "Change `src/app.py`.")
    world.step(gh.label_event(issue, "issuepilot"))
    world.model.script = [500, 500, 500, 500]  # the endpoint keeps failing
    [failed] = world.drain()
    assert failed.code == 1
    assert failed.outputs["task-state"] == "failed"
    assert failed.outputs["issue-number"] == str(issue)
    assert "scripted error 500" in failed.outputs["error"]
    assert "**Failed:**" in failed.summary and "scripted error 500" in failed.summary
    assert f"Issue #{issue}: **failed**" in failed.summary


def test_bad_input_still_writes_the_error_to_the_outputs(world: World) -> None:
    """Exit 2, before any task: the error output and a summary that says what to do."""
    world.extra_env["ISSUEPILOT_REDIS_URL"] = "redis://:hunter2hunter2@127.0.0.1:1/0"
    issue = world.github.open_issue("t")
    done = world.step(world.github.label_event(issue, "issuepilot"))
    assert done.code == 1  # Redis cannot be reached: a later run may succeed
    assert done.outputs["error"].startswith("cannot reach Redis at 127.0.0.1")
    assert "**Failed:** cannot reach Redis" in done.summary
    assert "hunter2" not in done.summary + done.outputs["error"] + done.stdout
    world.extra_env["ISSUEPILOT_REDIS_URL"] = "not a url"
    bad = world.step(world.github.label_event(issue, "issuepilot"))
    assert bad.code == 2 and bad.outputs["error"].startswith("redis-url is not a valid")
    assert bad.outputs["task-state"] == ""


def test_a_multi_line_output_value_cannot_forge_another_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The `name<<delimiter` form: a value with newlines and `x=y` lines stays one value."""
    output = tmp_path / "output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    write_outputs({"error": "one\npr-url=https://evil.example\nthree", "pr-url": ""}, "")
    outputs = read_outputs(output.read_text())
    assert outputs == {"error": "one\npr-url=https://evil.example\nthree", "pr-url": ""}


def seed_environment(cache: Path, key: str, venv: Path) -> None:
    """What an earlier run saved under `key`: a venv at the runner's path, of this
    interpreter, whose packages are this test environment's (a cache miss would download
    them from the package index), built from this lock file."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    where = "import sysconfig; print(sysconfig.get_path('purelib'))"
    found = subprocess.run([str(venv / "bin" / "python"), "-c", where], capture_output=True)
    Path(found.stdout.decode().strip(), "deps.pth").write_text(sysconfig.get_path("purelib"))
    lock = (ACTION.parent / "requirements.lock").read_bytes()
    digest = subprocess.run(["cksum"], input=lock, capture_output=True, check=True).stdout
    (venv / ".issuepilot-lock").write_bytes(digest)
    shutil.copytree(venv, cache / key, symlinks=True)
    shutil.rmtree(venv)


def test_the_composite_action_runs_as_the_runner_runs_it(world: World) -> None:
    """action.yml's own steps: the cached environment restored under the key it computes,
    nothing installed or saved again, IssuePilot run from the action's folder."""
    gh = world.github
    temp, cache = world.tmp / "runner-temp", world.tmp / "cache"
    temp.mkdir()
    cache.mkdir()
    given = {
        "redis-url": world.redis_url,
        "model": "fake-model",
        "model-base-url": world.model.url,
        "model-api-key": "fake-model-key",
    }
    issue = gh.open_issue("Greet politely", "The greeting in `src/app.py` needs a `!`.")
    env = {k: v for k, v in world.env(gh.label_event(issue, "issuepilot")).items()}
    env = {k: v for k, v in env.items() if not k.startswith("ISSUEPILOT_")}
    first = run_action(given, env, temp, cache, until="restore")
    assert first.steps["restore"] == {"cache-hit": "false"}  # nothing saved yet
    key = first.steps["env"]["key"]
    assert key.startswith(f"issuepilot-Linux-X64-py{platform.python_version()}-")
    seed_environment(cache, key, temp / "issuepilot-venv")
    ran = run_action(given, env, temp, cache)
    assert ran.code == 0, ran.log
    assert ran.steps["restore"]["cache-hit"] == "true"
    assert ran.steps["install"] == {"installed": "false"}  # and so nothing is saved again
    assert ran.outputs["task-state"] == "queued" and ran.outputs["issue-number"] == str(issue)
    assert ran.outputs["error"] == ""
    pth = next((temp / "issuepilot-venv").rglob("issuepilot.pth")).read_text()
    assert pth.strip() == str(ACTION.parent / "src")
