"""The agent CLIs IssuePilot runs by name (`agent:` in the config): one module each."""

from .base import Install, Invocation, Preset, Report, Role
from .claude_code import ClaudeCode

PRESETS: dict[str, Preset] = {p.name: p for p in (ClaudeCode(),)}

__all__ = ["PRESETS", "Install", "Invocation", "Preset", "Report", "Role"]
