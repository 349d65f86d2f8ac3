"""Read `action.yml` the way the Actions runner does for a composite action.

`step_env` gives the environment of one of its steps: every input with its default (or
the value a workflow's `with:` passes), `${{ inputs.* }}` and `${{ github.token }}`
expressions substituted as the runner substitutes them.
"""

import platform
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from issuepilot.cli import read_outputs

from ..expressions import evaluate, truthy

ACTION = Path(__file__).parents[2] / "action.yml"
_EXPR = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")


def action() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    return data


def inputs(given: dict[str, str], github: dict[str, str]) -> dict[str, str]:
    """Every input's value: what `with:` gives, else its default (expressions evaluated)."""
    values = {}
    for name, spec in action()["inputs"].items():
        default = str(spec.get("default", ""))
        values[name] = given.get(name, substitute(default, {}, github))
    unknown = set(given) - set(values)
    assert not unknown, f"inputs action.yml does not declare: {unknown}"
    return values


# The runner context of a GitHub-hosted Linux runner, for what the steps' env names.
RUNNER = {"os": "Linux", "arch": "X64", "tool_cache": "/opt/hostedtoolcache"}


def substitute(
    text: str, inputs: dict[str, str], github: dict[str, str], runner: dict[str, str] = RUNNER
) -> str:
    """`${{ inputs.x }}`, `${{ github.x }}` and `${{ runner.x }}` as the runner does."""

    def value(match: re.Match[str]) -> str:
        expr = match.group(1)
        scope, _, name = expr.partition(".")
        if scope == "inputs":
            return inputs[name]
        if scope == "github":
            return github[name]
        if scope == "runner":
            return runner[name]
        raise AssertionError(f"expression the test does not evaluate: {expr}")

    return _EXPR.sub(value, text)


def step_env(step_id: str, given: dict[str, str], github: dict[str, str]) -> dict[str, str]:
    values = inputs(given, github)
    [step] = [s for s in action()["runs"]["steps"] if s.get("id") == step_id]
    return {k: substitute(str(v), values, github) for k, v in step.get("env", {}).items()}


@dataclass
class Ran:
    """One run of the composite action: its outputs, and each step's outputs."""

    code: int
    outputs: dict[str, str]
    steps: dict[str, dict[str, str]]
    log: str


def run_action(
    given: dict[str, str],
    env: dict[str, str],
    runner_temp: Path,
    cache: Path,
    until: str = "",
) -> Ran:
    """Run action.yml's steps as the runner runs a composite action: each `if:` evaluated,
    each `run:` step in bash with its `env:` and GITHUB_ACTION_PATH, GITHUB_OUTPUT,
    RUNNER_TEMP set, the outputs mapped through `outputs:`. The `uses:` steps are played
    by stand-ins: setup-python gives this interpreter; actions/cache restores and saves
    folders under `cache`, by key; setup-uv adds nothing (uv is used if on PATH). `until`
    stops after the step with that id."""
    github = {"token": env.get("GITHUB_TOKEN", ""), "action_path": str(ACTION.parent)}
    values = inputs(given, github)
    runner = {**RUNNER, "temp": str(runner_temp), "tool_cache": str(runner_temp / "tools")}
    steps: dict[str, dict[str, Any]] = {}
    contexts: dict[str, Any] = {"inputs": values, "github": github, "runner": runner}
    log: list[str] = []
    for number, step in enumerate(action()["runs"]["steps"]):
        sid = step.get("id", f"__{number}")
        contexts["steps"] = steps
        if "if" in step and not truthy(evaluate(str(step["if"]), contexts)):
            steps[sid] = {"outputs": {}, "outcome": "skipped"}
            continue
        with_ = {k: expand(str(v), contexts) for k, v in step.get("with", {}).items()}
        if "uses" in step:
            outputs = _stand_in(str(step["uses"]), with_, cache)
            steps[sid] = {"outputs": outputs, "outcome": "success"}
            log.append(f"{step['uses'].split('@')[0]} -> {outputs}")
            if sid == until:
                break
            continue
        output = runner_temp / f"output-{number}"
        output.write_text("")
        step_env = {k: expand(str(v), contexts) for k, v in step.get("env", {}).items()}
        full = {
            **env,
            **step_env,
            "GITHUB_ACTION_PATH": str(ACTION.parent),
            "GITHUB_OUTPUT": str(output),
            "RUNNER_TEMP": str(runner_temp),
            "RUNNER_OS": runner["os"],
            "RUNNER_ARCH": runner["arch"],
        }
        script = expand(str(step["run"]), contexts)
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
            env=full,
            capture_output=True,
            text=True,
            timeout=300,
        )
        log.append(done.stdout + done.stderr)
        steps[sid] = {"outputs": read_outputs(output.read_text()), "outcome": "success"}
        if done.returncode != 0:
            return Ran(done.returncode, {}, _outputs_of(steps), "\n".join(log))
        if sid == until:
            break
    contexts["steps"] = steps
    mapped = {n: expand(str(o["value"]), contexts) for n, o in action()["outputs"].items()}
    return Ran(0, mapped, _outputs_of(steps), "\n".join(log))


def expand(text: str, contexts: dict[str, Any]) -> str:
    """`${{ expression }}` in `text`, evaluated."""
    return _EXPR.sub(lambda m: str(evaluate(m.group(1), contexts) or ""), text)


def _stand_in(uses: str, with_: dict[str, str], cache: Path) -> dict[str, str]:
    name = uses.split("@")[0]
    if name == "actions/setup-python":
        return {"python-path": sys.executable, "python-version": platform.python_version()}
    if name == "actions/cache/restore":
        saved, path = cache / with_["key"], Path(with_["path"])
        if not saved.is_dir():
            return {"cache-hit": "false"}
        shutil.copytree(saved, path, symlinks=True)
        return {"cache-hit": "true", "cache-matched-key": with_["key"]}
    if name == "actions/cache/save":
        shutil.copytree(with_["path"], cache / with_["key"], symlinks=True)
        return {}
    if name == "astral-sh/setup-uv":
        return {}
    raise AssertionError(f"a step the test cannot stand in for: {uses}")


def _outputs_of(steps: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    return {sid: dict(s["outputs"]) for sid, s in steps.items()}
