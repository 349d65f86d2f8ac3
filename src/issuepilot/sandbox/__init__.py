"""Where untrusted code runs: agent commands and the repository's checks.

`sandbox: user` (the default) runs them as an unprivileged user of this run's own, created
when the sandbox opens and deleted when it closes. A process of another user cannot read
IssuePilot's or the runner's `/proc/<pid>/environ` (where the tokens, the Redis password
and the model key sit), and while the sandbox is open the runner's temporary folder and the
step's command files (`GITHUB_OUTPUT`, `GITHUB_ENV`, ...) are closed to other users. The
workspace is handed over (chown, and closed to every other user) for the run and given back
after. Closing kills every process of the run's user, whatever it detached from, and
deletes the files it left in the shared temporary folders: since no other run shares the
user, two jobs on one machine never see or kill each other's processes. A user whose run
died before it could close (a killed job) is removed by the next sandbox that opens.

Each sandbox has a fresh home folder (`HOME`), holding only the files its opener puts
there (an agent CLI's settings), so nothing one run leaves in a home reaches the next.

`sandbox: container` runs them with `docker run`, only the workspace and the home mounted.
`sandbox: none` runs them as IssuePilot's own user: chosen explicitly, and said in the step
log and the status comment, since the agent can then read the job's secrets.

Root runs the privileged parts directly; any other user through passwordless `sudo -n`
(GitHub-hosted runners and most self-hosted ones have it).
"""

from collections.abc import Mapping
from pathlib import Path

from ..errors import InputError
from .base import NO_SANDBOX, RUNNER_FILES, Mode, Ran, Sandbox, SandboxUnavailable, filtered
from .container import ContainerSandbox
from .user import UserSandbox
from .users import USER_NAME, reap_orphans, remove_user


def open_sandbox(
    mode: Mode,
    workspace: Path,
    runner_env: dict[str, str],
    image: str | None = None,
    home_files: Mapping[str, str] | None = None,
) -> Sandbox:
    match mode:
        case "user":
            return UserSandbox(workspace, runner_env, home_files)
        case "container":
            if not image:
                raise InputError("sandbox: container needs sandbox-image in .github/issuepilot.yml")
            return ContainerSandbox(workspace, runner_env, image, home_files)
    return Sandbox(workspace, runner_env, home_files)


__all__ = [
    "NO_SANDBOX",
    "RUNNER_FILES",
    "USER_NAME",
    "ContainerSandbox",
    "Mode",
    "Ran",
    "Sandbox",
    "SandboxUnavailable",
    "UserSandbox",
    "filtered",
    "open_sandbox",
    "reap_orphans",
    "remove_user",
]
