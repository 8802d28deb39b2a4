"""``HTTPServer.start(num_processes=2)``: two forked workers share the listening socket."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.support.servers import free_port

REPO = Path(__file__).resolve().parents[2]


_FORK_SCRIPT = textwrap.dedent(
    """
    import os, sys
    sys.path.insert(0, sys.argv[2])
    from tornadish.httpserver import HTTPServer
    from tornadish.ioloop import IOLoop
    from tornadish.web import Application, RequestHandler

    class Pid(RequestHandler):
        def get(self):
            self.write(str(os.getpid()))

    server = HTTPServer(Application([(r"/", Pid)]))
    server.bind(int(sys.argv[1]), "127.0.0.1")
    server.start(2)
    IOLoop.current().start()
    """
)


def _get_pid(port: int) -> int | None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
    except OSError:
        return None
    if not data.startswith(b"HTTP/1.1 200"):
        return None
    return int(data.split(b"\r\n\r\n", 1)[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork test on Linux only")
def test_start_two_processes(tmp_path) -> None:
    port = free_port()
    script = tmp_path / "fork_server.py"
    script.write_text(_FORK_SCRIPT)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(port), str(REPO)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        pids: set[int] = set()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len(pids) < 2:
            pid = _get_pid(port)
            if pid is None:
                time.sleep(0.05)
                continue
            pids.add(pid)
            if len(pids) == 1:
                for _ in range(20):  # give the other worker a chance
                    p = _get_pid(port)
                    if p is not None:
                        pids.add(p)
                break
        assert pids, "no worker answered"
        assert proc.pid not in pids  # answered by children, not the supervisor
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
        time.sleep(0.05)
        for pid in pids:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)  # the workers went with it
        assert _get_pid(port) is None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
