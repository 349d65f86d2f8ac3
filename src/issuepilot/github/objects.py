"""GitHub's objects as IssuePilot reads them, from REST answers and event payloads alike.

Partial pydantic models: only the fields used are declared, everything else is ignored,
so any well-formed answer parses. Past the client and the event parser, no raw dicts.
https://docs.github.com/en/rest/issues/issues#get-an-issue
"""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class Partial(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class User(Partial):
    login: str


class Label(Partial):
    name: str


class Issue(Partial):
    number: int
    title: str = ""
    body: str | None = None
    state: str = "open"
    labels: list[Label] = []
    user: User | None = None
    updated_at: datetime | None = None  # of a label event's payload: when the label changed
    comments: int = 0  # how many comments it has
    pull_request: dict[str, Any] | None = None  # present when the "issue" is a pull request

    @property
    def label_names(self) -> set[str]:
        return {label.name for label in self.labels}


class Comment(Partial):
    id: int = 0
    body: str | None = ""
    user: User | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def author(self) -> str:
        return self.user.login if self.user else ""

    @property
    def text(self) -> str:
        return self.body or ""


class Ref(Partial):
    ref: str
    sha: str = ""


class Pull(Partial):
    number: int
    state: str = "open"
    merged: bool | None = False
    merged_at: datetime | None = None  # set once merged (list answers leave `merged` out)
    draft: bool = False
    updated_at: datetime | None = None
    html_url: str = ""
    head: Ref
    base: Ref | None = None
    user: User | None = None

    @property
    def was_merged(self) -> bool:
        return bool(self.merged or self.merged_at)


class IssueEvent(Partial):
    """One entry of an issue's event log: who labeled, unlabeled, closed it, and when.
    https://docs.github.com/en/rest/issues/events#list-issue-events"""

    event: str
    actor: User | None = None
    label: Label | None = None
    created_at: datetime | None = None


class Repository(Partial):
    full_name: str = ""
    default_branch: str = "main"
