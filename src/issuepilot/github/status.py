"""The sticky status comment: progress, the plan, the PR, errors, and the task record.

The record rides in a hidden marker at the very end of the comment, so a task can be
rebuilt from GitHub alone if the store loses it. It is signed (HMAC-SHA256 with the
record key, bound to the repository): anyone able to post a comment as IssuePilot's login
can write a marker, but only a record with a valid signature is trusted for more than
its plan and pull request. It holds no capability: lock tokens stay in the store.
Text that came from the issue, the model or an agent is redacted and escaped before it
is shown (`untrusted.shown`): it can neither forge a marker, break the markdown, notify
anyone nor close an issue.
"""

import base64
import hashlib
import hmac
import json
import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from pydantic import ValidationError

from ..labels import Labels
from ..machine import TaskState
from ..models import CheckResult, Task, holders_text
from .untrusted import Redactor, code, escape, shown

Text = Callable[[str], str]

MARKER = "<!-- issuepilot:task "
_MARKER_RE = re.compile(
    r"<!-- issuepilot:task (\{.*?\}|z:[A-Za-z0-9+/=]+)(?: sig=([0-9a-f]{64}))? -->", re.DOTALL
)
LIMIT = 65_536  # the most characters GitHub keeps in a comment (or a PR description)
PACK_ABOVE = 4_000  # a longer record travels compressed (`z:` + base64 of zlib)
LISTED = 100  # files listed by name in the comment; the record holds them all
TAIL_LINES = 40  # lines of a failing check's output shown
PROGRESS = [
    TaskState.QUEUED,
    TaskState.PLANNING,
    TaskState.PLAN_REVIEW,
    TaskState.APPROVED,
    TaskState.EXECUTING,
    TaskState.PR_OPEN,
    TaskState.DONE,
]
NEXT = {
    TaskState.QUEUED: "Waiting for a planning run.",
    TaskState.PLANNING: "The planner is at work.",
    TaskState.PLAN_REVIEW: (
        "Review the plan, then add the label `{approved}` or comment `/issuepilot approve`; "
        "`/issuepilot revise <feedback>` asks for a new plan, `/issuepilot cancel` stops."
    ),
    TaskState.APPROVED: "Approved: the change is written as soon as its files are free.",
    TaskState.EXECUTING: "The agent is writing the change.",
    TaskState.PR_OPEN: "Review the pull request; merging it finishes the task.",
    TaskState.DONE: "Done.",
    TaskState.FAILED: (
        "Failed: fix the cause, then add the label `{retry}` or comment `/issuepilot retry`."
    ),
    TaskState.CANCELLED: "Cancelled. Add the label `{trigger}` again to start over.",
}


@dataclass(frozen=True, slots=True)
class Seal:
    """Signs what IssuePilot writes where others could write too, for one repository: the
    task record of a status comment, and every entry of the ledger. An empty key signs
    nothing and verifies nothing."""

    repo: str
    key: bytes = b""

    @classmethod
    def of(cls, repo: str, material: str) -> "Seal":
        """The seal of a record key (the `record-key` input, or the key kept in the store)."""
        return cls(repo, hashlib.sha256(b"issuepilot task record\0" + material.encode()).digest())

    def mac(self, message: str) -> str:
        """HMAC-SHA256 of `message`, bound to the repository; "" without a key. What is
        signed starts with what it is (`#<issue>` for a comment's record, ` ledger ...`
        for a ledger entry), so no signature is good for anything else."""
        if not self.key:
            return ""
        return hmac.new(self.key, f"{self.repo}{message}".encode(), hashlib.sha256).hexdigest()

    def check(self, message: str, signature: str) -> bool:
        return bool(self.key and signature) and hmac.compare_digest(self.mac(message), signature)

    def sign(self, issue: int, record: str) -> str:
        return self.mac(f"#{issue}\n{record}")

    def verify(self, issue: int, record: str, signature: str) -> bool:
        return self.check(f"#{issue}\n{record}", signature)


@dataclass(frozen=True, slots=True)
class Record:
    """A task record read back from a status comment, and whether its signature holds."""

    task: Task
    signed: bool


def _record(task: Task, redact: Redactor) -> str:
    """The record as JSON the comment can carry: `<` and `>` never appear raw, so it cannot
    end the HTML comment early; nor `@` and `#`, so no mention or reference in it acts. A
    large one (a plan of hundreds of files) is compressed."""
    data = redact(task.public_json())
    for char in "<>@#":
        data = data.replace(char, f"\\u{ord(char):04x}")
    if len(data) > PACK_ABOVE:
        return "z:" + base64.b64encode(zlib.compress(data.encode(), 9)).decode()
    return data


def _unpack(record: str) -> str:
    if not record.startswith("z:"):
        return record
    return zlib.decompress(base64.b64decode(record[2:]), bufsize=LIMIT).decode()


