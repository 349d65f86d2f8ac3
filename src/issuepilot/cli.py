"""The `issuepilot` command: the only module that reads the environment and wires things.
Its help text is in `usage.py`.

Exit codes: 0 done (including "nothing to do"), 1 a step failed (a later run can recover),
2 bad input or configuration. Errors are one line: `::error::` inside GitHub Actions.
"""

import argparse
import asyncio
import json
import os
import sys
import traceback
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from .config import (
    DEFAULT_CONFIG_PATH,
    DEFAULT_MODEL,
    DEFAULT_MODEL_BASE_URL,
    RepoConfig,
    Settings,
    load_config,
)
from .errors import InputError, IssuePilotError
from .events import Payload, decide, parse_payload
from .github.untrusted import Redactor, command_data, escape, logged
from .relay import unpack
from .usage import build_parser

GITHUB_MODELS_HOSTS = {"models.github.ai", "models.inference.ai.azure.com"}


def env_input(name: str) -> str:
    """An action input as `action.yml` passes it: ISSUEPILOT_<NAME>; empty means unset."""
    return os.environ.get("ISSUEPILOT_" + name.upper().replace("-", "_"), "").strip()


def read_event(name: str | None, path: str | None) -> tuple[str, Payload]:
    name = name or os.environ.get("GITHUB_EVENT_NAME", "")
    path = path or os.environ.get("GITHUB_EVENT_PATH", "")
    if not name:
        raise InputError("no event name: pass --event-name or set GITHUB_EVENT_NAME")
    if not path:
        raise InputError("no event payload: pass --event-path or set GITHUB_EVENT_PATH")
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read the event payload {path}: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"the event payload {path} is not valid JSON: {exc}") from None
    return name, parse_payload(raw)


def settings_from(args: argparse.Namespace, served: bool = False) -> Settings:
    """The step's settings. `served` (a worker's): the repository, its checkout and its
    settings file come with each step, and the step acts as the GitHub App."""

    def pick(name: str) -> str:
        flag = getattr(args, name.replace("-", "_"), None)
        return str(flag).strip() if flag else env_input(name)

    # A central runner's workflow names the repository it works on (input `repository`).
    repo = "" if served else args.repo or env_input("repository")
    repo = repo or os.environ.get("GITHUB_REPOSITORY", "")
    if "/" not in repo and not served:
        raise InputError("no repository: set GITHUB_REPOSITORY (owner/name) or pass --repo")
    token = "" if served else pick("github-token") or os.environ.get("GITHUB_TOKEN", "")
    app_id, app_key = pick("app-id"), pick("app-private-key")
    if bool(app_id) != bool(app_key) or (served and not app_id):
        raise InputError("app-id and app-private-key go together: set both, or neither")
    if not token and not app_id:
        raise InputError("no GitHub token: set the github-token input or GITHUB_TOKEN")
    redis_url = pick("redis-url")  # empty: the repository itself is the store (the ledger)
    max_steps = pick("max-steps") or "1"
    if not max_steps.isdigit() or not 1 <= int(max_steps) <= 20:
        raise InputError(f"max-steps must be a whole number from 1 to 20, not {max_steps!r}")
    workspace = Path(os.environ.get("GITHUB_WORKSPACE") or ".")
    named = pick("config-path")
    config_path = workspace / (named or DEFAULT_CONFIG_PATH)  # an absolute name stays as it is
    if named and not config_path.exists() and not served:
        raise InputError(
            f"the config file {config_path} (input config-path) does not exist: fix the path, "
            f"or leave the input empty to read {DEFAULT_CONFIG_PATH} when there is one"
        )
    server = os.environ.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
    run_id = os.environ.get("GITHUB_RUN_ID", "")
    log = os.environ.get("ISSUEPILOT_HTTP_LOG", "")
    base_url = pick("model-base-url") or DEFAULT_MODEL_BASE_URL
    return Settings(
        repo=repo,
        api_url=os.environ.get("GITHUB_API_URL", "https://api.github.com"),
        server_url=server,
        token=SecretStr(token),
        app_id=app_id,
        app_private_key=SecretStr(app_key.replace("\\n", "\n")),
        redis_url=SecretStr(redis_url),
        record_key=SecretStr(pick("record-key")),
        model=pick("model") or DEFAULT_MODEL,
        model_base_url=base_url,
        model_api_key=SecretStr(model_key(pick("model-api-key"), base_url, token)),
        agent_command=pick("agent-command"),
        agent=agent_name(pick("agent"), pick("agent-command")),
        agent_version=pick("agent-version"),
        agent_model=pick("agent-model"),
        agent_base_url=pick("agent-base-url"),
        runner_env=dict(os.environ),
        max_steps=int(max_steps),
        workflow_ref=os.environ.get("GITHUB_WORKFLOW_REF", ""),
        run_url=f"{server}/{repo}/actions/runs/{run_id}" if run_id else "",
        http_log=Path(log) if log else None,
        workspace=workspace,
        config=RepoConfig() if served else load_config(config_path),
    )


