"""Build the clients one run needs from `Settings`, run it, and report what happened."""

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisClusterException, RedisError, ResponseError

from .agents.base import Agent
from .agents.budget import Budget
from .agents.command import CommandAgent, PresetRun
from .agents.install import cache_dir
from .agents.openai import OpenAIAgent, preload
from .agents.presets import preset
from .config import RepoConfig, Settings
from .errors import BackendError, InputError, IssuePilotError
from .events import Action, Payload, Trigger, decide
from .github.auth import APP_PERMISSIONS
from .github.client import GitHub
from .github.retry import RetryPolicy
from .github.status import Seal
from .github.untrusted import Redactor, logged, shown
from .ledger import Ledger, LedgerLocks, LedgerStore
from .locks import FileLocks, LockManager
from .models import Usage
from .runner import run
from .steps.context import Context, Outcome
from .store import RedisTaskStore, TaskStore


async def connect_redis(url: str, **options: Any) -> Redis | RedisCluster:
    """A client for the Redis at `url`, checked to answer. A Redis Cluster is named by a
    `redis+cluster://` or `rediss+cluster://` URL, or found by asking the server (INFO's
    `cluster_enabled`, which also serves as the first ping); it is then reached through
    the cluster client, which sends each repository's keys to the node serving their slot.
    `options` go to the client (tests use `decode_responses`)."""
    scheme, sep, rest = url.partition("://")
    plain = f"{scheme.removesuffix('+cluster')}{sep}{rest}"
    options = {"socket_connect_timeout": 5, "socket_timeout": 15, **options}
    redis: Redis | RedisCluster | None = None
    try:
        if scheme.endswith("+cluster"):
            redis = await RedisCluster.from_url(plain, **options).initialize()
        else:
            redis = Redis.from_url(plain, **options)
            try:
                info = await redis.info("cluster")
            except ResponseError:  # a server that refuses INFO answered: it is no cluster
                info = {}
            if info.get("cluster_enabled"):
                await redis.aclose()
                redis = await RedisCluster.from_url(plain, **options).initialize()
    except ValueError as exc:
        raise InputError(f"redis-url is not a valid Redis URL: {exc}") from None
    except (RedisError, RedisClusterException) as exc:
        if redis is not None:
            await redis.aclose()
        where = urlsplit(url).hostname or url
        raise BackendError(
            f"cannot reach Redis at {where}: {exc} (check the redis-url input)"
        ) from None
    return redis


@asynccontextmanager
async def open_store(
    settings: Settings, gh: GitHub, warn: Callable[[str], None] = lambda _: None
) -> AsyncIterator[tuple[TaskStore, LockManager]]:
    """Redis when `redis-url` names one; else the repository itself (the ledger), whose
    entries are signed with the `record-key`, if there is one (`warn` hears of entries
    that do not verify)."""
    url, keep = settings.redis_url.get_secret_value(), settings.config.keep_finished_s
    if not url:
        key = settings.record_key.get_secret_value()
        seal = Seal.of(settings.repo, key) if key else None
        ledger = Ledger(gh, keep_finished_s=keep, seal=seal, warn=warn)
        yield LedgerStore(ledger), LedgerLocks(ledger)
        return
    redis = await connect_redis(url)
    try:
        yield RedisTaskStore(redis, settings.repo, keep), FileLocks(redis, settings.repo)
    finally:
        await redis.aclose()


async def run_step(
    settings: Settings,
    event_name: str,
    payload: Payload,
    say: Callable[[str], None] = print,
    on_token: Callable[[str], None] = lambda _: None,
    next_step: Callable[[int], Awaitable[None]] | None = None,
) -> tuple[dict[str, str], str]:
    """One step for the event; `say` prints the step log's lines, each through `logged`.
    `next_step` starts a task's next step where that is not a workflow run (a worker's
    queue)."""
    trigger = decide(event_name, payload, settings.config.rules)
    say(logged(f"{trigger.event}: {trigger.action} ({trigger.reason})"))
    if trigger.action is Action.IGNORE:
        return report(settings, Outcome(None, trigger.reason), trigger.issue)
    if trigger.action in (Action.ADVANCE, Action.PLAN) or settings.max_steps > 1:
        preload()  # this run will likely call the model
    redact = Redactor(settings.secrets())

    def new_token(token: str) -> None:
        redact.add(token)
        on_token(token)

    gh = GitHub(
        settings.repo,
        settings.token.get_secret_value(),
        settings.api_url,
        settings.http_log,
        app=(settings.app_id, settings.app_private_key.get_secret_value())
        if settings.app_id
        else None,
        on_token=new_token,
        app_permissions=app_permissions(settings.config),
        retry=RetryPolicy(
            base_s=settings.config.retry_backoff_seconds,
            max_wait_s=settings.config.rate_limit_wait_seconds,
        ),
    )

    def warn(line: str) -> None:
        say(f"warning: {line}")

    try:
        async with open_store(settings, gh, warn=warn) as (store, locks):
            return await _run(settings, trigger, payload, gh, store, locks, redact, say, next_step)
    finally:
        await gh.aclose()


