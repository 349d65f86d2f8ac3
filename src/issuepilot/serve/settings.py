"""What `issuepilot serve` and `issuepilot worker` are told: flags, else the variable
named after each (ISSUEPILOT_<FLAG>), else the default. `cli.py` hands the environment in;
nothing here reads it by itself. Secrets come from the environment only."""

import argparse
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from ..errors import InputError, first_error

M = TypeVar("M", bound=BaseModel)
GITHUB_CAP_BYTES = 25 * 2**20  # GitHub caps webhook payloads at 25 MB
# https://docs.github.com/en/webhooks/webhook-events-and-payloads#payload-cap


class App(BaseModel):
    """The GitHub App the service and its workers act as."""

    model_config = ConfigDict(frozen=True)

    app_id: str = Field(pattern=r"^\d+$")
    private_key: SecretStr
    api_url: str = "https://api.github.com"
    http_log: Path | None = None  # every GitHub request, one JSON line each


class ServiceSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    app: App
    webhook_secret: SecretStr
    redis_url: SecretStr
    service_token: SecretStr = SecretStr("")  # for POST /tasks by bots; empty: none
    name: str = Field("service", pattern=r"^[A-Za-z0-9_.-]{1,40}$")  # its Redis keys
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    max_body_bytes: int = Field(GITHUB_CAP_BYTES, ge=1024)
    workflow: str = "issuepilot.yml"  # the workflow file a served repository keeps
    runner_repo: str = Field("", pattern=r"^$|^[\w.-]+/[\w.-]+$")  # the central runner
    runner_workflow: str = "issuepilot.yml"
    sweep_minutes: float = Field(30, gt=0, le=24 * 60)  # redeliveries, sweeps
    redeliver_limit: int = Field(100, ge=0, le=1000)  # redeliveries asked for per sweep


class WorkerSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    app: App
    redis_url: SecretStr
    name: str = Field("service", pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    consumer: str = Field(min_length=1)
    claim_idle_s: float = Field(60, gt=0)  # a silent worker's step is taken over after this
    tasks_in: Literal["redis", "github"] = "redis"
    metrics_port: int = Field(0, ge=0, le=65535)  # 0: no metrics endpoint


def _pick(args: argparse.Namespace, env: Mapping[str, str], name: str) -> str:
    flag = getattr(args, name.replace("-", "_"), None)
    if flag not in (None, ""):
        return str(flag)
    return env.get("ISSUEPILOT_" + name.upper().replace("-", "_"), "").strip()


def _app(env: Mapping[str, str]) -> App:
    app_id = env.get("ISSUEPILOT_APP_ID", "").strip()
    key = env.get("ISSUEPILOT_APP_PRIVATE_KEY", "").replace("\\n", "\n")
    if not app_id or "PRIVATE KEY" not in key:
        raise InputError(
            "the service acts as a GitHub App: set ISSUEPILOT_APP_ID and "
            "ISSUEPILOT_APP_PRIVATE_KEY (the App's PEM key; docs/serve.md)"
        )
    log = env.get("ISSUEPILOT_HTTP_LOG", "")
    api = env.get("GITHUB_API_URL", "") or "https://api.github.com"
    return _checked(App, app_id=app_id, private_key=key, api_url=api, http_log=log or None)


def service_settings(args: argparse.Namespace, env: Mapping[str, str]) -> ServiceSettings:
    secret = env.get("ISSUEPILOT_WEBHOOK_SECRET", "")
    if len(secret) < 16:
        raise InputError(
            "set ISSUEPILOT_WEBHOOK_SECRET to the App's webhook secret (16 characters or more)"
        )
    values = {
        k: v
        for k in ("host", "port", "name", "workflow", "runner-repo", "runner-workflow")
        + ("sweep-minutes", "max-body-bytes")
        if (v := _pick(args, env, k))
    }
    return _checked(
        ServiceSettings,
        app=_app(env),
        webhook_secret=secret,
        redis_url=_redis_url(args, env),
        service_token=env.get("ISSUEPILOT_SERVICE_TOKEN", ""),
        **{k.replace("-", "_"): v for k, v in values.items()},
    )


def worker_settings(args: argparse.Namespace, env: Mapping[str, str]) -> WorkerSettings:
    names = ("name", "claim-idle", "tasks-in", "metrics-port")
    values = {k: v for k in names if (v := _pick(args, env, k))}
    if "claim-idle" in values:
        values["claim_idle_s"] = values.pop("claim-idle")
    return _checked(
        WorkerSettings,
        app=_app(env),
        redis_url=_redis_url(args, env),
        consumer=_pick(args, env, "consumer") or f"{socket.gethostname()}-{os.getpid()}",
        **{k.replace("-", "_"): v for k, v in values.items()},
    )


def _redis_url(args: argparse.Namespace, env: Mapping[str, str]) -> str:
    url = _pick(args, env, "redis-url")
    if not url:
        raise InputError("the service keeps its queue in Redis: pass --redis-url")
    return url


def _checked(model: type[M], **values: object) -> M:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise InputError(f"bad setting: {first_error(exc)}") from None
