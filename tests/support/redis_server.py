"""A real ``redis-server`` for the pub/sub tests, that a test can stop, freeze, and start
again on the same port (a restart in the middle of a test).

The binary comes as in :mod:`tests.support.seed_services` (the Debian package
``redis-server``, installed with apt-get when running as root, else the test is skipped,
saying so). Each server runs without persistence, so a restart loses every Stream — what
a crashed Redis without AOF does.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator

import pytest

from tests.support.seed_services import _ensure_binary, _wait_port, free_port


class RedisServer:
    """One redis-server on 127.0.0.1, on a port of its own that survives restarts."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = tempfile.mkdtemp(prefix="pubsub-redis-")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self._dir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_port(self.port, self.proc)

    def stop(self) -> None:
        """SIGTERM, as a restart by an operator would: clients see their connections
        closed."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        if proc.pid and _stopped(proc.pid):
            os.kill(proc.pid, signal.SIGCONT)
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    def restart(self) -> None:
        self.stop()
        self.start()

    def freeze(self) -> None:
        """SIGSTOP: the connections stay open and nothing answers (a hung server, or a
        network that drops packets)."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)


def _stopped(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "T"
    except OSError:
        return False


def redis_server() -> Iterator[RedisServer]:
    """A started :class:`RedisServer` (skips the test when redis-py or redis-server is
    missing), stopped afterwards."""
    pytest.importorskip("redis", reason="the 'redis' extra: pip install 'tornadish[redis]'")
    server = RedisServer(_ensure_binary(["redis-server"], "redis-server"))
    server.start()
    try:
        yield server
    finally:
        server.close()
