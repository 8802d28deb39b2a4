"""``python -m bench.client_bench``: tornadish's ``AsyncHTTPClient`` against Tornado's and
aiohttp's ``ClientSession``, all fetching from the same local server.

One server (aiohttp's benchmark app by default: its C parser keeps the server from being
the bottleneck) runs in its own process pinned to the *server CPU*. Each client runs in a
fresh subprocess pinned to the *client CPU*, on uvloop, and after 100 warm-up requests
makes

* ``--requests`` **sequential** GETs (await one, then send the next), then
* ``--requests`` **concurrent** GETs (all started at once; at most ``--connections`` in
  flight: ``max_clients`` for the Tornado-style clients, ``TCPConnector(limit=...)`` for
  aiohttp),

checking every answer; each worker does that ``--repeat`` times and keeps its best run
per mode (the machine's other load costs a run, not the result). Rounds are
interleaved and the client order rotates each round; the reported req/s is the median
over rounds.

Tornado's simple client sends ``Connection: close`` and opens a connection per request;
tornadish and aiohttp keep connections alive in a pool. That difference is the point of
the comparison, not an accident of it.

Run ``python -m bench.client_bench --help`` for the options.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench._report import fmt_table, print_ratios, verdict
from bench._servers import ROOT, Server, plan_cpus
from bench.run import APPS

CLIENTS = ("tornadish", "tornado", "aiohttp")
SUBJECT = "tornadish"
#: tornadish's client over another's, per mode: the minimum (None: shown, no target)
TARGETS: dict[str, float | None] = {"aiohttp": 1.0, "tornado": None}
MODES = ("sequential", "concurrent")
EXPECTED_BODY = b"Hello, world"
WARMUP_REQUESTS = 100


# --------------------------------------------------------------------------- worker


Get = Callable[[], Awaitable[bytes]]


async def _make_client(name: str, url: str, connections: int) -> tuple[Get, Callable[[], Any]]:
    """A ``get()`` coroutine function for the named client, and how to close it."""
    if name == "tornadish":
        from tornadish.httpclient import AsyncHTTPClient

        client = AsyncHTTPClient(force_instance=True, max_clients=connections)

        async def get() -> bytes:
            return (await client.fetch(url)).body

        return get, client.close
    if name == "tornado":
        from tornado.httpclient import AsyncHTTPClient as TornadoClient

        tornado_client = TornadoClient(force_instance=True, max_clients=connections)

        async def get_tornado() -> bytes:
            return (await tornado_client.fetch(url)).body

        return get_tornado, tornado_client.close
    if name == "aiohttp":
        import aiohttp

        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections))

        async def get_aiohttp() -> bytes:
            async with session.get(url) as response:
                return await response.read()

        return get_aiohttp, session.close
    raise ValueError(f"unknown client {name!r}")


async def _measure(
    name: str, url: str, requests: int, connections: int, repeat: int
) -> dict[str, float]:
    """req/s per mode: the best of ``repeat`` runs, so a burst of other load on the
    machine costs a run, not the result."""
    get, close = await _make_client(name, url, connections)
    best = dict.fromkeys(MODES, 0.0)
    try:
        for _ in range(WARMUP_REQUESTS):
            await get()
        for _ in range(repeat):
            started = time.perf_counter()
            for _ in range(requests):
                if await get() != EXPECTED_BODY:
                    raise RuntimeError(f"{name}: wrong body")
            best["sequential"] = max(best["sequential"], requests / (time.perf_counter() - started))
            started = time.perf_counter()
            bodies = await asyncio.gather(*(get() for _ in range(requests)))
            best["concurrent"] = max(best["concurrent"], requests / (time.perf_counter() - started))
            if any(body != EXPECTED_BODY for body in bodies):
                raise RuntimeError(f"{name}: wrong body")
    finally:
        result = close()
        if asyncio.iscoroutine(result):
            await result
    return best


def worker(args: argparse.Namespace) -> int:
    """Run one client's measurement in this process; print the result as one JSON line."""
    import uvloop

    async def main() -> dict[str, float]:
        return await _measure(args.worker, args.url, args.requests, args.connections, args.repeat)

    if args.loop == "uvloop":
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    result = asyncio.run(main())
    print(json.dumps(result), flush=True)
    return 0


# --------------------------------------------------------------------------- harness


