"""The repository's own checks (`checks:` in the config: a name -> a shell command), run by
IssuePilot on the agent's change: the agent may run them too, but it does not grade itself.

They run repository code the model just wrote, so they run where agent commands run: in
the sandbox (no token, no Redis URL, no model key unless `agent-env` names one; nothing
of IssuePilot's process readable), their whole process tree killed at
`check-timeout-minutes`, their output capped and redacted before the model or GitHub sees
it. What they leave behind (bytecode, caches, build folders, coverage files, a formatter's
rewrite) never becomes part of the change: the change is staged before each check and the
checkout put back to it after (`workspace.restore`).
"""

from pathlib import Path

from .agents.command import agent_env, scrub_credentials
from .config import RepoConfig
from .github.untrusted import Redactor
from .models import CheckResult
from .sandbox import open_sandbox
from .workspace import read_back, restore

TAIL_LINES = 40  # lines of a failing check's output shown on GitHub


class Checks:
    """The configured checks of one checkout."""

    def __init__(
        self, root: Path, config: RepoConfig, runner_env: dict[str, str], redact: Redactor
    ) -> None:
        self.root, self.config, self.runner_env, self.redact = root, config, runner_env, redact
        self.env = agent_env(runner_env, config.agent_env)

    @property
    def notice(self) -> str:
        """What the maintainers must know of where the checks ran, if anything."""
        box = open_sandbox(self.config.sandbox, self.root, {}, self.config.sandbox_image)
        return box.notice.replace("the agent command", "the checks")

    @property
    def names(self) -> list[str]:
        return list(self.config.checks)

    async def run(self, name: str) -> CheckResult:
        """One check, in the sandbox, on the checkout as it is now."""
        config = self.config
        command = config.checks.get(name)
        if command is None:
            known = ", ".join(self.names) or "none is configured"
            return CheckResult(name=name, passed=False, tail=f"no check {name!r} ({known})")
        await scrub_credentials(self.root)  # actions/checkout's persisted token, if any
        await read_back(self.root)  # stage the change: what the check leaves is not it
        box = open_sandbox(config.sandbox, self.root, self.runner_env, config.sandbox_image)
        try:
            async with box:
                ran = await box.run(
                    command, self.env, config.check_timeout_minutes * 60, config.check_output_bytes
                )
        finally:
            await restore(self.root)
        tail = self.redact(ran.output)
        if ran.code is None:
            tail += f"\n[killed after {config.check_timeout_minutes:g} minutes]"
        return CheckResult(
            name=name, passed=ran.code == 0, code=ran.code, seconds=ran.seconds, tail=tail
        )

    async def run_all(self) -> list[CheckResult]:
        return [await self.run(name) for name in self.names]

    async def for_the_agent(self, name: str) -> tuple[int | None, str]:
        """`run_check` of the agent's tools: the exit code and the end of the output."""
        result = await self.run(name)
        return result.code, last_lines(result.tail)


def last_lines(text: str, lines: int = TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def failures(results: list[CheckResult]) -> str:
    """The failed checks as the executor's next round reads them."""
    return "\n\n".join(
        f"Check {r.name!r} failed ({'timed out' if r.code is None else f'exit {r.code}'}):\n"
        f"{last_lines(r.tail)}"
        for r in results
        if not r.passed
    )
