"""The `command` backend: an external coding agent CLI, run in the checkout.

What the command gets (documented in docs/agents.md):

- `ISSUEPILOT_ROLE`         `plan` or `execute`
- `ISSUEPILOT_PROMPT_FILE`  the prompt: the issue as quoted data, the plan, the rules
- `ISSUEPILOT_TASK_FILE`    the task as JSON: issue number, title, body, feedback
- `ISSUEPILOT_PLAN_FILE`    executing: the approved plan (JSON); planning: where to write one
- `ISSUEPILOT_ISSUE`        the issue number

Its environment is the runner's minus every credential (GitHub, Redis, model, cloud) unless
the config's `agent-env` names it. Credentials that `actions/checkout` left in the
repository's git config are removed first. The command runs with a wall-clock timeout in
its own process group; its output is kept, capped, for the status comment. When it is done,
the changes are read back with git: added, modified, deleted, renamed files and mode
changes.
"""

import json
import re
import shutil
import tempfile
from pathlib import Path

from pydantic import ValidationError

from ..errors import InputError, ModelError, first_error
from ..git import (
    check_repository_config,
    config_entries,
    config_files,
    forget_checkout_credentials,
    unset,
)
from ..github.untrusted import Redactor, looks_like_credential
from ..models import Plan
from ..sandbox import Mode, filtered, open_sandbox
from . import prompts
from .base import IssueText, RepoFiles
from .budget import Budget
from .tools import ToolBox

# Names that hold credentials. Anything matching is withheld unless the config passes it.
SECRET_NAME = re.compile(
    r"(TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|API_KEY|APIKEY|PRIVATE_KEY|ACCESS_KEY|SESSION)"
    r"|^(ISSUEPILOT_|REDIS|ACTIONS_RUNTIME|ACTIONS_ID_TOKEN|ACTIONS_CACHE|GH_|GITHUB_TOKEN)",
    re.IGNORECASE,
)
# Git config keys through which a checkout can carry a credential, and values that hold one.
CREDENTIAL_KEYS = re.compile(
    r"http\..*\.extraheader|include\.path|includeif\..*\.path|credential\..*"
)
CREDENTIAL_VALUE = re.compile(r"authorization:|x-access-token", re.IGNORECASE)
FILES = ("prompt.md", "task.json", "plan.json")
MAX_PLAN_BYTES = 1_000_000
PLAN_FORMAT = """
Write the plan as one JSON object to the file named by $ISSUEPILOT_PLAN_FILE:
{"summary": "...", "steps": ["..."],
 "files": [{"path": "relative/path", "action": "create|modify|delete", "why": "..."}],
 "risks": ["..."]}
"""


class CommandAgent:
    def __init__(
        self,
        command: str,
        workspace: Path,
        runner_env: dict[str, str],
        pass_env: list[str],
        timeout_s: float,
        output_cap: int,
        budget: Budget | None = None,
        sandbox: Mode = "user",
        sandbox_image: str | None = None,
        redact: Redactor | None = None,
    ) -> None:
        if not (workspace / ".git").is_dir():
            raise InputError(
                f"agent-command needs a git checkout at {workspace}: add actions/checkout first"
            )
        self.command = command
        self.workspace = workspace
        self.runner_env = runner_env
        self.env = agent_env(runner_env, pass_env)
        self.timeout_s = timeout_s
        self.output_cap = output_cap
        self.budget = budget or Budget()
        self.sandbox, self.sandbox_image = sandbox, sandbox_image
        self.redact = redact or Redactor()
        self.output = ""
        self.notices: list[str] = []

    async def aclose(self) -> None:
        pass

    async def plan(self, issue: IssueText, context: RepoFiles, tools: ToolBox) -> Plan:
        prompt = (
            prompts.PLANNER_SYSTEM
            + "\n"
            + PLAN_FORMAT
            + "\n"
            + prompts.planner_prompt(issue, context)
        )
        answer = await self._run("plan", issue, prompt, plan_json=None)
        if answer is None:
            raise ModelError(
                f"the agent command wrote no plan to $ISSUEPILOT_PLAN_FILE{self._tail()}"
            )
        try:
            return Plan.model_validate_json(answer)
        except ValidationError as exc:
            raise ModelError(
                f"the agent command's plan is invalid: {first_error(exc, 'plan')}"
            ) from None

    async def execute(
        self, issue: IssueText, plan: Plan, tools: ToolBox, feedback: str = ""
    ) -> str:
        """Run the command on the checkout; IssuePilot reads the change back with git. A
        later round (checks failed) runs it again with the failures in the prompt."""
        plan_json = plan.model_dump_json(indent=1)
        prompt = prompts.EXECUTOR_SYSTEM.split("Reply with")[0] + (
            "Edit the files in the working directory; do not commit.\n\n"
            + prompts.executor_prompt(issue, plan_json, RepoFiles())
        )
        if feedback:
            prompt += "\n\n" + feedback
        await self._run("execute", issue, prompt, plan_json=plan_json)
        return issue.title

    async def _run(
        self, role: str, issue: IssueText, prompt: str, plan_json: str | None
    ) -> str | None:
        """Run the command in the sandbox; returns what it left in the plan file."""
        self.budget.check()
        await scrub_credentials(self.workspace)
        # Inside .git/: visible to the sandbox (which holds the workspace), never a change.
        files = Path(tempfile.mkdtemp(prefix="issuepilot-run-", dir=self.workspace / ".git"))
        try:
            return await self._in_sandbox(role, issue, prompt, plan_json, files)
        finally:
            shutil.rmtree(files, ignore_errors=True)

    async def _in_sandbox(
        self, role: str, issue: IssueText, prompt: str, plan_json: str | None, files: Path
    ) -> str | None:
        prompt_file, task_file, plan_file = (files / n for n in FILES)
        prompt_file.write_text(prompt, encoding="utf-8")
        task = {
            "number": issue.number,
            "title": issue.title,
            "body": issue.body,
            "feedback": list(issue.feedback),
        }
        task_file.write_text(json.dumps(task), encoding="utf-8")
        if plan_json is not None:
            plan_file.write_text(plan_json, encoding="utf-8")
        timeout = min(self.timeout_s, self.budget.remaining_seconds())
        box = open_sandbox(self.sandbox, self.workspace, self.runner_env, self.sandbox_image)
        if box.notice and box.notice not in self.notices:
            self.notices.append(box.notice)
        async with box:
            env = {
                **self.env,
                "ISSUEPILOT_ROLE": role,
                "ISSUEPILOT_PROMPT_FILE": box.visible(prompt_file),
                "ISSUEPILOT_TASK_FILE": box.visible(task_file),
                "ISSUEPILOT_PLAN_FILE": box.visible(plan_file),
                "ISSUEPILOT_ISSUE": str(issue.number),
            }
            ran = await box.run(self.command, env, timeout, self.output_cap)
        self.budget.seconds += ran.seconds
        self.output = self.redact(ran.output)
        if ran.code is None:
            raise ModelError(f"the agent command ran past its {timeout:g} s timeout{self._tail()}")
        if ran.code != 0:
            raise ModelError(f"the agent command exited with {ran.code}{self._tail()}")
        if plan_json is not None or not plan_file.is_file() or plan_file.is_symlink():
            return None
        return plan_file.read_text(encoding="utf-8", errors="replace")[:MAX_PLAN_BYTES]

    def _tail(self) -> str:
        last = self.output.strip().splitlines()[-5:]
        return (": ..." + " | ".join(last)[-600:]) if last else ""


def agent_env(runner_env: dict[str, str], pass_env: list[str]) -> dict[str, str]:
    """The runner's environment without credentials, except those the config passes. A
    credential is known by its name (`*TOKEN*`, ...) or by its value (a URL with a password,
    a GitHub token, a private key), whatever the variable is called."""
    keep = set(pass_env)
    return {
        k: v
        for k, v in filtered(runner_env).items()
        if k in keep or not (SECRET_NAME.search(k) or looks_like_credential(v))
    }


async def scrub_credentials(workspace: Path) -> None:
    """Remove the credentials a checkout keeps in its git config and its submodules' (an
    `extraheader`; actions/checkout v6's include of its credentials file), then verify
    none is left, or refuse to run the agent."""
    check_repository_config(workspace)  # unsets checkout's includes, refuses any other
    for path in config_files(workspace, submodules=True):
        for key, value in forget_checkout_credentials(path):
            if CREDENTIAL_KEYS.fullmatch(key.lower()):
                unset(path, key, value)
    left = [entry for p in config_files(workspace, submodules=True) for entry in config_entries(p)]
    if any(CREDENTIAL_KEYS.fullmatch(k.lower()) or CREDENTIAL_VALUE.search(v) for k, v in left):
        raise InputError(
            "the checkout's .git/config still holds a credential: check out with "
            "persist-credentials: false"
        )