def run_worker(
    name: str, url: str, args: argparse.Namespace, taskset: list[str]
) -> dict[str, float] | str:
    """One measurement in a fresh, pinned subprocess: the result, or an error message."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    command = [
        *taskset,
        sys.executable,
        "-m",
        "bench.client_bench",
        "--worker",
        name,
        "--url",
        url,
        "--requests",
        str(args.requests),
        "--connections",
        str(args.connections),
        "--repeat",
        str(args.repeat),
        "--loop",
        args.loop,
    ]
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
        return f"exit status {proc.returncode}: {tail}"
    try:
        result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return f"unreadable output: {proc.stdout[-300:]!r}"
    return result


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.client_bench", description=(__doc__ or "").split("\n\n")[0]
    )
    p.add_argument("--requests", type=int, default=1000, help="requests per mode (1000)")
    p.add_argument("--connections", type=int, default=10, help="in flight at once (10)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (3)")
    p.add_argument("--repeat", type=int, default=3, help="runs per round, best kept (3)")
    p.add_argument("--only", help="comma-separated clients: " + ",".join(CLIENTS))
    servers = [app.name for app in APPS]
    p.add_argument("--server", default="aiohttp", choices=servers, help="server app (aiohttp)")
    p.add_argument("--loop", default="uvloop", choices=["uvloop", "asyncio"])
    p.add_argument("--server-cpus", help="taskset CPU list for the server (default: 1st CPU)")
    p.add_argument("--client-cpus", help="taskset CPU list for the clients (default: 2nd CPU)")
    p.add_argument("--no-pin", action="store_true", help="do not pin with taskset")
    p.add_argument("--json", type=Path, help="write the results as JSON to this path")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--url", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        return worker(args)
    clients = list(CLIENTS)
    if args.only:
        clients = [c.strip() for c in args.only.split(",") if c.strip()]
        unknown = set(clients) - set(CLIENTS)
        if unknown:
            print(f"unknown clients: {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
    cpus = plan_cpus(args)
    for warning in cpus.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"client benchmark: {args.requests} sequential + {args.requests} concurrent GETs "
        f"(<= {args.connections} in flight), best of {args.repeat} runs, {args.rounds} "
        f"rounds, {args.loop} loop\n"
        f"{cpus.description.replace('wrk', 'clients')}; load average {load:.2f}"
    )
    spec = next(app for app in APPS if app.name == args.server)
    results: dict[str, dict[str, list[float]]] = {c: {m: [] for m in MODES} for c in clients}
    failures: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="client-bench-") as log_dir:
        server = Server(spec, cpus.server, Path(log_dir))
        server.start()
        try:
            problem = server.wait_ready(30.0)
            if problem is not None:
                print(f"server {spec.name}: {problem}\n{server.log_tail()}", file=sys.stderr)
                return 1
            print(f"server: {spec.name} at {server.url} ({server.loop_type})\n")
            for round_no in range(args.rounds):
                shift = round_no % len(clients)
                for name in clients[shift:] + clients[:shift]:
                    if name in failures:
                        continue
                    result = run_worker(name, server.url + "/", args, cpus.client)
                    if isinstance(result, str):
                        failures[name] = result
                        print(f"{name} failed: {result}", file=sys.stderr)
                        continue
                    for mode in MODES:
                        results[name][mode].append(result[mode])
                    print(
                        f"round {round_no + 1}: {name:<10} "
                        + "  ".join(f"{m} {result[m]:8,.0f} req/s" for m in MODES),
                        flush=True,
                    )
        finally:
            server.stop()
    report(results, failures, args)
    return 1 if failures else 0


def report(
    results: dict[str, dict[str, list[float]]], failures: dict[str, str], args: argparse.Namespace
) -> None:
    medians = {
        name: {mode: statistics.median(runs) for mode, runs in modes.items()}
        for name, modes in results.items()
        if name not in failures and all(modes.values())
    }
    rows = []
    for name, modes in results.items():
        if name not in medians:  # a client that failed still gets its row
            why = "failed" if name in failures else "not measured"
            rows.append([name, why, "-", why, "-"])
            continue
        cells = [name]
        for mode in MODES:
            runs = modes[mode]
            spread = (max(runs) - min(runs)) / medians[name][mode] if len(runs) > 1 else 0.0
            cells += [f"{medians[name][mode]:,.0f}", f"{spread:.1%}"]
        rows.append(cells)
    headers = ["client", "sequential req/s", "spread", "concurrent req/s", "spread"]
    print("\n" + fmt_table(headers, rows, right={1, 2, 3, 4}))
    ratios: list[dict[str, Any]] = []
    subject = medians.get(SUBJECT)
    if SUBJECT in results:
        for other, target in TARGETS.items():
            if other not in results:
                continue
            for mode in MODES:
                base = medians.get(other)
                value = subject[mode] / base[mode] if subject and base and base[mode] else None
                ratios.append(
                    {
                        "route": mode,
                        "ratio": f"{SUBJECT}/{other}",
                        "value": None if value is None else round(value, 3),
                        "target": target,
                        "verdict": verdict(value, target),
                    }
                )
    if ratios:
        print()
        print_ratios(ratios, first="mode")
        print("(targets are goals: a MISS does not change the exit status)")
    for name, why in failures.items():
        print(f"FAILED {name}: {why}")
    if args.json is not None:
        data = {
            "settings": {k: v for k, v in vars(args).items() if k not in ("json", "worker", "url")},
            "rounds": results,
            "median": medians,
            "ratios": ratios,
            "failures": failures,
        }
        args.json.write_text(json.dumps(data, indent=2))


if __name__ == "__main__":
    sys.exit(main())
