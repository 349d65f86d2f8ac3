"""The notes of a release: its section of CHANGELOG.md, printed for the GitHub Release,
once the tag is known to be releasable.

    python3 tools/release_notes.py v0.2.0 [--repository owner/name]

Refuses, with one line and exit 1: a tag that is not vX.Y.Z, a tag that is not the
version in pyproject.toml, a changelog without that version's section or with an empty
one, and (with --repository) a package whose Source URL names another repository, since
`issuepilot init` pins workflows to that URL. Standard library only: the release workflow
runs it before anything is installed.
"""

import argparse
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TAG = re.compile(r"v(\d+\.\d+\.\d+)")
# `## [0.2.0] - 2026-12-24` or `## [Unreleased]`: Keep a Changelog's headings.
HEADING = re.compile(r"^## \[(?P<name>[^\]]+)\]", re.MULTILINE)
# The link references that close the file: `[0.2.0]: https://...`.
LINKS = re.compile(r"^\[[^\]]+\]: \S+\s*$", re.MULTILINE)


class Refused(Exception):
    """The tag cannot be released as it stands; the message says why."""


def sections(changelog: str) -> dict[str, str]:
    """Each section's text by its name (a version, or "Unreleased"), in the file's order,
    without its heading line and without the link references after the last one."""
    found = list(HEADING.finditer(changelog))
    out = {}
    for match, after in zip(found, [*found[1:], None], strict=True):
        end = after.start() if after else len(changelog)
        body = changelog[match.end() : end].split("\n", 1)[-1]
        if after is None and (link := LINKS.search(body)):
            body = body[: link.start()]
        out[match["name"]] = body.strip()
    return out


def notes(tag: str, repository: str | None = None, root: Path = ROOT) -> str:
    """The changelog section of `tag`, after checking that `tag` may be released."""
    matched = TAG.fullmatch(tag)
    if matched is None:
        raise Refused(f"{tag!r} is not a release tag: releases are tagged vMAJOR.MINOR.PATCH")
    version = matched.group(1)
    with open(root / "pyproject.toml", "rb") as file:
        project = tomllib.load(file)["project"]
    if project["version"] != version:
        raise Refused(f"the tag {tag} is not the version in pyproject.toml ({project['version']})")
    source = project.get("urls", {}).get("Source", "")
    if repository and source.rstrip("/").split("/")[-2:] != repository.split("/"):
        raise Refused(f"pyproject.toml's Source URL ({source}) is not {repository}: fix it first")
    text = sections((root / "CHANGELOG.md").read_text(encoding="utf-8")).get(version)
    if not text:
        raise Refused(f"CHANGELOG.md has no section for {version}: move Unreleased under it")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tag", help="the tag being released, e.g. v0.2.0")
    parser.add_argument("--repository", help="owner/name the release is published from")
    args = parser.parse_args(argv)
    try:
        print(notes(args.tag, args.repository))
    except Refused as exc:
        print(f"release_notes: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
