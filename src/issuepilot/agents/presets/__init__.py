"""The agent CLIs IssuePilot runs by name (`agent:` in the config): one module each."""

from .base import Install, Invocation, Preset, Report, Role

__all__ = ["Install", "Invocation", "Preset", "Report", "Role"]
