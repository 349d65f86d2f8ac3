"""docs/serve.md stays true: the central runner's workflow it shows takes exactly the
inputs the dispatcher sends, passes the repository on, and passes the workflow linters."""

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from issuepilot import release
from issuepilot.relay import INPUT

DOC = Path(__file__).parents[2] / "docs" / "serve.md"


def runner_workflow() -> tuple[str, dict[Any, Any]]:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    [text] = [b for b in blocks if "name: IssuePilot runner" in b]
    return text, yaml.safe_load(text)


def test_the_runner_takes_what_the_dispatcher_sends() -> None:
    _, workflow = runner_workflow()
    inputs = workflow[True]["workflow_dispatch"]["inputs"]
    assert set(inputs) == {"repository", "issue", "command", INPUT}
    assert all(spec["type"] == "string" for spec in inputs.values())  # any command, any event
    [job] = workflow["jobs"].values()
    [action] = [s for s in job["steps"] if s.get("uses", "").startswith(release.repository())]
    assert action["uses"] == release.action_ref()
    assert action["with"]["repository"] == "${{ inputs.repository }}"
    assert int(action["with"]["max-steps"]) > 1  # its next step cannot be dispatched


def test_the_runner_passes_the_linters(tmp_path: Path) -> None:
    text, _ = runner_workflow()
    path = tmp_path / ".github" / "workflows" / "issuepilot.yml"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    bin_dir = Path(sys.executable).parent
    lint = subprocess.run([bin_dir / "actionlint", str(path)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    audit = subprocess.run(
        [bin_dir / "zizmor", "--offline", "--min-severity", "medium", "--no-progress", str(path)],
        capture_output=True,
        text=True,
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr
