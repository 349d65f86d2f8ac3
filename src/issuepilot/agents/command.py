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
import secrets
import shlex
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from ..errors import InputError, ModelError, first_error
from ..git import (
    check_repository_config,
    config_entries,
    config_files,
    forget_checkout_credentials,
    git,
    unset,
)
from ..github.untrusted import Redactor, looks_like_credential
from ..models import Plan
from ..sandbox import Mode, Sandbox, filtered, open_sandbox
from . import prompts
from .base import IssueText, RepoFiles
from .budget import Budget
from .install import ensure
from .presets import Invocation, Preset, Report
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
FILES = ("prompt.md", "task.json", "plan.json", "output")
MAX_PLAN_BYTES = 1_000_000
MAX_OUTPUT_BYTES = 20_000_000  # a preset's machine output read back, at most
PLAN_FORMAT = """
Write the plan as one JSON object to the file named by $ISSUEPILOT_PLAN_FILE ({plan_file}),
or, if you cannot write that file, reply with the JSON object alone as your final message:
{{"summary": "...", "steps": ["..."],
 "files": [{{"path": "relative/path", "action": "create|modify|delete", "why": "..."}}],
 "risks": ["..."]}}
Do not change any other file.
"""
EXECUTE_RULES = "Edit the files in the working directory; do not commit, do not push.\n\n"
JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


@dataclass(frozen=True, slots=True)
class PresetRun:
    """A preset's CLI and what the inputs set for it: its version (installed into `cache`
    when missing), model and endpoint."""

    preset: Preset
    cache: Path
    version: str = ""  # `agent-version`; "" is the preset's pinned one
    model: str = ""  # `agent-model`
    base_url: str = ""  # `agent-base-url`

    @property
    def label(self) -> str:
        return f"{self.preset.title} {self.version or self.preset.install.version}"


