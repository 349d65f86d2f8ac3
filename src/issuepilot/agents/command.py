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

import asyncio
import base64
import json
import os
import re
import signal
import stat
import tempfile
import time
from collections import deque
from pathlib import Path

from pydantic import ValidationError

from ..errors import InputError, ModelError, first_error
from ..github.untrusted import looks_like_credential
from ..models import ChangeSet, FileChange, Plan
from ..paths import repo_path
from . import prompts
from .base import IssueText, RepoFiles
from .budget import Budget

# Names that hold credentials. Anything matching is withheld unless the config passes it.
SECRET_NAME = re.compile(
    r"(TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|API_KEY|APIKEY|PRIVATE_KEY|ACCESS_KEY|SESSION)"
    r"|^(ISSUEPILOT_|REDIS|ACTIONS_RUNTIME|ACTIONS_ID_TOKEN|ACTIONS_CACHE|GH_|GITHUB_TOKEN)",
    re.IGNORECASE,
)
# Git config keys through which a checkout can carry a credential.
CREDENTIAL_KEYS = re.compile(
    r"^(http\..*\.extraheader|include\.path|includeif\..*\.path|credential\..*)$"
)
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
    ) -> None:
        if not (workspace / ".git").exists():
            raise InputError(
                f"agent-command needs a git checkout at {workspace}: add actions/checkout first"
            )
        self.command = command
        self.workspace = workspace
        self.env = agent_env(runner_env, pass_env)
        self.timeout_s = timeout_s
        self.output_cap = output_cap
        self.budget = budget or Budget()
        self.output = ""

    async def aclose(self) -> None:
        pass

    async def plan(self, issue: IssueText, context: RepoFiles) -> Plan:
        prompt = (
            prompts.PLANNER_SYSTEM
            + "\n"
            + PLAN_FORMAT
            + "\n"
            + prompts.planner_prompt(issue, context)
        )
        with tempfile.TemporaryDirectory(prefix="issuepilot-") as tmp:
            plan_file = Path(tmp) / "plan.json"
            await self._run("plan", issue, prompt, plan_file, Path(tmp))
            if not plan_file.exists():
                raise ModelError(
                    f"the agent command wrote no plan to $ISSUEPILOT_PLAN_FILE{self._tail()}"
                )
            try:
                return Plan.model_validate_json(plan_file.read_text(encoding="utf-8"))
            except ValidationError as exc:
                raise ModelError(
                    f"the agent command's plan is invalid: {first_error(exc, 'plan')}"
                ) from None

    async def execute(self, issue: IssueText, plan: Plan, files: RepoFiles) -> ChangeSet:
        plan_json = plan.model_dump_json(indent=1)
        prompt = prompts.EXECUTOR_SYSTEM.split("Reply with")[0] + (
            "Edit the files in the working directory; do not commit.\n\n"
            + prompts.executor_prompt(issue, plan_json, RepoFiles())
        )
        with tempfile.TemporaryDirectory(prefix="issuepilot-") as tmp:
            plan_file = Path(tmp) / "plan.json"
            plan_file.write_text(plan_json, encoding="utf-8")
            await self._run("execute", issue, prompt, plan_file, Path(tmp))
        changes = await read_back(self.workspace)
        if not changes:
            raise ModelError(f"the agent command changed no files{self._tail()}")
        return ChangeSet(files=changes, message=f"{issue.title} (#{issue.number})")

    async def _run(
        self, role: str, issue: IssueText, prompt: str, plan_file: Path, tmp: Path
    ) -> None:
        self.budget.check()
        await scrub_credentials(self.workspace)
        prompt_file, task_file = tmp / "prompt.md", tmp / "task.json"
        prompt_file.write_text(prompt, encoding="utf-8")
        task = {
            "number": issue.number,
            "title": issue.title,
            "body": issue.body,
            "feedback": list(issue.feedback),
        }
        task_file.write_text(json.dumps(task), encoding="utf-8")
        env = {
            **self.env,
            "ISSUEPILOT_ROLE": role,
            "ISSUEPILOT_PROMPT_FILE": str(prompt_file),
            "ISSUEPILOT_TASK_FILE": str(task_file),
            "ISSUEPILOT_PLAN_FILE": str(plan_file),
            "ISSUEPILOT_ISSUE": str(issue.number),
        }
        timeout = min(self.timeout_s, self.budget.remaining_seconds())
        started = time.monotonic()
        try:
            code, self.output = await run_capped(
                ["bash", "-c", self.command], self.workspace, env, timeout, self.output_cap
            )
        finally:
            self.budget.seconds += time.monotonic() - started
        if code is None:
            raise ModelError(f"the agent command ran past its {timeout:g} s timeout{self._tail()}")
        if code != 0:
            raise ModelError(f"the agent command exited with {code}{self._tail()}")

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
        for k, v in runner_env.items()
        if k in keep or not (SECRET_NAME.search(k) or looks_like_credential(v))
    }


