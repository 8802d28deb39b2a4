"""The benchmark apps as processes: start, wait, check an answer, stop; CPU pinning;
memory and file-descriptor helpers. Shared by :mod:`bench.run`, :mod:`bench.mem_bench`
and :mod:`bench.client_bench`."""

from __future__ import annotations

import argparse
import contextlib
import http.client
import importlib.util
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TextIO

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
SKIP_EXIT = 77  # keep in step with bench/apps/_common.py


@dataclass(frozen=True)
class AppSpec:
    name: str
    module: str
    framework: str  # distribution name, for the version in the report
    #: extra environment for the app's process, as (name, value) pairs
    env: tuple[tuple[str, str], ...] = ()
    #: extra command-line arguments for the app
    args: tuple[str, ...] = ()
    #: measured in the pipelined section of :mod:`bench.run`
    pipeline: bool = False
    #: modules the app needs beyond its framework (missing: the app is skipped)
    requires: tuple[str, ...] = ()

    @property
    def expected_http(self) -> str | None:
        """The HTTP/1.1 parser this spec asks for (``TORNADISH_HTTP`` or ``--http``)."""
        asked = dict(self.env).get("TORNADISH_HTTP")
        if asked is None and "--http" in self.args[:-1]:
            asked = self.args[self.args.index("--http") + 1]
        return asked

    def missing_requirement(self) -> str | None:
        """Why the app cannot run here (a required module is not installed), or None."""
        for module in self.requires:
            if importlib.util.find_spec(module) is None:
                return f"{module} is not installed (the `bench` extra lists it)"
        return None


@dataclass(frozen=True)
class Route:
    name: str
    path: str
    body: bytes
    content_type: str  # expected prefix of the Content-Type header (case-insensitive)
    is_json: bool


