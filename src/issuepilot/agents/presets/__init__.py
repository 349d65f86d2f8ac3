"""The agent CLIs IssuePilot runs by name (`agent` input): one module each."""

from ...errors import InputError
from .base import Install, Invocation, Preset, Report, Role
from .claude_code import ClaudeCode
from .codex import Codex
from .gemini import Gemini

ALL: tuple[Preset, ...] = (ClaudeCode(), Codex(), Gemini())
PRESETS: dict[str, Preset] = {p.name: p for p in ALL}


def preset(name: str) -> Preset:
    """The preset called `name`, or an error that lists them."""
    try:
        return PRESETS[name]
    except KeyError:
        known = ", ".join(sorted(PRESETS)) or "none"
        raise InputError(
            f"agent {name!r} is not a preset IssuePilot knows ({known}); for any other CLI "
            "use agent-command"
        ) from None


__all__ = ["ALL", "PRESETS", "Install", "Invocation", "Preset", "Report", "Role", "preset"]
