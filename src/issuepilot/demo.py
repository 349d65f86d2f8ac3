"""`issuepilot demo`: the whole lifecycle on this machine, with no setup.

A local fake GitHub and a scripted model stand in for the real services. The tasks live
where a new repository keeps them, on the ledger branch of the (fake) repository; with
`store="redis"` in Redis instead (`REDIS_URL`, or a throwaway server). Each run of the
action is one `run_step` call fed with the event GitHub would send, including the
`workflow_dispatch` runs the action chains. The model works with the tools, in a checkout
of the demo repository (where git is installed): it searches, reads, makes an edit its
check fails, reads the failure, fixes it; IssuePilot runs the check itself before the
pull request opens.
"""

import asyncio
import shutil
import subprocess
import tempfile
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from .config import RepoConfig, Settings
from .events import parse_payload
from .ledger import BRANCH as LEDGER_BRANCH
from .ledger import FILE as LEDGER_FILE
from .testing.fake_llm import Answer, Calls, FakeLLM, Messages, calls_made, default_reply
from .testing.github import FakeGitHub
from .testing.redis_server import ThrowawayRedis
from .wiring import run_step

FILES = {
    "README.md": "# Demo project\n\nA small project that IssuePilot works on.\n",
    "src/app.py": 'def greet(name):\n    return "Hello " + name\n',
}
ISSUE = "Greet politely", "The greeting in `src/app.py` should end with an exclamation mark."
# The demo repository's own check, as a repository would configure it (`checks:`).
CHECK = (
    "python3 -c \"import sys; sys.path.insert(0, 'src'); import app; "
    "assert app.greet('Ada') == 'Hello Ada!', app.greet('Ada')\""
)
OLD = 'return "Hello " + name'
# The model's turns: look, edit (wrongly), check, fix, check, finish.
EXECUTOR: list[tuple[str, dict[str, Any]]] = [
    ("search", {"pattern": "def greet", "path_glob": "*.py"}),
    ("read_file", {"path": "src/app.py", "start_line": 1, "end_line": 2}),
    ("edit_file", {"path": "src/app.py", "old_text": OLD, "new_text": OLD + ' + "!!"'}),
    ("run_check", {"name": "greeting"}),
    ("edit_file", {"path": "src/app.py", "old_text": '"!!"', "new_text": '"!"'}),
    ("run_check", {"name": "greeting"}),
    ("finish", {"message": "End the greeting with an exclamation mark"}),
]


def scripted_model(messages: Messages, tools: list[str]) -> Answer:
    """The demo's model: the default plan; then the executor's turns, one at a time."""
    if "planner" in messages[0]["content"].lower() or not tools:
        return default_reply(messages, tools)
    done = len(calls_made(messages))
    name, arguments = EXECUTOR[min(done, len(EXECUTOR) - 1)]
    return Calls([(name, arguments)])


def checkout(files: dict[str, str]) -> Path | None:
    """A git checkout of the demo repository, as actions/checkout would leave it; None
    where git is not installed (the demo then works through the API, without checks)."""
    if shutil.which("git") is None:
        return None
    root = Path(tempfile.mkdtemp(prefix="issuepilot-demo-"))
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    git = ["git", "-c", "user.name=demo", "-c", "user.email=demo@example.com"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "initial commit"]):
        subprocess.run([*git, *args], cwd=root, check=True, capture_output=True)
    return root


def run_demo(
    store: str = "github", redis_url: str | None = None, http_log: Path | None = None
) -> int:
    with ExitStack() as stack:
        if store == "github":
            print("store: the repository's ledger (branch issuepilot/ledger), as in a new one")
            redis_url = ""
        elif redis_url is None:
            print("store: Redis, a throwaway server")
            redis_url = stack.enter_context(ThrowawayRedis()).url
        else:
            print("store: Redis at REDIS_URL")
        repo = f"demo/project-{uuid.uuid4().hex[:6]}"  # its own keys, even on a shared server
        github = stack.enter_context(FakeGitHub(repo, files=FILES))
        model = stack.enter_context(FakeLLM(reply=scripted_model))
        root = checkout(FILES)
        if root is not None:
            stack.callback(shutil.rmtree, root, ignore_errors=True)
        else:
            print("git is not installed: the demo works through the API, without its check")
        # The demo's check runs as this user: nothing here is secret, and a sandbox user
        # would need root. A real repository keeps the default (sandbox: user).
        config = RepoConfig(checks={"greeting": CHECK} if root else {}, sandbox="none")
        settings = Settings(
            repo=repo,
            api_url=github.url,
            token="ghs_fake",
            redis_url=redis_url,
            model="demo-model",
            model_base_url=model.url,
            model_api_key="demo",
            workflow_ref=f"{repo}/.github/workflows/issuepilot.yml@refs/heads/main",
            http_log=http_log,
            workspace=root,
            config=config,
        )
        asyncio.run(_lifecycle(settings, github))
    return 0


async def _run(settings: Settings, event: tuple[str, Any], what: str) -> dict[str, str]:
    print(f"\n== {what}")
    outputs, _ = await run_step(settings, event[0], parse_payload(event[1]), say=_say)
    return outputs


def _say(line: str) -> None:
    print(f"   {line}")


async def _drain(settings: Settings, github: FakeGitHub) -> dict[str, str]:
    """Run the workflow_dispatch runs the action queued for itself, as GitHub would."""
    outputs: dict[str, str] = {}
    while github.dispatches:
        inputs = github.dispatches.pop(0)["inputs"]
        outputs = await _run(settings, github.dispatch_event(inputs), f"dispatched run {inputs}")
    return outputs


async def _lifecycle(settings: Settings, github: FakeGitHub) -> None:
    issue = github.open_issue(*ISSUE)
    print(f"issue #{issue}: {ISSUE[0]!r} in {settings.repo} (a local fake GitHub)")
    await _run(settings, github.label_event(issue, "issuepilot"), "a maintainer adds `issuepilot`")
    await _drain(settings, github)
    comment = next(c for c in github.comments.values() if c["issue"] == issue)
    plan = comment["body"].split("#### Plan", 1)[-1].split("**Next:**")[0].strip()
    print(f"\n   the status comment shows the plan:\n   #### Plan {plan.splitlines()[0]}")
    approve = github.label_event(issue, "issuepilot:approved")
    await _run(settings, approve, "the maintainer approves with `issuepilot:approved`")
    outputs = await _drain(settings, github)
    pr = int(outputs["pr-number"])
    print(f"\n   pull request #{pr}: {outputs['pr-url']}")
    for path, text in github.files_at(github.pulls[pr]["head"]).items():
        if FILES.get(path) != text:
            print(f"   changed {path}:\n" + "".join(f"     | {ln}\n" for ln in text.splitlines()))
    checks = github.pulls[pr]["body"].split("### Checks", 1)[1:]
    if checks:
        print("   its checks, in the pull request:" + checks[0].split("Closes #")[0].rstrip())
    outputs = await _run(settings, github.merge_pull(pr), f"the maintainer merges #{pr}")
    print(f"\ntask #{issue} ends {outputs['task-state']}; labels: {github.issues[issue].labels}")
    calls = len(github.requests)
    print(f"GitHub API requests made: {calls}; unknown routes: {len(github.unknown)}")
    if not settings.redis_url.get_secret_value():
        ledger = github.files_at(LEDGER_BRANCH).get(LEDGER_FILE, "")
        print(f"the ledger branch {LEDGER_BRANCH} holds {LEDGER_FILE}, {len(ledger)} bytes")
