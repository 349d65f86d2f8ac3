"""The agent writes a file too large to review (or too many bytes in all): it is refused
before anything is uploaded."""

from issuepilot.config import RepoConfig
from issuepilot.machine import TaskState
from issuepilot.models import ChangeSet, FileChange

from ..steps.harness import Sim


async def test_a_change_over_the_byte_limits_uploads_nothing(sim: Sim) -> None:
    sim.config = RepoConfig(max_file_bytes=1000, max_changed_lines=10**6)
    issue = sim.github.open_issue("Bloat", "Edit `src/app.py`.")
    sim.writes.append(
        lambda plan, files: ChangeSet(files=[FileChange(path="src/app.py", content="x\n" * 600)])
    )
    await sim.to_approved(issue)
    since = sim.mark()
    try:
        await sim.drain()
    except Exception as exc:
        assert "max-file-bytes" in str(exc)
    assert (await sim.task(issue)).state is TaskState.FAILED
    assert not [c for c in sim.calls(since) if "/git/" in c], "something was uploaded"
