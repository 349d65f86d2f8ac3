"""Running independent calls concurrently, with errors that name their cause."""

import asyncio
from collections.abc import Awaitable
from typing import Any

# Requests to GitHub at once: it asks integrations not to flood it with concurrent calls
# (secondary rate limits), and 100 is its documented ceiling.
# https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api
CONCURRENCY = 8


async def together(*calls: Awaitable[Any], limit: int = 0) -> list[Any]:
    """Await `calls` concurrently (an `asyncio.TaskGroup`), at most `limit` at once if
    given: a step costs its longest call, not their sum. If any fails, the others are
    cancelled and the first error is raised as itself, not wrapped in an
    `ExceptionGroup`, so the step's one error line names it. Results keep the order."""
    gate = asyncio.Semaphore(limit) if limit else None

    async def one(call: Awaitable[Any]) -> Any:
        if gate is None:
            return await call
        async with gate:
            return await call

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(call)) for call in calls]
    except BaseExceptionGroup as failed:
        raise _first(failed) from None
    return [task.result() for task in tasks]


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    first = group.exceptions[0]
    return _first(first) if isinstance(first, BaseExceptionGroup) else first
