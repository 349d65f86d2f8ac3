"""What a release relies on, checked offline: the version lives in pyproject.toml and is
the newest section of the changelog (unreleased changes wait under Unreleased); the
release workflow fires on version tags only, publishes with the least it needs, and takes
its notes from the changelog; every action is pinned by commit; the action's metadata is
fit for the Marketplace; Dependabot watches what is pinned."""

import fnmatch
import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from issuepilot import release

ROOT = Path(__file__).parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"


def tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "release_notes", ROOT / "tools" / "release_notes.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


NOTES = tool()


def load(path: Path) -> dict[Any, Any]:
    data: dict[Any, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


RELEASE = load(WORKFLOWS / "release.yml")
CHANGELOG = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")


def test_the_version_is_the_newest_changelog_section() -> None:
    names = list(NOTES.sections(CHANGELOG))
    assert names[0] == "Unreleased", "unreleased changes go first, under Unreleased"
    assert names[1] == release.version(), "pyproject.toml's version is the newest section"
    assert release.tag() == f"v{names[1]}"


def test_every_version_section_is_dated_and_linked() -> None:
    for name in list(NOTES.sections(CHANGELOG))[1:]:
        assert re.search(rf"^## \[{re.escape(name)}\] - \d{{4}}-\d{{2}}-\d{{2}}$", CHANGELOG, re.M)
        link = f"[{name}]: https://github.com/{release.repository()}/releases/tag/v{name}"
        assert link in CHANGELOG.splitlines()


SAMPLE = """\
# Changelog

Intro.

## [Unreleased]

### Fixed

- A thing not released yet.

## [1.1.0] - 2026-12-24

### Added

- New: `init`.
  Second line.

## [1.0.0] - 2026-01-01

- First.

[Unreleased]: https://github.com/o/r/compare/v1.1.0...HEAD
[1.1.0]: https://github.com/o/r/releases/tag/v1.1.0
"""


def test_a_section_is_its_text_between_the_headings() -> None:
    found = NOTES.sections(SAMPLE)
    assert list(found) == ["Unreleased", "1.1.0", "1.0.0"]
    assert found["1.1.0"] == "### Added\n\n- New: `init`.\n  Second line."
    assert found["1.0.0"] == "- First."  # the link references are not part of it
    assert found["Unreleased"] == "### Fixed\n\n- A thing not released yet."


def run_notes(*argv: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(ROOT / "tools" / "release_notes.py"), *argv]
    return subprocess.run(command, capture_output=True, text=True, timeout=30)


def test_the_notes_of_this_version_are_its_changelog_section() -> None:
    done = run_notes(release.tag(), "--repository", release.repository())
    assert done.returncode == 0, done.stderr
    assert done.stdout == NOTES.sections(CHANGELOG)[release.version()] + "\n"


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["v0"], "is not a release tag"),
        (["0.1.0"], "is not a release tag"),
        (["v99.0.0"], "is not the version in pyproject.toml"),
        ([f"v{release.version()}", "--repository", "fork/issuepilot"], "is not fork/issuepilot"),
    ],
)
def test_a_tag_that_cannot_be_released_is_refused_in_one_line(argv: list[str], says: str) -> None:
    done = run_notes(*argv)
    assert done.returncode == 1 and done.stdout == ""
    assert says in done.stderr and len(done.stderr.splitlines()) == 1


