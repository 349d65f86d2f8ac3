"""The scheduled sweep: reconcile every live task with GitHub's facts, a page at a time.

It reads GitHub in lists, not per task: the open issues with the trigger label (their
labels, comment counts and states), and what changed since the last sweep: the issues
with the trigger label closed since, the pull requests closed since. From those facts and
the store it finishes tasks whose pull request was merged or closed, cancels those whose
issue was closed, rebuilds tasks the store lost, acts on labels people added while their
events were lost, repairs labels that drifted, recovers steps whose run died, renews the
file leases of open pull requests and wakes tasks that wait for a step or for files.

Cost: ceil(live tasks / 100) + 2 list calls, plus the calls of the tasks that need an
action. Rate-limited, it stops at once and says when GitHub lets it go on.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ..errors import IssuePilotError, Superseded
from ..github.errors import RateLimited
from ..github.objects import Issue, Pull
from .context import Context, Outcome
from .reconcile import reconcile

# How far back the first sweep (or one after the store lost its memory) looks for issues
# and pull requests closed while their events were lost; later sweeps look back to the
# previous one, with a margin for clocks and for events still on their way.
FIRST_LOOK_BACK = timedelta(days=7)
OVERLAP = timedelta(minutes=10)


@dataclass
class Facts:
    """What GitHub shows, read in lists."""

    open_issues: dict[int, Issue] = field(default_factory=dict)  # with the trigger label
    closed_issues: dict[int, Issue] = field(default_factory=dict)  # since the last sweep
    # By the issue whose task's branch it is: the newest closed since the last sweep.
    closed_pulls: dict[int, Pull] = field(default_factory=dict)


async def sweep(ctx: Context) -> Outcome:
    started = datetime.fromtimestamp(ctx.now(), UTC)
    swept_at = await ctx.store.get_flag(ctx.keys.swept)
    since = datetime.fromisoformat(swept_at) if swept_at else started - FIRST_LOOK_BACK
    try:
        facts = await gather(ctx, since - OVERLAP)
    except RateLimited as limited:
        return Outcome(None, _paused(limited, 0, 0))
    ready = set(await ctx.locks.reap())
    issues = sorted(set(await ctx.store.live()) | set(facts.open_issues) | set(facts.closed_issues))
    tasks = await ctx.store.load_many(issues)
    woken, problems = 0, []
    for done, issue in enumerate(issues):
        try:
            woken += await reconcile(ctx, issue, tasks.get(issue), facts, ready)
        except Superseded:
            continue  # another run moved it meanwhile: it is in good hands
        except RateLimited as limited:
            return Outcome(None, _paused(limited, done, len(issues)))
        except IssuePilotError as exc:  # one broken task must not stop the sweep
            problems.append(f"#{issue}: {exc}")
            ctx.say(f"#{issue}: sweep failed: {exc}")
    if not problems:  # else the next sweep reads the same facts again, and acts on them
        await ctx.store.set_flag(ctx.keys.swept, started.isoformat(), ttl_s=None)
    message = f"swept: woke {woken} task(s)" + (f"; {len(problems)} failed" if problems else "")
    return Outcome(None, message)


async def gather(ctx: Context, since: datetime) -> Facts:
    """The facts, in ceil(open tasks / 100) + 2 list calls."""
    trigger = ctx.labels.trigger
    facts = Facts()
    async for issue in ctx.gh.list_issues(trigger):
        facts.open_issues[issue.number] = issue
    async for issue in ctx.gh.list_issues(trigger, state="closed", since=since):
        facts.closed_issues[issue.number] = issue
    async for pull in ctx.gh.closed_pulls(since):  # most recently updated first
        if (number := ctx.labels.issue_of(pull.head.ref)) is not None:
            facts.closed_pulls.setdefault(number, pull)
    return facts


def _paused(limited: RateLimited, done: int, total: int) -> str:
    when = (
        datetime.fromtimestamp(limited.reset, UTC).strftime("%H:%M UTC")
        if limited.reset
        else "its limit resets"
    )
    return (
        f"GitHub's rate limit stopped the sweep after {done} of {total} task(s); it allows "
        f"more calls at {when}, and the next sweep goes on from there"
    )