async def git(workspace: Path, *args: str, check: bool = True) -> bytes:
    proc = await asyncio.create_subprocess_exec(
        "git",
        *args,
        cwd=workspace,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_TERMINAL_PROMPT": "0",
            "HOME": str(workspace),
            "GIT_CONFIG_NOSYSTEM": "1",
        },
    )
    out, err = await proc.communicate()
    if check and proc.returncode != 0:
        raise ModelError(
            f"git {args[0]} failed in the checkout: {err.decode(errors='replace').strip()}"
        )
    return out


async def scrub_credentials(workspace: Path) -> None:
    """Remove credentials the checkout keeps in its git config, or refuse to run the agent."""
    listed = await git(workspace, "config", "--local", "--name-only", "--list", check=False)
    for key in sorted(set(listed.decode(errors="replace").split())):
        if CREDENTIAL_KEYS.match(key.lower()):
            await git(workspace, "config", "--local", "--unset-all", key, check=False)
    left = (await git(workspace, "config", "--local", "--list", check=False)).decode(
        errors="replace"
    )
    if re.search(r"authorization:|x-access-token|extraheader", left, re.IGNORECASE):
        raise InputError(
            "the checkout's .git/config still holds a credential: check out with "
            "persist-credentials: false"
        )


async def run_capped(
    argv: list[str], cwd: Path, env: dict[str, str], timeout: float, cap: int
) -> tuple[int | None, str]:
    """Run in a new process group; keep the last `cap` bytes of output; None on timeout."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    kept: deque[bytes] = deque()
    size = 0

    async def drain() -> None:
        nonlocal size
        assert proc.stdout is not None
        while chunk := await proc.stdout.read(65536):
            kept.append(chunk)
            size += len(chunk)
            while size - len(kept[0]) >= cap:
                size -= len(kept.popleft())

    try:
        await asyncio.wait_for(asyncio.gather(drain(), proc.wait()), timeout)
        code: int | None = proc.returncode
    except TimeoutError:
        code = None
    finally:
        if proc.returncode is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the agent and everything it started
            except ProcessLookupError:
                pass
            await proc.wait()
    return code, b"".join(kept)[-cap:].decode(errors="replace")


async def read_back(workspace: Path) -> list[FileChange]:
    """The working tree's changes against HEAD, as file changes (renames become a deletion
    and an addition). Paths outside the repository, into .git/, and symlinks are refused."""
    await git(workspace, "add", "--all")
    raw = await git(
        workspace, "-c", "core.quotepath=off", "diff", "--cached", "--raw", "-M", "-z", "HEAD"
    )
    fields = raw.decode(errors="surrogateescape").split("\0")
    changes: list[FileChange] = []
    i = 0
    while i < len(fields) - 1:
        meta, i = fields[i].split(), i + 1
        status = meta[4][0]
        paths = [fields[i]] + ([fields[i + 1]] if status in "RC" else [])
        i += len(paths)
        if status == "R":
            changes.append(FileChange(path=_checked_path(paths[0]), content=None))
        target = paths[-1]
        if status == "D":
            changes.append(FileChange(path=_checked_path(target), content=None))
            continue
        changes.append(_read(workspace, _checked_path(target), meta[1]))
    return changes


def _checked_path(path: str) -> str:
    try:
        return repo_path(path)
    except ValueError as exc:
        raise ModelError(f"the agent changed a path it may not: {exc}") from None


def _read(workspace: Path, path: str, mode: str) -> FileChange:
    full = workspace / path
    if mode == "120000" or full.is_symlink():
        target = os.readlink(full)
        inside = (full.parent / target).resolve().is_relative_to(workspace.resolve())
        where = "inside" if inside else "outside"
        raise ModelError(f"the agent made {path} a symlink ({where} the repository): refused")
    data = full.read_bytes()
    executable = bool(full.stat().st_mode & stat.S_IXUSR)
    try:
        return FileChange(path=path, content=data.decode("utf-8"), executable=executable)
    except UnicodeDecodeError:
        text = base64.b64encode(data).decode()
        return FileChange(path=path, content=text, encoding="base64", executable=executable)
