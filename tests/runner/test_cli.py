"""The command line's manners, in subprocesses: a mistake ends in one line on stderr and
exit status 2 (uvicorn's way), never a traceback; the banner is a URL one can click;
the log lines have the library's format (``enable_pretty_logging``), coloured on a
terminal only, and name loggers rather than the framework's private modules."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.runner.test_run import get, run_args, spawn, wait_listening
from tests.support.servers import free_port

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals and ptys")

HELLO = """\
from tornadish.web import Application, RequestHandler

class Hello(RequestHandler):
    def get(self):
        self.write("hello")

app = Application([(r"/", Hello)])
"""

# A line of the library's LogFormatter: [L yymmdd hh:mm:ss where] message
LOG_LINE = re.compile(r"^\[([DIWEC]) \d{6} \d\d:\d\d:\d\d ([\w.]+)(?::\d+)?\] ")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "hello.py").write_text(HELLO)
    return tmp_path


def cli(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tornadish", *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"),
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("python -m tornadish") and ": error: " in lines[0], lines
    assert "Traceback" not in result.stderr and result.stdout == ""
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another socket listens on (all interfaces, as a stray server would)."""
    sock = socket.socket()
    sock.bind(("0.0.0.0", 0))
    sock.listen()
    yield sock.getsockname()[1]
    sock.close()


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["run", "hello:app", "--workers", "2", "--reload"], ["--reload", "--workers"]),
        (["run", "hello:app", "--workers", "2", "--debug"], ["--debug", "--workers"]),
        (["run", "hello:app", "--log-level=verbose"], ["--log-level", "'verbose'"]),
        (["run", "hello:app", "--verbose"], ["unrecognized arguments: --verbose", "--help"]),
        (["run", "hello:app", "--http", "fast"], ["--http", "'fast'"]),
        (["run", "hello"], ["expected module:app"]),
        (["run", "nosuchmodule:app"], ["nosuchmodule:app", "no module named 'nosuchmodule'"]),
        (["run", "hello:nope"], ["hello:nope", "has no attribute 'nope'"]),
        ([], ["required: command"]),
    ],
    ids=[
        "workers-reload",
        "workers-debug",
        "unknown-level",
        "unknown-option",
        "unknown-engine",
        "no-colon",
        "no-module",
        "no-attribute",
        "no-command",
    ],
)
def test_a_mistake_is_one_line_and_exit_status_2(
    project: Path, args: list[str], fragments: list[str]
) -> None:
    assert_one_line_error(cli(project, *args), *fragments)


def test_errors_in_the_users_code_are_one_line_naming_the_file_and_line(project: Path) -> None:
    (project / "broken.py").write_text("x = 1\ndef f(:\n    pass\n")
    result = cli(project, "run", "broken:app")
    assert_one_line_error(result, "broken:app", "broken.py:2", "SyntaxError")

    (project / "helper.py").write_text("VALUE = 1\nraise RuntimeError('no database')\n")
    (project / "uses_helper.py").write_text("import helper\napp = None\n")
    result = cli(project, "run", "uses_helper:app")
    assert_one_line_error(result, "helper.py:2", "RuntimeError: no database")

    (project / "factory.py").write_text("def make_app():\n    return 1 / 0\n")
    result = cli(project, "run", "factory:make_app")
    assert_one_line_error(result, "factory.py:2", "ZeroDivisionError")


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_port_in_use_is_one_line_and_exit_status_2(
    project: Path, taken_port: int, workers: str
) -> None:
    result = cli(project, *run_args("hello:app", taken_port, "--workers", workers)[2:])
    assert_one_line_error(
        result, f"cannot listen on 127.0.0.1:{taken_port}", "address already in use"
    )


def test_the_banner_is_a_url_and_the_log_lines_name_loggers(
    project: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    port = free_port()
    proc = spawn(run_args("hello:app", port), project)
    procs.append(proc)
    wait_listening(port, proc, project)
    assert get(port) == (200, "hello")
    with socket.create_connection(("127.0.0.1", port)) as sock:  # a malformed request
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nBad\x01: value\r\n\r\n")
        sock.recv(1024)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0
    log = (project / "server.log").read_text()
    assert f"Serving on http://127.0.0.1:{port}/ (HTTP/1.1 engine: " in log, log
    assert "('127.0.0.1'" not in log
    wheres = set()
    for line in log.splitlines():
        match = LOG_LINE.match(line)
        assert match, f"not the library's format: {line!r}"
        wheres.add(match.group(2))
    assert {"tornadish.general", "tornadish.access"} <= wheres, wheres
    assert not [w for w in wheres if w.startswith("_") or "._" in w], wheres
    # A malformed header line is quoted as text with escapes, not as a bytes repr.
    assert "Invalid header line: 'Bad\\x01: value' (400)" in log, log
    assert "bytearray(" not in log and "b'" not in log
    assert "\x1b[" not in log  # not a terminal: no colour


def test_all_interfaces_are_shown_as_a_loopback_url(
    project: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    port = free_port()
    proc = spawn(["-m", "tornadish", "run", "hello:app", "--port", str(port)], project)
    procs.append(proc)
    wait_listening(port, proc, project)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0
    log = (project / "server.log").read_text()
    banner = next(line for line in log.splitlines() if "Serving on" in line)
    assert f"Serving on http://127.0.0.1:{port}/" in banner, banner
    assert "(all interfaces; " in banner and "0.0.0.0" not in banner


def test_on_a_terminal_the_log_is_coloured(project: Path) -> None:
    port = free_port()
    parent, child = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    proc = subprocess.Popen(
        [sys.executable, *run_args("hello:app", port)],
        cwd=project,
        stdin=subprocess.DEVNULL,
        stdout=child,
        stderr=child,
        env=env,
    )
    os.close(child)
    output = b""
    try:
        deadline = time.monotonic() + 20
        while b"Serving on" not in output and time.monotonic() < deadline:
            ready, _, _ = select.select([parent], [], [], 0.5)
            if ready:
                try:
                    output += os.read(parent, 4096)
                except OSError:
                    break  # the other end closed: the process is gone
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        os.close(parent)
    text = output.decode(errors="replace")
    assert "Serving on" in text, text
    # Green for INFO around the prefix, as Tornado's LogFormatter colours it.
    assert re.search(r"\x1b\[32m\[I \d{6} [\d:]{8} tornadish\.general\]\x1b\[0m Serving on", text)
