"""When to try a GitHub request again, and after how long. Pure: the clock and the random
source are arguments.

https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#handle-rate-limit-errors-appropriately
"""

import random
from collections.abc import Mapping
from dataclasses import dataclass

RETRY_STATUSES = frozenset({502, 503, 504})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 4  # tries in all
    base_s: float = 1.0  # first back-off; doubles each time, plus up to as much again of jitter
    max_wait_s: float = 60.0  # longest rate-limit wait before the step fails instead

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Exponential back-off with full jitter, for attempt 0, 1, 2, ..."""
        step = self.base_s * 2.0**attempt
        return step + rng.uniform(0, step)

    def rate_limit_wait(self, headers: Mapping[str, str], now: float) -> float:
        """Seconds GitHub asks us to wait (Retry-After, else until x-ratelimit-reset)."""
        retry_after = headers.get("retry-after", "")
        if retry_after.isdigit():
            return float(retry_after)
        reset = headers.get("x-ratelimit-reset", "")
        if headers.get("x-ratelimit-remaining") == "0" and reset.isdigit():
            return max(0.0, float(reset) - now) + 1.0
        return 60.0  # a secondary limit without a hint: GitHub asks for at least a minute

    def may_wait(self, wait: float) -> bool:
        return wait <= self.max_wait_s
