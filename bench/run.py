"""``make bench``: tornadish (on httptools and on h11) against Tornado, aiohttp, uvicorn
and a bare h11 server, under wrk; then the same hello route pipelined 16 deep.

Every app runs in its own subprocess on uvloop, pinned with ``taskset`` to the server
CPU; ``wrk`` runs pinned to another CPU.  Rounds are interleaved (round 1 runs every
app on every route and, for the apps that take part, the pipelined run; then round 2,
...) and the app order rotates from round to round, so drift on the machine hits all
apps alike.  The reported req/s is the median over rounds; p50/p99 latency are the
medians of the per-round percentiles.

Run ``python -m bench.run --help`` for the options; see ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from bench._report import (
    Cell,
    Ratio,
    print_pipeline_report,
    print_report,
    ratio_rows,
    versions,
)
from bench._servers import (
    ROOT,
    AppSpec,
    Route,
    Server,
    check_pipelined,
    check_route,
    indent,
    plan_cpus,
)
from bench._wrk import WrkResult, ensure_wrk, run_wrk, write_scripts, wrk_version

__all__ = ["APPS", "ROOT", "ROUTES", "AppSpec", "Route", "Server", "main", "plan_cpus"]

EXIT_OK = 0
EXIT_FAILED = 1  # a server crashed, answered wrongly, or wrk failed
EXIT_NO_WRK = 2

SUBJECT = "tornadish"  # on httptools
SUBJECT_H11 = "tornadish-h11"
#: Our own apps: trouble under pipelining is a failure for them, a note for the others.
OWN_APPS = frozenset({SUBJECT, SUBJECT_H11})
FLOOR = "bare-h11"

APPS: tuple[AppSpec, ...] = (
    AppSpec(
        SUBJECT,
        "bench.apps.tornadish_app",
        "tornadish",
        env=(("TORNADISH_HTTP", "httptools"),),
        pipeline=True,
        requires=("httptools",),
    ),
    AppSpec(
        SUBJECT_H11,
        "bench.apps.tornadish_app",
        "tornadish",
        env=(("TORNADISH_HTTP", "h11"),),
        pipeline=True,
    ),
    AppSpec("tornado", "bench.apps.tornado_app", "tornado"),
    AppSpec("aiohttp", "bench.apps.aiohttp_app", "aiohttp", pipeline=True),
    AppSpec(
        "uvicorn-httptools",
        "bench.apps.uvicorn_app",
        "uvicorn",
        args=("--http", "httptools"),
        pipeline=True,
        requires=("httptools",),
    ),
    AppSpec("uvicorn-h11", "bench.apps.uvicorn_app", "uvicorn", args=("--http", "h11")),
    AppSpec(FLOOR, "bench.apps.bare_h11", "h11"),
)
APP_ALIASES = {
    "h11": FLOOR,
    "bare_h11": FLOOR,
    "bare": FLOOR,
    "tornadish-httptools": SUBJECT,
    "uvicorn": "uvicorn-httptools",
}
NAME_WIDTH = max(len(a.name) for a in APPS)

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
#: The pipelined run: the hello route, ``--pipeline-depth`` requests per write.
PIPELINE = Route("pipeline", "/", b"Hello, world", "text/html", is_json=False)

#: Per route: tornadish's targets (minimum req/s ratios); ``None``: shown, no target.
TARGETS: tuple[Ratio, ...] = (
    Ratio(SUBJECT, "aiohttp", 1.0),
    Ratio(SUBJECT, "uvicorn-httptools", 1.0),
    Ratio(SUBJECT_H11, "tornado", 1.6),
    Ratio(SUBJECT_H11, FLOOR, 0.65),
    Ratio(SUBJECT, SUBJECT_H11),  # what the httptools engine buys
    Ratio(SUBJECT_H11, "uvicorn-h11"),
)
#: The pipelined run's ratios (the target is the hello route's: at least aiohttp).
PIPELINE_TARGETS: tuple[Ratio, ...] = (
    Ratio(SUBJECT, "aiohttp", 1.0),
    Ratio(SUBJECT, "uvicorn-httptools"),
    Ratio(SUBJECT_H11, "aiohttp"),
)


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.run",
        description=(
            "Benchmark tornadish (httptools and h11 engines) against Tornado, aiohttp, "
            "uvicorn and bare h11 with wrk, plain and pipelined."
        ),
    )
    p.add_argument("--duration", type=int, help="seconds per wrk run (default 5; quick 2)")
    p.add_argument("--rounds", type=int, help="interleaved rounds (default 3; quick 1)")
    p.add_argument("--warmup", type=int, help="wrk warm-up seconds per app/route (default 1)")
    p.add_argument("--connections", type=int, default=50, help="wrk -c (default 50)")
    p.add_argument("--threads", type=int, default=1, help="wrk -t (default 1)")
    p.add_argument("--quick", action="store_true", help="smoke run: 1 round x 2 s, ~50 s")
    p.add_argument(
        "--only",
        help="comma-separated apps to run: " + ",".join(a.name for a in APPS),
    )
    p.add_argument("--routes", help="comma-separated routes: " + ",".join(r.name for r in ROUTES))
    p.add_argument(
        "--pipeline",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run the hello route pipelined, for "
        + ",".join(a.name for a in APPS if a.pipeline)
        + " (default: on)",
    )
    p.add_argument("--pipeline-depth", type=int, default=16, help="requests per write (16)")
    p.add_argument(
        "--pipeline-connections", type=int, help="wrk -c of the pipelined run (--connections)"
    )
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
    if args.pipeline_connections is None:
        args.pipeline_connections = args.connections
    for name in (
        "duration",
        "rounds",
        "connections",
        "threads",
        "pipeline_depth",
        "pipeline_connections",
    ):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
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
        self.script, self.pipeline_script = write_scripts(tmp)
        self.servers: dict[str, Server] = {}
        self.active: list[AppSpec] = []
        self.cells: dict[tuple[str, str], Cell] = {}
        self.skipped: dict[str, str] = {}
        self.failures: list[str] = []
        #: apps that got the pipelined run wrong: why (no more pipelined runs for them)
        self.pipeline_broken: dict[str, str] = {}
        self.load_start = loadavg()
        self.load_end = float("nan")

    @property
    def pipelined_apps(self) -> list[AppSpec]:
        return [a for a in self.apps if a.pipeline] if self.args.pipeline else []

    def pipelines(self, spec: AppSpec) -> bool:
        """Whether ``spec`` gets the pipelined run (now)."""
        return spec in self.pipelined_apps and spec.name not in self.pipeline_broken

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
        n = len(self.apps) * len(self.routes) + len(self.pipelined_apps)
        estimate = n * (a.rounds * (a.duration + a.pause) + a.warmup) + 2 * len(self.apps)
        print(f"tornadish bench: {wrk_version(self.wrk)}; {self.cpus.description}")
        print(
            f"  {len(self.apps)} apps x {len(self.routes)} routes x {a.rounds} rounds"
            f" x {a.duration}s, wrk -t{a.threads} -c{a.connections}, warm-up {a.warmup}s"
        )
        if self.pipelined_apps:
            print(
                f"  pipelined hello ({a.pipeline_depth} per write, -c{a.pipeline_connections})"
                f" for {', '.join(s.name for s in self.pipelined_apps)}"
            )
        print(f"  about {estimate:.0f}s; load average at start: {self.load_start:.2f}")
        for w in self.cpus.warnings:
            print(f"  WARNING: {w}")
        if self.load_start > 0.5:
            print("  WARNING: the machine is not idle; numbers will be noisy")

    def start_servers(self) -> None:
        """Start every app at once (they idle while others are measured), then check each."""
        for spec in self.apps:
            missing = spec.missing_requirement()
            if missing:
                self.skipped[spec.name] = missing
                print(f"  SKIP {spec.name}: {missing}")
                continue
            self.servers[spec.name] = server = Server(spec, self.cpus.server, self.tmp)
            server.start()
        for spec in self.apps:
            if spec.name not in self.servers:
                continue
            server = self.servers[spec.name]
            status = server.wait_ready(self.args.startup_timeout)
            if status == "skip":
                tail = server.log_tail(3).splitlines()
                reason = tail[-1].removeprefix("SKIP: ") if tail else "import failed"
                self.skipped[spec.name] = reason
                print(f"  SKIP {spec.name}: {reason}")
                continue
            if status is None:
                status = self.check_answers(server)
            if status is not None:
                self.failures.append(f"{spec.name}: {status}")
                print(f"  FAIL {spec.name}: {status}\n{indent(server.log_tail())}")
                server.stop()
                continue
            note = "" if "uvloop" in server.loop_type else "  WARNING: not on uvloop"
            parser = f" http {server.engine}" if server.engine != "-" else ""
            print(
                f"  ready {spec.name:<{NAME_WIDTH}} pid {server.pid} port {server.port}"
                f"{parser} loop {server.loop_type}{note}"
            )
            self.active.append(spec)
            if self.pipelines(spec):
                self.check_pipelining(spec)

    def check_answers(self, server: Server) -> str | None:
        """Right parser, right answers on every route (plus warm-up requests)."""
        expected = server.spec.expected_http
        if expected is not None and server.engine != expected:
            return f"runs on the {server.engine} parser, not {expected}"
        for route in self.routes:
            status = check_route(server, route, warmup_requests=100)
            if status:
                return status
        return None

    def check_pipelining(self, spec: AppSpec) -> None:
        """Before any wrk run: ``--pipeline-depth`` pipelined requests, every answer right."""
        server = self.servers[spec.name]
        problem = check_pipelined(server, PIPELINE, self.args.pipeline_depth)
        time.sleep(0.1)  # a server that crashed on it has exited by now
        if not server.alive():
            problem = f"server died (status {server.returncode()}); {problem or 'all answered'}"
        if problem is not None:
            self.pipeline_trouble(spec, problem)

    def pipeline_trouble(self, spec: AppSpec, problem: str) -> None:
        """``spec`` got pipelining wrong: no more pipelined runs for it; a failure when it
        is ours, a note otherwise (a dead server is restarted for the plain runs)."""
        self.pipeline_broken[spec.name] = problem
        server = self.servers[spec.name]
        own = spec.name in OWN_APPS
        if own:
            self.failures.append(f"{spec.name}: pipelined: {problem}")
        print(f"  {'FAIL' if own else 'BROKEN'} {spec.name} under pipelining: {problem}")
        if not server.alive():
            print(indent(server.log_tail()))
            if own:
                self.active.remove(spec)
            else:
                self.restart(spec)

    def restart(self, spec: AppSpec) -> None:
        """Start ``spec`` again after it died under pipelining (its plain runs go on)."""
        self.servers[spec.name].stop()
        self.servers[spec.name] = server = Server(spec, self.cpus.server, self.tmp)
        server.start()
        status = server.wait_ready(self.args.startup_timeout) or self.check_answers(server)
        if status is not None:
            print(f"  {spec.name} could not be restarted ({status}); dropped")
            server.stop()
            self.active.remove(spec)
        else:
            print(f"  {spec.name} restarted (pid {server.pid}) for the plain runs")

    def measure(self, spec: AppSpec, route: Route, duration: int) -> WrkResult | None:
        server = self.servers[spec.name]
        pipelined = route is PIPELINE
        result, err = run_wrk(
            self.wrk,
            self.cpus.client,
            server.url + route.path,
            duration=duration,
            connections=self.args.pipeline_connections if pipelined else self.args.connections,
            threads=self.args.threads,
            script=self.pipeline_script if pipelined else self.script,
            script_args=(str(self.args.pipeline_depth),) if pipelined else (),
        )
        time.sleep(self.args.pause)
        if pipelined:
            batch = self.args.pipeline_connections * self.args.pipeline_depth
            problem = pipeline_problem(result, err, server, batch)
            if problem is not None:
                self.pipeline_trouble(spec, problem)
                return None
            return result
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

    def app_routes(self, spec: AppSpec) -> list[Route]:
        """What one app runs per round: the routes, then (maybe) the pipelined run."""
        return [*self.routes, PIPELINE] if self.pipelines(spec) else list(self.routes)

    def warm_up(self) -> None:
        if not self.args.warmup:
            return
        print(f"warm-up ({self.args.warmup}s per app and route)")
        for spec in list(self.active):
            for route in self.app_routes(spec):
                if spec in self.active and (route is not PIPELINE or self.pipelines(spec)):
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
                for route in self.app_routes(spec):
                    if spec not in self.active:
                        break
                    if route is PIPELINE and not self.pipelines(spec):
                        continue
                    result = self.measure(spec, route, self.args.duration)
                    if result is None:
                        continue
                    key = (spec.name, route.name)
                    self.cells.setdefault(key, Cell(*key)).rounds.append(result)
                    errs = f"  errors {result.total_errors}" if result.total_errors else ""
                    latency = (
                        f"  (x{self.args.pipeline_depth} per write)"
                        if route is PIPELINE
                        else f"  p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms"
                    )
                    print(
                        f"  {spec.name:<{NAME_WIDTH}} {route.name:<8} {result.rps:>10,.0f} req/s"
                        f"{latency}{errs}"
                    )

    def report(self) -> None:
        ratios = ratio_rows(self.cells, [r.name for r in self.routes], TARGETS)
        print_report(self.cells, self.apps, self.routes, ratios, FLOOR)
        if not any((SUBJECT, route.name) in self.cells for route in self.routes):
            print(f"\n({SUBJECT} was not measured: its ratios are n/a)")
        pipeline_ratios: list[dict[str, Any]] = []
        if self.pipelined_apps:
            pipeline_ratios = ratio_rows(self.cells, [PIPELINE.name], PIPELINE_TARGETS)
            for row in pipeline_ratios:
                row["route"] = f"x{self.args.pipeline_depth}"
            print_pipeline_report(
                self.cells,
                self.pipelined_apps,
                PIPELINE.name,
                self.args.pipeline_depth,
                self.pipeline_broken,
                pipeline_ratios,
            )
        print(
            "\ntargets are goals, not tests: a MISS does not change the exit status"
            f"\nload average: {self.load_start:.2f} at start, {self.load_end:.2f} at end"
        )
        for name, reason in self.skipped.items():
            print(f"skipped {name}: {reason}")
        for f in self.failures:
            print(f"FAILED {f}")
        if any(c.errors for c in self.cells.values()):
            print("note: some runs had wrk errors (non-2xx or socket errors): see 'errors'")
        if self.args.json:
            path: Path = self.args.json
            path.parent.mkdir(parents=True, exist_ok=True)
            doc = self.results_doc(ratios, pipeline_ratios)
            path.write_text(json.dumps(doc, indent=2) + "\n")
            print(f"results written to {path}")

    def results_doc(
        self, ratios: list[dict[str, Any]], pipeline_ratios: list[dict[str, Any]]
    ) -> dict[str, Any]:
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
                "versions": versions(self.apps, ("uvloop", "h11", "httptools", "starlette")),
                "loops": {n: s.loop_type for n, s in self.servers.items()},
                "http_parsers": {n: s.engine for n, s in self.servers.items()},
                "settings": {
                    "duration_s": a.duration,
                    "rounds": a.rounds,
                    "warmup_s": a.warmup,
                    "connections": a.connections,
                    "threads": a.threads,
                    "pipeline": a.pipeline,
                    "pipeline_depth": a.pipeline_depth,
                    "pipeline_connections": a.pipeline_connections,
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
            "pipeline": {"ratios": pipeline_ratios, "broken": self.pipeline_broken},
            "skipped": self.skipped,
            "failures": self.failures,
        }


def pipeline_problem(result: WrkResult | None, err: str, server: Server, batch: int) -> str | None:
    """What went wrong in a pipelined wrk run (a dead server, no or wrong answers,
    answers that never came), or None. ``batch``: connections x depth, what the first
    write on every connection asks for; a working server answers that many times over."""
    if not server.alive():
        return f"server died (status {server.returncode()})"
    if result is None:
        return err
    if result.requests < batch:
        return (
            f"{result.requests} answers to {batch} requests written at once"
            " (pipelined requests left unanswered)"
        )
    if result.errors["status"]:
        return f"{result.errors['status']} non-2xx answers"
    if result.errors["timeout"]:
        return f"{result.errors['timeout']} requests timed out (answers missing)"
    return None


if __name__ == "__main__":
    sys.exit(main())
