"""The web service (FastAPI, served by uvicorn): the webhook route, the task API, health
and metrics; beside them, in the same process, the dispatcher and the periodic chores
(redelivering lost deliveries, starting the sweeps of repositories served by workers or
by the central runner). It keeps nothing but what Redis holds: run as many copies as
needed, behind any load balancer; each chore is done by one copy per period.
"""

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from ..errors import InputError, IssuePilotError
from ..github.app import AppClient
from ..keys import ServiceKeys
from ..store import REDIS_FAILURES
from ..wiring import connect_redis
from .dispatch import Dispatcher
from .metrics import CONTENT_TYPE, Metrics
from .queue import Queue
from .redeliver import redeliver_failed
from .repos import Repos
from .settings import ServiceSettings
from .state import Service
from .tasks import queue_task
from .webhooks import receive

LOOKBACK_MAX = timedelta(days=3)  # GitHub keeps deliveries this long


def create_app(
    settings: ServiceSettings,
    transport: httpx.AsyncBaseTransport | None = None,
    say: Callable[[str], None] = print,
    background: bool = True,
) -> FastAPI:
    """The service; `background` False leaves out the dispatcher and the chores (only the
    routes: the queue stays as they leave it)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis = await connect_redis(settings.redis_url.get_secret_value())
        queue = Queue(redis, ServiceKeys(settings.name))
        key = settings.app.private_key.get_secret_value()
        github = AppClient(
            settings.app.app_id, key, settings.app.api_url, settings.app.http_log, transport
        )
        repos = Repos(settings.app, transport=transport)
        try:
            await queue.setup()
            bot = f"{await github.slug()}[bot]"
            service = Service(settings, queue, Metrics(), repos, bot, transport)
            app.state.service = service
            dispatcher = Dispatcher(service, f"{socket.gethostname()}-{os.getpid()}", say)
            stop = asyncio.Event()
            running = []
            if background:
                running.append(asyncio.create_task(dispatcher.run(stop)))
                running.append(asyncio.create_task(chores(service, dispatcher, github, stop, say)))
            yield
            stop.set()
            await asyncio.gather(*running, return_exceptions=True)
        finally:
            await repos.aclose()
            await github.aclose()
            await redis.aclose()

    app = FastAPI(title="IssuePilot", lifespan=lifespan, openapi_url=None, docs_url=None)
    app.add_api_route("/webhooks/github", receive, methods=["POST"])
    app.add_api_route("/tasks", queue_task, methods=["POST"])
    app.add_api_route("/healthz", healthz, methods=["GET"])
    app.add_api_route("/metrics", metrics, methods=["GET"])
    return app


async def healthz(request: Request) -> Response:
    """200 while Redis answers, with each queue's backlog; 503 otherwise."""
    service: Service = request.app.state.service
    try:
        backlog = await service.queue.backlog()
    except REDIS_FAILURES:
        return JSONResponse({"status": "unavailable", "redis": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "redis": "ok", "backlog": backlog})


async def metrics(request: Request) -> Response:
    service: Service = request.app.state.service
    try:
        for queue, waiting in (await service.queue.backlog()).items():
            service.metrics.backlog.labels(queue).set(waiting)
    except REDIS_FAILURES:
        pass  # the other figures still tell something; /healthz says what is wrong
    return Response(service.metrics.text(), media_type=CONTENT_TYPE)


async def chores(
    service: Service,
    dispatcher: Dispatcher,
    github: AppClient,
    stop: asyncio.Event,
    say: Callable[[str], None],
) -> None:
    """Every `sweep-minutes`, in one copy of the service: ask again for deliveries that
    never arrived, and start the sweeps no workflow schedule starts."""
    period = service.settings.sweep_minutes * 60
    window = min(LOOKBACK_MAX, timedelta(seconds=2 * period + 600))
    while not stop.is_set():
        try:
            if await service.queue.my_turn("chores", period):
                limit = service.settings.redeliver_limit
                done = await redeliver_failed(github, service.queue, window, limit)
                service.metrics.redelivered.inc(done.asked)
                swept = await dispatcher.sweep()
                say(f"chores: {done.asked} redeliveries asked for, {swept} sweeps started")
        except (IssuePilotError, *REDIS_FAILURES) as exc:
            say(f"chores: {exc}")
        try:
            await asyncio.wait_for(stop.wait(), timeout=period)
        except TimeoutError:
            pass


def listener(host: str) -> socket.socket:
    """A TCP socket to listen on. Named TCP, so asyncio turns Nagle's algorithm off on each
    connection (`TCP_NODELAY`): with it on, an answer written in two parts (headers, then
    body) waits for the client's delayed acknowledgement, 40 ms on Linux."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return sock


async def preflight(settings: ServiceSettings) -> str:
    """Redis answers and GitHub knows the App (its slug), or a one-line error says why
    before the server starts."""
    redis = await connect_redis(settings.redis_url.get_secret_value())
    await redis.aclose()
    app = settings.app
    github = AppClient(app.app_id, app.private_key.get_secret_value(), app.api_url, app.http_log)
    try:
        return await github.slug()
    finally:
        await github.aclose()


def run(settings: ServiceSettings, say: Callable[[str], None] = print) -> None:
    """Serve until interrupted (SIGINT, SIGTERM)."""
    import uvicorn

    slug = asyncio.run(preflight(settings))
    sock = listener(settings.host)
    try:
        sock.bind((settings.host, settings.port))
    except OSError as exc:
        raise InputError(
            f"cannot listen on {settings.host}:{settings.port}: {exc.strerror}"
        ) from None
    host, port = sock.getsockname()[:2]
    say(f"issuepilot serve: the App {slug}, listening on http://{host}:{port}")
    config = uvicorn.Config(
        create_app(settings, say=say), log_level="warning", access_log=False, lifespan="on"
    )
    uvicorn.Server(config).run(sockets=[sock])
