"""Configuration: the repository's `.github/issuepilot.yml` plus the action's inputs.

Every setting has a default, so a repository needs no file at all. Unknown keys and bad
values are refused with the key and the file named.
"""

from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from .errors import InputError, error_parts
from .events import Rules
from .labels import Labels

DEFAULT_CONFIG_PATH = ".github/issuepilot.yml"  # read when present; optional
DEFAULT_MODEL = "openai/gpt-4.1-mini"
DEFAULT_MODEL_BASE_URL = "https://models.github.ai/inference"  # GitHub Models, `models: read`


class RepoConfig(BaseModel):
    """`.github/issuepilot.yml`. See docs/configuration.md."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Each setting's description is its line in the commented file `issuepilot init --config`
    # writes and in docs/configuration.md.
    label_prefix: str = Field(
        "issuepilot",
        pattern=r"^[A-Za-z0-9_.-]{1,30}$",
        description="trigger label; state labels are <prefix>:<state>; branches <prefix>/issue-<n>",
    )
    allowed_users: list[str] = Field(
        default_factory=list, description="logins that may act without the permission check"
    )
    bot_logins: list[str] = Field(
        default_factory=lambda: ["github-actions[bot]"],
        description="events by these logins are IssuePilot's own and ignored",
    )
    base_branch: str | None = Field(None, description="default: the repository's default branch")
    lease_minutes: float = Field(
        30,
        gt=0,
        le=24 * 60,
        description="how long a planning or executing step may run before it counts as dead",
    )
    pr_lease_days: float = Field(
        14,
        gt=0,
        le=365,
        description="how long an open PR keeps its files locked (the sweep renews it)",
    )
    keep_finished_days: float = Field(
        30,
        gt=0,
        le=3650,
        description="how long the store keeps a done or cancelled task's record (the status "
        "comment keeps it)",
    )
    max_files: int = Field(
        20, ge=1, le=1000, description="a plan or a change touching more files is refused"
    )
    context_files: int = Field(
        12, ge=0, le=200, description="most relevant files the planner reads"
    )
    context_tokens: int = Field(
        15_000,
        ge=0,
        le=500_000,
        description="budget for the file tree and those files (about 4 characters a token)",
    )
    # Agents: the built-in one, the command backend, what a change may touch, what a task
    # may spend.
    agent_mode: Literal["auto", "tools", "single-call"] = Field(
        "auto",
        description="built-in agent: tools, falling back to one JSON answer; tools; single-call",
    )
    max_agent_turns: int = Field(
        40, ge=1, le=500, description="model calls of one role's tool loop"
    )
    command_roles: list[Literal["plan", "execute"]] = Field(
        ["execute"],
        description="roles the agent preset or agent-command plays: plan, execute",
    )
    agent_timeout_minutes: float = Field(
        20, gt=0, le=360, description="wall-clock limit of one run of the agent preset or command"
    )
    agent_env: list[str] = Field(
        default_factory=list,
        description="credentials an agent-command may see, by name (a preset gets its own key)",
    )
    agent_output_bytes: int = Field(
        20_000,
        ge=1000,
        le=1_000_000,
        description="how much of its output is kept for the status comment",
    )
    # The repository's own checks, run after the agent in the sandbox: name -> shell command.
    checks: dict[str, str] = Field(
        default_factory=dict,
        description="the repository's checks: name -> shell command, run in the sandbox",
    )
    check_rounds: int = Field(
        2, ge=0, le=10, description="rounds of fixing failing checks after the first attempt"
    )
    on_check_failure: Literal["draft", "fail"] = Field(
        "draft", description="checks still failing: open a draft PR, or fail the task"
    )
    check_timeout_minutes: float = Field(
        10, gt=0, le=360, description="a check's whole process tree is killed after this"
    )
    check_output_bytes: int = Field(
        20_000, ge=1000, le=1_000_000, description="how much of a check's output is kept"
    )
    # Where agent commands and checks run: see docs/security.md.
    sandbox: Literal["user", "container", "none"] = Field(
        "user",
        description="where agent commands and checks run: user, container, none (docs/security.md)",
    )
    sandbox_image: str | None = Field(None, description="the image of `sandbox: container`")
    out_of_scope: Literal["refuse", "lock"] = Field(
        "refuse",
        description="files changed outside the plan: refuse, or lock (and list in the PR)",
    )
    # After the pull request opens: rounds that answer reviews and repair red CI.
    fix_rounds: int = Field(
        3,
        ge=0,
        le=50,
        description="automatic (red CI) fix rounds per task; reviews and /issuepilot fix "
        "are not capped",
    )
    ci_workflows: list[str] = Field(
        default_factory=list,
        description="workflow names whose failure starts a round; empty: those the workflow "
        "file lists under workflow_run",
    )
    ci_log_bytes: int = Field(
        200_000,
        ge=1000,
        le=10_000_000,
        description="read from the end of each failing job's log",
    )
    protected_paths: list[str] = Field(
        default_factory=lambda: [".github/workflows/**"],
        description="never changed unless allow-protected",
    )
    allow_protected: bool = Field(False, description="let a change touch protected-paths")
    max_changed_lines: int = Field(5000, ge=1, le=1_000_000, description="lines added plus removed")
    max_file_bytes: int = Field(
        1_000_000, ge=1, le=100_000_000, description="the largest file a change may write"
    )
    max_change_bytes: int = Field(
        5_000_000, ge=1, le=1_000_000_000, description="all the files of a change together"
    )
    max_model_tokens: int = Field(
        3_000_000, ge=1, description="per task: planning, executing and fix rounds together"
    )
    max_model_calls: int = Field(250, ge=1, description="per task, likewise")
    max_cost: float | None = Field(None, gt=0, description="where the endpoint reports a cost")
    max_agent_minutes: float = Field(
        45, gt=0, description="model calls and agent commands together"
    )
    permission_cache_minutes: float = Field(
        10,
        ge=0,
        le=24 * 60,
        description="how long a user's repository permission is remembered (0: never)",
    )
    rate_limit_wait_seconds: float = Field(
        60, ge=0, le=3600, description="longest wait for a GitHub rate limit before the step fails"
    )
    retry_backoff_seconds: float = Field(
        1, ge=0, le=60, description="first back-off of a retried request; doubles, plus jitter"
    )
    run_steps_in: Literal["actions", "workers"] = Field(
        "actions",
        description="served by `issuepilot serve`: where each step runs, actions (a workflow "
        "run) or workers (docs/serve.md)",
    )
    token_can_write_workflows: bool = Field(
        False,
        description="the token may change .github/workflows/ (a PAT with `workflow`; a GitHub "
        "App's token is then asked for `workflows: write`)",
    )

    @property
    def rules(self) -> Rules:
        return Rules(
            labels=Labels(self.label_prefix),
            bot_logins=frozenset(self.bot_logins),
            ci_workflows=frozenset(self.ci_workflows),
        )

    @property
    def lease_s(self) -> float:
        """How long a working step's lease (and its file locks) lasts without renewal."""
        return self.lease_minutes * 60

    @property
    def pr_lease_s(self) -> float:
        """How long an open pull request keeps its files without the sweep renewing them."""
        return self.pr_lease_days * 24 * 3600

    @property
    def keep_finished_s(self) -> float:
        """How long Redis keeps a DONE or CANCELLED task's record (its status comment stays)."""
        return self.keep_finished_days * 24 * 3600

    def may_act_without_check(self, login: str) -> bool:
        return login.lower() in {u.lower() for u in self.allowed_users}