async def _run(
    settings: Settings,
    trigger: Trigger,
    payload: Payload,
    gh: GitHub,
    store: TaskStore,
    locks: LockManager,
    redact: Redactor,
    say: Callable[[str], None],
    next_step: Callable[[int], Awaitable[None]] | None,
) -> tuple[dict[str, str], str]:
    agents: list[Agent] = []

    def make_agent(role: str, spent: Usage) -> Agent:
        agent = build_agent(settings, role, spent, redact)
        agents.append(agent)
        return agent

    ctx = Context(
        settings=settings,
        gh=gh,
        store=store,
        locks=locks,
        agent=make_agent,
        trigger=trigger,
        payload=payload,
        out=say,
        redact=redact,
        next_step=next_step,
    )
    try:
        outcome = await run(ctx)
    except IssuePilotError as exc:
        error = redact(" ".join(str(exc).split()))
        failed = Outcome(ctx.latest, f"**Failed:** {shown(error, redact)}")
        exc.report = report(settings, failed, trigger.issue, ctx.dispatched, ctx.summary, error)
        raise
    finally:
        for agent in agents:
            await agent.aclose()
    ctx.say(outcome.message)
    return report(settings, outcome, trigger.issue, ctx.dispatched, ctx.summary)


def app_permissions(config: RepoConfig) -> dict[str, str]:
    """What the App's installation token is asked for: only what IssuePilot uses."""
    if config.token_can_write_workflows:
        return {**APP_PERMISSIONS, "workflows": "write"}
    return APP_PERMISSIONS


def build_agent(settings: Settings, role: str, spent: Usage, redact: Redactor) -> Agent:
    """The backend for a role: the agent command where the config gives it the role, else
    the built-in one on the model endpoint. Both count against the task's budget."""
    config = settings.config
    budget = Budget.of(config, spent)
    if (settings.agent_command or settings.agent) and role in config.command_roles:
        chosen = None
        if settings.agent:
            chosen = PresetRun(
                preset(settings.agent),
                cache_dir(settings.runner_env),
                settings.agent_version,
                settings.agent_model,
                settings.agent_base_url,
            )
        return CommandAgent(
            settings.agent_command,
            settings.workspace or Path("."),
            settings.runner_env,
            config.agent_env,
            timeout_s=config.agent_timeout_minutes * 60,
            output_cap=config.agent_output_bytes,
            budget=budget,
            sandbox=config.sandbox,
            sandbox_image=config.sandbox_image,
            redact=redact,
            preset=chosen,
        )
    return OpenAIAgent(
        settings.model,
        settings.model_base_url,
        settings.model_api_key.get_secret_value(),
        budget=budget,
        mode=config.agent_mode,
        max_turns=config.max_agent_turns,
    )


def report(
    settings: Settings,
    outcome: Outcome,
    issue: int | None,
    dispatched: Sequence[int] = (),
    details: Sequence[str] = (),
    error: str = "",
) -> tuple[dict[str, str], str]:
    """The step's outputs and its job summary; `error` is the failure's one line, if any."""
    task = outcome.task
    outputs = {
        "task-state": str(task.state) if task else "",
        "issue-number": str(task.issue if task else issue or ""),
        "pr-number": str(task.pr) if task and task.pr else "",
        "pr-url": task.pr_url if task else "",
        "error": error,
    }
    lines = ["### IssuePilot", "", outcome.message]
    if task is not None:
        lines += ["", f"Issue #{task.issue}: **{task.state}**"]
        if task.pr_url:
            lines.append(f"Pull request: {task.pr_url}")
    if dispatched:
        lines.append("Next steps dispatched for: " + ", ".join(f"#{n}" for n in dispatched))
    if details:
        lines += ["", *details]
    return outputs, "\n".join(lines)
