"""The `issuepilot` command line as its users read it: every command, its options, and an
example of each, in `--help`. The commands themselves live in `cli.py`."""

import argparse
from typing import TYPE_CHECKING

from . import release
from .config import DEFAULT_CONFIG_PATH, DEFAULT_MODEL, DEFAULT_MODEL_BASE_URL

SUMMARY = """\
Hand GitHub issues to an AI coding agent without losing control: label an issue, approve
the plan IssuePilot posts, review the pull request it opens. IssuePilot runs as a GitHub
Action; these commands set a repository up, show its tasks, and let you try it locally."""

EXAMPLES = {
    None: """\
examples:
  issuepilot demo                    # the whole lifecycle on this machine, nothing to set up
  issuepilot init --repo octo/app    # add IssuePilot to the repository in this folder
  issuepilot status --repo octo/app  # what its tasks are doing (GITHUB_TOKEN set)""",
    "init": """\
example:
  cd app && GITHUB_TOKEN=$(gh auth token) issuepilot init --config --repo octo/app

Files that exist are left alone unless --force; with the same content they count as done,
so running init again is safe.""",
    "demo": """\
example:
  issuepilot demo                  # tasks kept on a ledger branch, as in a new repository
  issuepilot demo --store redis    # tasks kept in Redis (REDIS_URL, or a throwaway server)""",
    "status": """\
example:
  GITHUB_TOKEN=$(gh auth token) issuepilot status --repo octo/app

  ISSUE  STATE     AGE  PLAN  PR   FILES  WAITING FOR
  #12    pr-open   3h   v2    #14  3      -
  #15    approved  40m  v1    -    -      #12: src/app.py""",
    "explain": """\
example:
  issuepilot explain --event-name issues --event-path event.json
  {"event": "issues.labeled", "action": "enqueue", "issue": 12, ...}""",
    "migrate": """\
example:
  GITHUB_TOKEN=$(gh auth token) issuepilot migrate --to redis \\
    --redis-url rediss://default:secret@cache.example.com:6379 --repo octo/app
Then add the Redis URL as the repository secret ISSUEPILOT_REDIS_URL.""",
    "agents": """\
examples:
  issuepilot agents list                      # the presets, their CLIs and pinned versions
  issuepilot agents install claude-code       # install its CLI where every user can run it
  issuepilot agents where codex --github-output   # the install folder and its cache key
  issuepilot agents recipe aider --model gpt-4.1  # the preset as a script for agent-command

The folder is ISSUEPILOT_AGENT_CACHE, else the runner's tool cache, else
/opt/issuepilot-agents.""",
    "serve": """\
example:
  export ISSUEPILOT_APP_ID=123456 ISSUEPILOT_APP_PRIVATE_KEY="$(cat app.pem)"
  export ISSUEPILOT_WEBHOOK_SECRET=...   # the App's webhook secret
  issuepilot serve --redis-url redis://localhost:6379 --host 0.0.0.0 --port 8080

Set the App's webhook URL to https://<this host>/webhooks/github. Each option can also be
given as the variable named after it (ISSUEPILOT_RUNNER_REPO, ...). See docs/serve.md.""",
    "worker": """\
example:
  export ISSUEPILOT_APP_ID=123456 ISSUEPILOT_APP_PRIVATE_KEY="$(cat app.pem)"
  export ISSUEPILOT_MODEL_API_KEY=...    # or an agent's key, as for the action
  issuepilot worker --redis-url redis://localhost:6379

Start as many as you like, on as many machines; stop one with SIGTERM (it finishes its
step first). A step a stopped or crashed worker left is taken over after --claim-idle.""",
    "app-manifest": """\
example:
  issuepilot app-manifest --webhook-url https://pilot.example.com/webhooks/github > app.json

Post it to GitHub's "create a GitHub App from a manifest" page of your organisation
(docs/serve.md shows the form), then install the App on the repositories to serve.""",
    "step": """\
example (what the action runs, with the event GitHub hands the job):
  GITHUB_EVENT_NAME=issues GITHUB_EVENT_PATH=event.json GITHUB_REPOSITORY=octo/app \\
    GITHUB_TOKEN=... issuepilot step --model openai/gpt-4.1

Each option can also be given as the variable named after it (ISSUEPILOT_REDIS_URL, ...);
the option wins. Exit codes: 0 done (also "nothing to do"), 1 the step failed and a later
run can resume it, 2 bad input or settings.""",
}

if TYPE_CHECKING:
    Commands = argparse._SubParsersAction[argparse.ArgumentParser]

