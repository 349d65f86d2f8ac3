"""IssuePilot: hand GitHub issues to AI coding agents without losing control."""

__version__ = "0.1.0"
