"""The ``tornadish`` console script (``[project.scripts]``): the command line of
``python -m tornadish``, installed beside the interpreter."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from tornadish.__main__ import main

from tests.support.servers import free_port

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

SCRIPT = Path(sys.executable).parent / "tornadish"


def test_the_entry_point_is_the_module_main() -> None:
    [script] = entry_points(group="console_scripts", name="tornadish")
    assert script.load() is main, "reinstall tornadish (pip install -e .) for its script"


def test_script_serves_an_app_and_exits_zero_on_sigterm(tmp_path: Path) -> None:
    assert SCRIPT.is_file(), f"no {SCRIPT}: reinstall tornadish (pip install -e .)"
    (tmp_path / "hello.py").write_text(
        "from tornadish.web import Application, RequestHandler\n"
        "class Hello(RequestHandler):\n"
        "    def get(self):\n"
        "        self.write('hello from the script')\n"
        "def make_app():\n"
        "    return Application([(r'/', Hello)])\n"
    )
    port = free_port()
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(SCRIPT), "run", "hello:make_app", "--port", str(port), "--address", "127.0.0.1"],
            cwd=tmp_path,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
            stdout=out,
            stderr=out,
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/")
                response = conn.getresponse()
                break
            except OSError:
                assert time.monotonic() < deadline, "not serving: " + log.read_text()
                time.sleep(0.05)
        assert (response.status, response.read()) == (200, b"hello from the script")
        conn.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_script_help_lists_the_run_command() -> None:
    result = subprocess.run(
        [str(SCRIPT), "run", "--help"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert "module:app" in result.stdout and "--reload" in result.stdout
