"""What the steps need from an agent: a planner and an executor."""

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from ..models import Plan
from .budget import Budget

if TYPE_CHECKING:
    from .tools import ToolBox


@dataclass(frozen=True, slots=True)
class IssueText:
    """The issue as the agent sees it. Every field is untrusted user text."""

    number: int
    title: str
    body: str
    feedback: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RepoFiles:
    """Files read for the agent: path -> text, None where the file does not exist; the
    repository's file tree (possibly cut short); what did not fit the budget."""

    files: dict[str, str | None] = field(default_factory=dict)
    left_out: tuple[str, ...] = ()
    tree: tuple[str, ...] = ()
    tree_left_out: int = 0


class Agent(Protocol):
    """A planner and executor, working through `tools` (the repository's workspace, with
    every write checked). `budget` counts what its calls spend; `notices` are what the
    maintainers must be told about how it ran (shown in the status comment)."""

    budget: Budget
    notices: list[str]
    label: str  # who did the work, as people read it ("Claude Code 2.1.332")
    message: str  # its final message, redacted and capped ("" when it gives none)

    async def plan(self, issue: IssueText, context: RepoFiles, tools: "ToolBox") -> Plan: ...

    async def execute(
        self, issue: IssueText, plan: Plan, tools: "ToolBox", feedback: str = ""
    ) -> str:
        """Write the change into the workspace (a later call gets the checks' `feedback`);
        returns the commit message."""
        ...

    async def aclose(self) -> None: ...