# The action's inputs, which `issuepilot step` also takes as options.
INPUTS = [
    ("github-token", "token for the GitHub API (default: GITHUB_TOKEN)"),
    (
        "redis-url",
        "Redis URL, e.g. rediss://user:pass@host:6379/0 (redis+cluster:// for a Redis "
        "Cluster); empty: the tasks live in the repository itself",
    ),
    ("config-path", f"settings file; must exist (default: {DEFAULT_CONFIG_PATH} if present)"),
    ("model", f"model name (default: {DEFAULT_MODEL})"),
    ("model-base-url", f"OpenAI-compatible endpoint (default: {DEFAULT_MODEL_BASE_URL})"),
    ("model-api-key", "key of the model endpoint (default: the GitHub token, GitHub Models only)"),
    ("max-steps", "steps to run before handing over to a new workflow run (default: 1)"),
    ("agent", "an agent CLI IssuePilot runs by name: claude-code, codex, opencode, aider, ..."),
    ("agent-version", "the agent CLI's version (default: the one IssuePilot is tested with)"),
    ("agent-model", "the agent CLI's model (default: the CLI's own)"),
    ("agent-base-url", "the agent CLI's API endpoint (default: the CLI's own)"),
    ("agent-command", "any other coding agent CLI to run in the checkout (a shell command)"),
    ("app-id", "GitHub App ID, to act as the App"),
    ("app-private-key", "the GitHub App's private key (PEM)"),
    ("record-key", "secret that signs the task record in the status comment"),
]


def build_parser() -> argparse.ArgumentParser:
    parser = _parser("issuepilot", SUMMARY, EXAMPLES[None])
    parser.add_argument("--version", action="version", version=f"issuepilot {release.version()}")
    sub = parser.add_subparsers(title="commands", dest="command", required=True, metavar="COMMAND")
    _init(sub)
    _demo(sub)
    _status(sub)
    _explain(sub)
    _migrate(sub)
    _agents(sub)
    _serve(sub)
    _worker(sub)
    _app_manifest(sub)
    _step(sub)
    return parser


