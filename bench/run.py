"""``make bench``: tornadish against Tornado, aiohttp and a bare h11 server, under wrk.

Every app runs in its own subprocess on uvloop, pinned with ``taskset`` to the server
CPU; ``wrk`` runs pinned to another CPU.  Rounds are interleaved (round 1 runs every
app on every route, then round 2, ...) and the app order rotates from round to round,
so drift on the machine hits all apps alike.  The reported req/s is the median over
rounds; p50/p99 latency are the medians of the per-round percentiles.

Run ``python -m bench.run --help`` for the options; see ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
SKIP_EXIT = 77  # keep in step with bench/apps/_common.py

EXIT_OK = 0
EXIT_FAILED = 1  # a server crashed, answered wrongly, or wrk failed
EXIT_NO_WRK = 2


@dataclass(frozen=True)
class AppSpec:
    name: str
    module: str
    framework: str  # distribution name, for the version in the report


@dataclass(frozen=True)
class Route:
    name: str
    path: str
    body: bytes
    content_type: str  # expected prefix of the Content-Type header (case-insensitive)
    is_json: bool


SUBJECT = "tornadish"
APPS: tuple[AppSpec, ...] = (
    AppSpec("tornadish", "bench.apps.tornadish_app", "tornadish"),
    AppSpec("tornado", "bench.apps.tornado_app", "tornado"),
    AppSpec("aiohttp", "bench.apps.aiohttp_app", "aiohttp"),
    AppSpec("bare-h11", "bench.apps.bare_h11", "h11"),
)
APP_ALIASES = {"h11": "bare-h11", "bare_h11": "bare-h11", "bare": "bare-h11"}

ROUTES: tuple[Route, ...] = (
    Route("hello", "/", b"Hello, world", "text/html", is_json=False),
    Route(
        "json",
        "/user/42?q=x",
        b'{"id": 42, "q": "x", "name": "user42"}',
        "application/json",
        is_json=True,
    ),
)

#: (baseline app, minimum tornadish/baseline req/s ratio); ``None``: no target.
TARGETS: dict[str, float | None] = {"tornado": 1.6, "aiohttp": None, "bare-h11": 0.65}

#: wrk's ``done()`` hook: one machine-readable line (latencies in microseconds).
WRK_LUA = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT %d %d %d %d %d %d %d %d %.0f %.0f %.0f %.0f %.0f\\n",
    summary.duration, summary.requests, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max))
end
"""


# --------------------------------------------------------------------------- results


@dataclass
class WrkResult:
    duration_s: float
    requests: int
    bytes: int
    errors: dict[str, int]
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def total_errors(self) -> int:
        return sum(self.errors.values())

    def as_json(self) -> dict[str, Any]:
        return {
            "rps": round(self.rps, 1),
            "requests": self.requests,
            "duration_s": round(self.duration_s, 3),
            "bytes": self.bytes,
            "errors": self.errors,
            "latency_ms": {
                "p50": self.p50_ms,
                "p90": self.p90_ms,
                "p99": self.p99_ms,
                "mean": self.mean_ms,
                "max": self.max_ms,
            },
        }


@dataclass
class Cell:
    """All rounds of one app on one route."""

    app: str
    route: str
    rounds: list[WrkResult] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return statistics.median(r.rps for r in self.rounds)

    @property
    def p50_ms(self) -> float:
        return statistics.median(r.p50_ms for r in self.rounds)

    @property
    def p99_ms(self) -> float:
        return statistics.median(r.p99_ms for r in self.rounds)

    @property
    def spread(self) -> float:
        """(max - min) / median of req/s over rounds; 0 with one round."""
        values = [r.rps for r in self.rounds]
        median = statistics.median(values)
        return (max(values) - min(values)) / median if median else 0.0

    @property
    def errors(self) -> int:
        return sum(r.total_errors for r in self.rounds)


