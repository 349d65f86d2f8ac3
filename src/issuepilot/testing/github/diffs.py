"""Text diffs as GitHub shows them: a file's `patch` (its unified diff, without the file
headers) and a review comment's `diff_hunk` (the patch's hunk up to the commented line).
https://docs.github.com/en/rest/pulls/comments"""

import difflib
import re

HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")


def patch(old: str, new: str) -> str:
    """The unified diff (three lines of context) from `old` to `new`, hunks only."""
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=3)
    return "\n".join(list(lines)[2:])  # without the `---` and `+++` lines


def counts(old: str, new: str) -> tuple[int, int]:
    """(additions, deletions): the lines added and removed."""
    lines = patch(old, new).splitlines()
    added = sum(1 for line in lines if line.startswith("+"))
    removed = sum(1 for line in lines if line.startswith("-"))
    return added, removed


def hunk_at(old: str, new: str, line: int) -> tuple[str, int] | None:
    """The diff hunk a comment on line `line` of `new` shows, and the comment's position
    (lines below the first hunk's header); None when the line is not in the diff."""
    lines, start, number = patch(old, new).splitlines(), 0, 0
    for position, text in enumerate(lines):
        header = HUNK.match(text)
        if header:
            start, number = position, int(header.group(1))
            continue
        if text.startswith("-"):
            continue
        if number == line:
            return "\n".join(lines[start : position + 1]), position
        number += 1
    return None
