"""The fake GitHub after a pull request opens, over loopback HTTP: reviews and their
threads, workflow jobs and their logs (on a host of their own), check annotations,
mergeability against a moving base, comparisons and merge commits. Every request is
checked against GitHub's REST description, and so is every answer."""

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from issuepilot.testing.github import FakeGitHub

from .github.openapi import answer_errors, check_request
from .github.schemas import event_errors

REPO = "/repos/octo/repo"
TEXT = "".join(f"line {i}\n" for i in range(1, 31))
BRANCH = "issuepilot/issue-7"
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z ")


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub("octo/repo", files={"a.txt": TEXT, "b.txt": "b\n", "old.txt": "old\n"}) as f:
        yield f
        assert f.unknown == []
        for method, template, status, body in f.answers:
            if status < 300 and status != 204:
                errors = answer_errors(method, template, status, body)
                assert not errors, (method, template, errors[:3])


@pytest.fixture
def api(fake: FakeGitHub) -> Iterator[httpx.Client]:
    """A client with the bot's token whose every request to the API must be documented."""

    def documented(request: httpx.Request) -> None:
        if str(request.url).startswith(fake.url):
            body = json.loads(request.content) if request.content else None
            check_request(request.method, str(request.url), body)

    hooks = {"request": [documented]}
    auth = {"Authorization": "Bearer ghs_fake"}
    with httpx.Client(base_url=fake.url, headers=auth, event_hooks=hooks) as client:
        yield client


def open_pull(fake: FakeGitHub, files: dict[str, str | None] | None = None) -> int:
    """A pull request whose branch changes line 10 of a.txt, deletes old.txt and adds c.txt
    (or changes `files`)."""
    fake.refs[f"heads/{BRANCH}"] = fake.refs["heads/main"]
    changed = {"a.txt": TEXT.replace("line 10\n", "LINE 10\n"), "old.txt": None, "c.txt": "c\n"}
    fake.commit_files(BRANCH, changed if files is None else files, "change")
    return fake.open_pull(BRANCH)


# -- reviews and their threads ----------------------------------------------------------------


def test_a_reviews_comments_are_listed_by_review_and_by_pull_request(
    fake: FakeGitHub, api: httpx.Client
) -> None:
    n = open_pull(fake)
    head = fake.refs[f"heads/{BRANCH}"]
    comments = [
        {"path": "a.txt", "line": 10, "body": "Why shout?"},
        {"path": "c.txt", "line": 1, "body": "A new file?"},
    ]
    _, first = fake.review_event(n, comments=comments, sender="alice")
    _, second = fake.review_event(n, comments=[{"path": "a.txt", "line": 9, "body": "Nit."}])
    assert event_errors("pull_request_review$submitted", first) == []
    review = first["review"]["id"]

    listed = api.get(f"{REPO}/pulls/{n}/reviews/{review}/comments").json()
    assert [c["body"] for c in listed] == ["Why shout?", "A new file?"]
    shout = listed[0]
    assert shout["diff_hunk"].startswith("@@ -7,7 +7,7 @@")
    assert shout["diff_hunk"].endswith("\n-line 10\n+LINE 10")  # up to the commented line
    assert (shout["path"], shout["line"], shout["original_line"]) == ("a.txt", 10, 10)
    assert shout["commit_id"] == shout["original_commit_id"] == head
    assert shout["user"]["login"] == "alice" and shout["pull_request_review_id"] == review
    assert shout["html_url"].endswith(f"/pull/{n}#discussion_r{shout['id']}")
    assert "in_reply_to_id" not in shout and shout["start_line"] is None
    assert listed[1]["diff_hunk"] == "@@ -0,0 +1 @@\n+c"

    everything = api.get(f"{REPO}/pulls/{n}/comments").json()
    assert [c["body"] for c in everything] == ["Why shout?", "A new file?", "Nit."]
    newest = api.get(f"{REPO}/pulls/{n}/comments?sort=created&direction=desc").json()
    assert newest[0]["pull_request_review_id"] == second["review"]["id"]
    paged = api.get(f"{REPO}/pulls/{n}/comments?per_page=2&page=2")
    assert [c["body"] for c in paged.json()] == ["Nit."]
    assert 'rel="first"' in paged.headers["link"]

    assert api.get(f"{REPO}/pulls/{n}/reviews/999999/comments").status_code == 404
    other = fake.open_pull("other")
    assert api.get(f"{REPO}/pulls/{other}/reviews/{review}/comments").status_code == 404
    assert api.get(f"{REPO}/pulls/999/comments").status_code == 404