class CommandAgent:
    """A coding agent CLI in the checkout: a free `agent-command`, or a preset's CLI run
    headless with its flags, key, settings and machine output (`preset`)."""

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
        preset: PresetRun | None = None,
    ) -> None:
        if not (workspace / ".git").is_dir():
            what = f"agent {preset.preset.name}" if preset else "agent-command"
            raise InputError(
                f"{what} needs a git checkout at {workspace}: add actions/checkout first"
            )
        self.command = command
        self.preset = preset
        self.workspace = workspace
        self.runner_env = runner_env
        self.env = agent_env(runner_env, pass_env)
        self.timeout_s = timeout_s
        self.output_cap = output_cap
        self.budget = budget or Budget()
        self.sandbox, self.sandbox_image = sandbox, sandbox_image
        self.redact = redact or Redactor()
        self.output = ""  # the end of what it printed (stderr, for a preset), redacted
        self.message = ""  # a preset's final message, redacted and capped
        self.notices: list[str] = []
        self.label = preset.label if preset else "the agent command"
        self.cli = ""  # the preset's CLI, once found or installed
        if preset is not None:
            self.redact.add(self.key)

    @property
    def key(self) -> str:
        """The preset's API key: the first of its key variables the runner sets."""
        assert self.preset is not None
        names = self.preset.preset.keys
        return next((self.runner_env[n] for n in names if self.runner_env.get(n)), "")

    async def aclose(self) -> None:
        pass

    async def plan(self, issue: IssueText, context: RepoFiles, tools: ToolBox) -> Plan:
        plan_file = self.workspace / f".issuepilot-plan-{secrets.token_hex(4)}.json"
        prompt = (
            prompts.PLANNER_SYSTEM.split("Reply with")[0]
            + PLAN_FORMAT.format(plan_file=plan_file.name)
            + "\n"
            + prompts.planner_prompt(issue, context)
        )
        try:
            written = await self._run("plan", issue, prompt, None, plan_file)
        finally:
            await _discard(self.workspace)  # planning changes nothing; its file goes too
        answer = written or _json_in(self.message)
        if answer is None:
            raise ModelError(
                f"{self.label} wrote no plan to $ISSUEPILOT_PLAN_FILE and gave none as its "
                f"answer{self._tail()}"
            )
        try:
            return Plan.model_validate_json(answer)
        except ValidationError as exc:
            raise ModelError(
                f"{self.label}'s plan is invalid: {first_error(exc, 'plan')}"
            ) from None

    async def execute(
        self, issue: IssueText, plan: Plan, tools: ToolBox, feedback: str = ""
    ) -> str:
        """Run the command on the checkout; IssuePilot reads the change back with git. A
        later round (checks failed) runs it again with the failures in the prompt."""
        plan_json = plan.model_dump_json(indent=1)
        prompt = prompts.EXECUTOR_SYSTEM.split("Reply with")[0] + (
            EXECUTE_RULES + prompts.executor_prompt(issue, plan_json, RepoFiles())
        )
        if feedback:
            prompt += "\n\n" + feedback
        await self._run("execute", issue, prompt, plan_json, None)
        if self.preset is not None:
            await drop_leftovers(self.workspace, self.preset.preset.leftovers)
        return issue.title

    async def _run(
        self,
        role: str,
        issue: IssueText,
        prompt: str,
        plan_json: str | None,
        plan_file: Path | None,
    ) -> str | None:
        """Run the command in the sandbox; returns the plan it wrote, when planning."""
        self.budget.check()
        if self.preset is not None and not self.cli:
            self.cli = (
                await ensure(self.preset.cache, self.preset.preset, self.preset.version)
            ).command
        await scrub_credentials(self.workspace)
        # Inside .git/: visible to the sandbox (which holds the workspace), never a change.
        files = Path(tempfile.mkdtemp(prefix="issuepilot-run-", dir=self.workspace / ".git"))
        try:
            return await self._in_sandbox(role, issue, prompt, plan_json, files, plan_file)
        finally:
            shutil.rmtree(files, ignore_errors=True)

    async def _in_sandbox(
        self,
        role: str,
        issue: IssueText,
        prompt: str,
        plan_json: str | None,
        files: Path,
        plan_file: Path | None,
    ) -> str | None:
        prompt_file, task_file, given_plan, output_file = (files / n for n in FILES)
        prompt_file.write_text(prompt, encoding="utf-8")
        task = {
            "number": issue.number,
            "title": issue.title,
            "body": issue.body,
            "feedback": list(issue.feedback),
        }
        task_file.write_text(json.dumps(task), encoding="utf-8")
        if plan_json is not None:
            given_plan.write_text(plan_json, encoding="utf-8")
        plan_path = plan_file or given_plan
        output_file.touch()
        timeout = min(self.timeout_s, self.budget.remaining_seconds())
        box = open_sandbox(self.sandbox, self.workspace, self.runner_env, self.sandbox_image)
        if box.notice and box.notice not in self.notices:
            self.notices.append(box.notice)
        env = {
            **self.env,
            "ISSUEPILOT_ROLE": role,
            "ISSUEPILOT_PROMPT_FILE": box.visible(prompt_file),
            "ISSUEPILOT_TASK_FILE": box.visible(task_file),
            "ISSUEPILOT_PLAN_FILE": box.visible(plan_path),
            "ISSUEPILOT_ISSUE": str(issue.number),
        }
        command = self.command
        if self.preset is not None:
            preset = self.preset.preset
            run = self._invocation(role, box, env, box.visible(output_file))
            box.home_files.update(preset.home_files(run))
            env.update(preset.env(run), ISSUEPILOT_OUTPUT_FILE=run.output_file)
            command = shlex.join(preset.argv(run)) + ' < "$ISSUEPILOT_PROMPT_FILE"'
            command += ' > "$ISSUEPILOT_OUTPUT_FILE"'
        async with box:
            ran = await box.run(command, env, timeout, self.output_cap)
        self.budget.seconds += ran.seconds
        self.output = self.redact(ran.output)
        report = None
        if self.preset is not None:  # what it spent counts, whatever became of the run
            report = self.preset.preset.report(_read(output_file, MAX_OUTPUT_BYTES))
            self._count(report)
        if ran.code is None:
            raise ModelError(f"{self.label} ran past its {timeout:g} s timeout{self._tail()}")
        if report is not None and report.failed:
            raise ModelError(f"{self.label} reported a failure: {self.redact(report.failed)}")
        if ran.code != 0:
            raise ModelError(f"{self.label} exited with {ran.code}{self._tail()}")
        self.budget.check()  # what this run spent may have crossed a limit
        if plan_file is None or not plan_file.is_file() or plan_file.is_symlink():
            return None
        return _read(plan_file, MAX_PLAN_BYTES)

    def _invocation(self, role: str, box: Sandbox, env: dict[str, str], output: str) -> Invocation:
        assert self.preset is not None
        left = (
            self.budget.max_calls - self.budget.total().model_calls
            if self.budget.max_calls
            else None
        )
        return Invocation(
            role="plan" if role == "plan" else "execute",
            binary=self.cli,
            prompt_file=env["ISSUEPILOT_PROMPT_FILE"],
            plan_file=env["ISSUEPILOT_PLAN_FILE"],
            output_file=output,
            workspace=box.workdir,
            home=box.home_path,
            key=self.key,
            model=self.preset.model,
            base_url=self.preset.base_url,
            max_turns=max(1, left) if left is not None else None,
        )

    def _count(self, report: Report) -> None:
        """What the CLI says it spent goes into the task's budget; its last word is kept."""
        self.budget.calls += report.turns
        self.budget.tokens += report.tokens
        self.budget.cost += report.cost
        self.message = self.redact(report.message)[-self.output_cap :]

    def _tail(self) -> str:
        last = (self.message or self.output).strip().splitlines()[-5:]
        return (": ..." + " | ".join(last)[-600:]) if last else ""


def _read(path: Path, cap: int) -> str:
    if not path.is_file() or path.is_symlink():
        return ""
    with path.open("rb") as f:
        return f.read(cap).decode("utf-8", errors="replace")


def _json_in(text: str) -> str | None:
    """The JSON object in an answer (a fenced block or bare), if there is one."""
    found = JSON_OBJECT.search(text)
    return found.group(0) if found else None


async def drop_leftovers(workspace: Path, patterns: tuple[str, ...]) -> None:
    """Delete the new, untracked files a CLI left for itself (its settings, its history):
    they never join the change. Tracked files stay whatever their path."""
    if not patterns:
        return
    listed = await git(workspace, "ls-files", "-z", "--others", "--directory")
    for path in listed.decode(errors="surrogateescape").split("\0"):
        name = path.rstrip("/")
        if name and any(
            Path(name).match(p) or Path(name).parts[0] == p.rstrip("/") for p in patterns
        ):
            full = workspace / name
            if full.is_dir() and not full.is_symlink():
                shutil.rmtree(full, ignore_errors=True)
            else:
                full.unlink(missing_ok=True)


async def _discard(workspace: Path) -> None:
    """Put the checkout back as it was: what a planner wrote, or staged (aider stages the
    files it creates), is not a change."""
    await git(workspace, "reset", "-q", check=False)
    await git(workspace, "checkout", "--", ".", check=False)
    await git(workspace, "clean", "-fdq", check=False)


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
