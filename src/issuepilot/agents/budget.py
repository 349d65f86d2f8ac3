"""What a task may spend on agents, planning and executing together, and what it has spent."""

from dataclasses import dataclass, field

from ..config import RepoConfig
from ..errors import ModelError
from ..models import Usage


class BudgetExceeded(ModelError):
    """A limit was reached: the task fails recoverably, with the figures."""


@dataclass
class Budget:
    """Counts one step's spending on top of what the task spent before (`spent`)."""

    spent: Usage = field(default_factory=Usage)
    max_tokens: int | None = None
    max_calls: int | None = None
    max_cost: float | None = None
    max_seconds: float | None = None
    calls: int = 0
    tokens: int = 0
    cost: float = 0.0
    seconds: float = 0.0

    @classmethod
    def of(cls, config: RepoConfig, spent: Usage) -> "Budget":
        return cls(
            spent=spent,
            max_tokens=config.max_model_tokens,
            max_calls=config.max_model_calls,
            max_cost=config.max_cost,
            max_seconds=config.max_agent_minutes * 60,
        )

    def step_usage(self) -> Usage:
        return Usage(
            model_calls=self.calls, tokens=self.tokens, cost=self.cost, seconds=self.seconds
        )

    def total(self) -> Usage:
        return self.spent.plus(self.step_usage())

    def check(self) -> None:
        """Raise before spending more once any limit is reached."""
        total = self.total()
        reached = [
            what
            for what, used, limit in [
                ("model tokens", total.tokens, self.max_tokens),
                ("model calls", total.model_calls, self.max_calls),
                ("cost", total.cost, self.max_cost),
                ("agent seconds", total.seconds, self.max_seconds),
            ]
            if limit is not None and used >= limit
        ]
        if reached:
            raise BudgetExceeded(
                f"the task's budget for {', '.join(reached)} is spent ({total.describe()}); "
                "raise the limits in .github/issuepilot.yml, then retry"
            )

    def remaining_seconds(self) -> float:
        if self.max_seconds is None:
            return float("inf")
        return max(0.0, self.max_seconds - self.total().seconds)
