"""Point 1: many concurrent keep-alive connections held by one server process.

``hold(impl, n, kind)`` opens ``n`` connections (HTTP keep-alive or WebSocket) to a
fresh server process, has each make a request (or echo a message), holds them all open,
has every one of them make a second request at once, then measures the server's
resident memory per idle connection against the baseline taken before the flood, and
closes everything, checking that the server lets go of every descriptor.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from . import _clients as c
from ._app import raise_nofile_limit
from ._server import ServerProcess

STRESS_CONNECTIONS = int(os.environ.get("TORNADISH_STRESS_CONNECTIONS", "10000"))
SMOKE_CONNECTIONS = 500
CONNECT_CONCURRENCY = 256


@dataclass
class HoldResult:
    """What one run measured (sizes in KiB)."""

    impl: str
    kind: str
    wanted: int
    held: int = 0
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    rss_base_kib: int = 0
    rss_held_kib: int = 0
    fds_base: int = 0
    fds_held: int = 0
    fds_after_close: int = 0
    connect_seconds: float = 0.0
    second_round_seconds: float = 0.0
    server_errors: list[str] = field(default_factory=list)

    @property
    def rss_per_conn_kib(self) -> float:
        return (self.rss_held_kib - self.rss_base_kib) / max(1, self.held)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["rss_per_conn_kib"] = round(self.rss_per_conn_kib, 2)
        return d

    def line(self) -> str:
        return (
            f"{self.impl:9} {self.kind:4} held {self.held}/{self.wanted}, errors {self.errors}, "
            f"RSS {self.rss_base_kib / 1024:.1f} -> {self.rss_held_kib / 1024:.1f} MiB "
            f"= {self.rss_per_conn_kib:.2f} KiB/conn, fds {self.fds_base} -> {self.fds_held}"
            f" -> {self.fds_after_close} after close, connect {self.connect_seconds:.1f} s, "
            f"all-at-once round {self.second_round_seconds:.1f} s"
        )


async def _open_http(port: int) -> c.HTTPClient:
    conn = await c.connect(c.HTTPClient, port)
    status, body = await conn.request(c.get("/"))
    if status != 200 or body != b"Hello, world":
        conn.close()
        raise c.ClientError(f"first request answered {status} {body[:40]!r}")
    return conn


async def _again_http(conn: c.HTTPClient) -> None:
    status, body = await conn.request(c.get("/"), timeout=60)
    if status != 200 or body != b"Hello, world":
        raise c.ClientError(f"second request answered {status} {body[:40]!r}")


async def _open_ws(port: int) -> c.WSClient:
    ws = await c.connect(c.WSClient, port)
    await ws.handshake()
    await ws.echo(b"hello")
    return ws


async def _again_ws(ws: c.WSClient) -> None:
    await ws.echo(b"hello again", timeout=60)


async def _warm_up(port: int, kind: str, rounds: int) -> None:
    # Imports, caches and allocator arenas that any first requests fill: not per-connection.
    for _ in range(rounds):
        conns: list[Any] = []
        for _ in range(10):
            conns.append(await (_open_ws(port) if kind == "ws" else _open_http(port)))
        for conn in conns:
            if kind == "ws":
                await _again_ws(conn)
                await conn.close()
            else:
                await _again_http(conn)
                conn.close()


async def _settle(srv: ServerProcess, seconds: float = 1.0) -> int:
    """Let the server go quiet, then read its RSS (the lower of two readings)."""
    await asyncio.sleep(seconds)
    first = srv.rss_kib()
    await asyncio.sleep(0.3)
    return min(first, srv.rss_kib())


def _kind_of(e: BaseException) -> str:
    text = f"{type(e).__name__}: {e}"
    return text[:80]


async def _hold(srv: ServerProcess, n: int, kind: str, quick: bool, result: HoldResult) -> None:
    port = srv.port
    await _warm_up(port, kind, 5 if quick else 20)
    await asyncio.sleep(0.2 if quick else 0.5)
    result.fds_base = srv.fd_count()
    result.rss_base_kib = await _settle(srv, 0.3 if quick else 1.0)

    opener: Any = _open_ws if kind == "ws" else _open_http
    t0 = time.perf_counter()
    opened = await c.bounded_gather((opener(port) for _ in range(n)), CONNECT_CONCURRENCY)
    result.connect_seconds = time.perf_counter() - t0
    conns: list[Any] = [x for x in opened if not isinstance(x, BaseException)]
    errors: Counter[str] = Counter(_kind_of(x) for x in opened if isinstance(x, BaseException))

    # Every connection asks again, all at once: thousands of requests in flight.
    t0 = time.perf_counter()
    again: Any = _again_ws if kind == "ws" else _again_http
    second = await asyncio.gather(*(again(x) for x in conns), return_exceptions=True)
    result.second_round_seconds = time.perf_counter() - t0
    errors.update(_kind_of(x) for x in second if isinstance(x, BaseException))
    result.held = sum(1 for x in conns if not x.lost)

    result.rss_held_kib = await _settle(srv, 0.3 if quick else 1.5)
    result.fds_held = srv.fd_count()

    if kind == "ws":
        await c.bounded_gather((x.close() for x in conns), 1024)
    else:
        for x in conns:
            x.close()
    await asyncio.sleep(0.2)
    result.errors = sum(errors.values())
    result.error_kinds = dict(errors.most_common(5))


def hold(impl: str, n: int, kind: str = "http", *, quick: bool = False) -> HoldResult:
    """Open, use and hold ``n`` connections of ``kind`` ("http" or "ws") to a fresh
    ``impl`` server; measure and close them (``quick``: shorter warm-up and pauses)."""
    assert kind in ("http", "ws")
    # Our side needs a descriptor per connection too (plus pytest's own).
    limit = raise_nofile_limit()
    if limit < n + 200:
        raise RuntimeError(f"RLIMIT_NOFILE is {limit}; {n} connections need {n + 200}")
    result = HoldResult(impl=impl, kind=kind, wanted=n)
    with ServerProcess(impl) as srv:
        c.run(_hold(srv, n, kind, quick, result))
        # The server closes its side as it reads our FINs; give it time on a busy box.
        result.fds_after_close = srv.wait_fds(result.fds_base, timeout=30)
        result.server_errors = srv.error_lines()[:10]
    return result
