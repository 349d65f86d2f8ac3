"""Read `action.yml` the way the Actions runner does for a composite action.

`step_env` gives the environment of one of its steps: every input with its default (or
the value a workflow's `with:` passes), `${{ inputs.* }}` and `${{ github.token }}`
expressions substituted as the runner substitutes them.
"""

import re
from pathlib import Path
from typing import Any

import yaml

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


def substitute(text: str, inputs: dict[str, str], github: dict[str, str]) -> str:
    """`${{ inputs.x }}`, `${{ github.x }}` and `${{ steps.s.outputs.o }}` as the runner does."""

    def value(match: re.Match[str]) -> str:
        expr = match.group(1)
        scope, _, name = expr.partition(".")
        if scope == "inputs":
            return inputs[name]
        if scope == "github":
            return github[name]
        raise AssertionError(f"expression the test does not evaluate: {expr}")

    return _EXPR.sub(value, text)


def step_env(step_id: str, given: dict[str, str], github: dict[str, str]) -> dict[str, str]:
    values = inputs(given, github)
    [step] = [s for s in action()["runs"]["steps"] if s.get("id") == step_id]
    return {k: substitute(str(v), values, github) for k, v in step.get("env", {}).items()}
