"""The store and the file locks as one plain table, with every rule of both: pure, on a
clock given to each call.

This is the one implementation of `TaskStore` and `LockManager` semantics outside Redis's
Lua scripts: the in-memory store of the in-process tests keeps a `Table` in memory, and
the GitHub store (`ledger.py`) keeps one as a file in the repository, changed by
compare-and-set. The contract tests run all three against the same promises:
compare-and-set on a record's version; locks all or nothing, owned by a token, expiring
with their TTL; a fair waiting line whose ready waiters are woken on release.
"""

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import InputError
from .github.status import Seal
from .locks import TASK_ID, Lease, LockConflict, LockLost, Released
from .machine import FINAL
from .models import Task
from .paths import normalize_path

STAMPS = 100  # writers the file remembers: more than ever write it within one run's retry


@dataclass
class Held:
    task: str
    token: str
    until: float


@dataclass
class Table:
    records: dict[int, tuple[int, str]] = field(default_factory=dict)  # issue -> version, JSON
    flags: dict[str, tuple[str, float | None]] = field(default_factory=dict)  # value, until
    held: dict[str, Held] = field(default_factory=dict)  # path -> holder
    waiting: dict[str, tuple[float, frozenset[str]]] = field(default_factory=dict)  # since, wants
    line: int = 0
    finished: dict[int, float] = field(default_factory=dict)  # issue -> when it became final
    # Who wrote the latest versions, newest last: a run whose answer was lost finds its own
    # write among them, even after other runs wrote on top of it.
    stamps: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)  # entries read that did not verify

    # -- the store -------------------------------------------------------------------------

    def load(self, issue: int) -> Task | None:
        if issue not in self.records:
            return None
        version, data = self.records[issue]
        return Task.model_validate_json(data).model_copy(update={"version": version})

    def commit(self, task: Task, now: float, keep_s: float | None = None) -> Task | None:
        """Compare-and-set on the version. A task that ended is kept `keep_s` seconds
        longer once settled (its status comment keeps the record for good)."""
        self.expire(now)
        version = self.records.get(task.issue, (0, ""))[0]
        if version != task.version:
            return None
        self.records[task.issue] = (version + 1, task.to_json())
        if task.state in FINAL and task.settled and keep_s is not None:
            self.finished[task.issue] = now + keep_s
        else:
            self.finished.pop(task.issue, None)
        return task.model_copy(update={"version": version + 1})

    def expire(self, now: float) -> None:
        for issue, until in list(self.finished.items()):
            if until <= now:
                del self.finished[issue]
                self.records.pop(issue, None)

    def live(self) -> list[int]:
        """The tasks not finished, or finished but not yet settled."""
        tasks = [Task.model_validate_json(data) for _, data in self.records.values()]
        return sorted(t.issue for t in tasks if t.state not in FINAL or not t.settled)

    def get_flag(self, key: str, now: float) -> str | None:
        value, until = self.flags.get(key, (None, None))
        if value is None or (until is not None and until <= now):
            return None
        return value

    def set_flag(self, key: str, value: str, ttl_s: float | None, now: float) -> None:
        self.flags[key] = (value, now + ttl_s if ttl_s else None)

    def ensure_flag(self, key: str, value: str, now: float) -> str:
        current = self.get_flag(key, now)
        if current is None:
            self.set_flag(key, value, None, now)
            return value
        return current

    # -- the locks -------------------------------------------------------------------------

    def _holder(self, path: str, now: float) -> Held | None:
        """Who holds `path` now; a lapsed lock stays in the table until reaped or taken,
        as in Redis, but holds nothing."""
        held = self.held.get(path)
        return None if held is None or held.until <= now else held

    def acquire(
        self, task: str, paths: Sequence[str], ttl_s: float, token: str | None, now: float
    ) -> Lease:
        """Every path or none; a conflict puts the task in the waiting line (and raises
        after the table records it)."""
        if not TASK_ID.match(task):
            raise InputError(f"invalid task id {task!r}")
        norm = sorted({normalize_path(p) for p in paths})
        if not norm:
            raise InputError("acquire needs at least one path")
        token = token or secrets.token_hex(16)
        holders = {p: h for p in norm if (h := self._holder(p, now)) is not None}
        conflicts = {p: h.task for p, h in holders.items() if (h.task, h.token) != (task, token)}
        if conflicts:
            self.line += 1
            since = self.waiting.get(task, (float(self.line), frozenset()))[0]
            self.waiting[task] = (since, frozenset(norm))
            raise LockConflict(conflicts)
        if len(holders) < len(norm):  # a retry of a grant that took effect writes nothing
            for path in norm:
                self.held[path] = Held(task, token, now + ttl_s)
        self.waiting.pop(task, None)
        return Lease(task, token, tuple(norm))

    def extend(self, lease: Lease, ttl_s: float, now: float) -> None:
        lost = [p for p in lease.paths if not self._owns(lease, p, now)]
        if lost:
            raise LockLost(lost)
        for path in lease.paths:
            self.held[path].until = now + ttl_s

    def _owns(self, lease: Lease, path: str, now: float) -> bool:
        held = self._holder(path, now)
        return held is not None and (held.task, held.token) == (lease.task, lease.token)

    def _drop(self, paths: list[str], now: float) -> list[str]:
        """Drop these locks; returns those that were still in force."""
        live = [p for p in paths if self._holder(p, now) is not None]
        for path in paths:
            del self.held[path]
        return live

    def release(self, lease: Lease, now: float) -> Released:
        mine = [
            p
            for p in lease.paths
            if (h := self.held.get(p)) and (h.task, h.token) == (lease.task, lease.token)
        ]
        return Released(self._drop(mine, now), self._ready(set(mine), now))

    def release_task(self, task: str, now: float) -> Released:
        mine = sorted(p for p, h in self.held.items() if h.task == task)
        freed = set(mine) | self.waiting.pop(task, (0.0, frozenset()))[1]
        return Released(self._drop(mine, now), self._ready(freed, now))

    def holders(self, paths: Sequence[str], now: float) -> dict[str, str]:
        norm = sorted({normalize_path(p) for p in paths})
        return {p: h.task for p in norm if (h := self._holder(p, now)) is not None}

    def reap(self, now: float) -> list[str]:
        lapsed = [p for p, h in self.held.items() if h.until <= now]
        self._drop(lapsed, now)
        return self._ready(set(lapsed), now)

    def _ready(self, freed: set[str], now: float) -> list[str]:
        """The waiters of `freed` whose paths are all free, oldest first, leaving out one
        that wants a path an older ready waiter wants too; the other waiters of the same
        paths are weighed as rivals but not returned."""
        asked = {t for t, (_, wants) in self.waiting.items() if wants & freed}
        contested: set[str] = set().union(*(self.waiting[t][1] for t in asked))
        weighed = {t for t, (_, wants) in self.waiting.items() if wants & contested}
        ready: list[str] = []
        claimed: set[str] = set()
        for task in sorted(weighed, key=lambda t: self.waiting[t][0]):
            wants = self.waiting[task][1]
            free = all(
                p not in claimed and ((h := self._holder(p, now)) is None or h.task == task)
                for p in wants
            )
            if free:
                claimed |= wants
                if task in asked:
                    ready.append(task)
        return ready

    # -- as a file -------------------------------------------------------------------------

    def to_json(self, seal: Seal | None = None) -> str:
        """The table as the ledger's file; with a keyed `seal`, every record, flag, lock and
        place in line carries its signature."""
        sign = _Signer(seal)
        records = {
            str(n): sign.record(n, {"version": v, "task": json.loads(t)})
            for n, (v, t) in self.records.items()
        }
        data: dict[str, Any] = {
            "format": 1,
            "records": records,
            "flags": {k: sign.entry("flag", k, [v, until]) for k, (v, until) in self.flags.items()},
            "held": {
                p: sign.entry("held", p, [h.task, h.token, h.until]) for p, h in self.held.items()
            },
            "waiting": {
                t: sign.entry("waiting", t, [since, sorted(w)])
                for t, (since, w) in self.waiting.items()
            },
            "line": self.line,
            "finished": {str(n): until for n, until in self.finished.items()},
            "stamps": self.stamps[-STAMPS:],
        }
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str, seal: Seal | None = None) -> "Table":
        """The table of a ledger file. With a keyed `seal`, an entry whose signature does
        not verify (written by anything but IssuePilot) is left out, as if lost, and named
        in `rejected`."""
        data = json.loads(text)
        if data.get("format") != 1:
            raise InputError(f"the ledger has an unknown format {data.get('format')!r}")
        check = _Signer(seal)
        records = {n: r for n, r in data["records"].items() if check.record_ok(int(n), r)}
        flags = {k: e for k, e in data["flags"].items() if check.entry_ok("flag", k, e)}
        held = {p: e for p, e in data["held"].items() if check.entry_ok("held", p, e)}
        waiting = {t: e for t, e in data["waiting"].items() if check.entry_ok("waiting", t, e)}
        return cls(
            records={
                int(n): (int(r["version"]), json.dumps(r["task"])) for n, r in records.items()
            },
            flags={k: (str(e[0]), e[1]) for k, e in flags.items()},
            held={p: Held(str(e[0]), str(e[1]), float(e[2])) for p, e in held.items()},
            waiting={t: (float(e[0]), frozenset(e[1])) for t, e in waiting.items()},
            line=int(data["line"]),
            finished={int(n): float(u) for n, u in data["finished"].items()},
            stamps=[str(stamp) for stamp in data.get("stamps", [])],
            rejected=check.rejected,
        )