def test_a_version_without_its_section_is_refused(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nversion = "1.2.0"\n')
    (tmp_path / "CHANGELOG.md").write_text(SAMPLE)
    with pytest.raises(NOTES.Refused, match="no section for 1.2.0"):
        NOTES.notes("v1.2.0", root=tmp_path)
    (tmp_path / "pyproject.toml").write_text('[project]\nversion = "1.1.0"\n')
    assert NOTES.notes("v1.1.0", root=tmp_path).startswith("### Added")


def test_the_release_fires_on_version_tags_and_never_on_the_major_tag() -> None:
    [pattern] = RELEASE[True]["push"]["tags"]  # YAML 1.1 reads the key `on` as true
    assert set(RELEASE[True]) == {"push"} and "branches" not in RELEASE[True]["push"]
    # GitHub's `*` matches any characters but `/`.
    assert fnmatch.fnmatchcase(release.tag(), pattern)
    for tag in ("v0", "v1", "latest", "0.1.0"):
        assert not fnmatch.fnmatchcase(tag, pattern), tag


def test_each_release_job_has_only_the_permissions_it_needs() -> None:
    assert RELEASE["permissions"] == {}
    jobs = RELEASE["jobs"]
    granted = {name: job["permissions"] for name, job in jobs.items()}
    assert granted == {
        "check": {"contents": "read"},
        "build": {"contents": "read"},
        "publish": {"id-token": "write", "attestations": "write"},
        "release": {"contents": "write"},
    }
    assert jobs["publish"]["environment"]["name"] == "pypi"
    uses = [step.get("uses", "") for step in jobs["publish"]["steps"]]
    assert [u.split("@")[0] for u in uses] == [
        "actions/download-artifact",
        "actions/attest-build-provenance",
        "pypa/gh-action-pypi-publish",
    ]
    assert jobs["build"]["needs"] == "check" and jobs["publish"]["needs"] == "build"
    assert jobs["release"]["needs"] == "publish"


def test_the_release_runs_the_whole_check_on_a_pinned_redis() -> None:
    check = RELEASE["jobs"]["check"]
    assert any(step.get("run") == "bash .ci/run" for step in check["steps"])
    ci = load(WORKFLOWS / "ci.yml")["jobs"]["test"]
    for job in (check, ci):
        assert re.fullmatch(r"redis:[\w.-]+@sha256:[0-9a-f]{64}", job["services"]["redis"]["image"])


USES = re.compile(r"^\s*(?:-\s+)?uses:\s+(?P<ref>\S+)(?P<rest>.*)$", re.MULTILINE)


@pytest.mark.parametrize(
    "path", [ROOT / "action.yml", *sorted(WORKFLOWS.glob("*.yml"))], ids=lambda p: p.name
)
def test_every_action_is_pinned_by_commit_with_its_version_named(path: Path) -> None:
    """A tag can be moved to other code; a commit cannot. IssuePilot's own release is the
    exception: the reusable workflow runs the action of its own tag, and the workflow a
    repository keeps names a release as its README says."""
    for found in USES.finditer(path.read_text(encoding="utf-8")):
        name, _, ref = found["ref"].partition("@")
        if name.startswith(release.repository()):
            continue
        assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{name}@{ref} is not a commit"
        assert re.match(r"\s+# v\d+(\.\d+)*", found["rest"]), f"{name}: say its version"


def test_the_action_is_ready_for_the_marketplace() -> None:
    action = load(ROOT / "action.yml")
    assert action["name"]
    assert len(action["description"]) < 125
    colors = {"white", "black", "yellow", "blue", "green", "orange", "red", "purple", "gray-dark"}
    assert action["branding"]["icon"] and action["branding"]["color"] in colors


def test_dependabot_watches_the_pinned_actions_and_the_python_dependencies() -> None:
    config = load(ROOT / ".github" / "dependabot.yml")
    watched = {(u["package-ecosystem"], u["directory"]) for u in config["updates"]}
    # and the service's image and compose file
    images = {("docker", "/"), ("docker-compose", "/")}
    assert watched == {("github-actions", "/"), ("pip", "/")} | images


def test_the_version_is_read_from_pyproject_where_the_package_is_not_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The action puts the source tree on the path without installing it."""

    def not_installed(name: str) -> None:
        raise release.metadata.PackageNotFoundError(name)

    installed = (release.version(), release.repository())
    monkeypatch.setattr(release.metadata, "metadata", not_installed)
    release._project.cache_clear()
    try:
        assert (release.version(), release.repository()) == installed
    finally:
        monkeypatch.undo()
        release._project.cache_clear()
