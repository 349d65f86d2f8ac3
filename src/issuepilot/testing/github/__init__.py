"""A local GitHub for tests, the demo and users' own tests: `FakeGitHub`.

By concern:
- `git`: blobs, trees, commits and refs;
- `state`: the repository's issues, labels, comments, pulls, tokens, and their JSON views;
- `reviews`, `ci`: review comments and their threads; workflow runs, jobs, logs and checks;
- `diffs`: patches and diff hunks of text files;
- `logs`: the host job logs are downloaded from, apart from the API's;
- `faults`: errors, rate limits, lost replies and held requests a test injects;
- `events`: what people do, as the event payloads GitHub sends;
- `hooks`: a GitHub App's webhook: deliveries to its URL, and their log;
- `routes`: the REST operations served, one module per area;
- `examples`: GitHub's example answers and event templates the live values are laid over;
- `server`: `FakeGitHub`, composing them, over loopback HTTP or in-process;
- `org`: `FakeOrg`, several repositories behind one API, as an App installed on them sees.
"""

from .hooks import Hooks
from .org import FakeOrg
from .server import FakeGitHub
from .state import App

__all__ = ["App", "FakeGitHub", "FakeOrg", "Hooks"]
