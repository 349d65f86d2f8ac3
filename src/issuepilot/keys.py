"""Every Redis key IssuePilot uses, in one place.

All keys of a repository share the hash tag `{owner/repo}`, so they live in one Redis
Cluster slot and one Lua script may touch any of them, naming each in its KEYS.
"""

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

    @property
    def locks(self) -> str:
        """Hash path -> "<task> <token> <until>": who holds a path, and until when (ms)."""
        return f"{self.prefix}locks"

    @property
    def expiry(self) -> str:
        """Sorted set path -> until: the locks in the order they lapse (what `reap` reads)."""
        return f"{self.prefix}expiry"

    @property
    def held(self) -> str:
        """Members "<task>\\0<path>", read by name range: the paths each task holds."""
        return f"{self.prefix}held"

    @property
    def waiting(self) -> str:
        """Sorted set of tasks waiting for locks, scored by their place in line."""
        return f"{self.prefix}waiting"

    @property
    def wanted(self) -> str:
        """Members "<task>\\0<path>", read by name range: the paths each waiting task wants."""
        return f"{self.prefix}wanted"

    @property
    def waiters(self) -> str:
        """Members "<path>\\0<task>", read by name range: the tasks waiting for each path."""
        return f"{self.prefix}waiters"

    @property
    def wait_expiry(self) -> str:
        """Sorted set task -> when it stops waiting (ms): a day after it last asked."""
        return f"{self.prefix}wait-expiry"

    @property
    def lock_keys(self) -> list[str]:
        """Every key of the lock scripts, in the order they name them (`KEYS[1..7]`)."""
        return [
            self.locks,
            self.expiry,
            self.held,
            self.waiting,
            self.wanted,
            self.waiters,
            self.wait_expiry,
        ]

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


@dataclass(frozen=True, slots=True)
class ServiceKeys:
    """The keys of `issuepilot serve` and its workers. They share one hash tag, so the
    scripts that record a delivery and queue it touch one Redis Cluster slot; services
    sharing a Redis keep apart by `name`."""

    name: str = "service"

    @property
    def prefix(self) -> str:
        return f"issuepilot:{{{self.name}}}:"

    @property
    def deliveries(self) -> str:
        """Stream of what the service received (webhooks, queued tasks), not yet handed on."""
        return f"{self.prefix}deliveries"

    @property
    def steps(self) -> str:
        """Stream of the steps the workers run."""
        return f"{self.prefix}steps"

    def seen(self, delivery: str) -> str:
        """Marks a delivery received, so a repeated one is acknowledged and dropped."""
        return f"{self.prefix}seen:{delivery}"

    def handed(self, delivery: str) -> str:
        """Marks a delivery handed on (dispatched or queued for a worker): at most once."""
        return f"{self.prefix}handed:{delivery}"

    def asked(self, delivery: str) -> str:
        """Marks a failed delivery whose redelivery was asked for."""
        return f"{self.prefix}asked:{delivery}"

    @property
    def repos(self) -> str:
        """Sorted set of the repositories served, scored by when they were last heard of."""
        return f"{self.prefix}repos"

    def turn(self, chore: str) -> str:
        """Held by the copy of the service doing a periodic chore this period."""
        return f"{self.prefix}turn:{chore}"