def parse_wrk(stdout: str) -> WrkResult | None:
    for line in stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            f = line.split()[1:]
            us = [float(x) / 1000.0 for x in f[8:13]]
            return WrkResult(
                duration_s=int(f[0]) / 1e6,
                requests=int(f[1]),
                bytes=int(f[2]),
                errors={
                    "connect": int(f[3]),
                    "read": int(f[4]),
                    "write": int(f[5]),
                    "status": int(f[6]),
                    "timeout": int(f[7]),
                },
                p50_ms=us[0],
                p90_ms=us[1],
                p99_ms=us[2],
                mean_ms=us[3],
                max_ms=us[4],
            )
    return None


# --------------------------------------------------------------------------- servers


class Server:
    """One benchmark app in its own process group, pinned to the server CPUs."""

    def __init__(self, spec: AppSpec, taskset: list[str], log_dir: Path) -> None:
        self.spec = spec
        self.port = free_port()
        self.taskset = taskset
        self.log_path = log_dir / f"{spec.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.loop_type = "?"
        self._log: TextIO | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        env["PYTHONUNBUFFERED"] = "1"
        cmd = [*self.taskset, sys.executable, "-m", self.spec.module, "--host", HOST]
        cmd += ["--port", str(self.port)]
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
                self._read_loop_type()
                return None
            time.sleep(0.1)
        return f"did not answer on port {self.port} within {timeout:.0f}s"

    def _read_loop_type(self) -> None:
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("READY ") and "loop=" in line:
                self.loop_type = line.rsplit("loop=", 1)[1].strip()

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


# --------------------------------------------------------------------------- wrk


def ensure_wrk(explicit: str | None) -> str | None:
    if explicit:
        return explicit if shutil.which(explicit) else None
    found = shutil.which("wrk")
    if found:
        return found
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk not found; running as root, so trying `apt-get install -y wrk` ...")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for attempt in (["apt-get", "install", "-y", "wrk"], ["apt-get", "update"]):
            subprocess.run(attempt, env=env, check=False)
            if attempt[1] == "update":
                subprocess.run(["apt-get", "install", "-y", "wrk"], env=env, check=False)
            found = shutil.which("wrk")
            if found:
                return found
    return None


def wrk_version(wrk: str) -> str:
    proc = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False)
    first = (proc.stdout or proc.stderr).strip().splitlines()
    return first[0] if first else "?"


def run_wrk(
    wrk: str,
    taskset: list[str],
    url: str,
    *,
    duration: int,
    connections: int,
    threads: int,
    script: Path,
) -> tuple[WrkResult | None, str]:
    cmd = [*taskset, wrk, f"-t{threads}", f"-c{connections}", f"-d{duration}s"]
    cmd += ["--timeout", "5s", "-s", str(script), url]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=False)
    result = parse_wrk(proc.stdout)
    if result is None:
        return None, f"wrk exited {proc.returncode}: {(proc.stderr or proc.stdout).strip()}"
    return result, ""


# --------------------------------------------------------------------------- cpu plan


@dataclass
class CpuPlan:
    server: list[str]  # taskset prefix, empty when not pinning
    client: list[str]
    description: str
    warnings: list[str]


def plan_cpus(args: argparse.Namespace) -> CpuPlan:
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


# --------------------------------------------------------------------------- report


