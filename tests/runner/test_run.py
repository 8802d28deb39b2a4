"""Running in production, in subprocesses over real sockets: ``python -m tornadish run``,
SIGTERM → graceful shutdown → exit 0, supervised worker processes. (The development
loop, ``--reload``, is tested in test_reload.py; the command line's errors and log
lines in test_cli.py.)"""

from __future__ import annotations

import asyncio
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

APP_MODULE = """
import asyncio, os
from tornadish.web import Application, RequestHandler
from tornadish.websocket import WebSocketHandler

class Slow(RequestHandler):
    async def get(self):
        await asyncio.sleep(float(self.get_argument("t", "0")))
        self.write("ok %d" % os.getpid())

class Echo(WebSocketHandler):
    def on_message(self, message):
        self.write_message(message)

class Loop(RequestHandler):
    def get(self):
        self.write(type(asyncio.get_running_loop()).__module__.split(".")[0])

def make_app():
    return Application([(r"/", Slow), (r"/ws", Echo), (r"/loop", Loop)])

app = make_app()
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "appmod.py").write_text(APP_MODULE)
    return tmp_path


def spawn(
    args: list[str], cwd: Path, env_extra: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1")
    env.update(env_extra or {})
    with open(cwd / "server.log", "wb") as log:  # a file, not a pipe nobody drains
        return subprocess.Popen([sys.executable, *args], cwd=cwd, env=env, stdout=log, stderr=log)


def get(port: int, path: str = "/", timeout: float = 3.0) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def wait_listening(
    port: int, proc: subprocess.Popen[bytes], cwd: Path, timeout: float = 10
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited {proc.returncode}: {(cwd / 'server.log').read_text()}")
        try:
            get(port, timeout=1)
            return
        except OSError:
            time.sleep(0.05)
    pytest.fail("server did not start: " + (cwd / "server.log").read_text())


def run_args(target: str, port: int, *extra: str) -> list[str]:
    return ["-m", "tornadish", "run", target, "--port", str(port), "--address", "127.0.0.1", *extra]


async def _one_request(port: int) -> tuple[str, float | None]:
    """(outcome, when the connection was established); outcome is ``ok``, ``refused``,
    ``empty`` (closed before any byte of an answer) or ``partial``."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return "refused", None
    connected = time.monotonic()
    try:
        writer.write(b"GET /?t=0.3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = await asyncio.wait_for(reader.read(), 5)
    except ConnectionError:
        return "empty", connected
    finally:
        writer.close()
    if not data:
        return "empty", connected
    head, _, body = data.partition(b"\r\n\r\n")
    length = [
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    ]
    ok = head.startswith(b"HTTP/1.1 200 ") and length == [len(body)] and body.startswith(b"ok ")
    return ("ok" if ok else "partial"), connected


async def test_sigterm_mid_stream_answers_every_accepted_request(
    project: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    port = free_port()
    proc = spawn(run_args("appmod:make_app", port, "--grace", "5"), project)
    procs.append(proc)
    await asyncio.get_running_loop().run_in_executor(None, wait_listening, port, proc, project)
    # An open WebSocket is closed with 1001 (going away) by the graceful shutdown.
    ws = await connect(f"ws://127.0.0.1:{port}/ws", proxy=None, open_timeout=5)
    await ws.send("still here")
    assert await asyncio.wait_for(ws.recv(), 5) == "still here"

    tasks: list[asyncio.Task[tuple[str, float | None]]] = []
    sigterm_at = 0.0
    for i in range(40):
        tasks.append(asyncio.create_task(_one_request(port)))
        if i == 20:
            await asyncio.sleep(0.02)
            sigterm_at = time.monotonic()
            proc.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.02)
    results = await asyncio.gather(*tasks)
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    for _ in range(100):
        if proc.poll() is not None:
            break
        await asyncio.sleep(0.05)
    log = (project / "server.log").read_text()
    assert proc.returncode == 0, log

    outcomes = [outcome for outcome, _ in results]
    assert "partial" not in outcomes, results
    # Everything connected well before the signal was accepted and must be answered,
    # including the requests still sleeping in their handler when SIGTERM arrived.
    before = [outcome for outcome, at in results if at is not None and at < sigterm_at - 0.05]
    assert before and all(o == "ok" for o in before), results
    in_flight = [o for o, at in results if at is not None and sigterm_at - 0.3 < at < sigterm_at]
    assert in_flight.count("ok") >= 3, results


def test_workers_restart_after_sigkill_and_exit_zero_on_sigterm(
    project: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    port = free_port()
    proc = spawn(run_args("appmod:app", port, "--workers", "2"), project)
    procs.append(proc)
    wait_listening(port, proc, project)

    def pids_seen(want: int, exclude: set[int] = frozenset()) -> set[int]:  # type: ignore[assignment]
        seen: set[int] = set()
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            status, body = get(port)
            assert status == 200
            pid = int(body.split()[1])
            if pid not in exclude:
                seen.add(pid)
            if len(seen) >= want:
                return seen
        pytest.fail(f"saw only workers {seen}")

    first = pids_seen(2)
    assert proc.pid not in first
    victim = min(first)
    os.kill(victim, signal.SIGKILL)
    time.sleep(0.2)
    # Requests keep succeeding (the survivor answers) until the replacement shows up.
    replacement = pids_seen(1, exclude=first)
    assert victim not in replacement

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0, (project / "server.log").read_text()
    for pid in (first - {victim}) | replacement:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


@pytest.mark.parametrize(
    ("flags", "no_uvloop_env", "expected"),
    [([], "", "uvloop"), ([], "1", "asyncio"), (["--no-uvloop"], "", "asyncio")],
)
def test_cli_runs_on_uvloop_unless_switched_off(
    project: Path,
    procs: list[subprocess.Popen[bytes]],
    flags: list[str],
    no_uvloop_env: str,
    expected: str,
) -> None:
    if expected == "uvloop":
        pytest.importorskip("uvloop")
    port = free_port()
    env = {"TORNADISH_NO_UVLOOP": no_uvloop_env}
    proc = spawn(run_args("appmod:app", port, *flags), project, env)
    procs.append(proc)
    wait_listening(port, proc, project)
    assert get(port, "/loop") == (200, expected)


def test_fork_processes_gives_up_after_max_restarts(tmp_path: Path) -> None:
    (tmp_path / "crashy.py").write_text(
        textwrap.dedent(
            """
            import os, sys
            from tornadish import process

            try:
                process.fork_processes(1, max_restarts=2)
            except RuntimeError as e:
                print("supervisor:", e)
                sys.exit(3)
            with open("starts.txt", "a") as f:  # in a worker: record, then crash
                f.write("%d\\n" % os.getpid())
            os._exit(1)
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "crashy.py"], cwd=tmp_path, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 3, result.stderr
    assert "Too many child restarts" in result.stdout
    assert len(set((tmp_path / "starts.txt").read_text().split())) == 3  # 1 + 2 restarts


def test_cli_rejects_a_target_without_colon(project: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tornadish", "run", "appmod"],
        cwd=project,
        capture_output=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert b"expected module:app" in result.stderr


def test_run_function_in_a_script_exits_zero_on_sigint(
    tmp_path: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    port = free_port()
    (tmp_path / "serve_it.py").write_text(
        textwrap.dedent(
            f"""
            import tornadish
            from tornadish.web import Application, RequestHandler

            class Hi(RequestHandler):
                def get(self):
                    self.write("hi")

            tornadish.run(Application([(r"/", Hi)]), port={port}, address="127.0.0.1")
            print("after run")
            """
        )
    )
    proc = spawn(["serve_it.py"], tmp_path)
    procs.append(proc)
    wait_listening(port, proc, tmp_path)
    assert get(port) == (200, "hi")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(10) == 0
    assert "after run" in (tmp_path / "server.log").read_text()
