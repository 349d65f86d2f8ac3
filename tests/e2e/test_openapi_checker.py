"""The conformance checker itself must catch what it claims to."""

import pytest

from .openapi import check_request, needs_spec

pytestmark = needs_spec


def test_documented_requests_pass() -> None:
    check_request("POST", "http://x/repos/o/r/issues/1/labels", {"labels": ["a"]})
    check_request("GET", "http://x/repos/o/r/pulls?head=o%3Ab&state=open&per_page=100", None)
    check_request(
        "POST",
        "http://x/repos/o/r/git/trees",
        {"base_tree": "a", "tree": [{"path": "a", "mode": "100644", "type": "blob", "sha": None}]},
    )


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("GET", "http://x/repos/o/r/nonsense", None),
        ("PUT", "http://x/repos/o/r/git/trees", {"tree": []}),
        ("POST", "http://x/repos/o/r/issues/1/labels", {"labels": []}),
        ("POST", "http://x/repos/o/r/git/trees", {"tree": [{"mode": "777"}]}),
        ("GET", "http://x/repos/o/r/pulls?colour=red", None),
        ("GET", "http://x/repos/o/r/pulls?state=sideways", None),
        ("PATCH", "http://x/repos/o/r/git/refs/heads/b", {"force": True}),
        ("POST", "http://x/repos/o/r/pulls", None),
    ],
)
def test_undocumented_requests_fail(method: str, url: str, body: object) -> None:
    with pytest.raises(AssertionError):
        check_request(method, url, body)