def render(
    task: Task, labels: Labels, redact: Redactor | None = None, seal: Seal | None = None
) -> str:
    redact = redact or Redactor()
    show, span = partial(shown, redact=redact), partial(code, redact=redact)
    lines = [f"### IssuePilot · **{task.state}**", ""]
    reached = {h.state: h for h in task.history}
    for state in PROGRESS:
        entry = reached.get(state)
        if entry is None:
            lines.append(f"- [ ] {state}")
            continue
        run = f" ([run]({entry.run}))" if entry.run else ""
        lines.append(f"- [x] {state} · {entry.at}{run}")
    if task.state in (TaskState.FAILED, TaskState.CANCELLED):
        lines.append(f"- [x] **{task.state}**")
    lines.append("")
    lines += _notes(task, show, span)
    if task.plan is not None:
        lines += _plan_lines(task, show, span)
    if task.extra_paths:
        lines += [
            "Also changed outside the plan: " + ", ".join(f"`{span(p)}`" for p in task.extra_paths),
            "",
        ]
    if task.checks:
        lines += [check_lines(task.checks, redact)]
    if task.usage.model_calls or task.usage.seconds:
        lines += [f"Spent: {task.usage.describe()}", ""]
    hint = NEXT[task.state].format(
        approved=labels.approved, retry=labels.retry, trigger=labels.trigger
    )
    record = _record(task, redact)
    signature = (seal or Seal("")).sign(task.issue, record)
    sig = f" sig={signature}" if signature else ""
    lines += [f"**Next:** {hint}", "", f"{MARKER}{record}{sig} -->"]
    return "\n".join(lines)


def _notes(task: Task, show: Text, span: Text) -> list[str]:
    """What the maintainers should read first: errors, refusals, notices, what it waits
    for, its pull request."""
    lines = []
    if task.error:
        lines += [f"> [!WARNING]\n> {show(task.error)}", ""]
    if task.refusal:
        lines += [f"> [!NOTE]\n> {show(task.refusal)}", ""]
    for notice in task.notices:
        lines += [f"> [!CAUTION]\n> {show(notice)}", ""]
    if task.waiting_on:
        held = holders_text({span(p): t for p, t in task.waiting_on.items()}, path="`{}`")
        lines += [f"Waiting for files locked by other tasks: {held}", ""]
    if task.pr:
        lines += [f"Pull request: #{task.pr}", ""]
    return lines


def _plan_lines(task: Task, show: Text, span: Text) -> list[str]:
    plan = task.plan
    assert plan is not None
    approved = " · approved" if task.approved_hash == task.plan_hash else ""
    out = [
        f"#### Plan v{task.plan_version} (`{task.plan_hash}`{approved})",
        "",
        show(plan.summary),
        "",
    ]
    if len(task.plan_versions) > 1:
        listed = " · ".join(f"v{v.version} `{v.digest}` ({v.at})" for v in task.plan_versions)
        out += [f"Versions: {listed}; approval applies to the latest only.", ""]
    out += [f"{i}. {show(step)}" for i, step in enumerate(plan.steps, 1)]
    out += ["", f"<details><summary>Files ({len(plan.files)})</summary>", ""]
    out += [f"- `{span(f.path)}` ({f.action}) {show(f.why)}".rstrip() for f in plan.files[:LISTED]]
    if len(plan.files) > LISTED:
        out.append(f"- … and {len(plan.files) - LISTED} more")
    out += ["", "</details>"]
    if plan.risks:
        out += ["", "Risks:"] + [f"- {show(r)}" for r in plan.risks]
    return out + [""]


def parse_record(body: str, seal: Seal | None = None) -> Record | None:
    """The task record of a status comment (the last marker), or None."""
    found = _MARKER_RE.findall(body)
    if not found:
        return None
    record, signature = found[-1]
    try:
        task = Task.model_validate(json.loads(_unpack(record)))
    except (ValueError, ValidationError, zlib.error):
        return None
    return Record(task, (seal or Seal("")).verify(task.issue, record, signature))


def too_large(task: Task, labels: Labels) -> int:
    """The status comment's size if it would not fit in a GitHub comment, else 0."""
    size = len(render(task, labels)) + 80  # a signature, once signed
    return size if size > LIMIT else 0


def check_lines(checks: Sequence[CheckResult], redact: Redactor) -> str:
    """The checks' results: one line each, a failing one's output tail folded under it."""
    if not checks:
        return ""
    out = ["", "### Checks", ""]
    for result in checks:
        mark = "passed" if result.passed else ("timed out" if result.code is None else "failed")
        out.append(f"- **{escape(result.name)}**: {mark} in {result.seconds:.0f} s")
        if not result.passed and result.tail.strip():
            tail = "\n".join(redact(result.tail).strip().splitlines()[-TAIL_LINES:])
            out += ["", "  <details><summary>output</summary>", "", "  ```text"]
            out += [f"  {line}" for line in tail.replace("```", "ʼʼʼ").splitlines()]
            out += ["  ```", "  </details>", ""]
    return "\n".join(out) + "\n"
