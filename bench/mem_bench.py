"""``python -m bench.mem_bench``: server memory per idle keep-alive HTTP connection.

For each app (tornadish on httptools and on h11 by default, with Tornado, aiohttp and
uvicorn for comparison) a fresh server process starts, pinned to the server CPU as in
:mod:`bench.run`, and answers 100 requests plus one request on each of 100 short-lived
connections (so one-time costs, such as lazy imports and first allocations, are paid).
Then its resident memory (``VmRSS`` in ``/proc/PID/status``) is read, ``--connections``
connections are opened, each sends one ``GET /`` and reads the answer, and the memory is
read again once they sit idle; the difference over their number is the cost of one idle
keep-alive connection. A few of them then send a second request, to show that they were
still open. With ``--rounds`` > 1 each round starts fresh servers, in rotating order,
and the median is reported.

Target for tornadish: at most 4 KiB per connection on either engine. Like the other
benchmarks, a missed target does not change the exit status: only a server that fails to
start, answers wrongly, dies or drops connections does (1).

Linux only (``/proc``). Run ``python -m bench.mem_bench --help`` for the options.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench._report import fmt_table, verdict
from bench._servers import HOST, AppSpec, Server, check_route, plan_cpus, raise_fd_limit, rss_kib
from bench.run import APP_ALIASES, APPS, ROUTES, SUBJECT, SUBJECT_H11

DEFAULT_APPS = (SUBJECT, SUBJECT_H11, "tornado", "aiohttp", "uvicorn-httptools")
TARGET_KIB = {SUBJECT: 4.0, SUBJECT_H11: 4.0}
HELLO = ROUTES[0]
BATCH = 100  # connections opened at once
WARMUP_CONNECTIONS = 100
RECHECK = 10  # connections that send a second request after the measurement

Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int) -> bytes:
    """One keep-alive ``GET /`` on an open connection; returns the body."""
    writer.write(f"GET / HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if not head.startswith(b"HTTP/1.1 200"):
        raise ConnectionError(f"answer {head[:40]!r}")
    return await reader.readexactly(length)


async def _open_one(port: int) -> Conn:
    reader, writer = await asyncio.open_connection(HOST, port)
    body = await _get(reader, writer, port)
    if body != HELLO.body:
        raise ConnectionError(f"body {body[:40]!r}")
    return reader, writer


async def _open_many(port: int, count: int) -> tuple[list[Conn], list[str]]:
    conns: list[Conn] = []
    errors: list[str] = []
    for start in range(0, count, BATCH):
        batch = min(BATCH, count - start)
        results = await asyncio.gather(
            *(_open_one(port) for _ in range(batch)), return_exceptions=True
        )
        for r in results:
            if isinstance(r, BaseException):
                errors.append(f"{type(r).__name__}: {r}")
            else:
                conns.append(r)
    return conns, errors


def _close(conns: list[Conn]) -> None:
    for _, writer in conns:
        writer.close()


async def _measure(server: Server, count: int, settle: float) -> dict[str, Any]:
    """Open ``count`` idle keep-alive connections to ``server``; its RSS before and after."""
    assert server.pid is not None
    warm, errors = await _open_many(server.port, WARMUP_CONNECTIONS)
    _close(warm)
    if errors:
        raise ConnectionError(f"warm-up: {len(errors)} connections failed: {errors[0]}")
    await asyncio.sleep(settle)
    before = rss_kib(server.pid)
    started = time.perf_counter()
    conns, errors = await _open_many(server.port, count)
    opened_s = time.perf_counter() - started
    try:
        await asyncio.sleep(settle)
        after = rss_kib(server.pid)
        if errors:
            raise ConnectionError(f"{len(errors)} of {count} connections failed: {errors[0]}")
        step = max(1, len(conns) // RECHECK)
        for reader, writer in conns[::step][:RECHECK]:
            if await _get(reader, writer, server.port) != HELLO.body:
                raise ConnectionError("a second request on an idle connection went wrong")
    finally:
        _close(conns)
    return {
        "connections": count,
        "rss_before_kib": before,
        "rss_after_kib": after,
        "kib_per_conn": (after - before) / count,
        "open_s": round(opened_s, 3),
    }


def measure_app(
    spec: AppSpec, args: argparse.Namespace, taskset: list[str], log_dir: Path
) -> dict[str, Any] | str:
    """One fresh server, one measurement: the numbers, or why there are none
    (a string starting with ``SKIP`` when the app cannot run here)."""
    missing = spec.missing_requirement()
    if missing:
        return f"SKIP {missing}"
    server = Server(spec, taskset, log_dir)
    server.start()
    try:
        status = server.wait_ready(args.startup_timeout)
        if status == "skip":
            tail = server.log_tail(3).splitlines()
            return "SKIP " + (tail[-1].removeprefix("SKIP: ") if tail else "import failed")
        if status is None and spec.expected_http not in (None, server.engine):
            status = f"runs on the {server.engine} parser, not {spec.expected_http}"
        status = status or check_route(server, HELLO, warmup_requests=100)
        if status is not None:
            return status
        try:
            result = asyncio.run(_measure(server, args.connections, args.settle))
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            return f"{type(exc).__name__}: {exc}"
        if not server.alive():
            return f"server died (status {server.returncode()})"
        result["http"] = server.engine
        return result
    finally:
        if not server.alive():
            print(server.log_tail(), file=sys.stderr)
        server.stop()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.mem_bench",
        description="Server RSS per idle keep-alive HTTP connection.",
    )
    p.add_argument("--connections", type=int, default=2000, help="idle connections (2000)")
    p.add_argument("--rounds", type=int, default=1, help="fresh servers per app, median (1)")
    p.add_argument(
        "--only",
        help="comma-separated apps (default: " + ",".join(DEFAULT_APPS) + ")",
    )
    p.add_argument("--settle", type=float, default=1.0, help="seconds before reading RSS (1)")
    p.add_argument("--server-cpus", help="taskset CPU list for the servers (default: 1st CPU)")
    p.add_argument("--client-cpus", help=argparse.SUPPRESS)  # plan_cpus reads it
    p.add_argument("--no-pin", action="store_true", help="do not pin the servers")
    p.add_argument("--startup-timeout", type=float, default=30.0, help="seconds per server")
    p.add_argument("--json", type=Path, help="write the results as JSON to this path")
    args = p.parse_args(argv)
    if args.connections < 1 or args.rounds < 1:
        p.error("--connections and --rounds must be >= 1")
    names = [a.name for a in APPS]
    wanted = list(DEFAULT_APPS)
    if args.only:
        wanted = [APP_ALIASES.get(n.strip(), n.strip()) for n in args.only.split(",") if n.strip()]
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            p.error(f"unknown app(s) {', '.join(unknown)}; choose from {', '.join(names)}")
    args.apps = [a for a in APPS if a.name in wanted]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if not Path("/proc/self/status").exists():
        print("mem_bench needs Linux's /proc; skipped")
        return 0
    limit = raise_fd_limit()  # for our sockets, and inherited by the servers
    if limit < args.connections + 200:
        print(f"RLIMIT_NOFILE is {limit}: too low for {args.connections} connections")
        return 1
    cpus = plan_cpus(args)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"memory per idle keep-alive connection: {args.connections} connections, one GET /"
        f" each; {args.rounds} round(s); {cpus.description.split(',')[0]};"
        f" load average {load:.2f}"
    )
    results: dict[str, list[dict[str, Any]]] = {a.name: [] for a in args.apps}
    problems: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="mem-bench-") as log_dir:
        order = list(args.apps)
        for rnd in range(args.rounds):
            shift = rnd % len(order)
            for spec in order[shift:] + order[:shift]:
                if spec.name in problems:
                    continue
                outcome = measure_app(spec, args, cpus.server, Path(log_dir))
                if isinstance(outcome, str):
                    problems[spec.name] = outcome
                    print(f"  {spec.name}: {outcome}")
                    continue
                results[spec.name].append(outcome)
                print(
                    f"  round {rnd + 1}: {spec.name:<17} {outcome['kib_per_conn']:6.2f} KiB/conn"
                    f"  (RSS {outcome['rss_before_kib'] / 1024:.1f} ->"
                    f" {outcome['rss_after_kib'] / 1024:.1f} MiB)",
                    flush=True,
                )
    summary = report(results, problems)
    if args.json is not None:
        doc = {"settings": {"connections": args.connections, "rounds": args.rounds}}
        doc.update(summary=summary, rounds=results, problems=problems)
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
    failed = [name for name, why in problems.items() if not why.startswith("SKIP")]
    return 1 if failed else 0


def report(
    results: dict[str, list[dict[str, Any]]], problems: dict[str, str]
) -> list[dict[str, Any]]:
    rows: list[list[str]] = []
    summary: list[dict[str, Any]] = []
    for name, runs in results.items():
        if name in problems or not runs:
            why = problems.get(name, "not measured")
            rows.append([name, "-", "-", "-", "-", "-", why])
            continue
        per_conn = statistics.median(r["kib_per_conn"] for r in runs)
        target = TARGET_KIB.get(name)
        shown = verdict(per_conn, target, at_most=True)
        summary.append({"app": name, "kib_per_conn": round(per_conn, 2), "target": target})
        summary[-1]["verdict"] = shown
        rows.append(
            [
                name,
                runs[0]["http"],
                f"{statistics.median(r['rss_before_kib'] for r in runs) / 1024:.1f}",
                f"{statistics.median(r['rss_after_kib'] for r in runs) / 1024:.1f}",
                f"{per_conn:.2f}",
                "-" if target is None else f"<= {target:.2f}",
                shown or "-",
            ]
        )
    headers = ["app", "http", "RSS before MiB", "after MiB", "KiB/conn", "target", "verdict"]
    print("\n" + fmt_table(headers, rows, right={2, 3, 4}))
    print("(RSS moves in pages and allocator arenas: small differences are noise)")
    return summary


if __name__ == "__main__":
    sys.exit(main())
