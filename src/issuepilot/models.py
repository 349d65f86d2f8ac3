"""The records IssuePilot keeps and exchanges: Task, Plan, ChangeSet."""

import hashlib
import json
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .machine import TaskState
from .paths import repo_path


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class PlannedFile(Model):
    path: str
    action: Literal["create", "modify", "delete"] = "modify"
    why: str = Field("", max_length=300)

    @field_validator("path")
    @classmethod
    def _normal(cls, value: str) -> str:
        return repo_path(value)


class Plan(Model):
    """What the planner proposes. Approval applies to exactly this content (see `digest`)."""

    summary: str = Field(min_length=1, max_length=2000)
    steps: list[Annotated[str, Field(max_length=500)]] = Field(default_factory=list, max_length=50)
    files: list[PlannedFile] = Field(min_length=1, max_length=1000)
    risks: list[Annotated[str, Field(max_length=500)]] = Field(default_factory=list, max_length=20)

    @property
    def paths(self) -> list[str]:
        return sorted({f.path for f in self.files})

    def digest(self) -> str:
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class FileChange(Model):
    """A file's new state. A rename is a deletion of the old path plus the new file."""

    path: str
    content: str | None = None  # None deletes the file
    encoding: Literal["utf-8", "base64"] = "utf-8"  # base64 for binary content
    executable: bool = False

    @property
    def size(self) -> int:
        """The file's new size in bytes (0 for a deletion)."""
        if self.content is None:
            return 0
        if self.encoding == "base64":
            return len(self.content) * 3 // 4 - self.content[-2:].count("=")
        return len(self.content.encode())

    @property
    def lines(self) -> list[str]:
        if self.content is None or self.encoding != "utf-8":
            return []
        return self.content.splitlines()

    @field_validator("path")
    @classmethod
    def _normal(cls, value: str) -> str:
        return repo_path(value)


class ChangeSet(Model):
    files: list[FileChange] = Field(min_length=1)
    message: str = ""


class Usage(Model):
    """What a task has spent on agents, planning and executing together."""

    model_calls: int = 0
    tokens: int = 0
    cost: float = 0.0
    seconds: float = 0.0

    def plus(self, other: "Usage") -> "Usage":
        return Usage(
            model_calls=self.model_calls + other.model_calls,
            tokens=self.tokens + other.tokens,
            cost=self.cost + other.cost,
            seconds=self.seconds + other.seconds,
        )

    def describe(self) -> str:
        cost = f", cost {self.cost:.4f}" if self.cost else ""
        return (
            f"{self.model_calls} model calls, {self.tokens} tokens{cost}, "
            f"{self.seconds:.0f} s of agent time"
        )


class CheckResult(Model):
    """One run of one of the repository's checks on the change."""

    name: str
    passed: bool
    code: int | None = None  # None: killed at its timeout
    seconds: float = 0.0
    tail: str = ""  # the end of its output, redacted


class PlanVersion(Model):
    version: int
    digest: str
    at: str
    shown: datetime | None = None  # when GitHub first showed it in the status comment


STAMP = "%Y-%m-%d %H:%M UTC"  # how history entries give their time


class HistoryEntry(Model):
    state: TaskState
    at: str  # in STAMP's form, UTC
    run: str = ""  # link to the workflow run that made the move
    note: str = ""


class Task(Model):
    """One issue's task. `version` is the compare-and-set counter of the store."""

    issue: int
    state: TaskState
    version: int = 0
    title: str = ""
    body: str = ""  # the issue's text the plan was made from (capped): the executor reads it
    plan: Plan | None = None
    plan_hash: str = ""
    plan_version: int = 0
    plan_versions: list[PlanVersion] = Field(default_factory=list)
    approved_hash: str = ""
    usage: Usage = Usage()
    extra_paths: list[str] = Field(default_factory=list)  # changed outside the plan, also locked
    feedback: list[str] = Field(default_factory=list)
    attempts: int = 0
    resting: TaskState = TaskState.QUEUED  # the resting state before the current one
    lease_until: float = 0.0  # epoch seconds; meaningful in working states
    lock_token: str = ""
    waiting_on: dict[str, str] = Field(default_factory=dict)  # path -> task holding it
    branch: str = ""
    head_sha: str = ""
    pr: int = 0
    pr_url: str = ""
    comment_id: int = 0
    error: str = ""
    refusal: str = ""  # why someone's request was refused, noted once per state
    notices: list[str] = Field(default_factory=list)  # how agents ran, for the maintainers
    checks: list[CheckResult] = Field(default_factory=list)  # the change's last check run
    # A finished task whose end GitHub shows and whose files are free: only then does it
    # leave the store's live index (until then the sweep finishes what its run left).
    settled: bool = False
    rounds: int = 0  # fix rounds run on the open pull request
    ci_rounds: int = 0  # of those, started by red CI (capped by fix-rounds)
    # The triggers that started fix rounds, newest last: their ids (`Trigger.key`) -> the
    # round each started. Written with the round's own compare-and-set; kept bounded.
    handled: dict[str, int] = Field(default_factory=dict)
    history: list[HistoryEntry] = Field(default_factory=list)

    @property
    def began(self) -> datetime | None:
        """When the task was queued (to the minute), if its history says."""
        if not self.history:
            return None
        try:
            return datetime.strptime(self.history[0].at, STAMP).replace(tzinfo=UTC)
        except ValueError:
            return None

    @property
    def locked_paths(self) -> list[str]:
        """Every file the task holds while executing and while its PR is open: the plan's,
        and those it took outside the plan."""
        return sorted({*(self.plan.paths if self.plan else []), *self.extra_paths})

    def to_json(self) -> str:
        return self.model_dump_json(exclude_defaults=True)

    def public_json(self) -> str:
        """The record as the status comment shows it: no store version, no capability (a
        lock token would let its reader release or renew the task's locks)."""
        return self.model_dump_json(exclude_defaults=True, exclude={"version", "lock_token"})


def holders_text(holders: dict[str, str], path: str = "{}") -> str:
    """`a.py (#3), b.py (#4)`: which task holds which file; `path` formats each path."""
    return ", ".join(f"{path.format(p)} (#{t})" for p, t in sorted(holders.items()))