def fmt_table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> str:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]

    def line(cells: Sequence[str]) -> str:
        out = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(out).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def ratio_rows(cells: dict[tuple[str, str], Cell], routes: Sequence[Route]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for route in routes:
        subject = cells.get((SUBJECT, route.name))
        for base, target in TARGETS.items():
            other = cells.get((base, route.name))
            ratio = subject.rps / other.rps if subject and other and other.rps else None
            verdict = None
            if ratio is not None and target is not None:
                verdict = "PASS" if ratio >= target else "FAIL"
            rows.append(
                {
                    "route": route.name,
                    "ratio": f"{SUBJECT}/{base}",
                    "value": None if ratio is None else round(ratio, 3),
                    "target": target,
                    "verdict": verdict,
                }
            )
    return rows


def print_report(
    cells: dict[tuple[str, str], Cell],
    apps: Sequence[AppSpec],
    routes: Sequence[Route],
    ratios: list[dict[str, Any]],
) -> None:
    rows: list[list[str]] = []
    for route in routes:
        floor = cells.get(("bare-h11", route.name))
        for app in apps:
            cell = cells.get((app.name, route.name))
            if cell is None or not cell.rounds:
                continue
            vs = f"{cell.rps / floor.rps:.2f}x" if floor and floor.rps else "-"
            rows.append(
                [
                    app.name,
                    route.name,
                    f"{cell.rps:,.0f}",
                    f"{cell.spread * 100:.1f}%",
                    f"{cell.p50_ms:.2f}",
                    f"{cell.p99_ms:.2f}",
                    vs,
                    str(cell.errors),
                    str(len(cell.rounds)),
                ]
            )
    headers = ["app", "route", "req/s", "spread", "p50 ms", "p99 ms", "vs h11", "errors", "n"]
    print()
    print(fmt_table(headers, rows, right={2, 3, 4, 5, 6, 7, 8}))
    print()
    ratio_table: list[list[str]] = []
    for r in ratios:
        value = "n/a" if r["value"] is None else f"{r['value']:.2f}x"
        target = "-" if r["target"] is None else f">= {r['target']:.2f}x"
        verdict = r["verdict"] or ("-" if r["target"] is None else "n/a")
        ratio_table.append([r["route"], r["ratio"], value, target, verdict])
    print(fmt_table(["route", "ratio (req/s)", "value", "target", ""], ratio_table, right={2}))
    if not any((SUBJECT, route.name) in cells for route in routes):
        print(f"\n({SUBJECT} was not measured: ratios are n/a)")


def versions(apps: Sequence[AppSpec]) -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in sorted({a.framework for a in apps} | {"uvloop", "h11"}):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.run",
        description="Benchmark tornadish against Tornado, aiohttp and bare h11 with wrk.",
    )
    p.add_argument("--duration", type=int, help="seconds per wrk run (default 5; quick 2)")
    p.add_argument("--rounds", type=int, help="interleaved rounds (default 3; quick 1)")
    p.add_argument("--warmup", type=int, help="wrk warm-up seconds per app/route (default 1)")
    p.add_argument("--connections", type=int, default=50, help="wrk -c (default 50)")
    p.add_argument("--threads", type=int, default=1, help="wrk -t (default 1)")
    p.add_argument("--quick", action="store_true", help="smoke run: 1 round x 2 s, ~20 s")
    p.add_argument(
        "--only",
        help="comma-separated apps to run: " + ",".join(a.name for a in APPS),
    )
    p.add_argument("--routes", help="comma-separated routes: " + ",".join(r.name for r in ROUTES))
    p.add_argument("--server-cpus", help="taskset CPU list for the servers (default: 1st CPU)")
    p.add_argument("--client-cpus", help="taskset CPU list for wrk (default: 2nd CPU)")
    p.add_argument("--no-pin", action="store_true", help="do not pin with taskset")
    p.add_argument("--pause", type=float, default=0.3, help="seconds between wrk runs")
    p.add_argument("--startup-timeout", type=float, default=30.0, help="seconds per server")
    p.add_argument("--wrk", help="path to the wrk binary")
    p.add_argument("--json", type=Path, help="write the results as JSON to this path")
    args = p.parse_args(argv)
    if args.duration is None:
        args.duration = 2 if args.quick else 5
    if args.rounds is None:
        args.rounds = 1 if args.quick else 3
    if args.warmup is None:
        args.warmup = 0 if args.quick else 1
    for name in ("duration", "rounds", "connections", "threads"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be >= 1")
    if args.warmup < 0:
        p.error("--warmup must be >= 0")
    known = {a.name for a in APPS}
    if args.only:
        wanted = [APP_ALIASES.get(n.strip(), n.strip()) for n in args.only.split(",") if n.strip()]
        unknown = sorted(set(wanted) - known)
        if unknown:
            p.error(f"unknown app(s) {', '.join(unknown)}; choose from {', '.join(sorted(known))}")
        args.apps = [a for a in APPS if a.name in wanted]
    else:
        args.apps = list(APPS)
    route_names = {r.name for r in ROUTES}
    if args.routes:
        wanted_routes = [n.strip() for n in args.routes.split(",") if n.strip()]
        unknown = sorted(set(wanted_routes) - route_names)
        if unknown:
            p.error(f"unknown route(s) {', '.join(unknown)}; choose from {sorted(route_names)}")
        args.route_list = [r for r in ROUTES if r.name in wanted_routes]
    else:
        args.route_list = list(ROUTES)
    return args


def _raise_exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def exit_on_signals() -> Iterator[None]:
    """Turn SIGTERM/SIGHUP into SystemExit so ``finally`` blocks kill the servers."""
    old = {s: signal.signal(s, _raise_exit) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    wrk = ensure_wrk(args.wrk)
    if wrk is None:
        print(
            "error: wrk (https://github.com/wg/wrk) is required and was not found.\n"
            "  Debian/Ubuntu: sudo apt-get install -y wrk\n"
            "  Fedora:        sudo dnf install wrk\n"
            "  macOS:         brew install wrk\n"
            "  or build it from source and pass --wrk /path/to/wrk",
            file=sys.stderr,
        )
        return EXIT_NO_WRK
    with exit_on_signals(), tempfile.TemporaryDirectory(prefix="tornadish-bench-") as tmp:
        try:
            return Bench(args, wrk, Path(tmp)).run()
        except KeyboardInterrupt:
            print("\ninterrupted; servers stopped", file=sys.stderr)
            return 130


def loadavg() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


class Bench:
    """One benchmark session: start the servers, run the rounds, report."""

    def __init__(self, args: argparse.Namespace, wrk: str, tmp: Path) -> None:
        self.args = args
        self.wrk = wrk
        self.tmp = tmp
        self.apps: list[AppSpec] = args.apps
        self.routes: list[Route] = args.route_list
        self.cpus = plan_cpus(args)
        self.script = tmp / "report.lua"
        self.script.write_text(WRK_LUA)
        self.servers: dict[str, Server] = {}
        self.active: list[AppSpec] = []
        self.cells: dict[tuple[str, str], Cell] = {}
        self.skipped: dict[str, str] = {}
        self.failures: list[str] = []
        self.load_start = loadavg()
        self.load_end = float("nan")

    def run(self) -> int:
        self.print_header()
        try:
            self.start_servers()
            if not self.active:
                print("nothing to measure")
            else:
                self.warm_up()
                self.run_rounds()
        finally:
            for server in self.servers.values():
                server.stop()
        self.load_end = loadavg()
        self.report()
        return EXIT_FAILED if self.failures else EXIT_OK

    def print_header(self) -> None:
        a = self.args
        n = len(self.apps) * len(self.routes)
        estimate = n * (a.rounds * (a.duration + a.pause) + a.warmup) + 2
        print(f"tornadish bench: {wrk_version(self.wrk)}; {self.cpus.description}")
        print(
            f"  {len(self.apps)} apps x {len(self.routes)} routes x {a.rounds} rounds"
            f" x {a.duration}s, wrk -t{a.threads} -c{a.connections}, warm-up {a.warmup}s;"
            f" ~{estimate:.0f}s"
        )
        print(f"  load average at start: {self.load_start:.2f}")
        for w in self.cpus.warnings:
            print(f"  WARNING: {w}")
        if self.load_start > 0.5:
            print("  WARNING: the machine is not idle; numbers will be noisy")

    def start_servers(self) -> None:
        """Start every app at once (they idle while others are measured), then check each."""
        for spec in self.apps:
            self.servers[spec.name] = server = Server(spec, self.cpus.server, self.tmp)
            server.start()
        for spec in self.apps:
            server = self.servers[spec.name]
            status = server.wait_ready(self.args.startup_timeout)
            if status == "skip":
                tail = server.log_tail(3).splitlines()
                reason = tail[-1].removeprefix("SKIP: ") if tail else "import failed"
                self.skipped[spec.name] = reason
                print(f"  SKIP {spec.name}: {reason}")
                continue
            if status is None:
                for route in self.routes:
                    status = check_route(server, route, warmup_requests=100)
                    if status:
                        break
            if status is not None:
                self.failures.append(f"{spec.name}: {status}")
                print(f"  FAIL {spec.name}: {status}\n{indent(server.log_tail())}")
                server.stop()
                continue
            note = "" if "uvloop" in server.loop_type else "  WARNING: not on uvloop"
            pid = server.proc.pid if server.proc else "?"
            print(
                f"  ready {spec.name:<9} pid {pid} port {server.port} loop {server.loop_type}{note}"
            )
            self.active.append(spec)

    def measure(self, spec: AppSpec, route: Route, duration: int) -> WrkResult | None:
        server = self.servers[spec.name]
        result, err = run_wrk(
            self.wrk,
            self.cpus.client,
            server.url + route.path,
            duration=duration,
            connections=self.args.connections,
            threads=self.args.threads,
            script=self.script,
        )
        time.sleep(self.args.pause)
        if not server.alive():
            msg = f"{spec.name}: server died (status {server.returncode()}) on {route.name}"
            self.failures.append(msg)
            print(f"  CRASH {msg}\n{indent(server.log_tail())}")
            self.active.remove(spec)
            return None
        if result is None:
            self.failures.append(f"{spec.name}/{route.name}: {err}")
            print(f"  ERROR {spec.name}/{route.name}: {err}")
        return result

    def warm_up(self) -> None:
        if not self.args.warmup:
            return
        print(f"warm-up ({self.args.warmup}s per app and route)")
        for spec in list(self.active):
            for route in self.routes:
                if spec in self.active:
                    self.measure(spec, route, self.args.warmup)

    def run_rounds(self) -> None:
        rounds = self.args.rounds
        for rnd in range(rounds):
            if not self.active:
                break
            shift = rnd % len(self.active)  # rotate the order: no app is always first
            order = self.active[shift:] + self.active[:shift]
            print(f"round {rnd + 1}/{rounds}: {', '.join(a.name for a in order)}")
            for spec in order:
                for route in self.routes:
                    if spec not in self.active:
                        break
                    result = self.measure(spec, route, self.args.duration)
                    if result is None:
                        continue
                    key = (spec.name, route.name)
                    self.cells.setdefault(key, Cell(*key)).rounds.append(result)
                    errs = f"  errors {result.total_errors}" if result.total_errors else ""
                    print(
                        f"  {spec.name:<9} {route.name:<5} {result.rps:>10,.0f} req/s"
                        f"  p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms{errs}"
                    )

    def report(self) -> None:
        ratios = ratio_rows(self.cells, self.routes)
        print_report(self.cells, self.apps, self.routes, ratios)
        print(f"\nload average: {self.load_start:.2f} at start, {self.load_end:.2f} at end")
        for name, reason in self.skipped.items():
            print(f"skipped {name}: {reason}")
        for f in self.failures:
            print(f"FAILED {f}")
        if any(c.errors for c in self.cells.values()):
            print("note: some runs had wrk errors (non-2xx or socket errors): see 'errors'")
        if self.args.json:
            path: Path = self.args.json
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(self.results_doc(ratios), indent=2) + "\n")
            print(f"results written to {path}")

    def results_doc(self, ratios: list[dict[str, Any]]) -> dict[str, Any]:
        a = self.args
        return {
            "meta": {
                "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "host": platform.node(),
                "platform": platform.platform(),
                "cpu_count": os.cpu_count(),
                "pinning": self.cpus.description,
                "load_average": {"start": self.load_start, "end": self.load_end},
                "wrk": wrk_version(self.wrk),
                "versions": versions(self.apps),
                "loops": {n: s.loop_type for n, s in self.servers.items()},
                "settings": {
                    "duration_s": a.duration,
                    "rounds": a.rounds,
                    "warmup_s": a.warmup,
                    "connections": a.connections,
                    "threads": a.threads,
                },
            },
            "results": [
                {
                    "app": c.app,
                    "route": c.route,
                    "rps_median": round(c.rps, 1),
                    "rps_spread": round(c.spread, 4),
                    "p50_ms_median": c.p50_ms,
                    "p99_ms_median": c.p99_ms,
                    "errors": c.errors,
                    "rounds": [r.as_json() for r in c.rounds],
                }
                for c in self.cells.values()
            ],
            "ratios": ratios,
            "skipped": self.skipped,
            "failures": self.failures,
        }


def indent(text: str, prefix: str = "    | ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


if __name__ == "__main__":
    sys.exit(main())