def agent_name(name: str, command: str) -> str:
    """The preset the `agent` input names, checked: known, and not beside agent-command."""
    if not name:
        return ""
    from .agents.presets import preset

    if command:
        raise InputError("set either agent (a preset) or agent-command (any CLI), not both")
    return preset(name).name


def model_key(given: str, base_url: str, github_token: str) -> str:
    """The model endpoint's key. The GitHub token goes to GitHub Models only: sent to any
    other endpoint it would hand a stranger the repository."""
    if given:
        return given
    if urlsplit(base_url).hostname in GITHUB_MODELS_HOSTS and github_token:
        return github_token
    raise InputError(
        f"model-api-key is required for the model endpoint {base_url} (any text for endpoints "
        "without keys, such as Ollama): the GitHub token is only ever sent to GitHub Models"
    )


def write_outputs(outputs: dict[str, str], summary: str) -> None:
    """Step outputs to GITHUB_OUTPUT, in the multi-line-safe `name<<delimiter` form, and
    the job summary to GITHUB_STEP_SUMMARY."""
    if path := os.environ.get("GITHUB_OUTPUT"):
        with open(path, "a", encoding="utf-8") as f:
            for name, value in outputs.items():
                delimiter = f"ghadelimiter_{uuid.uuid4()}"  # never inside a value
                f.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
    if path := os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(path, "a", encoding="utf-8") as f:
            f.write(summary + "\n")


def read_outputs(text: str) -> dict[str, str]:
    """A GITHUB_OUTPUT file as the runner reads it (for tests and benchmarks): `name=value`
    lines and `name<<DELIMITER` blocks."""
    outputs: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            value: list[str] = []
            for more in lines:
                if more == delimiter:
                    break
                value.append(more)
            else:
                raise InputError(f"output {name} has no closing delimiter")
            outputs[name] = "\n".join(value)
        else:
            name, _, single = line.partition("=")
            outputs[name] = single
    return outputs


def mask(secret: str) -> None:
    """Ask the Actions runner to hide a secret in every later log line."""
    if os.environ.get("GITHUB_ACTIONS") == "true":
        for line in secret.splitlines():
            if line.strip():
                print(f"::add-mask::{command_data(line.strip())}", flush=True)


def report_error(message: str) -> None:
    line = " ".join(message.split())
    if os.environ.get("GITHUB_ACTIONS") == "true":
        print(f"::error title=IssuePilot::{command_data(line)}", flush=True)
    else:
        print(logged(f"issuepilot: error: {line}"), file=sys.stderr, flush=True)


def cmd_explain(args: argparse.Namespace) -> int:
    name, payload = read_event(args.event_name, args.event_path)
    if args.config and not Path(args.config).exists():
        raise InputError(f"the config file {args.config} does not exist")
    config = load_config(Path(args.config) if args.config else None)
    decision = decide(name, payload, config.rules).explain(config.rules.labels)
    print(logged(json.dumps(decision)))
    return 0


def cmd_step(args: argparse.Namespace) -> int:
    """One step; its outputs and job summary are written on every exit, a failure's too."""
    try:
        return _step(args)
    except IssuePilotError as exc:
        write_outputs(*(exc.report or failure_report(str(exc))))
        raise
    except Exception as exc:
        write_outputs(*failure_report(f"internal error: {type(exc).__name__}: {exc}"))
        raise


def failure_report(message: str) -> tuple[dict[str, str], str]:
    """What is known of a step that failed before it had a task: the error."""
    line = Redactor()(" ".join(message.split()))
    outputs = {"task-state": "", "issue-number": "", "pr-number": "", "pr-url": "", "error": line}
    return outputs, f"### IssuePilot\n\n**Failed:** {escape(line)}"


