"""The sticky status comment: progress, the plan, the PR, errors, and the task record.

The record rides in a hidden marker at the very end of the comment, so a task can be
rebuilt from GitHub alone if Redis loses it. Text that came from the issue or the model is
escaped before it is shown, so it can neither forge a marker nor break the markdown.
"""

import html
import json
import re

from pydantic import ValidationError

from ..labels import Labels
from ..machine import TaskState
from ..models import Task, holders_text

MARKER = "<!-- issuepilot:task "
_MARKER_RE = re.compile(r"<!-- issuepilot:task (\{.*?\}) -->", re.DOTALL)
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


def escape(text: str) -> str:
    """Show untrusted text as text: no HTML, no hidden comments, no forged markers."""
    return html.escape(text, quote=False)


def _record(task: Task) -> str:
    data = task.model_copy(update={"version": 0}).to_json()
    # `<` and `>` never appear raw, so the JSON cannot end the HTML comment early.
    return data.replace("<", "\\u003c").replace(">", "\\u003e")


def render(task: Task, labels: Labels) -> str:
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
    if task.error:
        lines += [f"> [!WARNING]\n> {escape(task.error)}", ""]
    if task.refusal:
        lines += [f"> [!NOTE]\n> {escape(task.refusal)}", ""]
    if task.waiting_on:
        held = holders_text({escape(p): t for p, t in task.waiting_on.items()}, path="`{}`")
        lines += [f"Waiting for files locked by other tasks: {held}", ""]
    if task.pr:
        lines += [f"Pull request: #{task.pr}", ""]
    if task.plan is not None:
        lines += _plan_lines(task)
    if task.extra_paths:
        lines += [
            "Also changed outside the plan: "
            + ", ".join(f"`{escape(p)}`" for p in task.extra_paths),
            "",
        ]
    if task.usage.model_calls or task.usage.seconds:
        lines += [f"Spent: {task.usage.describe()}", ""]
    hint = NEXT[task.state].format(
        approved=labels.approved, retry=labels.retry, trigger=labels.trigger
    )
    lines += [f"**Next:** {hint}", "", f"{MARKER}{_record(task)} -->"]
    return "\n".join(lines)


def _plan_lines(task: Task) -> list[str]:
    plan = task.plan
    assert plan is not None
    approved = " · approved" if task.approved_hash == task.plan_hash else ""
    out = [
        f"#### Plan v{task.plan_version} (`{task.plan_hash}`{approved})",
        "",
        escape(plan.summary),
        "",
    ]
    if len(task.plan_versions) > 1:
        listed = " · ".join(f"v{v.version} `{v.digest}` ({v.at})" for v in task.plan_versions)
        out += [f"Versions: {listed}; approval applies to the latest only.", ""]
    out += [f"{i}. {escape(step)}" for i, step in enumerate(plan.steps, 1)]
    out += ["", "Files:"]
    out += [f"- `{escape(f.path)}` ({f.action}) {escape(f.why)}".rstrip() for f in plan.files]
    if plan.risks:
        out += ["", "Risks:"] + [f"- {escape(r)}" for r in plan.risks]
    return out + [""]


def parse_record(body: str) -> Task | None:
    """The task record of a status comment (the last marker), or None."""
    found = _MARKER_RE.findall(body)
    if not found:
        return None
    try:
        return Task.model_validate(json.loads(found[-1]))
    except (ValueError, ValidationError):
        return None
