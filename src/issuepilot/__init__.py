"""IssuePilot: hand GitHub issues to AI coding agents without losing control."""
