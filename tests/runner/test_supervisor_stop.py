"""The supervisor of ``tornadish.run(app, workers=N)`` stops when told, even just after
restarting a worker: a SIGTERM during the pause before the restart used to reach the
workers there were, then the restart started one that never heard it, and the
supervisor waited for that one for ever."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.support.servers import free_port

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and fork")

SERVER = """
import os, sys
import tornadish
from tornadish.web import Application, RequestHandler

class Pid(RequestHandler):
    def get(self):
        self.write(str(os.getpid()))

tornadish.run(Application([(r"/", Pid)]), port=int(sys.argv[1]), address="127.0.0.1", workers=2)
"""


def _pid(port: int) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
    try:
        conn.request("GET", "/", headers={"Connection": "close"})
        return int(conn.getresponse().read())
    finally:
        conn.close()


@pytest.mark.parametrize("delay", [0.005, 0.02])
def test_sigterm_just_after_a_worker_died_stops_them_all(tmp_path: Path, delay: float) -> None:
    port = free_port()
    (tmp_path / "serve_pids.py").write_text(textwrap.dedent(SERVER))
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "serve_pids.py", str(port)],
            cwd=tmp_path,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    try:
        seen: set[int] = set()
        deadline = time.monotonic() + 15
        while len(seen) < 2:
            assert time.monotonic() < deadline and proc.poll() is None, log.read_text()
            try:
                seen.add(_pid(port))
            except OSError:
                time.sleep(0.05)
        os.kill(min(seen), signal.SIGKILL)
        time.sleep(delay)  # inside the supervisor's pause before it restarts the worker
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0, log.read_text()
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # whatever a failure left behind
        except ProcessLookupError:
            pass
        proc.wait(5)