def test_replies_thread_under_the_first_comment(fake: FakeGitHub, api: httpx.Client) -> None:
    n = open_pull(fake)
    fake.review_event(n, comments=[{"path": "a.txt", "line": 10, "body": "Why shout?"}])
    top = next(iter(fake.review_comments))

    answer = api.post(f"{REPO}/pulls/{n}/comments/{top}/replies", json={"body": "Fixed."})
    assert answer.status_code == 201
    reply = answer.json()
    assert reply["in_reply_to_id"] == top and reply["user"]["login"] == "github-actions[bot]"
    assert answer.headers["location"] == reply["url"]
    assert reply["path"] == "a.txt" and reply["line"] == 10
    assert reply["pull_request_review_id"] != fake.review_comments[top]["review"]

    # A reply to the reply still joins the thread of the first comment.
    again = fake.reply_to_review_comment(n, reply["id"], "Thanks!", user="alice")
    thread = api.get(f"{REPO}/pulls/{n}/comments").json()
    assert [(c["body"], c.get("in_reply_to_id")) for c in thread] == [
        ("Why shout?", None),
        ("Fixed.", top),
        ("Thanks!", top),
    ]
    assert thread[2]["id"] == again and thread[2]["user"]["login"] == "alice"
    mine = api.get(f"{REPO}/pulls/{n}/reviews/{reply['pull_request_review_id']}/comments")
    assert [c["body"] for c in mine.json()] == ["Fixed."]

    assert (
        api.post(f"{REPO}/pulls/{n}/comments/424242/replies", json={"body": "x"}).status_code == 404
    )
    other = fake.open_pull("other")
    wrong_pull = api.post(f"{REPO}/pulls/{other}/comments/{top}/replies", json={"body": "x"})
    assert wrong_pull.status_code == 404


def test_a_review_comment_must_be_on_a_line_of_the_diff(fake: FakeGitHub) -> None:
    n = open_pull(fake)
    for path, line in [("a.txt", 25), ("b.txt", 1), ("missing.txt", 1)]:
        with pytest.raises(ValueError, match="not part of the pull request's diff"):
            fake.review_event(n, comments=[{"path": path, "line": line, "body": "?"}])


# -- workflow jobs and their logs ----------------------------------------------------------


def test_a_runs_jobs_are_listed_with_their_steps(fake: FakeGitHub, api: httpx.Client) -> None:
    n = open_pull(fake)
    _, default = fake.workflow_run_event(n)
    jobs = api.get(f"{REPO}/actions/runs/{default['workflow_run']['id']}/jobs").json()
    assert jobs["total_count"] == 1
    (job,) = jobs["jobs"]
    assert (job["name"], job["status"], job["conclusion"]) == ("test", "completed", "failure")
    assert job["run_id"] == default["workflow_run"]["id"]
    assert job["head_sha"] == fake.refs[f"heads/{BRANCH}"] and job["workflow_name"] == "CI"
    assert [(s["number"], s["name"], s["conclusion"]) for s in job["steps"]] == [
        (1, "Set up job", "success"),
        (2, "Run tests", "failure"),
        (3, "Complete job", "success"),
    ]
    assert job["html_url"].endswith(f"/actions/runs/{job['run_id']}/job/{job['id']}")

    two = [
        {
            "name": "lint",
            "conclusion": "success",
            "steps": [{"name": "ruff", "conclusion": "success"}],
        },
        {"name": "test", "conclusion": "failure", "steps": [], "log": "boom"},
    ]
    _, run = fake.workflow_run_event(n, jobs=two, name="Checks")
    url = f"{REPO}/actions/runs/{run['workflow_run']['id']}/jobs"
    first = api.get(url, params={"filter": "latest", "per_page": 1})
    assert first.json()["total_count"] == 2 and 'rel="next"' in first.headers["link"]
    assert [j["name"] for j in first.json()["jobs"]] == ["lint"]
    second = api.get(url, params={"filter": "all", "per_page": 1, "page": 2}).json()
    assert [j["name"] for j in second["jobs"]] == ["test"]
    assert api.get(f"{REPO}/actions/runs/999999/jobs").status_code == 404


def job_of_a_failed_run(fake: FakeGitHub, log: str = "") -> int:
    n = open_pull(fake)
    steps = [{"name": "Run tests", "conclusion": "failure", "command": "make test"}]
    jobs = [{"name": "test", "conclusion": "failure", "steps": steps, "log": log}]
    _, run = fake.workflow_run_event(n, jobs=jobs)
    return int(fake.runs[run["workflow_run"]["id"]]["jobs"][0])


