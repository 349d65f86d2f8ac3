"""What every task's end must look like, however it got there: the rules the chaos run
(`chaos.py`) checks once everything is quiet."""

from ..github.status import MARKER, parse_record
from ..labels import Labels
from ..machine import FINAL, RESTING, TABLE, TaskState
from ..models import Task
from .github import FakeGitHub
from .github.state import BOT

S = TaskState
# The states a lifecycle without revisions or fix rounds enters once at most, between two
# rebuilds of its record.
ONCE = {S.PLAN_REVIEW, S.PR_OPEN, S.DONE, S.CANCELLED}


def broken(
    github: FakeGitHub, labels: Labels, tasks: dict[int, Task | None], holders: dict[str, str]
) -> list[str]:
    """Every rule broken: each task DONE; one status comment, showing the record; exactly
    one state label, the record's; no open pull request and one pull request in all; a
    history that walks the machine; no file held by a finished task (`holders`: path ->
    task holding it)."""
    found = [why for issue, task in tasks.items() for why in _task(github, labels, issue, task)]
    for path, holder in sorted(holders.items()):
        task = tasks.get(int(holder))
        if task is None or task.state in FINAL:
            found.append(f"{path} is locked by #{holder}, which finished")
    return found


def _task(github: FakeGitHub, labels: Labels, issue: int, task: Task | None) -> list[str]:
    state, found = task.state if task else None, []
    if state is not S.DONE:
        found.append(f"#{issue} is {state or 'unknown to the store'}, not done")
    bodies = [
        c["body"]
        for c in github.comments.values()
        if c["issue"] == issue and c["user"] == BOT and MARKER in c["body"]
    ]
    if len(bodies) != 1:
        found.append(f"#{issue} has {len(bodies)} status comments")
    elif (shown := parse_record(bodies[0])) is None or shown.task.state is not state:
        found.append(f"#{issue}'s status comment shows {shown and shown.task.state}")
    states = set(github.issues[issue].labels) & labels.states
    if state is None or states != {labels.state(state)}:
        found.append(f"#{issue} shows the state labels {sorted(states)}, is {state}")
    pulls = [p for p in github.pulls.values() if p["head"] == labels.branch(issue)]
    if any(p["state"] == "open" for p in pulls):
        found.append(f"#{issue} has an open pull request")
    if len(pulls) != 1:
        found.append(f"#{issue} has {len(pulls)} pull requests")
    return found + [f"#{issue}: {why}" for why in walk_errors(task)] if task else found


def walk_errors(task: Task) -> list[str]:
    """Where the record's history is not a walk of the machine: a step no move makes, or a
    state entered twice that only revisions or fix rounds may enter again (a rebuild from
    the status comment starts the walk over)."""
    errors, seen, before = [], set[TaskState](), None
    for entry in task.history:
        if entry.note.startswith("rebuilt"):
            seen, before = {entry.state}, entry.state
            continue
        if before is not None and not _edge(before, entry.state):
            errors.append(f"{before} -> {entry.state} is no move of the machine")
        if entry.state in seen and entry.state in ONCE:
            errors.append(f"entered {entry.state} twice")
        seen.add(entry.state)
        before = entry.state
    return errors


def _edge(src: TaskState, dst: TaskState) -> bool:
    """Whether some move takes a task from `src` to `dst` (BACK: to any resting state)."""
    return any(
        s == src and (target == dst or (not isinstance(target, TaskState) and dst in RESTING))
        for (s, _), target in TABLE.items()
    )
