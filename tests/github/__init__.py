"""GitHub's REST description and webhook schemas, the parts IssuePilot and the fake GitHub
use (vendored here by `tools/github_data.py`; see NOTICE), and the checks built on them."""