class Server:
    """One benchmark app in its own process group, pinned to the server CPUs."""

    def __init__(self, spec: AppSpec, taskset: list[str], log_dir: Path) -> None:
        self.spec = spec
        self.port = free_port()
        self.taskset = taskset
        self.log_path = log_dir / f"{spec.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        #: ``key=value`` pairs of the app's READY line (``loop``, ``http``, ``pid``, ...)
        self.info: dict[str, str] = {}
        self._log: TextIO | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def loop_type(self) -> str:
        return self.info.get("loop", "?")

    @property
    def engine(self) -> str:
        """The HTTP/1.1 parser the app says it uses (tornadish, uvicorn), else ``-``."""
        return self.info.get("http", "-")

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def start(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        env["PYTHONUNBUFFERED"] = "1"
        env.update(self.spec.env)
        cmd = [*self.taskset, sys.executable, "-m", self.spec.module, "--host", HOST]
        cmd += ["--port", str(self.port), *self.spec.args]
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: Ctrl-C goes to us, we clean up
        )

    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, timeout: float) -> str | None:
        """Wait until ``GET /`` answers; return None, ``"skip"`` or an error message."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rc = self.returncode()
            if rc == SKIP_EXIT:
                return "skip"
            if rc is not None:
                return f"exited with status {rc} during start-up"
            with contextlib.suppress(OSError, http.client.HTTPException):
                conn = http.client.HTTPConnection(HOST, self.port, timeout=2)
                try:
                    conn.request("GET", "/")
                    conn.getresponse().read()
                finally:
                    conn.close()
                self._read_ready_line()
                return None
            time.sleep(0.1)
        return f"did not answer on port {self.port} within {timeout:.0f}s"

    def _read_ready_line(self) -> None:
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("READY "):
                for word in line.split()[2:]:
                    key, sep, value = word.partition("=")
                    if sep:
                        self.info[key] = value

    def stop(self) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, sig)
                try:
                    proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if self._log is not None:
            self._log.close()
            self._log = None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def check_route(server: Server, route: Route, warmup_requests: int) -> str | None:
    """Check status, Content-Type and body of one route; then send a few warm-up requests.

    Returns an error message, or None when the answer is right.
    """
    conn = http.client.HTTPConnection(HOST, server.port, timeout=5)
    try:
        conn.request("GET", route.path)
        resp = conn.getresponse()
        body = resp.read()
        ctype = resp.getheader("Content-Type", "")
        if resp.status != 200:
            return f"GET {route.path}: status {resp.status}, body {body[:200]!r}"
        if not ctype.lower().startswith(route.content_type):
            return f"GET {route.path}: Content-Type {ctype!r}, want {route.content_type}*"
        same = json.loads(body) == json.loads(route.body) if route.is_json else body == route.body
        if not same:
            return f"GET {route.path}: body {body[:200]!r}, want {route.body!r}"
        missing = [h for h in ("Date", "Server", "Content-Length") if resp.getheader(h) is None]
        if missing:
            print(f"  note: {server.spec.name} {route.path} lacks header(s) {', '.join(missing)}")
        for _ in range(warmup_requests):
            conn.request("GET", route.path)
            conn.getresponse().read()
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return f"GET {route.path}: {type(exc).__name__}: {exc}"
    finally:
        conn.close()
    return None


def check_pipelined(server: Server, route: Route, depth: int) -> str | None:
    """Send ``depth`` requests for ``route`` in one write and read ``depth`` answers.

    Returns why the app got that wrong, or None when every answer is right and in order.
    """
    request = f"GET {route.path} HTTP/1.1\r\nHost: {HOST}:{server.port}\r\n\r\n".encode()
    n = 1
    try:
        with socket.create_connection((HOST, server.port), timeout=5) as sock:
            sock.sendall(request * depth)
            stream = sock.makefile("rb")
            for n in range(1, depth + 1):
                status, body = _read_response(stream)
                if status != 200:
                    return f"answer {n} of {depth}: status {status}"
                same = (
                    json.loads(body) == json.loads(route.body)
                    if route.is_json
                    else body == route.body
                )
                if not same:
                    return f"answer {n} of {depth}: body {body[:80]!r}"
    except (OSError, ValueError) as exc:
        return f"answer {n} of {depth}: {type(exc).__name__}: {exc or 'no answer'}"
    return None


def _read_response(stream: BinaryIO) -> tuple[int, bytes]:
    """One HTTP/1.1 response (Content-Length or chunked) from ``stream``."""
    line = stream.readline(65537)
    if not line:
        raise ConnectionError("connection closed before the answer")
    parts = line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
        raise ValueError(f"bad status line {line[:80]!r}")
    status = int(parts[1])
    length: int | None = None
    chunked = False
    while True:
        header = stream.readline(65537)
        if header in (b"\r\n", b"\n", b""):
            break
        name, _, value = header.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
        elif name.strip().lower() == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        body = b""
        while True:
            size = int(stream.readline(1024).split(b";")[0].strip(), 16)
            if size == 0:
                while stream.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                return status, body
            body += stream.read(size)
            stream.readline(3)
    data = stream.read(length or 0)
    if length is not None and len(data) < length:
        raise ConnectionError("connection closed inside the body")
    return status, data


# --------------------------------------------------------------------------- cpu plan


@dataclass
class CpuPlan:
    server: list[str]  # taskset prefix, empty when not pinning
    client: list[str]
    description: str
    warnings: list[str]


def plan_cpus(args: argparse.Namespace) -> CpuPlan:
    """Server and client CPUs from ``args.no_pin``, ``args.server_cpus``, ``args.client_cpus``."""
    if hasattr(os, "sched_getaffinity"):
        allowed = sorted(os.sched_getaffinity(0))
    else:
        allowed = list(range(os.cpu_count() or 1))
    warnings: list[str] = []
    if args.no_pin:
        return CpuPlan([], [], "not pinned (--no-pin)", warnings)
    if shutil.which("taskset") is None:
        warnings.append("taskset not found: server and wrk are NOT pinned to CPUs")
        return CpuPlan([], [], "not pinned (no taskset)", warnings)
    server_cpus: str | None = args.server_cpus
    client_cpus: str | None = args.client_cpus
    if server_cpus is None or client_cpus is None:
        if len(allowed) < 2:
            warnings.append(
                f"only {len(allowed)} CPU available: server and wrk share it; "
                "numbers are not comparable to a pinned two-core run"
            )
            return CpuPlan([], [], f"not pinned (only {len(allowed)} CPU)", warnings)
        server_cpus = server_cpus or str(allowed[0])
        client_cpus = client_cpus or str(allowed[1])
    if set(server_cpus.split(",")) & set(client_cpus.split(",")):
        warnings.append(f"server CPUs {server_cpus} and client CPUs {client_cpus} overlap")
    return CpuPlan(
        ["taskset", "-c", server_cpus],
        ["taskset", "-c", client_cpus],
        f"server on CPU {server_cpus}, wrk on CPU {client_cpus} (of {len(allowed)} allowed)",
        warnings,
    )


# --------------------------------------------------------------------------- misc


def raise_fd_limit() -> int:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit (at most 65536); the
    servers started afterwards inherit it. Returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard if hard != resource.RLIM_INFINITY else 1 << 16, 1 << 16)
    if want > soft:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_kib(pid: int) -> int:
    """Resident memory of process ``pid`` in KiB (``VmRSS`` in ``/proc/PID/status``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def indent(text: str, prefix: str = "    | ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())
