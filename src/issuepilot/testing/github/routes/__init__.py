"""The fake's route table: every REST operation it serves, grouped by area.

A new route goes into its area's module (or a new one listed here); regenerating with
`tools/github_data.py` then adds GitHub's example answer and its part of the REST
description for the tests.
"""

from . import actions, app, checks, compare, git, issues, pulls, repos
from .base import Answer, ApiError, Call, Route

ROUTES: list[Route] = [
    *issues.ROUTES,
    *git.ROUTES,
    *compare.ROUTES,
    *pulls.ROUTES,
    *actions.ROUTES,
    *checks.ROUTES,
    *app.ROUTES,
    *repos.ROUTES,
]

__all__ = ["ROUTES", "Answer", "ApiError", "Call", "Route"]
