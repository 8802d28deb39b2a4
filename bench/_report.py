"""Tables for :mod:`bench.run`: per-app results, ratios with targets, the pipelined run."""

from __future__ import annotations

import platform
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from bench._servers import AppSpec, Route
from bench._wrk import WrkResult


@dataclass
class Cell:
    """All rounds of one app on one route (or on the pipelined run)."""

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


@dataclass(frozen=True)
class Ratio:
    """``subject`` req/s over ``base`` req/s; ``target`` is the minimum (None: none)."""

    subject: str
    base: str
    target: float | None = None


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


def verdict(value: float | None, target: float | None, *, at_most: bool = False) -> str | None:
    """``PASS``/``MISS`` against a target (a minimum, or a maximum with ``at_most``);
    None when there is no target or no value."""
    if value is None or target is None:
        return None
    ok = value <= target if at_most else value >= target
    return "PASS" if ok else "MISS"


def ratio_rows(
    cells: dict[tuple[str, str], Cell], route_names: Iterable[str], ratios: Sequence[Ratio]
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for route in route_names:
        for r in ratios:
            subject = cells.get((r.subject, route))
            other = cells.get((r.base, route))
            value = subject.rps / other.rps if subject and other and other.rps else None
            rows.append(
                {
                    "route": route,
                    "ratio": f"{r.subject}/{r.base}",
                    "value": None if value is None else round(value, 3),
                    "target": r.target,
                    "verdict": verdict(value, r.target),
                }
            )
    return rows


def print_ratios(rows: list[dict[str, Any]], first: str = "route") -> None:
    table: list[list[str]] = []
    for r in rows:
        value = "n/a" if r["value"] is None else f"{r['value']:.2f}x"
        target = "-" if r["target"] is None else f">= {r['target']:.2f}x"
        shown = r["verdict"] or ("-" if r["target"] is None else "n/a")
        table.append([r["route"], r["ratio"], value, target, shown])
    print(fmt_table([first, "ratio (req/s)", "value", "target", "verdict"], table, right={2}))


def print_report(
    cells: dict[tuple[str, str], Cell],
    apps: Sequence[AppSpec],
    routes: Sequence[Route],
    ratios: list[dict[str, Any]],
    floor: str,
) -> None:
    """The per-app table (``vs h11``: req/s over the ``floor`` app's), then the ratios."""
    rows: list[list[str]] = []
    for route in routes:
        base = cells.get((floor, route.name))
        for app in apps:
            cell = cells.get((app.name, route.name))
            if cell is None or not cell.rounds:
                continue
            vs = f"{cell.rps / base.rps:.2f}x" if base and base.rps else "-"
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
    print_ratios(ratios)


def print_pipeline_report(
    cells: dict[tuple[str, str], Cell],
    apps: Sequence[AppSpec],
    route: str,
    depth: int,
    broken: dict[str, str],
    ratios: list[dict[str, Any]],
) -> None:
    """The pipelined section: req/s per app (or why it has none), then its ratios.

    No latency columns: wrk times a whole batch, and its percentiles under pipelining
    are unreliable (wrk 4.1 at times reports 0 for p90/p99); they stay in the JSON.
    """
    rows: list[list[str]] = []
    for app in apps:
        cell = cells.get((app.name, route))
        status = f"broken: {broken[app.name]}" if app.name in broken else "ok"
        if cell is not None and cell.rounds:
            if status == "ok" and cell.errors:
                status = "socket errors (see JSON)"
            rows.append(
                [
                    app.name,
                    f"{cell.rps:,.0f}",
                    f"{cell.spread * 100:.1f}%",
                    str(cell.errors),
                    str(len(cell.rounds)),
                    status,
                ]
            )
        elif app.name in broken:
            rows.append([app.name, "-", "-", "-", "0", status])
    print(f"\npipelined: GET / with {depth} requests per write (TechEmpower plaintext style)")
    headers = ["app", "req/s", "spread", "errors", "n", "status"]
    print(fmt_table(headers, rows, right={1, 2, 3, 4}))
    if ratios:
        print()
        print_ratios(ratios, first="run")


def versions(apps: Sequence[AppSpec], extra: Iterable[str] = ("uvloop", "h11")) -> dict[str, str]:
    out = {"python": platform.python_version()}
    names = {a.framework for a in apps} | set(extra)
    for dist in sorted(names):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out
