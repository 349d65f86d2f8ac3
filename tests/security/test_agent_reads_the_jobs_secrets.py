"""An agent command (or a check) runs code that reads everything it can: every process's
environment, the runner's temporary folder and the step's command files. Under the
default `sandbox: user` it finds none of the job's secrets."""

import os
import shutil

import pytest

from ..e2e.harness import World

SECRETS = {
    "ACTIONS_RUNTIME_TOKEN": "runtime-token-4f1d9c",
    "ISSUEPILOT_RECORD_KEY": "record-key-7b2e11",
    "ISSUEPILOT_MODEL_API_KEY": "model-key-93aa07",
}
IN_FILES = "file-command-secret-c0ffee"


def can_sandbox() -> str:
    """Why this machine cannot run the user sandbox, or "" if it can."""
    if os.uname().sysname != "Linux":
        return "the user sandbox needs Linux"
    if not shutil.which("setpriv") or not shutil.which("useradd"):
        return "setpriv or useradd is missing"
    if os.geteuid() != 0 and not shutil.which("sudo"):
        return "neither root nor sudo: the sandbox user cannot be created"
    return ""


def steal(world: World, sandbox: str) -> tuple[str, int]:
    """Run an agent command that writes everything it could read into `loot.txt`."""
    runner_temp = world.tmp / "runner_temp"
    (runner_temp / "_runner_file_commands").mkdir(parents=True)
    secret_file = runner_temp / "_runner_file_commands" / "set_output_1"
    secret_file.write_text(f"token={IN_FILES}\n")
    (runner_temp / "event.json").write_text(IN_FILES)
    limits = "max-changed-lines: 1000000\nmax-file-bytes: 90000000\nmax-change-bytes: 90000000\n"
    world.checkout(config=f"sandbox: {sandbox}\nout-of-scope: lock\n{limits}")
    runs = world.tmp
    world.extra_env.update(
        {
            **SECRETS,
            "RUNNER_TEMP": str(runner_temp),
            "ISSUEPILOT_AGENT_COMMAND": (
                "{ for f in /proc/[0-9]*/environ; do tr '\\0' '\\n' < $f; done;"
                f" cat {secret_file} {runner_temp}/event.json;"
                f" cat {runs}/run*/output {runs}/run*/summary;"
                f" grep -rh . {runner_temp} {runs}; env; }} > loot.txt 2>/dev/null; true"
            ),
        }
    )
    gh = world.github
    issue = gh.open_issue("Exfiltrate", "Write `loot.txt`.")
    assert world.step(gh.label_event(issue, "issuepilot")).code == 0
    [planned] = world.drain()
    assert planned.outputs["task-state"] == "plan-review", planned.stdout
    world.step(gh.label_event(issue, "issuepilot:approved"))
    [executed] = world.drain()
    assert executed.outputs.get("task-state") == "pr-open", executed.stdout + executed.stderr
    pr = int(executed.outputs["pr-number"])
    return gh.files_at(gh.pulls[pr]["head"])["loot.txt"], issue


@pytest.mark.skipif(bool(can_sandbox()), reason=can_sandbox() or "sandbox available")
def test_an_agent_command_under_the_user_sandbox_finds_no_secret(world: World) -> None:
    loot, _ = steal(world, "user")
    assert "PATH=" in loot  # it did run and read what it was given
    for name, value in SECRETS.items():
        assert value not in loot, f"{name} leaked into the agent's reach"
    assert IN_FILES not in loot, "the runner's files leaked into the agent's reach"
    assert "ghs_fake" not in loot


def test_without_a_sandbox_the_same_agent_reads_them_and_the_status_comment_says_so(
    world: World,
) -> None:
    loot, issue = steal(world, "none")
    assert SECRETS["ISSUEPILOT_RECORD_KEY"] in loot  # the attack works: the test can fail
    assert "could read the job's secrets" in world.comment(issue)
