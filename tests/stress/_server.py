"""The server process under test, and what can be read about it from ``/proc``.

The server runs in a child process (``tests/stress/_app.py``) so that its resident memory
and open file descriptors are its own, not mixed with the load generator's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[2]

# Lines on the server's stderr that mean something went wrong there.
_ERROR_MARKS = ("Traceback", "ERROR", "CRITICAL", "Task was destroyed", "never retrieved")


class ServerProcess:
    """``with ServerProcess("tornadish", header_timeout=2) as srv: ... srv.rss_kib()``.

    Timeouts are the ``HTTPServer`` settings of the same names (``header_timeout`` is
    ignored for Tornado, whose idle timeout also bounds the request head).
    """

    def __init__(
        self,
        impl: str = "tornadish",
        *,
        loop: str = "uvloop",
        idle_timeout: float | None = None,
        header_timeout: float | None = None,
        body_timeout: float | None = None,
    ) -> None:
        self.impl = impl
        self.argv = [sys.executable, "-m", "tests.stress._app", "--impl", impl, "--loop", loop]
        for flag, value in (
            ("--idle-timeout", idle_timeout),
            ("--header-timeout", header_timeout),
            ("--body-timeout", body_timeout),
        ):
            if value is not None:
                self.argv += [flag, str(value)]
        self.proc: subprocess.Popen[str] | None = None
        self._stderr: IO[Any] | None = None
        self.port = 0
        self.pid = 0

    def start(self, timeout: float = 30.0) -> ServerProcess:
        # Kept open after the server stops, for error_lines(); close() ends it.
        self._stderr = tempfile.TemporaryFile("w+b")  # noqa: SIM115
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        line = ""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith("READY") or not line:
                break
        if not line.startswith("READY"):
            self.stop()
            raise RuntimeError(f"{self.impl} server did not start: {line!r}\n{self.stderr()}")
        _, port, pid = line.split()
        self.port, self.pid = int(port), int(pid)
        return self

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the server and drop its captured stderr."""
        self.stop()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- what /proc says --------------------------------------------------------

    def rss_kib(self) -> int:
        """Resident memory of the server process, in KiB."""
        return proc_rss_kib(self.pid)

    def fd_count(self) -> int:
        """Open file descriptors of the server process."""
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def peer_ports(self) -> set[int]:
        """The client-side ports of every TCP connection the server still holds a
        descriptor for (its listening socket excluded)."""
        return server_peer_ports(self.pid)

    def stderr(self) -> str:
        if self._stderr is None:
            return ""
        # pread leaves the file offset, which the child shares, where the child left it.
        fd = self._stderr.fileno()
        return os.pread(fd, os.fstat(fd).st_size, 0).decode("utf-8", "replace")

    def error_lines(self) -> list[str]:
        """Lines of the server's stderr that report an error or a traceback."""
        return [ln for ln in self.stderr().splitlines() if any(m in ln for m in _ERROR_MARKS)]

    def wait_fds(self, at_most: int, timeout: float) -> int:
        """Wait until the server holds at most ``at_most`` descriptors; the last count."""
        deadline = time.monotonic() + timeout
        count = self.fd_count()
        while count > at_most and time.monotonic() < deadline:
            time.sleep(0.2)
            count = self.fd_count()
        return count


def stamp() -> dict[str, Any]:
    """When a figure was measured, and how loaded the (shared) machine was then."""
    return {
        "measured_at": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


def server_peer_ports(pid: int) -> set[int]:
    """Remote ports of ``pid``'s connected IPv4 TCP sockets, from ``/proc``."""
    inodes: set[str] = set()
    fd_dir = f"/proc/{pid}/fd"
    for name in os.listdir(fd_dir):
        try:
            target = os.readlink(f"{fd_dir}/{name}")
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports: set[int] = set()
    with open(f"/proc/{pid}/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[9] in inodes and fields[3] != "0A":  # 0A: LISTEN
                ports.add(int(fields[2].rsplit(":", 1)[1], 16))
    return ports


def proc_rss_kib(pid: int) -> int:
    """VmRSS of ``pid`` from ``/proc/<pid>/status``, in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")
