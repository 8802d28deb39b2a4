"""The stress report: tornadish's reliability figures next to Tornado's, as one table.

::

    python -m tests.stress.report                  # measure everything now (~4 min)
    python -m tests.stress.report --quick          # smoke sizes (~40 s)
    python -m tests.stress.report --results FILE   # the figures `make stress` recorded
    python -m tests.stress.report --impls tornadish --connections 5000 --soak-seconds 60

The measurements are the stress tests' own (``tests/stress/_hold.py``, ``_hostile.py``,
``_soak.py``): each server runs in a child process on uvloop, loopback only. Under
``make stress`` the tests record their figures (``TORNADISH_STRESS_RESULTS``) and this
script only prints them, so nothing is measured twice.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

from ._hold import SMOKE_CONNECTIONS, STRESS_CONNECTIONS, hold
from ._hostile import SMOKE_COUNTS, SMOKE_TIMEOUTS, STRESS_COUNTS, STRESS_TIMEOUTS, hostile
from ._server import stamp
from ._soak import SMOKE_SECONDS, STRESS_SECONDS, soak

NAMES = {"tornadish": "tornadish", "tornado": "Tornado"}


def measure(impls: list[str], connections: int, soak_seconds: float, quick: bool) -> Any:
    """Run every measurement; the same structure the stress tests record."""
    data: dict[str, dict[str, Any]] = {"connections": {}, "hostile": {}, "soak": {}}
    for impl in impls:
        for kind in ("http", "ws"):
            r = hold(impl, connections, kind, quick=quick)
            print(r.line(), file=sys.stderr, flush=True)
            data["connections"][f"{impl} {kind}"] = {**r.as_dict(), **stamp()}
    for impl in impls:
        h = hostile(
            impl,
            SMOKE_COUNTS if quick else STRESS_COUNTS,
            timeouts=SMOKE_TIMEOUTS if quick else STRESS_TIMEOUTS,
            base_seconds=2.0 if quick else 4.0,
            attack_seconds=3.0 if quick else 6.0,
        )
        print("\n".join(h.lines()), file=sys.stderr, flush=True)
        data["hostile"][impl] = {**h.as_dict(), **stamp()}
    for s in soak(impls, soak_seconds):
        print("\n".join(s.lines()), file=sys.stderr, flush=True)
        data["soak"][s.impl] = {**s.as_dict(), **stamp()}
    return data


# -- the table ------------------------------------------------------------------


def _mib(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB"


def _conn_rows(data: dict[str, Any], impls: list[str]) -> list[tuple[str, dict[str, str]]]:
    rows: list[tuple[str, dict[str, str]]] = []
    conns = data.get("connections", {})
    for kind, label in (("http", "HTTP keep-alive"), ("ws", "WebSocket")):
        got = {i: conns[f"{i} {kind}"] for i in impls if f"{i} {kind}" in conns}
        if not got:
            continue
        rows.append(
            (
                f"{label} connections held at once",
                {i: f"{d['held']}/{d['wanted']}, {d['errors']} errors" for i, d in got.items()},
            )
        )
        rows.append(
            (
                f"server RSS per idle {label} connection",
                {i: f"{d['rss_per_conn_kib']:.1f} KiB" for i, d in got.items()},
            )
        )
        rows.append(
            (
                f"server RSS, idle -> {label} connections held",
                {
                    i: f"{_mib(d['rss_base_kib'])} -> {_mib(d['rss_held_kib'])}"
                    for i, d in got.items()
                },
            )
        )
        what = "an echo" if kind == "ws" else "a request"
        rows.append(
            (
                f"{label}: {what} on every connection at once",
                {i: f"{d['second_round_seconds']:.1f} s" for i, d in got.items()},
            )
        )
    return rows


def _hostile_rows(data: dict[str, Any], impls: list[str]) -> list[tuple[str, dict[str, str]]]:
    got = {i: data["hostile"][i] for i in impls if i in data.get("hostile", {})}
    if not got:
        return []
    rows: list[tuple[str, dict[str, str]]] = [
        (
            "healthy client p50 / p99, alone",
            {
                i: f"{d['base_ms']['p50']:.1f} / {d['base_ms']['p99']:.1f} ms"
                for i, d in got.items()
            },
        ),
        (
            "healthy client p50 / p99, under attack",
            {
                i: f"{d['attack_ms']['p50']:.1f} / {d['attack_ms']['p99']:.1f} ms"
                for i, d in got.items()
            },
        ),
        (
            "healthy client errors",
            {i: str(len(d["healthy_errors"])) for i, d in got.items()},
        ),
    ]
    names: list[str] = []
    for d in got.values():
        names += [n for n in d["attacks"] if n not in names]
    for name in names:
        cells: dict[str, str] = {}
        for i, d in got.items():
            st = d["attacks"].get(name)
            if st is None:
                continue
            if st["closed"]:
                limit = "no timeout" if st["limit_s"] is None else f"timeout {st['limit_s']:g} s"
                cells[i] = (
                    f"{st['closed']}/{st['connected']}, median {st['median_close_s']:.1f} s,"
                    f" max {st['max_close_s']:.1f} s ({limit})"
                )
            else:
                cells[i] = f"0/{st['connected']}: held until the client left"
        count = max(d["attacks"][name]["count"] for d in got.values() if name in d["attacks"])
        rows.append((f"{name} x{count}: closed by the server", cells))
    rows.append(
        (
            "server fds under attack: before / peak / after",
            {i: f"{d['fds_base']} / {d['fds_peak']} / {d['fds_after']}" for i, d in got.items()},
        )
    )
    return rows


def _soak_rows(data: dict[str, Any], impls: list[str]) -> list[tuple[str, dict[str, str]]]:
    got = {i: data["soak"][i] for i in impls if i in data.get("soak", {})}
    if not got:
        return []
    seconds = max(d["seconds"] for d in got.values())
    return [
        (
            f"soak {seconds:g} s: operations (errors)",
            {i: f"{sum(d['ops'].values())} ({len(d['errors'])})" for i, d in got.items()},
        ),
        (
            "soak RSS, first -> last third (median)",
            {
                i: f"{_mib(d['trend']['rss_first_third_kib'])} -> "
                f"{_mib(d['trend']['rss_last_third_kib'])}"
                for i, d in got.items()
            },
        ),
        (
            "soak RSS trend",
            {i: f"{d['trend']['rss_slope_kib_per_min']:+.0f} KiB/min" for i, d in got.items()},
        ),
        (
            "soak fds, first -> last third (median)",
            {
                i: f"{d['trend']['fds_first_third']:g} -> {d['trend']['fds_last_third']:g}"
                for i, d in got.items()
            },
        ),
        (
            "soak fds before / after",
            {i: f"{d['fds_base']} / {d['fds_after']}" for i, d in got.items()},
        ),
    ]


def render(data: dict[str, Any], impls: list[str] | None = None) -> str:
    """The figures as a Markdown table, plus when and where they were measured."""
    if impls is None:
        seen: list[str] = []
        for section in data.values():
            for key in section:
                impl = key.split()[0]
                if impl not in seen:
                    seen.append(impl)
        impls = [i for i in NAMES if i in seen]
    rows = _conn_rows(data, impls) + _hostile_rows(data, impls) + _soak_rows(data, impls)
    header = ["figure", *(NAMES.get(i, i) for i in impls)]
    table = [header] + [[label, *(cells.get(i, "-") for i in impls)] for label, cells in rows]
    widths = [max(len(r[k]) for r in table) for k in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [line(table[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in table[1:]]
    stamps = sorted(
        d["measured_at"]
        for section in data.values()
        for d in section.values()
        if isinstance(d, dict) and "measured_at" in d
    )
    loads = [
        d["loadavg"][0]
        for section in data.values()
        for d in section.values()
        if isinstance(d, dict) and "loadavg" in d
    ]
    notes = [
        f"Measured {stamps[0]} .. {stamps[-1]}" if stamps else "Measured: (no time stamps)",
        f"on {platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()},"
        " uvloop, servers in child processes, clients on loopback",
    ]
    if loads:
        notes.append(f"1-min load average during the runs: {min(loads):.1f} .. {max(loads):.1f}")
    return "\n".join([*out, "", *notes])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.stress.report", description=__doc__.split("::")[0].strip()
    )
    parser.add_argument("--results", type=Path, help="print the figures recorded in FILE")
    parser.add_argument("--quick", action="store_true", help="smoke sizes: fast, rough")
    parser.add_argument("--impls", default="tornadish,tornado")
    parser.add_argument("--connections", type=int, default=None)
    parser.add_argument("--soak-seconds", type=float, default=None)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    impls = [i.strip() for i in args.impls.split(",") if i.strip()]
    if args.results is not None:
        if not args.results.exists():
            print(f"no recorded figures in {args.results}", file=sys.stderr)
            return 1
        data = json.loads(args.results.read_text())
    else:
        connections = args.connections or (SMOKE_CONNECTIONS if args.quick else STRESS_CONNECTIONS)
        seconds = args.soak_seconds or (SMOKE_SECONDS if args.quick else STRESS_SECONDS)
        data = measure(impls, connections, seconds, args.quick)
    if args.json is not None:
        args.json.write_text(json.dumps(data, indent=1))
    present = [i for i in impls if any(k.split()[0] == i for s in data.values() for k in s)]
    print(render(data, present or None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
