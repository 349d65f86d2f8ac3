"""The agent CLIs IssuePilot runs by name (`agent:` in the config): one module each."""

from .aider import Aider
from .base import Install, Invocation, Preset, Report, Role
from .opencode import OpenCode

PRESETS: dict[str, Preset] = {p.name: p for p in (Aider(), OpenCode())}

__all__ = ["PRESETS", "Install", "Invocation", "Preset", "Report", "Role"]
