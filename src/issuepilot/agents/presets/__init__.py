"""The agent CLIs IssuePilot runs by name (`agent:` in the config): one module each."""

from .aider import Aider
from .base import Install, Invocation, Preset, Report, Role

PRESETS: dict[str, Preset] = {p.name: p for p in (Aider(),)}

__all__ = ["PRESETS", "Install", "Invocation", "Preset", "Report", "Role"]
