"""What the steps need from an agent: a planner and an executor."""

from dataclasses import dataclass, field
from typing import Protocol

from ..models import ChangeSet, Plan


@dataclass(frozen=True, slots=True)
class IssueText:
    """The issue as the agent sees it. Every field is untrusted user text."""

    number: int
    title: str
    body: str
    feedback: tuple[str, ...] = ()


@dataclass(slots=True)
class Usage:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True, slots=True)
class RepoFiles:
    """Files read for the agent: path -> text, None where the file does not exist."""

    files: dict[str, str | None] = field(default_factory=dict)
    left_out: tuple[str, ...] = ()


class Planner(Protocol):
    async def plan(self, issue: IssueText, context: RepoFiles) -> Plan: ...


class Executor(Protocol):
    async def execute(self, issue: IssueText, plan: Plan, files: RepoFiles) -> ChangeSet: ...