def test_a_jobs_log_is_a_redirect_to_a_log_host_the_token_never_reaches(
    fake: FakeGitHub, api: httpx.Client
) -> None:
    job = job_of_a_failed_run(fake, "FAILED tests/test_a.py::test_it - assert 1 == 2")
    redirect = api.get(f"{REPO}/actions/jobs/{job}/logs")
    assert redirect.status_code == 302 and redirect.content == b""
    location = httpx.URL(redirect.headers["location"])
    assert location.host == "127.0.0.1" and location.port != httpx.URL(fake.url).port
    assert {"sig", "se", "sp"} <= set(location.params)

    followed = api.get(f"{REPO}/actions/jobs/{job}/logs", follow_redirects=True)
    assert followed.status_code == 200 and followed.url == location
    assert followed.headers["content-type"].startswith("text/plain")
    lines = followed.text.removeprefix("\ufeff").splitlines()
    assert all(LOG_LINE.match(line) for line in lines), lines
    assert any("\x1b[36;1mmake test\x1b[0m" in line for line in lines)
    assert lines[-2].endswith(" FAILED tests/test_a.py::test_it - assert 1 == 2")
    assert lines[-1].endswith(" ##[error]Process completed with exit code 1.")

    (method, target, headers), *_ = fake.log_host_requests
    assert method == "GET" and target == location.raw_path.decode()
    assert "authorization" not in headers
    assert any(t.endswith(f"/actions/jobs/{job}/logs") for _, t, _ in fake.requests)

    assert api.get(f"{REPO}/actions/jobs/999999/logs").status_code == 404


def test_the_log_host_serves_the_last_bytes_asked_for(fake: FakeGitHub, api: httpx.Client) -> None:
    job = job_of_a_failed_run(fake, "\n".join(f"output {i}" for i in range(200)))
    url = api.get(f"{REPO}/actions/jobs/{job}/logs").headers["location"]
    with httpx.Client() as storage:  # no token: the URL is the credential
        whole = storage.get(url)
        tail = storage.get(url, headers={"Range": "bytes=-500"})
        head = storage.get(url, headers={"Range": "bytes=0-9"})
        nothing = storage.get(url, headers={"Range": "bytes=-0"})
    size = len(whole.content)
    assert whole.status_code == 200 and size > 500
    assert tail.status_code == 206 and tail.content == whole.content[-500:]
    assert tail.headers["content-range"] == f"bytes {size - 500}-{size - 1}/{size}"
    assert head.status_code == 206 and head.content == whole.content[:10]
    assert head.content.startswith("\ufeff".encode())  # GitHub's logs open with a BOM
    assert nothing.status_code == 416
    assert [h.get("range") for _, _, h in fake.log_host_requests] == [
        None,
        "bytes=-500",
        "bytes=0-9",
        "bytes=-0",
    ]


def test_log_urls_are_signed(fake: FakeGitHub, api: httpx.Client) -> None:
    job = job_of_a_failed_run(fake)
    url = httpx.URL(api.get(f"{REPO}/actions/jobs/{job}/logs").headers["location"])
    other = job_of_a_failed_run(fake)
    with httpx.Client() as storage:
        forged = storage.get(url.copy_merge_params({"sig": "forged"}))
        elsewhere = storage.get(str(url).replace(f"run-{job}/", f"run-{other}/"))
        unsigned = storage.get(url.copy_with(query=None))
    assert forged.status_code == elsewhere.status_code == unsigned.status_code == 403


async def test_both_hosts_are_served_in_process() -> None:
    fake = FakeGitHub("octo/repo")  # never started: no socket, no thread
    fake.open_pull("topic")
    _, run = fake.workflow_run_event(1, jobs=[{"name": "t", "steps": [], "log": "in-process"}])
    job = fake.runs[run["workflow_run"]["id"]]["jobs"][0]
    auth = {"Authorization": "Bearer ghs_fake"}
    async with httpx.AsyncClient(transport=fake.transport(), headers=auth) as client:
        log = await client.get(f"{fake.url}{REPO}/actions/jobs/{job}/logs", follow_redirects=True)
    assert log.status_code == 200 and "in-process" in log.text
    assert log.url.host != httpx.URL(fake.url).host
    assert "authorization" not in fake.log_host_requests[0][2]


# -- checks -------------------------------------------------------------------------------


