"""A preset as a recipe for `agent-command`: the recipes in docs/agents.md are what
`issuepilot agents recipe` prints now, and a recipe runs its CLI exactly as the preset's
command line does (the arguments, the prompt on stdin, the environment, the settings in the
home folder), with a stand-in CLI that records what it was given. The recipes with the
real CLIs are stories of tests/e2e (`test_the_documented_recipe_...`)."""

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from issuepilot.agents.presets import ALL, Invocation, Preset
from issuepilot.agents.presets.claude_code import ClaudeCode
from issuepilot.agents.recipe import NoRecipe, key_expression, recipe
from issuepilot.cli import main

from .contract import checkout_of, documented_recipes, everything_changed

# Records what it was given in $RECORD, leaves a file where $LEFTOVER says, exits 3.
STAND_IN = r"""#!/bin/bash
if [ "$1" = sandbox ]; then exit 0; fi  # Codex asks whether its own sandbox starts
printf '%s\0' "$@" > "$RECORD/args"
cat > "$RECORD/stdin"
for name in $NAMES; do printf '%s=%s\0' "$name" "${!name-(unset)}"; done > "$RECORD/env"
if [ -n "$LEFTOVER" ]; then mkdir -p "$(dirname "$LEFTOVER")" && touch "$LEFTOVER"; fi
exit 3
"""
KEY = "sk-recipe-key"
PLAN = '{"summary": "s", "files": [{"path": "app.py", "action": "modify"}]}'


@pytest.mark.parametrize("preset", ALL, ids=lambda p: p.name)
def test_the_docs_give_each_presets_recipe_as_the_command_prints_it_now(
    preset: Preset, capsys: pytest.CaptureFixture[str]
) -> None:
    documented = documented_recipes()[preset.name]
    args = shlex.split(documented.split("\n", 1)[0].removeprefix("# "))[1:]
    with pytest.raises(SystemExit) as done:
        main(args)
    assert done.value.code == 0
    assert capsys.readouterr().out == documented, f"run `issuepilot {shlex.join(args)}`"
    assert sorted(documented_recipes()) == sorted(p.name for p in ALL)


def test_the_model_and_endpoint_given_are_the_recipes() -> None:
    made = recipe(ALL[0], model="claude-opus-4", base_url="https://gateway.example/anthropic")
    assert made.startswith(
        "# issuepilot agents recipe claude-code --model claude-opus-4 --base-url "
        "https://gateway.example/anthropic\n"
    )
    assert "export ANTHROPIC_BASE_URL=https://gateway.example/anthropic\n" in made
    assert "--model=claude-opus-4" in made


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["recipe", "cursor"], "agent 'cursor' is not a preset IssuePilot knows"),
        (["recipe", "codex", "--version", "0.1.0"], "--version goes with install and where"),
        (["recipe"], "agents recipe needs a preset name"),
    ],
)
def test_a_recipe_asked_for_wrongly_is_one_line_and_exit_2(
    args: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        main(["agents", *args])
    assert done.value.code == 2
    out = capsys.readouterr()
    assert said in out.err and len(out.err.strip().splitlines()) == 1 and out.out == ""


def test_the_key_is_the_first_of_its_variables_that_is_set() -> None:
    assert key_expression(("A",)) == "${A}"
    assert key_expression(("A", "B", "C")) == "${A:-${B:-${C}}}"


def test_a_preset_whose_command_line_needs_the_output_file_has_no_recipe() -> None:
    class Piped(ClaudeCode):
        def argv(self, run: Invocation) -> list[str]:
            return [run.binary, "--output", run.output_file]

    with pytest.raises(NoRecipe, match="output"):
        recipe(Piped())


def recorded(folder: Path) -> tuple[list[str], str, dict[str, str]]:
    args = (folder / "args").read_text().split("\0")[:-1]
    pairs = (folder / "env").read_text().split("\0")[:-1]
    return args, (folder / "stdin").read_text(), dict(p.split("=", 1) for p in pairs)


def settings(home: Path) -> dict[str, str]:
    return {
        str(path.relative_to(home)): path.read_text().rstrip("\n")
        for path in sorted(home.rglob("*"))
        if path.is_file()
    }


def run(command: list[str], cwd: Path, env: dict[str, str]) -> int:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True).returncode


@pytest.mark.parametrize("preset", ALL, ids=lambda p: p.name)
def test_a_recipe_runs_its_cli_as_the_preset_does(preset: Preset, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / preset.install.binary).write_text(STAND_IN)
    (bin_dir / preset.install.binary).chmod(0o755)
    python3 = shutil.which("python3")
    assert python3
    (bin_dir / "python").symlink_to(python3)  # an install's own Python (aider's)
    checkout = checkout_of(tmp_path, {"app.py": "x = 1\n"})
    files = tmp_path / "files"
    files.mkdir()
    (files / "prompt.md").write_text("Fix it.\n")
    (files / "plan.json").write_text(PLAN)
    leftover = ""
    if preset.leftovers:
        leftover = preset.leftovers[0].rstrip("/").replace("*", ".tags.cache.v4") + "/state"
    common = {
        "ISSUEPILOT_PROMPT_FILE": str(files / "prompt.md"),
        "ISSUEPILOT_PLAN_FILE": str(files / "plan.json"),
        "NAMES": " ".join(preset.keys),
        "LEFTOVER": leftover,
    }
    homes, seen = [], []
    for way in ("preset", "recipe"):
        home, record = tmp_path / way / "home", tmp_path / way / "record"
        home.mkdir(parents=True)
        record.mkdir()
        env = {**common, "HOME": str(home), "RECORD": str(record)}
        if way == "preset":  # as the command backend runs it
            invocation = Invocation(
                "execute", str(bin_dir / preset.install.binary), str(files / "prompt.md"),
                str(files / "plan.json"), str(files / "output"), str(checkout), str(home), KEY,
                base_url=preset.endpoint,
            )  # fmt: skip
            for name, text in preset.home_files(invocation).items():
                (home / name).parent.mkdir(parents=True, exist_ok=True)
                (home / name).write_text(text)
            own = preset.env(invocation)
            env |= {"PATH": os.environ["PATH"], **own}
            env["NAMES"] += " " + " ".join(own)
            command = shlex.join(preset.argv(invocation)) + ' < "$ISSUEPILOT_PROMPT_FILE"'
            assert run(["bash", "-c", command], checkout, env) == 3
            if leftover:  # the command backend drops it, not the command line
                shutil.rmtree(checkout / leftover.split("/")[0])
        else:  # the recipe as agent-command, the key where the reusable workflow puts it
            env |= {"PATH": f"{bin_dir}:{os.environ['PATH']}", preset.keys[-1]: KEY}
            env["NAMES"] = " ".join(seen[0][2])
            assert run(["bash", "-c", recipe(preset)], checkout, env) == 3  # the CLI's exit
            assert everything_changed(checkout) == ""  # what it left is gone
        homes.append(home)
        args, stdin, variables = recorded(record)
        seen.append((
            [a.replace(str(home), "~") for a in args],
            stdin,
            {k: v.replace(str(home), "~") for k, v in variables.items()},
        ))  # fmt: skip
    assert seen[0] == seen[1]
    assert seen[0][1] == "Fix it.\n"
    assert settings(homes[0]) == settings(homes[1])
