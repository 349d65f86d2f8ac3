"""`issuepilot init`: what a repository needs to run IssuePilot, written into its folder.

The workflow (triggers and one job that calls the reusable workflow of a release), and on
request the settings file, every setting commented out at its default with its line of
explanation from `RepoConfig` itself, so the file cannot drift from the model. Files are
written only where missing or replaced on request; a file that already says the same is
left alone, so running init again changes nothing. With a token, the labels too.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from . import release
from .config import DEFAULT_CONFIG_PATH, RepoConfig, load_config
from .errors import InputError
from .github.client import GitHub
from .labels import Labels
from .steps.mirror import create_labels

WORKFLOW_PATH = ".github/workflows/issuepilot.yml"
# The file the README calls the short workflow; `.github/workflows/issuepilot.yml` of this
# repository is this text with the major tag (a test keeps them the same).
WORKFLOW = """\
# IssuePilot: label an issue `{trigger}`, approve the plan it posts, review its pull request.
# The job is IssuePilot's reusable workflow; this file says when it runs (see its README).
# Settings > Actions > General: "Allow GitHub Actions to create and approve pull requests".
name: IssuePilot
on:
  issues: {{types: [labeled, unlabeled, closed, reopened]}}
  issue_comment: {{types: [created]}}  # zizmor: ignore[dangerous-triggers] no PR code runs
  pull_request: {{types: [closed]}}
  pull_request_review: {{types: [submitted]}}
  check_run: {{types: [completed]}}
  # Red CI on a task's pull request starts a fix round: name your CI workflows here.
  workflow_run: {{workflows: [CI], types: [completed]}}  # zizmor: ignore[dangerous-triggers]
  workflow_dispatch:
    inputs:
      issue: {{description: "Issue number (empty: sweep every task)", type: string}}
      command: {{description: What to do, type: choice, default: advance,
                options: [advance, plan, approve, revise, retry, cancel, fix, rebase, sweep]}}
      # Filled by IssuePilot's service (`issuepilot serve`) only: the event to act on.
      event: {{description: "Set by IssuePilot's service; leave empty", type: string}}
  schedule: [{{cron: "17,47 * * * *"}}]  # the sweep: recover, wake, repair
permissions: {{}}
jobs:
  issuepilot:
    # actionlint:ignore-next-line cache-call-unrestricted -- only trusted runs save the cache
    uses: {uses}  # zizmor: ignore[unpinned-uses]
    permissions: {{contents: write, issues: write, pull-requests: write, actions: write,
                  models: read, checks: read}}  # zizmor: ignore[undocumented-permissions]
{with_block}    secrets:
      redis-url: ${{{{ secrets.ISSUEPILOT_REDIS_URL }}}}  # unset: the repository keeps the tasks
"""
CONFIG_HEADER = """\
# IssuePilot's settings for this repository. Every setting is optional: each line shows
# its default. Remove the leading `# ` of a line to change it.
# {docs}
"""
NEXT = (
    'next: in {where}, turn on "Allow GitHub Actions to create and approve pull requests"; '
    "commit the files to the default branch; label an issue `{trigger}`."
)


@dataclass(frozen=True)
class Target:
    """Where init writes and what it may reach: the checkout, the release to pin, and the
    repository on GitHub (labels are made only with both `repo` and `token`)."""

    root: Path
    ref: str
    config: bool = False
    force: bool = False
    repo: str = ""
    token: str = ""
    api_url: str = "https://api.github.com"
    server_url: str = "https://github.com"


async def init(target: Target) -> list[str]:
    """Set the repository up; returns what was done, a line each."""
    if target.repo and "/" not in target.repo:
        raise InputError(f"--repo must be owner/name, not {target.repo!r}")
    prefix = label_prefix_in(target.root)
    files = {WORKFLOW_PATH: workflow_text(target.ref, prefix)}
    if target.config:
        files[DEFAULT_CONFIG_PATH] = config_text(target.ref)
    changes = plan_files(target.root, files, target.force)
    write(changes)
    done = [change.describe(target.root) for change in changes]
    done = done or ["the files are already as init writes them"]
    if target.repo and target.token:
        made = await add_labels(target.repo, target.token, target.api_url, prefix)
        done.append(f"labels: created {', '.join(made)}" if made else "labels: all present")
    else:
        done.append(
            f"labels: not created (that needs --repo and a token); label an issue `{prefix}` "
            "to start, and IssuePilot creates the others"
        )
    where = "Settings > Actions > General"
    if target.repo:
        where = f"{target.server_url.rstrip('/')}/{target.repo}/settings/actions"
    return [*done, NEXT.format(where=where, trigger=prefix)]


def workflow_text(ref: str, label_prefix: str = "issuepilot") -> str:
    """The short workflow, calling the reusable workflow at `ref` (a tag or a commit)."""
    with_block = ""
    if label_prefix != "issuepilot":  # the filter must know the labels the settings name
        with_block = f"    with:\n      label-prefix: {label_prefix}\n"
    return WORKFLOW.format(
        trigger=label_prefix, uses=release.workflow_ref(ref), with_block=with_block
    )


def settings_lines(commented: bool) -> list[str]:
    """One line per setting of `RepoConfig`: `key: default  # what it does`."""
    lines = []
    for name, field in RepoConfig.model_fields.items():
        value = _yaml(field.get_default(call_default_factory=True))
        line = f"{name.replace('_', '-')}: {value}"
        line = line.ljust(34) if len(line) < 34 else f"{line}  "
        lines.append(f"{'# ' if commented else ''}{line}# {field.description}")
    return lines


def config_text(ref: str) -> str:
    repo = release.repository()
    docs = f"https://github.com/{repo}/blob/{ref}/docs/configuration.md"
    return CONFIG_HEADER.format(docs=docs) + "\n".join(settings_lines(commented=True)) + "\n"


def _yaml(value: Any) -> str:
    text: str = yaml.safe_dump(value, default_flow_style=True, width=1000)
    return text.removesuffix("\n").removesuffix("\n...").strip()


@dataclass(frozen=True)
class Change:
    path: Path
    text: str
    exists: bool  # with other content: replaced, only with --force

    def describe(self, root: Path) -> str:
        return f"{'replaced' if self.exists else 'wrote'} {self.path.relative_to(root)}"


def plan_files(root: Path, files: dict[str, str], force: bool) -> list[Change]:
    """The files to write: those missing or different; refused whole (before anything is
    written) when one differs and `force` is not given."""
    if not root.is_dir():
        raise InputError(f"{root} is not a folder: pass the repository's folder with --dir")
    changes = []
    for name, text in files.items():
        path = root / name
        try:
            current = path.read_text(encoding="utf-8") if path.exists() else None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read {path}: {exc}") from None
        if current == text:
            continue
        if current is not None and not force:
            raise InputError(f"{path} exists and differs: pass --force to replace it")
        changes.append(Change(path, text, exists=current is not None))
    return changes


def write(changes: list[Change]) -> None:
    for change in changes:
        change.path.parent.mkdir(parents=True, exist_ok=True)
        change.path.write_text(change.text, encoding="utf-8")


def label_prefix_in(root: Path) -> str:
    """The label prefix the repository's settings file names (the default without one)."""
    return load_config(root / DEFAULT_CONFIG_PATH).label_prefix


async def add_labels(repo: str, token: str, api_url: str, prefix: str) -> list[str]:
    """Create IssuePilot's labels the repository lacks; returns those created."""
    gh = GitHub(repo, token, api_url)
    try:
        return await create_labels(gh, Labels(prefix))
    finally:
        await gh.aclose()
