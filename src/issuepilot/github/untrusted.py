"""Text that came from a user, a model, an agent or a check, made safe to show on GitHub.

In order: secrets are redacted (every value IssuePilot knows, and whatever looks like a
credential), HTML is escaped (no hidden comments, no forged markers, no markup), @mentions
are neutralised (nobody is notified) and closing keywords are defused (only IssuePilot's
own `Closes #n` closes anything). In the step log, no line can become a workflow command
(`logged`). Pure.
https://docs.github.com/en/issues/tracking-your-work-with-issues/using-issues/linking-a-pull-request-to-an-issue
"""

import html
import re
from collections.abc import Iterable

ZWSP = "&#8203;"  # a zero-width space: breaks a mention or a keyword, invisible when shown
REDACTED = "***"
MIN_SECRET = 6  # shorter values would redact ordinary words
CREDENTIALS = [
    # GitHub tokens: personal, OAuth, user-to-server, server-to-server, refresh, fine-grained.
    re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"),
    re.compile(
        r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)",
        re.DOTALL,
    ),
]
# scheme://user:password@host: the password goes, the rest stays readable.
URL_PASSWORD = re.compile(r"\b([a-z][a-z0-9+.-]*://[^\s/:@]*):[^\s/@]+@", re.IGNORECASE)
MENTION = re.compile(r"(?<![\w`])@(?=[A-Za-z0-9])")
CLOSING = re.compile(
    r"\b(close[sd]?|fix(?:e[sd])?|resolve[sd]?)(\s*:?)(?=\s+(?:[\w.-]+/[\w.-]+#\d|#\d|https?://))",
    re.IGNORECASE,
)


def looks_like_credential(value: str) -> bool:
    """Whether a value holds something that works as a credential on its own."""
    return bool(URL_PASSWORD.search(value)) or any(p.search(value) for p in CREDENTIALS)


class Redactor:
    """Removes the values of known secrets and anything shaped like a credential."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets: list[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        """Know one more secret (an App token minted mid-run, say)."""
        values = {secret.strip()} | {line.strip() for line in secret.splitlines()}
        values = {v for v in values if len(v) >= MIN_SECRET} - set(self.secrets)
        self.secrets = sorted([*self.secrets, *values], key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        for pattern in CREDENTIALS:
            text = pattern.sub(REDACTED, text)
        return URL_PASSWORD.sub(rf"\1:{REDACTED}@", text)


def escape(text: str) -> str:
    """Show text as text: no HTML, no hidden comments, no notifications, no closing."""
    text = html.escape(text, quote=False)
    text = MENTION.sub("@" + ZWSP, text)
    return defuse(text, ZWSP)


def defuse(text: str, space: str = "\u200b") -> str:
    """Break every closing keyword's hold on the reference after it (`Fixes #12`)."""
    return CLOSING.sub(lambda m: m.group(1) + m.group(2) + space, text)


def plain(text: str, redact: Redactor) -> str:
    """Untrusted text where markdown is not rendered (a commit message, a title): redacted,
    and unable to close an issue when the commit lands on the default branch."""
    return defuse(redact(text))


def shown(text: str, redact: Redactor) -> str:
    """Untrusted text as it may appear on GitHub: redacted, then escaped."""
    return escape(redact(text))


def code(text: str, redact: Redactor) -> str:
    """Untrusted text inside a code span (`like this`), where entities show literally:
    redacted, on one line, with no backtick to end the span and no `<`/`>` for a marker."""
    text = " ".join(redact(text).split())
    return text.replace("`", "'").replace("<", "\u2039").replace(">", "\u203a")


def logged(text: str) -> str:
    """Text as lines of the step log, where the Actions runner takes nothing for a workflow
    command: every line IssuePilot prints passes here, whatever it carries.

    The runner reads a command from a line that starts with `::` once leading whitespace is
    trimmed (`::set-output`, `::add-mask::`, `::stop-commands::`, `::error file=...`), and
    the older form from `##[` anywhere in a line. So the text is cut at every line break
    (CR and LF among them, as the runner cuts), the colon that would start a command is
    written `\\u003a`, and the bracket of every `##[` is written `\\u005b`. Both are JSON's
    escapes for those characters, so a JSON line stays valid and reads back unchanged.
    https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-commands
    https://github.com/actions/runner/blob/main/src/Runner.Common/ActionCommand.cs"""
    return "\n".join(_logged_line(line) for line in text.splitlines())


def _logged_line(line: str) -> str:
    line = line.replace("##[", "##\\u005b")
    text = line.lstrip()
    if text.startswith("::"):
        return line[: len(line) - len(text)] + "\\u003a" + text[1:]
    return line


def command_data(text: str) -> str:
    """Escape a workflow command's data as GitHub documents, so text cannot end the command
    or start another one on a new line.
    https://github.com/actions/toolkit/blob/main/packages/core/src/command.ts"""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
