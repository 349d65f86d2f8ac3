"""Every Redis key IssuePilot uses, in one place.

All keys of a repository share the hash tag `{owner/repo}`, so they live in one Redis
Cluster slot and multi-key Lua scripts may touch any of them.
"""

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Keys:
    repo: str

    @property
    def prefix(self) -> str:
        return f"issuepilot:{{{self.repo}}}:"

    def task(self, issue: int) -> str:
        """Hash of a task's record; expires `keep-finished-days` after the task finished."""
        return f"{self.prefix}task:{issue}"

    @property
    def tasks(self) -> str:
        """Sorted set of the live tasks' issue numbers (the sweep's index)."""
        return f"{self.prefix}tasks"

    def lock(self, path: str) -> str:
        return f"{self.prefix}lock:{hashlib.sha1(path.encode()).hexdigest()}"

    def held(self, task: str) -> str:
        """Hash path -> token of the locks a task holds."""
        return f"{self.prefix}held:{task}"

    @property
    def lockers(self) -> str:
        """Set of tasks that may hold locks (the index `reap` walks)."""
        return f"{self.prefix}lockers"

    @property
    def waiting(self) -> str:
        """Sorted set of tasks waiting for locks, scored by when they started waiting."""
        return f"{self.prefix}waiting"

    def wants(self, task: str) -> str:
        """Set of the paths a waiting task needs."""
        return f"{self.prefix}wants:{task}"

    def permission(self, login: str) -> str:
        """Cached answer of the collaborator-permission API for one user."""
        return f"{self.prefix}perm:{login.lower()}"

    @property
    def labels(self) -> str:
        """Marks that the repository's IssuePilot labels exist (value: their definition hash)."""
        return f"{self.prefix}labels"

    @property
    def record_key(self) -> str:
        """The generated key that signs task records, when no record-key input is given."""
        return f"{self.prefix}record-key"

    @property
    def swept(self) -> str:
        """When the last sweep began (ISO 8601): the next one reads what changed since."""
        return f"{self.prefix}swept"
