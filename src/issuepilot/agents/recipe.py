"""A preset as a recipe for `agent-command`: a shell script that runs the preset's CLI as
the preset runs it, for a user who wants to change what a preset does, or to start from
one for a CLI IssuePilot has no preset for (`issuepilot agents recipe <name>`).

The script is made from the preset itself, so it cannot drift from it: it writes the
preset's settings files into the sandbox's fresh home, sets the preset's environment (the
key from the variables `agent-env` passes, under the name the CLI reads), runs the CLI's
headless command line on the prompt file, and deletes what the CLI leaves for itself in
the checkout. It plays the executor, `command-roles`' default. What only a preset does is
left out: installing the CLI (the recipe runs the one on PATH), counting its usage into the
task's budget, and keeping its final message.
"""

import posixpath
import re
import shlex
from dataclasses import dataclass

from .presets import Invocation, Preset

EOF = "ISSUEPILOT_EOF"
WIDTH = 88
# Where the recipe's shell finds what IssuePilot hands a preset's CLI.
SHELL = {
    "home": "${HOME}",
    "prompt": "${ISSUEPILOT_PROMPT_FILE}",
    "plan": "${ISSUEPILOT_PLAN_FILE}",
    "workspace": "${PWD}",
}
TOKEN = re.compile("\0([a-z]+)\0")


class NoRecipe(ValueError):
    """The preset's command line uses something an agent command does not get."""


@dataclass(frozen=True, slots=True)
class Words:
    """Renders values that hold tokens (`\\0home\\0`) as shell words that expand them."""

    shell: dict[str, str]

    def word(self, value: str) -> str:
        if "\0" not in value:
            return shlex.quote(value)
        parts = TOKEN.split(value)  # literal, token, literal, ...
        rendered = []
        for i, part in enumerate(parts):
            if i % 2 == 0:
                rendered.append(re.sub(r'([\\"$`])', r"\\\1", part))
            elif part in self.shell:
                rendered.append(self.shell[part])
            else:
                raise NoRecipe(f"its command line needs the {part} file of a preset's run")
        return '"' + "".join(rendered) + '"'


def _token(name: str) -> str:
    return f"\0{name}\0"


def key_expression(keys: tuple[str, ...]) -> str:
    """The first of the key's variables that is set: `${A:-${B}}`."""
    expression = "${" + keys[-1] + "}"
    for name in reversed(keys[:-1]):
        expression = "${" + name + ":-" + expression + "}"
    return expression


def recipe(preset: Preset, model: str = "", base_url: str = "") -> str:
    """The agent-command script for `preset`, as `issuepilot agents recipe` prints it."""
    words = Words({**SHELL, "key": key_expression(preset.keys)})
    run = Invocation(
        role="execute",
        binary=preset.install.binary,
        prompt_file=_token("prompt"),
        plan_file=_token("plan"),
        output_file=_token("output"),
        workspace=_token("workspace"),
        home=_token("home"),
        key=_token("key"),
        model=model,
        base_url=base_url or preset.endpoint,
    )
    lines = _header(preset, model, base_url)
    folders = sorted({posixpath.dirname(name) for name in preset.home_files(run)})
    if folders:
        lines.append("mkdir -p " + " ".join(words.word(_token("home") + "/" + f) for f in folders))
    for name, text in preset.home_files(run).items():
        if "\0" in text or EOF in text:
            raise NoRecipe(f"its settings file {name} depends on the run")
        lines += [
            f"cat > {words.word(_token('home') + '/' + name)} <<'{EOF}'",
            text.rstrip("\n"),
            EOF,
        ]
    env = preset.env(run)
    for name, value in env.items():
        if words.word(value) != '"${' + name + '}"':  # not the variable agent-env passed
            lines.append(f"export {name}={words.word(value)}")
    if unset := [name for name in preset.keys if name not in env]:
        lines.append("unset " + " ".join(unset))  # the key reaches it under one name only
    argv = [words.word(arg) for arg in preset.argv(run)]
    lines.append(_command([*argv, "< " + words.word(run.prompt_file)]))
    if preset.leftovers:
        patterns = " ".join(shlex.quote(p) for p in preset.leftovers)
        lines += [
            "status=$?",
            f"git clean -fdxq -- {patterns}  # what it leaves for itself is no change",
            'exit "$status"',
        ]
    return "\n".join(lines) + "\n"


def _header(preset: Preset, model: str, base_url: str) -> list[str]:
    made = ["issuepilot", "agents", "recipe", preset.name]
    made += ["--model", model] if model else []
    made += ["--base-url", base_url] if base_url else []
    spec = preset.install
    return [
        f"# {shlex.join(made)}",
        f"# {preset.title} {spec.version} ({spec.registry} {spec.package}), executing as the "
        "preset runs it.",
        f"# Needs `{spec.binary}` on PATH and agent-env: [{', '.join(preset.keys)}].",
    ]


def _command(words: list[str]) -> str:
    """The words on lines of at most `WIDTH` characters (an option with its value, a
    script of several lines on lines of its own), joined by continuations."""
    units: list[str] = []
    for word in words:
        last = units[-1] if units else ""
        if last.startswith("--") and " " not in last and "=" not in last:
            if not word.startswith("-") and "\n" not in word:
                units[-1] += " " + word
                continue
        units.append(word)
    lines = [units[0]]
    for unit in units[1:]:
        alone = "\n" in unit or "\n" in lines[-1]
        if alone or len(lines[-1]) + 1 + len(unit) > WIDTH:
            lines.append(unit)
        else:
            lines[-1] += " " + unit
    return " \\\n  ".join(lines)
