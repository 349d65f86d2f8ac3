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

    label_prefix: str = Field("issuepilot", pattern=r"^[A-Za-z0-9_.-]{1,30}$")
    allowed_users: list[str] = Field(default_factory=list)
    bot_logins: list[str] = Field(default_factory=lambda: ["github-actions[bot]"])
    base_branch: str | None = None
    lease_minutes: float = Field(30, gt=0, le=24 * 60)
    pr_lease_days: float = Field(14, gt=0, le=365)
    keep_finished_days: float = Field(30, gt=0, le=3650)
    max_files: int = Field(20, ge=1, le=1000)
    context_files: int = Field(12, ge=0, le=200)
    context_tokens: int = Field(15_000, ge=0, le=500_000)
    # Agents: the built-in one, the command backend, what a change may touch, what a task
    # may spend.
    agent_mode: Literal["auto", "tools", "single-call"] = "auto"
    max_agent_turns: int = Field(40, ge=1, le=500)
    command_roles: list[Literal["plan", "execute"]] = ["execute"]
    agent_timeout_minutes: float = Field(20, gt=0, le=360)
    agent_env: list[str] = Field(default_factory=list)
    agent_output_bytes: int = Field(20_000, ge=1000, le=1_000_000)
    # The repository's own checks, run after the agent in the sandbox: name -> shell command.
    checks: dict[str, str] = Field(default_factory=dict)
    check_rounds: int = Field(2, ge=0, le=10)
    on_check_failure: Literal["draft", "fail"] = "draft"
    check_timeout_minutes: float = Field(10, gt=0, le=360)
    check_output_bytes: int = Field(20_000, ge=1000, le=1_000_000)
    # Where agent commands and checks run: see docs/security.md.
    sandbox: Literal["user", "container", "none"] = "user"
    sandbox_image: str | None = None  # the image of `sandbox: container`
    out_of_scope: Literal["refuse", "lock"] = "refuse"
    # After the pull request opens: rounds that answer reviews and repair red CI.
    fix_rounds: int = Field(3, ge=0, le=50)  # automatic (CI) rounds per task
    # The workflows whose failure starts a round; empty: those the workflow file subscribes
    # to with `on: workflow_run: workflows: [...]`.
    ci_workflows: list[str] = Field(default_factory=list)
    ci_log_bytes: int = Field(200_000, ge=1000, le=10_000_000)  # read from each failing log's end
    protected_paths: list[str] = Field(default_factory=lambda: [".github/workflows/**"])
    allow_protected: bool = False
    max_changed_lines: int = Field(5000, ge=1, le=1_000_000)
    max_file_bytes: int = Field(1_000_000, ge=1, le=100_000_000)
    max_change_bytes: int = Field(5_000_000, ge=1, le=1_000_000_000)
    max_model_tokens: int = Field(3_000_000, ge=1)
    max_model_calls: int = Field(250, ge=1)
    max_cost: float | None = Field(None, gt=0)
    max_agent_minutes: float = Field(45, gt=0)
    permission_cache_minutes: float = Field(10, ge=0, le=24 * 60)
    rate_limit_wait_seconds: float = Field(60, ge=0, le=3600)
    retry_backoff_seconds: float = Field(1, ge=0, le=60)
    token_can_write_workflows: bool = False

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


def load_config(path: Path | None) -> RepoConfig:
    """Read the YAML file; a missing file means every default. Errors name key and file."""
    if path is None or not path.exists():
        return RepoConfig()
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the config file {path}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise InputError(f"the config file {path} is not valid YAML{where}") from None
    if raw is None:
        return RepoConfig()
    if not isinstance(raw, dict):
        raise InputError(f"the config file {path} must be a mapping of settings")
    try:
        return RepoConfig.model_validate({str(k).replace("-", "_"): v for k, v in raw.items()})
    except ValidationError as exc:
        key, what = error_parts(exc)
        raise InputError(f"{path}: setting {key.replace('_', '-')!r}: {what}") from None


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
        if not path or not ref:
            return None
        return path.rsplit("/", 1)[-1], ref.removeprefix("refs/heads/")
