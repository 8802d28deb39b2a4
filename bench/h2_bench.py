"""``python -m bench.h2_bench``: HTTP/2 throughput under ``h2load``, tornadish against
hypercorn on the same hello app, then tornadish's memory per open HTTP/2 stream.

Throughput. Two servers, each in its own process on uvloop, pinned to the server CPU as
in :mod:`bench.run`: ``tornadish-h2`` (``bench/apps/tornadish_app.py --http2``: the
ordinary Tornado-style app with ``HTTPServer(http2=True)``) and ``hypercorn-h2``
(``bench/apps/hypercorn_app.py``: the same routes on Starlette, an ASGI app, served by
hypercorn). Both take HTTP/2 by prior knowledge on their cleartext port. Each first
answers one HTTP/2 ``GET /`` (checked: 200, ``Hello, world``), then ``h2load -c 10 -m
10`` (10 connections, 10 streams in flight on each; nghttp2's load generator, pinned to
the client CPU) runs ``GET /`` for ``--duration`` seconds after ``--warmup``. Rounds are
interleaved and the app order rotates; req/s is the median over rounds. Target:
tornadish at least 1.5x hypercorn's req/s.

Memory per stream. A fresh server per app; ``--connections`` HTTP/2 connections (h2 in
the client role) are opened and their SETTINGS exchanged, its RSS is read; then each
opens ``--streams`` streams on ``/hold`` (the head is answered at once, the body never:
a long-lived stream, as a server-sent event stream is) and once every head has arrived
and ``--settle`` has passed the RSS is read again. (after - before) / streams is the
cost of one open stream (its request, handler and stream state), in KiB.

A missing ``h2load`` (Debian's ``nghttp2-client``; installed when running as root) or
hypercorn skips its part with the reason. Like the other benchmarks, a missed target
does not change the exit status: a server that fails to start or answers wrongly does
(1). Linux only for the memory part (``/proc``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench._report import fmt_table, verdict
from bench._servers import HOST, AppSpec, Server, indent, plan_cpus, raise_fd_limit, rss_kib

SUBJECT = "tornadish-h2"
BASE = "hypercorn-h2"
TARGET = 1.5  # tornadish req/s over hypercorn's, at least
HELLO = b"Hello, world"

APPS: tuple[AppSpec, ...] = (
    AppSpec(
        SUBJECT,
        "bench.apps.tornadish_app",
        "tornadish",
        args=("--http2",),
        requires=("h2", "httptools"),
        env=(("TORNADISH_HTTP", "httptools"),),
    ),
    AppSpec(BASE, "bench.apps.hypercorn_app", "hypercorn", requires=("hypercorn", "starlette")),
)


# --------------------------------------------------------------------------- h2load


def ensure_h2load() -> tuple[str | None, str]:
    """The ``h2load`` binary, or None and why not (installed with apt as root)."""
    found = shutil.which("h2load")
    if found:
        return found, ""
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        print("h2load not found; running as root, so trying `apt-get install nghttp2-client`")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for attempt in (
            ["apt-get", "install", "-y", "-q", "nghttp2-client"],
            ["apt-get", "update"],
        ):
            subprocess.run(attempt, env=env, check=False, capture_output=True)
            if attempt[1] == "update":
                subprocess.run(
                    ["apt-get", "install", "-y", "-q", "nghttp2-client"],
                    env=env,
                    check=False,
                    capture_output=True,
                )
            found = shutil.which("h2load")
            if found:
                return found, ""
        return None, "h2load not found, and `apt-get install nghttp2-client` did not bring it"
    return None, "h2load not found (Debian/Ubuntu: apt-get install -y nghttp2-client)"


@dataclass
class H2loadResult:
    rps: float
    succeeded: int
    failed: int
    mean_ms: float | None


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def parse_h2load(text: str) -> H2loadResult | None:
    """req/s, succeeded and failed requests, and the mean time per request from
    h2load's report; None when it has none."""
    finished = re.search(r"finished in [\d.]+\w*, ([\d.]+) req/s", text)
    counts = re.search(r"requests: .* (\d+) succeeded, (\d+) failed, (\d+) errored", text)
    if not finished or not counts:
        return None
    mean: float | None = None
    timing = re.search(r"time for request:\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)\b", text)
    if timing:
        mean = float(timing.group(1)) * _UNITS_MS[timing.group(2)]
    failed = int(counts.group(2)) + int(counts.group(3))
    return H2loadResult(float(finished.group(1)), int(counts.group(1)), failed, mean)