class _Signer:
    """Signs ledger entries with the record key's seal, and checks them. A signature binds
    an entry's name and whole value (a record's version and every field of its task: state,
    approval, plan, plan hash, files), so an entry cannot be changed, moved to another name
    or taken for a status comment's record."""

    def __init__(self, seal: Seal | None) -> None:
        self.seal = seal if seal is not None and seal.key else None
        self.rejected: list[str] = []

    @staticmethod
    def _message(kind: str, name: str, value: Any) -> str:
        return f" ledger {kind} {name}\n" + json.dumps(value, sort_keys=True, separators=(",", ":"))

    def record(self, issue: int, value: dict[str, Any]) -> dict[str, Any]:
        if self.seal is None:
            return value
        return {**value, "sig": self.seal.mac(self._message("record", str(issue), value))}

    def entry(self, kind: str, name: str, value: list[Any]) -> list[Any]:
        if self.seal is None:
            return value
        return [*value, self.seal.mac(self._message(kind, name, value))]

    def record_ok(self, issue: int, data: dict[str, Any]) -> bool:
        if self.seal is None:
            return True
        value = {k: v for k, v in data.items() if k != "sig"}
        message = self._message("record", str(issue), value)
        return self._verdict(self.seal.check(message, str(data.get("sig", ""))), f"record #{issue}")

    def entry_ok(self, kind: str, name: str, data: list[Any]) -> bool:
        if self.seal is None:
            return True
        *value, signature = data
        return self._verdict(
            self.seal.check(self._message(kind, name, value), str(signature)), f"{kind} {name}"
        )

    def _verdict(self, good: bool, what: str) -> bool:
        if not good:
            self.rejected.append(what)
        return good