def test_a_check_run_carries_its_output_and_lists_its_annotations(
    fake: FakeGitHub, api: httpx.Client
) -> None:
    n = open_pull(fake)
    annotations: list[dict[str, Any]] = [
        {"path": "a.txt", "start_line": 10, "message": "shouting", "title": "style"},
        {
            "path": "c.txt",
            "start_line": 1,
            "end_line": 2,
            "annotation_level": "warning",
            "message": "new",
        },
    ]
    _, payload = fake.check_run_event(
        n, summary="2 problems", text="details", annotations=annotations, title="Lint"
    )
    assert event_errors("check_run$completed", payload) == []
    check = payload["check_run"]
    assert check["output"]["title"] == "Lint" and check["output"]["summary"] == "2 problems"
    assert check["output"]["text"] == "details" and check["output"]["annotations_count"] == 2
    assert check["check_suite"]["head_branch"] == BRANCH
    assert check["check_suite"]["head_sha"] == check["head_sha"] == fake.refs[f"heads/{BRANCH}"]
    assert check["app"]["slug"] == check["check_suite"]["app"]["slug"] == "ci-app"

    listed = api.get(f"{REPO}/check-runs/{check['id']}/annotations").json()
    assert [(a["path"], a["start_line"], a["end_line"]) for a in listed] == [
        ("a.txt", 10, 10),
        ("c.txt", 1, 2),
    ]
    assert [a["annotation_level"] for a in listed] == ["failure", "warning"]
    assert listed[0]["title"] == "style" and listed[1]["title"] is None
    assert listed[0]["message"] == "shouting"
    paged = api.get(f"{REPO}/check-runs/{check['id']}/annotations", params={"per_page": 1})
    assert len(paged.json()) == 1 and 'rel="last"' in paged.headers["link"]
    assert api.get(f"{REPO}/check-runs/999999/annotations").status_code == 404

    _, actions = fake.check_run_event(n, "success", app="github-actions")
    assert actions["check_run"]["app"]["slug"] == "github-actions"
    assert actions["check_run"]["app"]["name"] == "GitHub Actions"
    assert event_errors("check_run$completed", actions) == []


# -- mergeability, comparisons and merge commits --------------------------------------------


def mergeability(api: httpx.Client, n: int) -> tuple[bool, str]:
    pull = api.get(f"{REPO}/pulls/{n}").json()
    return pull["mergeable"], pull["mergeable_state"]


def test_a_pull_request_turns_dirty_when_the_base_changes_a_file_it_changed(
    fake: FakeGitHub, api: httpx.Client
) -> None:
    n = open_pull(fake)
    assert mergeability(api, n) == (True, "clean")
    fake.advance_base({"b.txt": "b moved on\n"})  # a file the pull request leaves alone
    assert mergeability(api, n) == (True, "clean")
    fake.advance_base({"a.txt": TEXT.replace("line 10\n", "LINE 10\n")})  # the same change
    assert mergeability(api, n) == (True, "clean")
    fake.advance_base({"a.txt": TEXT.replace("line 10\n", "line ten\n")})
    assert mergeability(api, n) == (False, "dirty")
    listed = api.get(f"{REPO}/pulls", params={"head": f"octo:{BRANCH}"}).json()
    assert "mergeable" not in listed[0]  # lists show the short form

    # Merging the base into the branch (resolved) makes it clean again.
    base, head = fake.refs["heads/main"], fake.refs[f"heads/{BRANCH}"]
    resolved = fake.files_at("main") | {"a.txt": TEXT.replace("line 10\n", "LINE TEN\n")}
    resolved |= {"c.txt": "c\n"}
    tree = api.post(
        f"{REPO}/git/trees",
        json={
            "tree": [
                {"path": p, "mode": "100644", "type": "blob", "content": t}
                for p, t in resolved.items()
            ]
        },
    ).json()["sha"]
    merge = api.post(
        f"{REPO}/git/commits",
        json={"message": "Merge main", "tree": tree, "parents": [head, base]},
    ).json()
    assert [p["sha"] for p in merge["parents"]] == [head, base]
    moved = api.patch(f"{REPO}/git/refs/heads/{BRANCH}", json={"sha": merge["sha"]})
    assert moved.status_code == 200
    assert mergeability(api, n) == (True, "clean")

    _, closed = fake.merge_pull(n)
    assert closed["pull_request"]["mergeable"] is None  # GitHub does not say once closed
    assert event_errors("pull_request$closed", closed) == []


