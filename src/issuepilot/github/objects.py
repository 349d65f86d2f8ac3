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
    created_at: datetime | None = None
    updated_at: datetime | None = None
    html_url: str = ""
    head: Ref
    base: Ref | None = None
    user: User | None = None
    # Whether it can merge: None while GitHub is still computing it; `dirty` on conflicts.
    mergeable: bool | None = None
    mergeable_state: str = ""

    @property
    def was_merged(self) -> bool:
        return bool(self.merged or self.merged_at)

    @property
    def conflicted(self) -> bool:
        return self.mergeable is False and self.mergeable_state == "dirty"


class ReviewComment(Partial):
    """An inline review comment, or a reply in its thread (`in_reply_to_id`).
    https://docs.github.com/en/rest/pulls/comments"""

    id: int
    path: str = ""
    line: int | None = None
    original_line: int | None = None
    diff_hunk: str = ""
    body: str = ""
    user: User | None = None
    in_reply_to_id: int | None = None

    @property
    def author(self) -> str:
        return self.user.login if self.user else ""


class Repository(Partial):
    full_name: str = ""
    default_branch: str = "main"
    # The token's user's rights on it (admin, maintain, push, ...), where GitHub says.
    permissions: dict[str, bool] | None = None


class RunPull(Partial):
    """A pull request as workflow runs and check runs name it."""

    number: int
    head: Ref | None = None


class WorkflowRun(Partial):
    id: int
    name: str = ""
    head_branch: str | None = None
    head_repository: Repository | None = None
    head_sha: str = ""
    conclusion: str | None = None
    pull_requests: list[RunPull] = []
    run_attempt: int = 1  # a re-run of the run is its next attempt, with the same id


class App(Partial):
    slug: str = ""


class CheckSuite(Partial):
    head_branch: str | None = None


class CheckOutput(Partial):
    title: str | None = None
    summary: str | None = None
    text: str | None = None


class CheckRun(Partial):
    id: int
    name: str = ""
    head_sha: str = ""
    conclusion: str | None = None
    app: App | None = None
    check_suite: CheckSuite | None = None
    pull_requests: list[RunPull] = []
    output: CheckOutput | None = None


class Review(Partial):
    id: int
    state: str = ""  # `changes_requested` in events, `CHANGES_REQUESTED` in the REST API
    body: str | None = ""
    user: User | None = None


class JobStep(Partial):
    name: str = ""
    conclusion: str | None = None
    number: int = 0


class Job(Partial):
    """A workflow run's job. https://docs.github.com/en/rest/actions/workflow-jobs"""

    id: int
    name: str = ""
    conclusion: str | None = None
    steps: list[JobStep] = []


class Annotation(Partial):
    """A check run's annotation. https://docs.github.com/en/rest/checks/runs"""

    path: str = ""
    start_line: int = 0
    end_line: int = 0
    annotation_level: str = ""
    title: str | None = None
    message: str = ""


class ChangedFile(Partial):
    filename: str
    status: str = "modified"  # added, removed, modified, renamed, ...
    previous_filename: str | None = None


class Commitish(Partial):
    sha: str


class Comparison(Partial):
    """`compare/BASE...HEAD`: what HEAD changed since the merge base of the two.
    https://docs.github.com/en/rest/commits/commits#compare-two-commits"""

    merge_base_commit: Commitish
    files: list[ChangedFile] = []
    behind_by: int = 0
    ahead_by: int = 0


class IssueEvent(Partial):
    """One entry of an issue's event log: who labeled, unlabeled, closed it, and when.
    https://docs.github.com/en/rest/issues/events#list-issue-events"""

    event: str
    actor: User | None = None
    label: Label | None = None
    created_at: datetime | None = None
