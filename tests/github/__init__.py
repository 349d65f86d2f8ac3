"""GitHub's REST description, the part IssuePilot and the fake GitHub use (vendored here
by `tools/github_data.py`; see NOTICE), and the checks built on it."""