def _step(args: argparse.Namespace) -> int:
    from .wiring import run_step

    settings = settings_from(args)
    for line in settings.app_private_key.get_secret_value().splitlines():
        if "PRIVATE KEY" not in line:
            mask(line)
    mask(settings.record_key.get_secret_value())
    name, payload = unpack(*read_event(args.event_name, args.event_path), settings.repo)
    outputs, summary = asyncio.run(run_step(settings, name, payload, on_token=mask))
    write_outputs(outputs, summary)
    return 0


def store_settings(args: argparse.Namespace) -> Settings:
    """What `status` and `migrate` need to open a repository's store: the repository, the
    Redis URL (flag or input) and the GitHub token and API (the ledger's way in)."""
    repo = args.repo or os.environ.get("GITHUB_REPOSITORY", "")
    if "/" not in repo:
        raise InputError("no repository: pass --repo owner/name or set GITHUB_REPOSITORY")
    return Settings(
        repo=repo,
        token=SecretStr(env_input("github-token") or os.environ.get("GITHUB_TOKEN", "")),
        redis_url=SecretStr(args.redis_url or env_input("redis-url")),
        api_url=os.environ.get("GITHUB_API_URL", "https://api.github.com"),
        record_key=SecretStr(env_input("record-key")),
    )


def warn(line: str) -> None:
    print(f"issuepilot: warning: {line}", file=sys.stderr, flush=True)


UNSIGNED_LEDGER = (
    "the ledger is not signed (no record-key): anything that may push to the repository "
    "can approve a task or change its plan there; set ISSUEPILOT_RECORD_KEY (the record-key "
    "input, from a secret) to sign it"
)


def cmd_status(args: argparse.Namespace) -> int:
    """The live tasks of one repository, from its store (Redis, or the repository's own
    ledger when no Redis URL is given); exit 2 when it cannot be read."""
    import time

    from .github.client import GitHub
    from .overview import as_json, as_table, rows
    from .wiring import open_store

    config = store_settings(args)
    if not config.redis_url.get_secret_value() and not config.token.get_secret_value():
        raise InputError("no store: pass --redis-url, or set GITHUB_TOKEN to read the ledger")

    if not config.redis_url.get_secret_value() and not config.record_key.get_secret_value():
        warn(UNSIGNED_LEDGER)

    async def read() -> str:
        gh = GitHub(config.repo, config.token.get_secret_value(), config.api_url)
        try:
            async with open_store(config, gh, warn) as (store, locks):
                found = await rows(store, locks, time.time())
        except IssuePilotError as exc:
            raise InputError(str(exc)) from None
        finally:
            await gh.aclose()
        return as_json(found) if args.json else as_table(found)

    print(logged(asyncio.run(read())))
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """Copy the live tasks and their locks to the other store (see `migrate.py`)."""
    import time

    from .github.client import GitHub
    from .migrate import migrate
    from .wiring import open_store

    redis = store_settings(args)
    if not redis.redis_url.get_secret_value() or not redis.token.get_secret_value():
        raise InputError("migrate needs both stores: a Redis URL and a GitHub token")
    named = Path(os.environ.get("GITHUB_WORKSPACE") or ".") / DEFAULT_CONFIG_PATH
    config = load_config(named if named.exists() else None)
    ledger = redis.model_copy(update={"redis_url": SecretStr("")})
    source, target = (ledger, redis) if args.to == "redis" else (redis, ledger)

    async def move() -> str:
        gh = GitHub(redis.repo, redis.token.get_secret_value(), redis.api_url)
        try:
            async with (
                open_store(source, gh) as (source_store, _),
                open_store(target, gh) as (target_store, target_locks),
            ):
                moved = await migrate(
                    source_store, target_store, target_locks, time.time(), config.pr_lease_s
                )
                where = f"from {source_store.name} to {target_store.name}"
        finally:
            await gh.aclose()
        return f"moved {moved.tasks} tasks and the locks on {moved.locked} files {where}"

    print(logged(asyncio.run(move())))
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    """Set a repository up (see `scaffold.py`), with what the environment knows."""
    from . import release, scaffold

    target = scaffold.Target(
        root=Path(args.dir),
        ref=args.ref or release.tag(),
        config=args.config,
        force=args.force,
        repo=args.repo or os.environ.get("GITHUB_REPOSITORY", ""),
        token=args.token or os.environ.get("GITHUB_TOKEN", ""),
        api_url=os.environ.get("GITHUB_API_URL", "https://api.github.com"),
        server_url=os.environ.get("GITHUB_SERVER_URL", "https://github.com"),
    )
    for line in asyncio.run(scaffold.init(target)):
        print(logged(line))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    log = os.environ.get("ISSUEPILOT_HTTP_LOG", "")
    if args.redis_url and args.store != "redis":
        raise InputError("--redis-url goes with --store redis")
    redis_url = args.redis_url or os.environ.get("REDIS_URL") or None
    return run_demo(args.store, redis_url, Path(log) if log else None)


