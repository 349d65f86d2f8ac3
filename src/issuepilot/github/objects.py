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
    html_url: str = ""
    head: Ref
    base: Ref | None = None
    user: User | None = None


class Repository(Partial):
    full_name: str = ""
    default_branch: str = "main"
