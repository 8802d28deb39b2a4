"""Metrics under ``tornadish.run(app, workers=2)``, in subprocesses over real sockets:
prometheus_client's multiprocess mode set up by ``run`` (or taken from the user's
``PROMETHEUS_MULTIPROC_DIR``), so that whichever worker answers ``/metrics`` gives the
counts of both; a dead worker's open connections leave the gauges, its counts stay."""

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
prometheus_client = pytest.importorskip(
    "prometheus_client", reason="needs prometheus_client: pip install 'tornadish[prometheus]'"
)
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

SERVER = """
import os, sys
import tornadish
from tornadish.metrics import MetricsHandler
from tornadish.web import Application, RequestHandler

class Pid(RequestHandler):
    def get(self):
        self.write(str(os.getpid()))

class Where(RequestHandler):
    def get(self):
        self.write(os.environ["PROMETHEUS_MULTIPROC_DIR"])

app = Application(
    [(r"/pid", Pid), (r"/where", Where), (r"/metrics", MetricsHandler)], metrics=True
)
tornadish.run(app, port=int(sys.argv[1]), address="127.0.0.1", workers=2)
"""


def _get(port: int, path: str, conn: http.client.HTTPConnection | None = None) -> str:
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers={} if not own else {"Connection": "close"})
        response = conn.getresponse()
        assert response.status == 200, response.status
        return response.read().decode()
    finally:
        if own:
            conn.close()


def _scrape(port: int) -> dict[str, float]:
    """The unlabelled samples, and ``/pid``'s request count under ``requests``."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(_get(port, "/metrics")):
        for s in family.samples:
            if not s.labels:
                out[s.name] = s.value
            elif s.name == "tornadish_http_requests_total" and s.labels["route"] == "/pid":
                out["requests"] = s.value
    return out


class _Server:
    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        script = tmp_path / "serve_metrics.py"
        script.write_text(textwrap.dedent(SERVER))
        self.log = tmp_path / "server.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(script), str(self.port)],
                cwd=tmp_path,
                env=env,
                stdout=log,
                stderr=log,
                start_new_session=True,  # a group, so that a failed test leaves no worker
            )
        self.requests = 0  # to /pid

    def pid(self) -> int:
        answer = int(_get(self.port, "/pid"))
        self.requests += 1
        return answer

    def both_workers(self) -> set[int]:
        """Ask /pid (a new connection each time) until both workers have answered."""
        deadline = time.monotonic() + 15
        seen: set[int] = set()
        while len(seen) < 2:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"saw workers {seen}: {self.log.read_text()}")
            try:
                seen.add(self.pid())
            except OSError:
                time.sleep(0.05)
        return seen

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            assert self.proc.wait(15) == 0, self.log.read_text()
        finally:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(5)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.lower() != "prometheus_multiproc_dir"}
    env.update(PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1", **extra)
    return env


def _until(want: float, port: int, name: str) -> dict[str, float]:
    """Scrape until ``name`` reads ``want`` (a worker just killed may reset a
    connection the kernel had queued for it: such a scrape is tried again)."""
    deadline = time.monotonic() + 10
    while True:
        try:
            samples = _scrape(port)
        except ConnectionError:
            samples = {}
        if samples.get(name) == want or time.monotonic() > deadline:
            return samples
        time.sleep(0.05)


def test_two_workers_counts_are_summed_and_a_dead_worker_leaves_the_gauges(
    tmp_path: Path,
) -> None:
    server = _Server(tmp_path, _env())
    try:
        workers = server.both_workers()
        for _ in range(30):
            server.pid()
        where = _get(server.port, "/where")
        assert Path(where).is_dir() and where.startswith(os.path.realpath("/tmp")[:4])
        # Each scrape is one worker's answer, and each gives both workers' sum.
        for _ in range(6):
            samples = _scrape(server.port)
            assert samples["requests"] == server.requests
            assert samples["tornadish_http_requests_in_flight"] == 1  # the scrape
            assert samples["tornadish_http_connections_open"] == 1
        # Keep-alive connections, each held by a worker we learn from its answer.
        held: dict[int, list[http.client.HTTPConnection]] = {pid: [] for pid in workers}
        while min(len(v) for v in held.values()) < 1 or sum(map(len, held.values())) < 6:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
            held[int(_get(server.port, "/pid", conn))].append(conn)
            server.requests += 1
        total = sum(map(len, held.values()))
        samples = _until(total + 1, server.port, "tornadish_http_connections_open")
        assert samples["tornadish_http_connections_open"] == total + 1
        victim = max(held, key=lambda pid: len(held[pid]))
        os.kill(victim, signal.SIGKILL)
        for conn in held.pop(victim):
            conn.close()
        survivors = sum(map(len, held.values()))
        # Its gauges are gone once the supervisor has marked it dead; its counts stay.
        samples = _until(survivors + 1, server.port, "tornadish_http_connections_open")
        assert samples["tornadish_http_connections_open"] == survivors + 1, samples
        assert samples["requests"] == server.requests
        for conns in held.values():
            for conn in conns:
                conn.close()
    finally:
        server.stop()
    assert not Path(where).exists()  # run's own directory, removed at exit


def test_a_directory_the_user_set_is_wiped_at_start(tmp_path: Path) -> None:
    chosen = tmp_path / "prometheus"
    for run, made in ((1, 5), (2, 3)):
        server = _Server(tmp_path, _env(PROMETHEUS_MULTIPROC_DIR=str(chosen)))
        try:
            server.both_workers()
            for _ in range(made):
                server.pid()
            assert _get(server.port, "/where") == str(chosen)
            # The first run's counts are not in the second's.
            assert _scrape(server.port)["requests"] == server.requests, run
        finally:
            server.stop()
        assert list(chosen.glob("counter_*.db"))  # the user's directory stays


def test_run_refuses_workers_when_prometheus_client_is_already_single_process(
    tmp_path: Path,
) -> None:
    script = tmp_path / "early.py"
    script.write_text(
        "import prometheus_client\n" + textwrap.dedent(SERVER).replace("workers=2", "workers=2")
    )
    out = subprocess.run(
        [sys.executable, str(script), str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
    )
    assert out.returncode != 0
    assert "PROMETHEUS_MULTIPROC_DIR" in out.stderr