def cmd_agents(args: argparse.Namespace) -> int:
    """`list` the presets; `install` one's CLI; `where` it goes (the action's cache key);
    its `recipe` for agent-command."""
    import platform

    from .agents import install
    from .agents.presets import PRESETS, preset
    from .agents.recipe import recipe

    if args.action == "list":
        for name, known in sorted(PRESETS.items()):
            spec = known.install
            print(logged(f"{name:12} {known.title}: {spec.registry} {spec.package} {spec.version}"))
        return 0
    if not args.name:
        raise InputError(f"agents {args.action} needs a preset name (issuepilot agents list)")
    chosen, cache = preset(args.name), install.cache_dir(dict(os.environ))
    if args.action == "recipe":
        if args.agent_version:
            raise InputError(
                f"a recipe runs {chosen.title} as IssuePilot tests it, at "
                f"{chosen.install.version}: --version goes with install and where"
            )
        print(recipe(chosen, args.model or "", args.base_url or ""), end="")
        return 0
    version = args.agent_version or chosen.install.version
    if args.action == "where":
        where = install.folder(cache, chosen, version)
        key = f"issuepilot-agent-{chosen.name}-{version}-{platform.system()}-{platform.machine()}"
        lines = [f"path={where}", f"key={key}"]
        if args.github_output and (out := os.environ.get("GITHUB_OUTPUT")):
            with open(out, "a", encoding="utf-8") as f:
                f.write("\n".join(lines) + "\n")
        print(logged("\n".join(lines)))
        return 0
    done = asyncio.run(install.ensure(cache, chosen, version))
    how = f"installed in {done.seconds:.1f} s" if done.seconds else "already installed"
    print(logged(f"{chosen.title} {done.version}: {done.command} ({how})"))
    return 0


def say(line: str) -> None:
    print(line, flush=True)


def serve_extra() -> None:
    """The service's libraries come with the `serve` extra, not with the action."""
    try:
        import fastapi  # noqa: F401
        import prometheus_client  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise InputError(
            f"{exc.name} is missing: the service needs pip install 'issuepilot[serve]'"
        ) from None


def cmd_serve(args: argparse.Namespace) -> int:
    """The webhook service, until interrupted (see `serve/app.py`)."""
    serve_extra()
    from .serve.app import run
    from .serve.settings import service_settings

    run(service_settings(args, os.environ), say)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """Run the steps the service queues, until SIGTERM or SIGINT (after the current step)."""
    import signal

    serve_extra()
    from .serve.settings import worker_settings
    from .serve.worker import work

    settings, base = worker_settings(args, os.environ), settings_from(args, served=True)

    async def until_stopped() -> None:
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        say(f"issuepilot worker {settings.consumer}: waiting for steps")
        await work(settings, base, stop, say)

    asyncio.run(until_stopped())
    return 0


def cmd_app_manifest(args: argparse.Namespace) -> int:
    """The GitHub App to create, for GitHub's create-from-manifest flow."""
    from . import release
    from .serve.manifest import manifest

    homepage = args.homepage or f"https://github.com/{release.repository()}"
    made = manifest(
        args.name, args.webhook_url, homepage, args.redirect_url, args.public, args.workflows
    )
    print(json.dumps(made, indent=2))
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    commands: dict[str, Any] = {
        "step": cmd_step,
        "explain": cmd_explain,
        "status": cmd_status,
        "migrate": cmd_migrate,
        "demo": cmd_demo,
        "init": cmd_init,
        "agents": cmd_agents,
        "serve": cmd_serve,
        "worker": cmd_worker,
        "app-manifest": cmd_app_manifest,
    }
    try:
        code = commands[args.command](args)
    except IssuePilotError as exc:
        report_error(str(exc))
        code = 1 if exc.recoverable else 2
    except KeyboardInterrupt:
        code = 130
    except Exception as exc:  # the last line of defence: one line, never a traceback
        if os.environ.get("ISSUEPILOT_DEBUG"):
            traceback.print_exc()
        report_error(f"internal error: {type(exc).__name__}: {exc}")
        code = 1
    sys.exit(code)
