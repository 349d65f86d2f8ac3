"""`sandbox: container`: the commands run in `docker run` of the configured image."""

import asyncio
import os
import time
from collections.abc import Mapping
from pathlib import Path

from .base import Mode, Sandbox


class ContainerSandbox(Sandbox):
    """`docker run` with only the workspace and the home mounted, as the workspace's owner."""

    mode: Mode = "container"
    notice = ""
    HOME = "/home/issuepilot"

    def __init__(
        self,
        workspace: Path,
        runner_env: dict[str, str],
        image: str,
        home_files: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(workspace, runner_env, home_files)
        self.image = image
        self.name = f"issuepilot-{os.getpid()}-{time.time_ns()}"

    @property
    def home_path(self) -> str:
        return self.HOME

    def argv(self, command: str, env: dict[str, str]) -> list[str]:
        owner = self.workspace.stat()
        names = [arg for key in sorted(env) if key != "PATH" for arg in ("-e", key)]
        return [
            "docker",
            "run",
            "--rm",
            "--name",
            self.name,
            "--user",
            f"{owner.st_uid}:{owner.st_gid}",
            "-v",
            f"{self.workspace.resolve()}:/workspace",
            "-v",
            f"{self.home_folder}:{self.HOME}",
            "-e",
            f"HOME={self.HOME}",
            "-w",
            "/workspace",
            *names,  # `-e NAME` takes the value from docker's own environment: not in argv
            self.image,
            "bash",
            "-c",
            command,
        ]

    @property
    def workdir(self) -> str:
        return "/workspace"

    def visible(self, path: Path) -> str:
        if self.home is not None and path.is_relative_to(self.home):
            return f"{self.HOME}/{path.relative_to(self.home).as_posix()}"
        return "/workspace/" + path.relative_to(self.workspace).as_posix()

    async def kill_all(self) -> None:
        proc = await asyncio.create_subprocess_exec(
            "docker",
            "rm",
            "-f",
            self.name,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await proc.wait()