def load_config(path: Path | None, defaults: dict[str, Any] | None = None) -> RepoConfig:
    """Read the YAML file over `defaults` (an organisation's, see `config_layer`); a
    missing file means the defaults. Errors name key and file."""
    if path is None or not path.exists():
        return merged_config(defaults or {})
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the config file {path}: {exc}") from None
    return merged_config(defaults or {}, config_layer(text, str(path)))


def config_layer(text: str, where: str) -> dict[str, Any]:
    """The settings one file sets (keys with underscores), each checked; `where` names the
    file in errors."""
    try:
        raw: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark else ""
        raise InputError(f"the config file {where} is not valid YAML{line}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InputError(f"the config file {where} must be a mapping of settings")
    layer = {str(k).replace("-", "_"): v for k, v in raw.items()}
    try:
        RepoConfig.model_validate(layer)
    except ValidationError as exc:
        key, what = error_parts(exc)
        raise InputError(f"{where}: setting {key.replace('_', '-')!r}: {what}") from None
    return layer


def merged_config(*layers: dict[str, Any]) -> RepoConfig:
    """Settings files in order, each overriding those before it key by key: an
    organisation's defaults (its `.github` repository's), then the repository's own."""
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update(layer)
    return RepoConfig.model_validate(merged)


class Settings(BaseModel):
    """Everything one run needs, resolved by `cli.py` from flags, inputs and the runner.

    Credentials are `SecretStr`: no repr, str, log line or traceback shows their value."""

    model_config = ConfigDict(frozen=True)

    repo: str
    api_url: str = "https://api.github.com"
    server_url: str = "https://github.com"
    token: SecretStr
    app_id: str = ""
    app_private_key: SecretStr = SecretStr("")
    redis_url: SecretStr = SecretStr("")  # empty: the repository itself is the store
    record_key: SecretStr = SecretStr("")  # signs the task record in the status comment
    model: str = DEFAULT_MODEL
    model_base_url: str = DEFAULT_MODEL_BASE_URL
    model_api_key: SecretStr = SecretStr("")
    agent_command: str = ""
    agent: str = ""  # a preset's name: its CLI runs the roles in `command-roles`
    agent_version: str = ""  # "" is the preset's pinned version
    agent_model: str = ""
    agent_base_url: str = ""
    # What an agent command may inherit (filtered by agent_env); never shown.
    runner_env: dict[str, str] = Field(default_factory=dict, repr=False)
    max_steps: int = Field(1, ge=1, le=20)
    workflow_ref: str = ""  # owner/repo/.github/workflows/file.yml@refs/heads/main
    run_url: str = ""
    http_log: Path | None = None
    workspace: Path | None = None  # the checkout, for the config file and repository context
    config: RepoConfig = RepoConfig()

    def secrets(self) -> list[str]:
        """Every secret value this run knows: redacted from whatever it shows."""
        values = [self.token, self.app_private_key, self.model_api_key, self.record_key]
        found = [v.get_secret_value() for v in values]
        found.append(urlsplit(self.redis_url.get_secret_value()).password or "")
        found += [self.runner_env.get(name, "") for name in self.config.agent_env]
        return [v for v in found if v]

    @property
    def workflow_file(self) -> tuple[str, str] | None:
        """(workflow file name, ref) to dispatch the next step to, from GITHUB_WORKFLOW_REF."""
        path, _, ref = self.workflow_ref.partition("@")
        if not path or not ref or not path.lower().startswith(self.repo.lower() + "/"):
            return None  # unset, or a workflow of another repository (a central runner's)
        return path.rsplit("/", 1)[-1], ref.removeprefix("refs/heads/")