def run_h2load(
    h2load: str, taskset: list[str], url: str, args: argparse.Namespace
) -> tuple[H2loadResult | None, str]:
    cmd = [*taskset, h2load, "-c", str(args.clients), "-m", str(args.streams_per_client)]
    cmd += ["-t", "1", "-D", str(args.duration), "--warm-up-time", str(args.warmup), url]
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=args.duration + args.warmup + 60
        )
    except subprocess.TimeoutExpired:
        return None, "h2load did not finish"
    result = parse_h2load(proc.stdout)
    if result is None:
        return None, f"h2load exited {proc.returncode}: {(proc.stdout + proc.stderr)[-400:]}"
    return result, ""


# --------------------------------------------------------------------------- h2 client


class _Conn(asyncio.Protocol):
    """One HTTP/2 client connection (h2) for the checks and the memory measurement."""

    def __init__(self) -> None:
        import h2.config
        import h2.connection

        self.h2 = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        self.transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.settled = loop.create_future()  # the server's SETTINGS came
        self.heads: dict[int, int] = {}  # stream id -> status
        self.bodies: dict[int, bytes] = {}
        self.ended: dict[int, asyncio.Future[None]] = {}
        self.all_heads: asyncio.Future[None] | None = None
        self.expected_heads = 0

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.h2.initiate_connection()
        transport.write(self.h2.data_to_send())

    def data_received(self, data: bytes) -> None:
        import h2.events

        for ev in self.h2.receive_data(data):
            if isinstance(ev, h2.events.RemoteSettingsChanged) and not self.settled.done():
                self.settled.set_result(None)
            elif isinstance(ev, h2.events.ResponseReceived):
                assert ev.stream_id is not None
                self.heads[ev.stream_id] = int(dict(ev.headers or ())[b":status"])
                waiter = self.all_heads
                if waiter and not waiter.done() and len(self.heads) >= self.expected_heads:
                    waiter.set_result(None)
            elif isinstance(ev, h2.events.DataReceived):
                assert ev.stream_id is not None and ev.data is not None
                self.bodies[ev.stream_id] = self.bodies.get(ev.stream_id, b"") + ev.data
                self.h2.acknowledge_received_data(ev.flow_controlled_length or 0, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                assert ev.stream_id is not None
                ended = self.ended.get(ev.stream_id)
                if ended is not None and not ended.done():
                    ended.set_result(None)
        if self.transport is not None:
            self.transport.write(self.h2.data_to_send())

    def connection_lost(self, exc: Exception | None) -> None:
        for fut in (self.settled, self.all_heads, *self.ended.values()):
            if fut is not None and not fut.done():
                fut.set_exception(ConnectionError("connection lost"))
                fut.exception()  # (retrieved: a held stream's is awaited by nobody)

    def get(self, path: str, port: int) -> int:
        sid = self.h2.get_next_available_stream_id()
        head = [(b":method", b"GET"), (b":scheme", b"http"), (b":path", path.encode())]
        head.append((b":authority", f"{HOST}:{port}".encode()))
        self.h2.send_headers(sid, head, end_stream=True)
        self.ended[sid] = asyncio.get_running_loop().create_future()
        return sid

    def flush(self) -> None:
        if self.transport is not None:
            self.transport.write(self.h2.data_to_send())


async def _open(port: int) -> _Conn:
    loop = asyncio.get_running_loop()
    _, conn = await loop.create_connection(_Conn, HOST, port)
    await asyncio.wait_for(conn.settled, 10)
    return conn


async def _check_h2(port: int) -> str | None:
    """One HTTP/2 ``GET /`` by prior knowledge: None when the answer is right."""
    try:
        conn = await _open(port)
    except (OSError, asyncio.TimeoutError) as exc:
        return f"HTTP/2 connection: {type(exc).__name__}: {exc}"
    try:
        sid = conn.get("/", port)
        conn.flush()
        await asyncio.wait_for(conn.ended[sid], 10)
    except (OSError, asyncio.TimeoutError) as exc:
        return f"HTTP/2 GET /: {type(exc).__name__}: {exc}"
    finally:
        if conn.transport is not None:
            conn.transport.close()
    if conn.heads.get(sid) != 200 or conn.bodies.get(sid) != HELLO:
        return f"HTTP/2 GET /: status {conn.heads.get(sid)}, body {conn.bodies.get(sid)!r}"
    return None


def check_h2(server: Server) -> str | None:
    return asyncio.run(_check_h2(server.port))


async def _measure_streams(server: Server, args: argparse.Namespace) -> dict[str, Any]:
    assert server.pid is not None
    port = server.port
    # One-time costs first: a few streams answered and held, then let go.
    warm = [await _open(port) for _ in range(2)]
    for conn in warm:
        conn.expected_heads = 10
        conn.all_heads = asyncio.get_running_loop().create_future()
        for _ in range(10):
            conn.get("/hold", port)
        conn.flush()
    await asyncio.wait_for(asyncio.gather(*(c.all_heads for c in warm if c.all_heads)), 30)
    for conn in warm:
        assert conn.transport is not None
        conn.transport.close()
    conns = [await _open(port) for _ in range(args.connections)]
    try:
        await asyncio.sleep(args.settle)
        before = rss_kib(server.pid)
        loop = asyncio.get_running_loop()
        for conn in conns:
            conn.expected_heads = args.streams
            conn.all_heads = loop.create_future()
            for _ in range(args.streams):
                conn.get("/hold", port)
            conn.flush()
        heads = [c.all_heads for c in conns if c.all_heads is not None]
        await asyncio.wait_for(asyncio.gather(*heads), 60)
        bad = [s for c in conns for s in c.heads.values() if s != 200]
        if bad:
            raise ConnectionError(f"{len(bad)} streams answered {bad[0]}")
        await asyncio.sleep(args.settle)
        after = rss_kib(server.pid)
    finally:
        for conn in conns:
            if conn.transport is not None:
                conn.transport.close()
    streams = args.connections * args.streams
    return {
        "streams": streams,
        "rss_before_kib": before,
        "rss_after_kib": after,
        "kib_per_stream": (after - before) / streams,
    }


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.h2_bench",
        description="HTTP/2 req/s under h2load (tornadish vs hypercorn), memory per stream.",
    )
    p.add_argument("--duration", type=int, default=5, help="seconds per h2load run (5)")
    p.add_argument("--warmup", type=int, default=1, help="h2load warm-up seconds (1)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds, median (3)")
    p.add_argument("--quick", action="store_true", help="1 round x 2 s, fewer streams")
    p.add_argument("--clients", type=int, default=10, help="h2load -c (10)")
    p.add_argument("--streams-per-client", type=int, default=10, help="h2load -m (10)")
    p.add_argument("--connections", type=int, default=20, help="memory: connections (20)")
    p.add_argument("--streams", type=int, default=100, help="memory: streams on each (100)")
    p.add_argument("--settle", type=float, default=1.0, help="seconds before reading RSS (1)")
    p.add_argument("--no-memory", action="store_true", help="leave out the memory part")
    p.add_argument("--server-cpus", help="taskset CPU list for the servers (default: 1st CPU)")
    p.add_argument("--client-cpus", help="taskset CPU list for h2load (default: 2nd CPU)")
    p.add_argument("--no-pin", action="store_true", help="do not pin with taskset")
    p.add_argument("--startup-timeout", type=float, default=30.0, help="seconds per server")
    args = p.parse_args(argv)
    if args.quick:
        args.rounds, args.duration, args.warmup = 1, 2, 0
        args.connections, args.streams = 5, 100
    for name in ("duration", "rounds", "clients", "streams_per_client", "connections", "streams"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    return args


def start(spec: AppSpec, taskset: list[str], log_dir: Path, timeout: float) -> Server | str:
    """A started, checked server; or why not (``SKIP ...`` when it cannot run here)."""
    missing = spec.missing_requirement()
    if missing:
        return f"SKIP {missing}"
    server = Server(spec, taskset, log_dir)
    server.start()
    status = server.wait_ready(timeout)
    if status == "skip":
        tail = server.log_tail(3).splitlines()
        server.stop()
        return "SKIP " + (tail[-1].removeprefix("SKIP: ") if tail else "import failed")
    status = status or check_h2(server)
    if status is not None:
        print(indent(server.log_tail()))
        server.stop()
        return status
    return server


def throughput(
    args: argparse.Namespace, cpus: Any, log_dir: Path, problems: dict[str, str]
) -> None:
    h2load, why = ensure_h2load()
    if h2load is None:
        print(f"  SKIP throughput: {why}")
        return
    version = subprocess.run([h2load, "--version"], capture_output=True, text=True, check=False)
    print(
        f"h2load -c {args.clients} -m {args.streams_per_client}, GET / by prior knowledge:"
        f" {args.rounds} round(s) x {args.duration}s (+{args.warmup}s warm-up);"
        f" {version.stdout.strip()}; {cpus.description.replace('wrk', 'h2load')}"
    )
    servers: dict[str, Server] = {}
    results: dict[str, list[H2loadResult]] = {a.name: [] for a in APPS}
    try:
        for spec in APPS:
            started = start(spec, cpus.server, log_dir, args.startup_timeout)
            if isinstance(started, str):
                problems[spec.name] = started
                print(f"  {spec.name}: {started}")
            else:
                servers[spec.name] = started
                print(f"  ready {spec.name} pid {started.pid} port {started.port}")
        order = list(servers)
        for rnd in range(args.rounds):
            shift = rnd % max(len(order), 1)
            for name in order[shift:] + order[:shift]:
                result, err = run_h2load(h2load, cpus.client, servers[name].url + "/", args)
                if result is None:
                    problems[name] = err
                    print(f"  {name}: {err}")
                    continue
                results[name].append(result)
                print(
                    f"  round {rnd + 1}: {name:<13} {result.rps:10,.0f} req/s"
                    f"  ({result.succeeded} ok, {result.failed} failed)",
                    flush=True,
                )
                time.sleep(0.3)
            for name in order:
                if not servers[name].alive():
                    problems[name] = f"server died (status {servers[name].returncode()})"
            order = [n for n in order if n not in problems]
    finally:
        for server in servers.values():
            server.stop()
    report_throughput(results, problems)


def report_throughput(results: dict[str, list[H2loadResult]], problems: dict[str, str]) -> None:
    rows: list[list[str]] = []
    rps: dict[str, float] = {}
    for name, runs in results.items():
        if not runs:
            rows.append([name, "-", "-", "-", "-", problems.get(name, "not measured")])
            continue
        rps[name] = statistics.median(r.rps for r in runs)
        means = [r.mean_ms for r in runs if r.mean_ms is not None]
        rows.append(
            [
                name,
                f"{rps[name]:,.0f}",
                f"{statistics.median(means):.2f}" if means else "-",
                str(sum(r.failed for r in runs)),
                str(len(runs)),
                "ok",
            ]
        )
    print()
    print(fmt_table(["app", "req/s", "mean ms", "failed", "n", "status"], rows, right={1, 2, 3, 4}))
    value = rps[SUBJECT] / rps[BASE] if SUBJECT in rps and rps.get(BASE) else None
    shown = "n/a" if value is None else f"{value:.2f}x"
    print(
        f"\n{SUBJECT}/{BASE} (req/s): {shown}  target >= {TARGET:.2f}x"
        f"  {verdict(value, TARGET) or 'n/a'}"
    )


def memory(args: argparse.Namespace, cpus: Any, log_dir: Path, problems: dict[str, str]) -> None:
    if not Path("/proc/self/status").exists():
        print("  SKIP memory per stream: needs Linux's /proc")
        return
    raise_fd_limit()
    print(
        f"\nmemory per open HTTP/2 stream: {args.connections} connections x {args.streams}"
        f" streams held open on /hold (head sent, body never)"
    )
    rows: list[list[str]] = []
    for spec in APPS:
        started = start(spec, cpus.server, log_dir, args.startup_timeout)
        if isinstance(started, str):
            rows.append([spec.name, "-", "-", "-", started])
            if not started.startswith("SKIP"):
                problems[f"{spec.name} (memory)"] = started
            continue
        try:
            outcome = asyncio.run(_measure_streams(started, args))
        except (OSError, asyncio.TimeoutError, ValueError) as exc:
            why = f"{type(exc).__name__}: {exc}"
            rows.append([spec.name, "-", "-", "-", why])
            problems[f"{spec.name} (memory)"] = why
            continue
        finally:
            started.stop()
        rows.append(
            [
                spec.name,
                f"{outcome['rss_before_kib'] / 1024:.1f}",
                f"{outcome['rss_after_kib'] / 1024:.1f}",
                f"{outcome['kib_per_stream']:.2f}",
                f"ok ({outcome['streams']} streams)",
            ]
        )
    headers = ["app", "RSS before MiB", "after MiB", "KiB/stream", "status"]
    print(fmt_table(headers, rows, right={1, 2, 3}))
    print("(RSS moves in pages and allocator arenas: small differences are noise)")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    cpus = plan_cpus(args)
    for w in cpus.warnings:
        print(f"  WARNING: {w}")
    problems: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="h2-bench-") as log_dir:
        throughput(args, cpus, Path(log_dir), problems)
        if not args.no_memory:
            memory(args, cpus, Path(log_dir), problems)
    failed = [name for name, why in problems.items() if not why.startswith("SKIP")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
