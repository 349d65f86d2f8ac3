"""The agent CLIs IssuePilot runs by name (`agent:` in the config): one module each."""

from .base import Install, Invocation, Preset, Report, Role
from .codex import Codex

PRESETS: dict[str, Preset] = {p.name: p for p in (Codex(),)}

__all__ = ["PRESETS", "Install", "Invocation", "Preset", "Report", "Role"]