def test_a_ref_moves_without_force_only_forward(fake: FakeGitHub, api: httpx.Client) -> None:
    main = fake.refs["heads/main"]
    fake.refs["heads/topic"] = main
    topic = fake.commit_files("topic", {"t.txt": "t\n"}, "topic")
    moved = fake.advance_base({"m.txt": "m\n"})
    tree = fake.commits[topic]["tree"]
    merge = api.post(
        f"{REPO}/git/commits", json={"message": "merge", "tree": tree, "parents": [topic, moved]}
    ).json()["sha"]
    # A merge commit descends from the branch's head: a fast-forward, no force needed.
    assert api.patch(f"{REPO}/git/refs/heads/topic", json={"sha": merge}).status_code == 200
    assert fake.refs["heads/topic"] == merge
    # Back to main's head, which lacks the branch's commits: refused unless forced.
    back = api.patch(f"{REPO}/git/refs/heads/topic", json={"sha": moved, "force": False})
    assert back.status_code == 422 and back.json()["message"] == "Update is not a fast forward"
    assert fake.refs["heads/topic"] == merge
    forced = api.patch(f"{REPO}/git/refs/heads/topic", json={"sha": moved, "force": True})
    assert forced.status_code == 200 and fake.refs["heads/topic"] == moved


def test_compare_shows_the_heads_changes_since_the_merge_base(
    fake: FakeGitHub, api: httpx.Client
) -> None:
    start = fake.refs["heads/main"]
    n = open_pull(fake)
    second = fake.commit_files(BRANCH, {"b.txt": "b\nmore\n"}, "second")
    base = fake.advance_base({"m.txt": "m\n"})
    answer = api.get(f"{REPO}/compare/main...{BRANCH}")
    assert answer.status_code == 200
    found = answer.json()
    assert (found["status"], found["ahead_by"], found["behind_by"]) == ("diverged", 2, 1)
    assert found["merge_base_commit"]["sha"] == start
    assert found["base_commit"]["sha"] == base
    assert found["total_commits"] == 2
    assert [c["sha"] for c in found["commits"]][-1] == second
    assert [c["commit"]["message"] for c in found["commits"]] == ["change", "second"]
    files = {f["filename"]: f for f in found["files"]}
    assert {name: f["status"] for name, f in files.items()} == {
        "a.txt": "modified",
        "b.txt": "modified",
        "c.txt": "added",
        "old.txt": "removed",
    }  # m.txt, changed by the base alone, is not the head's change
    head_tree = fake.tree_at(second)
    assert files["a.txt"]["sha"] == head_tree["a.txt"][1]
    assert (files["b.txt"]["additions"], files["b.txt"]["deletions"]) == (1, 0)
    assert files["a.txt"]["patch"].count("\n-line 10\n+LINE 10") == 1

    by_sha = api.get(f"{REPO}/compare/{start}...{fake.refs[f'heads/{BRANCH}']}").json()
    assert by_sha["status"] == "ahead" and by_sha["behind_by"] == 0
    encoded = api.get(f"{REPO}/compare/main...{BRANCH.replace('/', '%2F')}").json()
    assert encoded["ahead_by"] == 2
    same = api.get(f"{REPO}/compare/main...main").json()
    assert same["status"] == "identical" and same["files"] == [] and same["commits"] == []
    behind = api.get(f"{REPO}/compare/{BRANCH}...{start}").json()
    assert behind["status"] == "behind" and behind["behind_by"] == 2

    page_two = api.get(f"{REPO}/compare/main...{BRANCH}", params={"per_page": 1, "page": 2})
    assert [c["sha"] for c in page_two.json()["commits"]] == [second]
    assert page_two.json()["files"] == [] and 'rel="prev"' in page_two.headers["link"]
    assert api.get(f"{REPO}/compare/main...nowhere").status_code == 404
    assert api.get(f"{REPO}/compare/main..{BRANCH}").status_code == 404
    assert n


def test_the_merge_base_is_the_nearest_common_ancestor(fake: FakeGitHub) -> None:
    start = fake.refs["heads/main"]
    fake.refs["heads/topic"] = start
    topic = fake.commit_files("topic", {"t.txt": "t\n"}, "topic")
    main = fake.advance_base({"m.txt": "m\n"})
    assert fake.merge_base(main, topic) == start
    merge = fake.put_commit(fake.commits[topic]["tree"], [topic, main], "merge")
    assert fake.merge_base(main, merge) == main and fake.merge_base(merge, topic) == topic
    lonely = fake.put_commit(fake.put_tree({}), [], "unrelated")
    assert fake.merge_base(lonely, main) is None
    assert fake.conflicts(main, topic) == set()
