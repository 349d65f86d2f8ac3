"""After the agent, IssuePilot runs git in the checkout the agent controlled. The agent
plants configuration that would make git run a program: in `.git/config`, in a
`.gitconfig` where HOME might point, as a hook. None of it runs."""

from pathlib import Path

import pytest

from issuepilot.errors import ModelError

from ..test_command_agent import agent, checkout, run

__all__ = ["checkout"]


def pwned(tmp: Path) -> str:
    return f"touch {tmp}/pwned"


@pytest.mark.parametrize(
    "plant",
    [
        "git config core.fsmonitor '{run}'",
        "git config core.hooksPath hooks-here",
        "git config filter.x.clean '{run}' && echo '* filter=x' > .gitattributes",
        "git config diff.external '{run}'",
        "git config include.path ../evil.cfg",
    ],
)
async def test_a_repository_config_that_runs_programs_is_refused(
    checkout: Path, tmp_path: Path, plant: str
) -> None:
    script = plant.format(run=pwned(tmp_path)) + " && echo B > b.txt"
    with pytest.raises(ModelError, match="run programs"):
        await run(agent(checkout, script, sandbox="none"), checkout)
    assert not (tmp_path / "pwned").exists()


async def test_hooks_and_a_home_gitconfig_do_not_run(checkout: Path, tmp_path: Path) -> None:
    hook = f"#!/bin/sh\n{pwned(tmp_path)}\n"
    script = (
        f"printf '{hook}' > .git/hooks/post-index-change && chmod +x .git/hooks/post-index-change"
        f" && printf '[core]\\n\\tfsmonitor = {pwned(tmp_path)}\\n' > .gitconfig"
        " && echo B > b.txt"
    )
    changes = await run(agent(checkout, script, sandbox="none"), checkout)
    assert {c.path for c in changes} == {"b.txt", ".gitconfig"}
    assert not (tmp_path / "pwned").exists()
