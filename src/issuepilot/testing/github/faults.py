"""Faults a test can inject into the fake GitHub: errors, rate limits, lost replies and
held requests, each for the next requests whose method and path match.

A held request blocks the thread serving it until the test releases it, so `hold` is for
the loopback server; in-process (`transport()`) it would block the event loop.
"""

import random
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Rule:
    method: str
    pattern: re.Pattern[str]
    times: int = 1
    status: int = 0  # answer with this status instead of serving the request
    headers: dict[str, str] = field(default_factory=dict)
    lose_reply: bool = False  # carry the request out, then drop the connection
    release: threading.Event | None = None  # hold the request until this is set
    arrived: threading.Event = field(default_factory=threading.Event)
    rate: float = 1.0  # the share of matching requests it meets (drawn from `rng`)
    rng: random.Random | None = None

    def answer(self) -> tuple[int, Any, dict[str, str]]:
        message = "API rate limit exceeded" if self.headers else "Server Error"
        return self.status, {"message": message, "status": str(self.status)}, self.headers


class Faults:
    def __init__(self) -> None:
        self.rules: list[Rule] = []
        self._rules_lock = threading.Lock()
        self.injected = 0  # requests a rule met

    def flaky(
        self, rate: float, rng: random.Random, method: str = "", path_regex: str = ""
    ) -> None:
        """From now on, fail a `rate` share of the matching requests (every request, by
        default), drawn from `rng`: half answered 502 without being carried out, half
        carried out with their reply lost."""
        pattern, half = re.compile(path_regex), rate / 2
        self.rules.append(Rule(method, pattern, sys.maxsize, status=502, rate=half, rng=rng))
        lost = half / (1 - half)  # of the requests the first rule let through
        self.rules.append(Rule(method, pattern, sys.maxsize, lose_reply=True, rate=lost, rng=rng))

    def steady(self) -> None:
        """Drop the `flaky` rules: GitHub answers every request again."""
        with self._rules_lock:
            self.rules = [rule for rule in self.rules if rule.rng is None]

    def fail(
        self,
        method: str,
        path_regex: str,
        status: int = 502,
        times: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next `times` matching requests with `status` (and `headers`)."""
        pattern = re.compile(path_regex)
        self.rules.append(Rule(method, pattern, times, status=status, headers=headers or {}))

    def rate_limit(
        self, method: str, path_regex: str, retry_after: int = 0, times: int = 1
    ) -> None:
        """Answer like GitHub's secondary rate limit: 403 with Retry-After."""
        headers = {
            "Retry-After": str(retry_after),
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": str(int(time.time()) + retry_after),
        }
        self.fail(method, path_regex, status=403, times=times, headers=headers)

    def lose_reply(self, method: str, path_regex: str, times: int = 1) -> None:
        """Carry out the next matching requests, then drop the connection unanswered."""
        self.rules.append(Rule(method, re.compile(path_regex), times, lose_reply=True))

    def hold(self, method: str, path_regex: str) -> tuple[threading.Event, threading.Event]:
        """Hold the next matching request: returns (arrived, release) events."""
        rule = Rule(method, re.compile(path_regex), release=threading.Event())
        self.rules.append(rule)
        assert rule.release is not None
        return rule.arrived, rule.release

    def release_held(self) -> None:
        for rule in self.rules:
            if rule.release is not None:
                rule.release.set()

    def fault_for(self, method: str, path: str) -> Rule | None:
        """The rule this request meets, if any, using up one of its times. A hold waits
        here until released and then lets the request through."""
        with self._rules_lock:
            rule = next((r for r in self.rules if _matches(r, method, path) and _drawn(r)), None)
            if rule is not None:
                rule.times -= 1
                self.injected += 1
        if rule is not None and rule.release is not None:
            rule.arrived.set()
            rule.release.wait(timeout=60)
            return None
        return rule


def _matches(rule: Rule, method: str, path: str) -> bool:
    """A rule without a method meets every method."""
    return rule.method in ("", method) and rule.times > 0 and bool(rule.pattern.search(path))


def _drawn(rule: Rule) -> bool:
    return rule.rng is None or rule.rng.random() < rule.rate
