"""What a fix round is asked to fix, gathered from GitHub: a review and its inline comments,
a command's text, a failed workflow run's jobs and log tails, a failed check's output.

All of it is untrusted text (a reviewer, a log, a check may say anything); the agent's
prompts quote it as data. Logs are read from their end, at most `ci-log-bytes` each, and
stripped of colour codes and timestamps.
"""

import re
from dataclasses import dataclass, field

from ..github.objects import ReviewComment
from ..models import Task
from .context import Context

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z ?", re.MULTILINE)
LOG_LINES = 150  # of each failing job's log, the lines the agent reads
BOM = "\ufeff"  # a whole job log starts with one
HUNK_LINES = 12  # of a review comment's diff hunk, the last lines shown


@dataclass
class Feedback:
    """A round's brief, where it came from, and the review threads to answer after it."""

    brief: str
    origin: str  # for people: "review by @ann", "workflow 'CI' failed", ...
    threads: list[ReviewComment] = field(default_factory=list)
    head_sha: str = ""  # the commit the CI judged, where the event says


async def gather(ctx: Context, task: Task) -> Feedback:
    trigger, payload = ctx.trigger, ctx.payload
    kind, ident = trigger.source
    if kind == "review":
        threads = await ctx.gh.review_comments(task.pr, ident)
        top = [c for c in threads if c.in_reply_to_id is None]
        parts = [f"Review by @{trigger.actor} (changes requested):\n{trigger.feedback}".strip()]
        parts += [_thread(c) for c in top]
        return Feedback("\n\n".join(parts), f"changes requested by @{trigger.actor}", top)
    if kind == "run" and payload.workflow_run is not None:
        run = payload.workflow_run
        brief = await _run_brief(ctx, ident, run.name)
        return Feedback(brief, f"workflow {run.name!r} failed", [], run.head_sha)
    if kind == "check" and payload.check_run is not None:
        check = payload.check_run
        brief = await _check_brief(ctx, ident)
        return Feedback(brief, f"check {check.name!r} failed", [], check.head_sha)
    said = trigger.feedback or "Look at the pull request again and fix what is wrong."
    origin = f"/issuepilot {trigger.action} by @{trigger.actor}"
    return Feedback(f"{origin}:\n{said}", origin)


def _thread(comment: ReviewComment) -> str:
    where = f"{comment.path}:{comment.line or comment.original_line or '?'}"
    hunk = "\n".join(comment.diff_hunk.splitlines()[-HUNK_LINES:])
    return f"Inline comment on {where}:\n```diff\n{hunk}\n```\n{comment.body}"


async def _run_brief(ctx: Context, run_id: int, name: str) -> str:
    jobs = [j for j in await ctx.gh.run_jobs(run_id) if j.conclusion in ("failure", "timed_out")]
    parts = [f"The workflow {name!r} failed on the pull request's head."]
    for job in jobs:
        steps = [s.name for s in job.steps if s.conclusion in ("failure", "timed_out")]
        log = clean_log(await ctx.gh.job_log_tail(job.id, ctx.config.ci_log_bytes))
        tail = "\n".join(log.splitlines()[-LOG_LINES:])
        failing = ", ".join(repr(s) for s in steps) or "none named"
        parts.append(f"Job {job.name!r} failed (failing steps: {failing}). End of its log:\n{tail}")
    if not jobs:
        parts.append("No failing job was found: the run may have been cancelled or re-run.")
    return "\n\n".join(parts)


async def _check_brief(ctx: Context, check_id: int) -> str:
    check = ctx.payload.check_run
    assert check is not None
    output = check.output
    parts = [f"The check {check.name!r} failed on the pull request's head."]
    if output is not None:
        parts += [t for t in (output.title, output.summary, output.text) if t]
    for note in (await ctx.gh.check_annotations(check_id))[:50]:
        lines = f"{note.start_line}-{note.end_line}" if note.end_line != note.start_line else ""
        where = f"{note.path}:{lines or note.start_line}"
        title = f" {note.title}:" if note.title else ""
        parts.append(f"{note.annotation_level} at {where}:{title} {note.message}")
    return "\n\n".join(parts)


def clean_log(text: str) -> str:
    """A job log as people read it: no colour codes, no timestamps (the first line's too,
    behind the byte order mark GitHub's logs start with)."""
    return STAMP.sub("", ANSI.sub("", text.removeprefix(BOM).replace("\r\n", "\n")))
