"""The host job logs and repository archives are downloaded from: another origin than
the API's, as GitHub's blob storage and codeload are. The API answers a log or archive
request with a redirect to a signed, short-lived URL here; this host serves the bytes
(whole, or the byte range asked for) to whoever holds that URL, with no token, and records
the headers of every request it receives, so tests can check that a client leaves its
credentials behind on the redirect.
https://docs.github.com/en/rest/actions/workflow-jobs#download-job-logs-for-a-workflow-run
https://docs.github.com/en/rest/repos/contents#download-a-repository-archive-tar
"""

import base64
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from ..loopback import JsonServer

Reply = tuple[int, Any, dict[str, str]]
# The origin of a log host that was not started: the API's in-process transport serves it.
IN_PROCESS_ORIGIN = "http://logs.in-process.invalid"
URL_TTL_S = 60  # GitHub's log URLs expire after a minute
JOB_LOG = re.compile(r"^/actions-results/[0-9a-f]+/workflow-job-run-(\d+)/logs/job/job-logs\.txt$")
ARCHIVE = re.compile(r"^/archives/[0-9a-f]+/([0-9a-f]{40})\.tar\.gz$")
RANGE = re.compile(r"bytes=(\d*)-(\d*)")
TEXT = {"Content-Type": "text/plain; charset=utf-8", "Accept-Ranges": "bytes"}


class LogHost(JsonServer):
    def __init__(
        self,
        logs: Callable[[int], bytes | None],
        archives: Callable[[str], bytes | None] = lambda _: None,
    ) -> None:
        super().__init__()
        self.logs = logs  # job id -> its log, if there is such a job
        self.archives = archives  # commit SHA -> its tarball, if there is such a commit
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # (method, target, headers)
        self._key = secrets.token_bytes(32)
        self._container = secrets.token_hex(16)
        self._lock = threading.Lock()

    @property
    def origin(self) -> str:
        return IN_PROCESS_ORIGIN if self._server is None else super().origin

    def signed_url(self, job_id: int) -> str:
        """Where a job's log can be read for the next minute, by anyone holding the URL."""
        path = f"/actions-results/{self._container}/workflow-job-run-{job_id}/logs/job/job-logs.txt"
        return self._signed(path)

    def archive_url(self, sha: str) -> str:
        """Where a commit's tarball can be read for the next minute."""
        return self._signed(f"/archives/{self._container}/{sha}.tar.gz")

    def _signed(self, path: str) -> str:
        now = time.time()
        start, expiry = _iso(now), _iso(now + URL_TTL_S)
        query = f"rsct=text%2Fplain&se={quote(expiry)}&sp=r&spr=http&sr=b&st={quote(start)}"
        query += f"&sv=2025-01-05&sig={quote(self._sign(path, expiry), safe='')}"
        return f"{self.origin}{path}?{query}"

    def respond(self, method: str, target: str, body: bytes, headers: dict[str, str]) -> Reply:
        with self._lock:
            self.requests.append((method, target, dict(headers)))
        parts = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        log = self._blob(method, parts.path)
        if log is None:
            return 404, b"The specified blob does not exist.", TEXT
        expiry = query.get("se", "")
        signed = hmac.compare_digest(query.get("sig", ""), self._sign(parts.path, expiry))
        if not signed or expiry < _iso(time.time()):
            return 403, b"Server failed to authenticate the request.", TEXT
        return byte_range(log, headers.get("range", ""))

    def _blob(self, method: str, path: str) -> bytes | None:
        if method != "GET":
            return None
        if job := JOB_LOG.match(path):
            return self.logs(int(job.group(1)))
        if archive := ARCHIVE.match(path):
            return self.archives(archive.group(1))
        return None

    def _sign(self, path: str, expiry: str) -> str:
        digest = hmac.new(self._key, f"{path}\n{expiry}".encode(), hashlib.sha256).digest()
        return base64.b64encode(digest).decode()


def byte_range(data: bytes, header: str) -> Reply:
    """The part of `data` a `Range` header asks for: `bytes=-N` (the last N bytes),
    `bytes=A-` or `bytes=A-B`; all of it when there is no header, or one this host does
    not take (several ranges). https://www.rfc-editor.org/rfc/rfc9110#name-range-requests"""
    match = RANGE.fullmatch(header.strip())
    if match is None or match.groups() == ("", ""):
        return 200, data, TEXT
    first, last, size = match.group(1), match.group(2), len(data)
    if first:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    else:
        start, end = max(0, size - int(last)), size - 1 if int(last) else -1
    if start > end:
        return 416, b"", TEXT | {"Content-Range": f"bytes */{size}"}
    return 206, data[start : end + 1], TEXT | {"Content-Range": f"bytes {start}-{end}/{size}"}


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
