"""Every name IssuePilot gives things on GitHub: labels, their colours and descriptions, and
the task's branch. Pure: one home, so a prefix change reaches everything.

The issue shows exactly one state label at a time, plus the trigger label and the action
labels a maintainer adds (`<prefix>:approved` doubles as the APPROVED state label).
"""

import re
from dataclasses import dataclass

from .machine import TaskState

S = TaskState
COLORS: dict[TaskState, str] = {
    S.QUEUED: "c5def5",
    S.PLANNING: "bfdadc",
    S.PLAN_REVIEW: "fbca04",
    S.APPROVED: "0e8a16",
    S.EXECUTING: "bfdadc",
    S.PR_OPEN: "1d76db",
    S.DONE: "5319e7",
    S.FAILED: "d93f0b",
    S.CANCELLED: "cccccc",
}


@dataclass(frozen=True, slots=True)
class Labels:
    prefix: str = "issuepilot"

    @property
    def trigger(self) -> str:
        """The label that hands an issue to IssuePilot."""
        return self.prefix

    def state(self, state: TaskState) -> str:
        return f"{self.prefix}:{state}"

    @property
    def approved(self) -> str:
        return self.state(S.APPROVED)

    @property
    def revise(self) -> str:
        return f"{self.prefix}:revise"

    @property
    def retry(self) -> str:
        return f"{self.prefix}:retry"

    @property
    def states(self) -> frozenset[str]:
        return frozenset(self.state(s) for s in S)

    def definitions(self) -> dict[str, tuple[str, str]]:
        """name -> (colour, description) of every label IssuePilot uses."""
        wanted = {self.trigger: ("0052cc", "Hand this issue to IssuePilot")}
        wanted[self.revise] = ("fbca04", "Ask IssuePilot for a new plan")
        wanted[self.retry] = ("d93f0b", "Retry the failed IssuePilot step")
        for state, color in COLORS.items():
            wanted[self.state(state)] = (color, f"IssuePilot task state: {state}")
        return wanted

    @property
    def branch_prefix(self) -> str:
        return f"{self.prefix}/issue-"

    def branch(self, issue: int) -> str:
        """The task's branch; the workflow's concurrency group is built from the same name."""
        return f"{self.branch_prefix}{issue}"

    def issue_of(self, branch: str) -> int | None:
        """The issue whose task owns `branch`, if it is an IssuePilot branch."""
        match = re.fullmatch(re.escape(self.branch_prefix) + r"([1-9][0-9]*)", branch)
        return int(match.group(1)) if match else None


def label_changes(
    present: set[str] | None,
    want: str,
    shown_before: str | None,
    states: frozenset[str],
    remove: tuple[str, ...] = (),
) -> tuple[list[str], set[str]]:
    """(labels to add, labels to remove) so the issue shows `want` as its one state label.

    `present` is the issue's labels when the run knows them (from the payload or its own
    changes): then exactly what differs is changed. Otherwise the run trusts that the
    issue shows `shown_before` (None: unknown): it swaps that for `want`, and removes the
    `remove`d labels blindly (removing a missing label is harmless)."""
    if present is None:
        adds = [want] if want != shown_before else []
        drop = {name for name in (shown_before, *remove) if name}
    else:
        adds = [want] if want not in present else []
        drop = present & (states | set(remove))
    drop.discard(want)
    return adds, drop
