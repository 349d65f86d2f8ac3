"""What people and GitHub do in the repository, each returned as the event GitHub sends:
`(event name, payload)`, as a workflow run finds them in `GITHUB_EVENT_NAME` and
`GITHUB_EVENT_PATH`.

Each payload is GitHub's own example objects with the fake's live values laid over them
(`examples.events()`, keyed by the webhook schema's name of the event), so it has every field
GitHub's webhook schema asks for. Payload reference:
https://docs.github.com/en/webhooks/webhook-events-and-payloads
"""

import re
from typing import Any

from . import ci, reviews
from .examples import events, overlay
from .state import API, BOT, WEB, Issue, RepoState, stable_id

Json = Any
Event = tuple[str, Json]
WORKFLOW = ".github/workflows/issuepilot.yml"
# What in a merged pull request's body closes an issue of the same repository.
# https://docs.github.com/en/issues/tracking-your-work-with-issues/using-issues/linking-a-pull-request-to-an-issue
CLOSES = re.compile(r"(?i)\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?):?\s+#(\d+)\b")


class Activity(RepoState):
    def open_issue(self, title: str, body: str = "", user: str = "octocat") -> int:
        with self.lock:
            number = self.next_number()
            self.issues[number] = Issue(number, title, body, user)
            return number

    # -- issues and comments -------------------------------------------------------------

    def label_event(
        self, number: int, label: str, sender: str = "octocat", add: bool = True
    ) -> Event:
        """Add (or remove) a label: `issues` labeled (unlabeled)."""
        with self.lock:
            issue = self.issues[number]
            if not self.label(issue, label, sender, add):
                issue.updated_at = self.tick()
            live = {"label": self.label_json(label), "issue": self.issue_json(issue)}
            return self._event("issues", "labeled" if add else "unlabeled", live, sender)

    def comment_event(self, number: int, body: str, sender: str = "octocat") -> Event:
        """Comment on an issue: `issue_comment` created."""
        with self.lock:
            cid, now = self.new_id(), self.tick()
            self.comments[cid] = {
                "id": cid,
                "issue": number,
                "body": body,
                "user": sender,
                "created_at": now,
                "updated_at": now,
            }
            live = {
                "issue": self.issue_json(self.issues[number]),
                "comment": self.comment_json(self.comments[cid]),
            }
            return self._event("issue_comment", "created", live, sender)

    def close_issue_event(self, number: int, sender: str = "octocat") -> Event:
        with self.lock:
            issue = self.issues[number]
            self.close(issue, sender)
            return self._event("issues", "closed", {"issue": self.issue_json(issue)}, sender)

    def reopen_issue_event(self, number: int, sender: str = "octocat") -> Event:
        with self.lock:
            issue = self.issues[number]
            self.reopen(issue, sender)
            return self._event("issues", "reopened", {"issue": self.issue_json(issue)}, sender)

    # -- workflows -----------------------------------------------------------------------

    def dispatch_event(self, inputs: dict[str, str], sender: str = BOT) -> Event:
        """Run the workflow by hand (or by the action itself): `workflow_dispatch`."""
        live = {"inputs": inputs, "ref": "refs/heads/main", "workflow": WORKFLOW}
        return self._event("workflow_dispatch", None, live, sender)

    def schedule_event(self, cron: str = "*/30 * * * *") -> Event:
        """A cron tick: `schedule`. It is no webhook, so GitHub publishes no schema for it;
        its payload names the cron line, the workflow and the repository, and no sender.
        https://docs.github.com/en/actions/reference/events-that-trigger-workflows#schedule"""
        live = {"schedule": cron, "workflow": WORKFLOW, "repository": self.repository_json()}
        return "schedule", overlay(events()["schedule"], live)

    # -- pull requests -------------------------------------------------------------------

    def open_pull(self, branch: str, title: str = "t", body: str = "", user: str = BOT) -> int:
        """Open a pull request from `branch` into main, as `POST /pulls` does (the branch is
        made at main's head if it does not exist)."""
        with self.lock:
            self.refs.setdefault(f"heads/{branch}", self.refs["heads/main"])
            return self.add_pull(branch, "main", title, body, user)

    def merge_pull(self, number: int, merged: bool = True, sender: str = "octocat") -> Event:
        """Merge (or just close) a pull request: `pull_request` closed."""
        with self.lock:
            pull = self.pulls[number]
            self.close(self.issues[number], sender)
            now = self.issues[number].closed_at
            pull.update(state="closed", merged=merged, closed_at=now, updated_at=now)
            if merged:
                self.merge(pull["base"], pull["head"], f"Merge #{number}")
                pull["merged_at"] = now
                # As GitHub does: a merge into the default branch closes what the body closes.
                for closed in CLOSES.findall(pull["body"] or ""):
                    if (issue := self.issues.get(int(closed))) and issue.state == "open":
                        self.close(issue, sender)
            live = {"number": number, "pull_request": self.pull_json(pull)}
            return self._event("pull_request", "closed", live, sender)

    def advance_base(self, files: dict[str, str | None], message: str = "Update") -> str:
        """Someone pushes a commit to main changing `files` (text, or None to delete): the
        base that open pull requests were branched from moves on. Returns its SHA."""
        with self.lock:
            self.tick()
            return self.commit_files("main", files, message)

    def review_event(
        self,
        number: int,
        state: str = "changes_requested",
        body: str = "Please change this.",
        sender: str = "octocat",
        comments: list[dict[str, Any]] | None = None,
    ) -> Event:
        """Review a pull request: `pull_request_review` submitted. `comments` are the
        review's comments on lines of the diff: `{"path", "line", "body"}` each, the line
        numbered as the pull request's head has the file."""
        with self.lock:
            pull = self.pull_json(self.pulls[number], full=False)
            del pull["merged"]  # a review names the pull request in GitHub's short form
            stored = reviews.add_review(self, number, state, body, sender)
            for c in comments or []:
                reviews.add_comment(self, stored, c["path"], int(c["line"]), c["body"])
            review = {
                "id": stored["id"],
                "state": state,
                "body": body,
                "user": self.user_json(sender),
                "commit_id": stored["commit_id"],
                "submitted_at": stored["submitted_at"],
                "html_url": f"{pull['html_url']}#pullrequestreview-{stored['id']}",
                "pull_request_url": pull["url"],
            }
            live = {"review": review, "pull_request": pull}
            return self._event("pull_request_review", "submitted", live, sender)

    def reply_to_review_comment(
        self, number: int, comment_id: int, body: str, user: str = "octocat"
    ) -> int:
        """Reply in the thread of a review comment of pull request `number`, as `user` would
        on the pull request's page. Returns the reply's id."""
        with self.lock:
            comment = self.review_comments[comment_id]
            if comment["pull"] != number:
                raise KeyError(f"comment {comment_id} is not on pull request #{number}")
            return int(reviews.add_reply(self, comment, body, user)["id"])

    def workflow_run_event(
        self,
        number: int,
        conclusion: str = "failure",
        name: str = "CI",
        sender: str = "octocat",
        jobs: list[dict[str, Any]] | None = None,
    ) -> Event:
        """A workflow run on a pull request's head finished: `workflow_run` completed.
        `jobs` are its jobs: `{"name", "conclusion", "steps": [{"name", "conclusion"}],
        "log"}` each, a step maybe naming its `command` for the log (by default one job
        "test" whose step "Run tests" ends as the run does)."""
        with self.lock:
            pull = self.pull_json(self.pulls[number], full=False)
            run_id = self.new_id()
            run = {
                "id": run_id,
                "name": name,
                "head_branch": pull["head"]["ref"],
                "head_sha": pull["head"]["sha"],
                "status": "completed",
                "conclusion": conclusion,
                "event": "pull_request",
                "pull_requests": [ci.pull_reference(pull)],
                "html_url": f"{WEB}/{self.repo}/actions/runs/{run_id}",
                "url": f"{API}/repos/{self.repo}/actions/runs/{run_id}",
                "jobs_url": f"{API}/repos/{self.repo}/actions/runs/{run_id}/jobs",
                "logs_url": f"{API}/repos/{self.repo}/actions/runs/{run_id}/logs",
                "repository": self.repository_lite_json(),
                "head_repository": self.repository_lite_json(),
            }
            ci.add_run(self, run, ci.default_jobs(conclusion) if jobs is None else jobs)
            workflow = {
                "id": stable_id(name),
                "name": name,
                "path": f".github/workflows/{name.lower()}.yml",
            }
            live = {"workflow_run": run, "workflow": workflow}
            return self._event("workflow_run", "completed", live, sender)

    def check_run_event(
        self,
        number: int,
        conclusion: str = "failure",
        name: str = "test",
        sender: str = "octocat",
        summary: str = "1 failed, 2 passed",
        text: str | None = None,
        annotations: list[dict[str, Any]] | None = None,
        app: str = "ci-app",
        title: str | None = None,
    ) -> Event:
        """A check on a pull request's head finished: `check_run` completed, reported by
        the App `app` (`github-actions` for Actions' own). `annotations` mark lines:
        `{"path", "start_line", "message"}` each, and optionally `end_line`,
        `annotation_level` (failure by default), `title`, `raw_details`."""
        with self.lock:
            pull = self.pull_json(self.pulls[number], full=False)
            output = {"title": title or f"{name}: {conclusion}", "summary": summary, "text": text}
            check = ci.add_check(self, pull, name, conclusion, output, app, annotations or [])
            return self._event("check_run", "completed", {"check_run": check}, sender)

    def _event(self, name: str, action: str | None, live: Json, sender: str) -> Event:
        """The payload of `name` (`action`): GitHub's template with the live values over it."""
        payload = {**({"action": action} if action else {}), **live}
        payload |= {"repository": self.repository_json(), "sender": self.user_json(sender)}
        return name, overlay(events()[f"{name}${action or 'event'}"], payload)