def _parser(prog: str, description: str, epilog: str) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(
        prog=prog,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _command(sub: "Commands", name: str, what: str, more: str = "") -> argparse.ArgumentParser:
    return sub.add_parser(
        name,
        help=what,
        description=f"{what[0].upper()}{what[1:]}.{more}",
        epilog=EXAMPLES[name],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _repo(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repo", metavar="OWNER/NAME", help="default: GITHUB_REPOSITORY")


def _init(sub: "Commands") -> None:
    init = _command(
        sub,
        "init",
        "set a repository up for IssuePilot",
        "\n\nWrites the workflow, .github/workflows/issuepilot.yml, pinned to this version; "
        "with\n--config also a settings file that lists every setting. With a token and "
        "--repo it\ncreates the labels, and says which repository setting to turn on.",
    )
    init.add_argument("--dir", default=".", help="the repository's folder (default: here)")
    init.add_argument(
        "--config",
        action="store_true",
        help=f"also write {DEFAULT_CONFIG_PATH}, every setting shown with its default",
    )
    init.add_argument("--force", action="store_true", help="replace files that differ")
    init.add_argument(
        "--ref",
        help=f"the release the workflow calls: a tag (v0 follows every 0.x release) or a "
        f"commit SHA (default: {release.tag()}, this version)",
    )
    _repo(init)
    init.add_argument("--token", help="GitHub token that may create labels (default: GITHUB_TOKEN)")


def _demo(sub: "Commands") -> None:
    demo = _command(
        sub,
        "demo",
        "watch a whole task on this machine",
        "\n\nA local stand-in for GitHub and a scripted model: an issue is labeled, planned, "
        "approved,\nchanged, checked, opened as a pull request and merged. Nothing leaves "
        "this machine.",
    )
    demo.add_argument(
        "--store",
        choices=["github", "redis"],
        default="github",
        help="where the tasks live: the repository's ledger branch (default), or Redis",
    )
    demo.add_argument(
        "--redis-url", help="with --store redis (default: REDIS_URL, else a throwaway server)"
    )


def _status(sub: "Commands") -> None:
    status = _command(
        sub,
        "status",
        "list a repository's live tasks",
        "\n\nRead-only: state, age, plan version, pull request, files held, and what each "
        "waiting\ntask waits for. Reads the repository's ledger with GITHUB_TOKEN, or Redis.",
    )
    status.add_argument(
        "--redis-url",
        help="default: ISSUEPILOT_REDIS_URL; none: the ledger (its entries checked with "
        "ISSUEPILOT_RECORD_KEY, if set)",
    )
    _repo(status)
    status.add_argument("--json", action="store_true", help="one JSON object per task")


def _explain(sub: "Commands") -> None:
    explain = _command(
        sub,
        "explain",
        "show what IssuePilot would do with one GitHub event",
        "\n\nPrints the decision as JSON, touching neither GitHub nor the store: useful to see "
        "why\na label or a comment was ignored.",
    )
    explain.add_argument("--event-name", help="issues, issue_comment, ... (GITHUB_EVENT_NAME)")
    explain.add_argument("--event-path", help="the event's JSON payload (GITHUB_EVENT_PATH)")
    explain.add_argument("--config", help="the repository's settings file")


def _migrate(sub: "Commands") -> None:
    migrate = _command(
        sub,
        "migrate",
        "move a repository's tasks between Redis and its ledger branch",
        "\n\nCopies the live tasks and the files they hold; refused while a step runs.",
    )
    migrate.add_argument("--to", choices=["redis", "github"], required=True)
    migrate.add_argument("--redis-url", help="default: ISSUEPILOT_REDIS_URL")
    _repo(migrate)


def _agents(sub: "Commands") -> None:
    agents = _command(
        sub,
        "agents",
        "list and install the agent CLIs IssuePilot runs by name",
        "\n\nThe action installs the CLI its agent input names, and caches it; run this to "
        "install\none ahead, to see what is pinned, or to print a preset as a script for "
        "agent-command.",
    )
    agents.add_argument("action", choices=["list", "install", "where", "recipe"])
    agents.add_argument("name", nargs="?", help="the preset (agent input), e.g. claude-code")
    agents.add_argument("--version", dest="agent_version", help="default: the pinned version")
    agents.add_argument("--model", help="recipe: the CLI's model (default: its own)")
    agents.add_argument("--base-url", help="recipe: its API endpoint (default: its vendor's)")
    agents.add_argument(
        "--github-output",
        action="store_true",
        help="where: write path= and key= to GITHUB_OUTPUT (what the action does)",
    )


def _step(sub: "Commands") -> None:
    step = _command(
        sub,
        "step",
        "run one step for the current GitHub event",
        "\n\nWhat the action runs in a workflow job; you rarely run it yourself.",
    )
    step.add_argument("--event-name", help="default: GITHUB_EVENT_NAME")
    step.add_argument("--event-path", help="default: GITHUB_EVENT_PATH")
    for name, text in INPUTS:
        step.add_argument(f"--{name}", help=text)
    _repo(step)


def _serve(sub: "Commands") -> None:
    serve = _command(
        sub,
        "serve",
        "run the webhook service of a GitHub App for many repositories",
        "\n\nOne App for many repositories: each event is checked (its signature), queued in "
        "Redis\nand answered at once; then a workflow run of the repository (or of a central "
        "runner\nrepository) is started for it, or a worker runs it, as the repository's "
        "settings say\n(run-steps-in). Also at /tasks, an API that queues a command for an "
        "issue; health at\n/healthz and figures for Prometheus at /metrics.",
    )
    serve.add_argument("--redis-url", help="where the queue lives (default: ISSUEPILOT_REDIS_URL)")
    serve.add_argument("--host", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", help="port to listen on (default: 8080)")
    serve.add_argument(
        "--workflow", help="the workflow file each repository keeps (default: issuepilot.yml)"
    )
    serve.add_argument(
        "--runner-repo",
        metavar="OWNER/NAME",
        help="a central repository whose workflow runs the steps of repositories without one",
    )
    serve.add_argument("--runner-workflow", help="its workflow file (default: issuepilot.yml)")
    serve.add_argument(
        "--sweep-minutes",
        help="how often lost deliveries are asked for again and sweeps started (default: 30)",
    )
    serve.add_argument("--max-body-bytes", help="largest delivery taken (default: 25 MB)")
    serve.add_argument("--name", help="keeps several services apart in one Redis")


def _worker(sub: "Commands") -> None:
    worker = _command(
        sub,
        "worker",
        "run the steps of repositories served by workers",
        "\n\nFor repositories whose settings say run-steps-in: workers, each step runs here "
        "instead\nof in a workflow run: in a fresh checkout, as the GitHub App, with the same "
        "sandbox,\nagents and store as the action. The model and agent options are the "
        "action's.",
    )
    worker.add_argument("--redis-url", help="the service's Redis (default: ISSUEPILOT_REDIS_URL)")
    worker.add_argument(
        "--tasks-in",
        choices=["redis", "github"],
        help="where the tasks live: the same Redis (default), or each repository's ledger",
    )
    worker.add_argument(
        "--claim-idle",
        help="seconds after which a silent worker's step is taken over (default: 60)",
    )
    worker.add_argument("--consumer", help="this worker's name (default: host and process)")
    worker.add_argument("--metrics-port", help="serve step durations for Prometheus here")
    worker.add_argument("--name", help="the service's --name, if it has one")
    for name, text in INPUTS:
        if name.startswith(("model", "agent")) and name != "model-api-key":
            worker.add_argument(f"--{name}", help=text)


def _app_manifest(sub: "Commands") -> None:
    manifest = _command(
        sub,
        "app-manifest",
        "print the GitHub App to create for the service",
        "\n\nThe App's manifest, for GitHub's create-from-manifest flow: exactly the "
        "permissions\nand events IssuePilot uses.",
    )
    manifest.add_argument(
        "--webhook-url", required=True, help="https://<the service>/webhooks/github"
    )
    manifest.add_argument("--name", default="IssuePilot", help="the App's name (unique on GitHub)")
    manifest.add_argument("--homepage", help="the App's homepage (default: IssuePilot's)")
    manifest.add_argument(
        "--redirect-url",
        default="",
        help="where GitHub sends you back, with the code that fetches the App's key",
    )
    manifest.add_argument("--public", action="store_true", help="installable by anyone")
    manifest.add_argument(
        "--workflows",
        action="store_true",
        help="also let plans change .github/workflows (token-can-write-workflows)",
    )
