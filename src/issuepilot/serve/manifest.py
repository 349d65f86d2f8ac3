"""The GitHub App to create for `issuepilot serve`, as a manifest for GitHub's
create-from-manifest flow: the permissions the steps' tokens ask for
(`github.auth.APP_PERMISSIONS`), the events `decide` acts on (`events.WEBHOOK_EVENTS`),
and, for each event, the permission GitHub requires to send it. Nothing else.
https://docs.github.com/en/apps/sharing-github-apps/registering-a-github-app-from-a-manifest
https://docs.github.com/en/webhooks/webhook-events-and-payloads
"""

from typing import Any

from ..events import WEBHOOK_EVENTS
from ..github.auth import APP_PERMISSIONS

# The permission an App needs to be sent each event (read is enough to receive it).
EVENT_PERMISSION = {
    "issues": "issues",
    "issue_comment": "issues",
    "pull_request": "pull_requests",
    "pull_request_review": "pull_requests",
    "workflow_run": "actions",
    "check_run": "checks",  # read also lets a fix round read a check's annotations
}


def permissions(workflows: bool = False) -> dict[str, str]:
    """What the App needs: the steps' permissions, and read access for each event."""
    needed = dict(APP_PERMISSIONS)
    for event in WEBHOOK_EVENTS:
        needed.setdefault(EVENT_PERMISSION[event], "read")
    if workflows:  # plans may change .github/workflows (token-can-write-workflows)
        needed["workflows"] = "write"
    return dict(sorted(needed.items()))


def manifest(
    name: str,
    webhook_url: str,
    homepage: str,
    redirect_url: str = "",
    public: bool = False,
    workflows: bool = False,
) -> dict[str, Any]:
    """`redirect_url`: where GitHub sends the browser with the code that fetches the App's
    ID, key and webhook secret (`POST /app-manifests/{code}/conversions`)."""
    made: dict[str, Any] = {
        "name": name,
        "url": homepage,
        "hook_attributes": {"url": webhook_url, "active": True},
        "public": public,
        "default_permissions": permissions(workflows),
        "default_events": list(WEBHOOK_EVENTS),
    }
    if redirect_url:
        made["redirect_url"] = redirect_url
    return made
