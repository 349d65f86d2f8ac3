"""`issuepilot migrate --to redis|github`: move a repository's tasks and file locks from one
store to the other, losing nothing.

Refused while any step holds a lease (a run is working on a task): its next write would go
to the store it read from. The live task records are copied (over any older copy the
target holds), and the files of every task that holds them (executing, or with its pull
request open) are locked in the target under the task's own token, for the open pull
request's lease, so its runs go on as if nothing moved. The waiting line is not copied:
the sweep wakes every approved task whose files are free. Settled finished tasks stay
behind (their status comments keep their records); one not yet settled moves, for the
sweep to finish there.
"""

from dataclasses import dataclass

from .errors import InputError
from .locks import LockManager
from .machine import HOLDS_LOCKS, LEASED
from .store import TaskStore


@dataclass(frozen=True, slots=True)
class Moved:
    tasks: int
    locked: int  # files locked in the target


async def migrate(
    source: TaskStore,
    target: TaskStore,
    target_locks: LockManager,
    now: float,
    pr_lease_s: float,
) -> Moved:
    tasks = await source.load_many(await source.live())
    busy = sorted(n for n, t in tasks.items() if t.state in LEASED and t.lease_until > now)
    if busy:
        listed = ", ".join(f"#{n}" for n in busy)
        raise InputError(
            f"steps are running for {listed}: migrate when they are done (their leases end)"
        )
    locked = 0
    for issue, task in sorted(tasks.items()):
        there = await target.load(issue)
        copied = await target.commit(
            task.model_copy(update={"version": there.version if there else 0})
        )
        if copied is None:
            raise InputError(f"#{issue} changed in {target.name} while it was copied: run again")
        if task.state in HOLDS_LOCKS and task.lock_token and task.locked_paths:
            await target_locks.acquire(
                str(issue), task.locked_paths, ttl_s=pr_lease_s, token=task.lock_token
            )
            locked += len(task.locked_paths)
    return Moved(len(tasks), locked)
