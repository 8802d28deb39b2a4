"""Point 5: a bounded mixed workload, with the server's memory and descriptors sampled.

``soak(impls, seconds)`` starts one server per implementation and drives the same
workload against each, at the same time, for ``seconds``:

- HTTP workers on keep-alive connections (reconnecting every so often) cycling through
  ``GET /``, ``POST /echo`` with a body of up to 64 KiB and a multipart upload of two
  files (up to 200 KiB), checking every answer;
- WebSocket workers that connect, echo a score of messages of up to 16 KiB, and close;
- long-lived WebSockets, each echoing a message every couple of seconds.

After a warm-up, each server's RSS and open descriptors are sampled every
``sample_every`` seconds. The trend compares the mean of the last third of the samples
with the first third, and fits a line (KiB per minute) through all of them.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from . import _clients as c
from ._server import ServerProcess

STRESS_SECONDS = float(os.environ.get("TORNADISH_SOAK_SECONDS", "120"))
SMOKE_SECONDS = 5.0

HTTP_WORKERS = 6
WS_WORKERS = 2
LONG_LIVED_WS = 20
RECONNECT_EVERY = 25


@dataclass
class SoakResult:
    impl: str
    seconds: float
    ops: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    samples: list[tuple[float, int, int]] = field(default_factory=list)  # (s, KiB, fds)
    fds_base: int = 0
    fds_after: int = 0
    server_errors: list[str] = field(default_factory=list)

    def thirds(self, column: int) -> tuple[float, float]:
        """Medians of the first and last thirds of a sample column (1: RSS, 2: fds);
        medians, so that one sample taken amid a burst of uploads does not decide."""
        values = [float(s[column]) for s in self.samples]
        k = max(1, len(values) // 3)
        return c.percentile(values[:k], 0.5), c.percentile(values[-k:], 0.5)

    def slope_per_minute(self, column: int) -> float:
        """Least-squares slope of a sample column, per minute."""
        n = len(self.samples)
        if n < 2:
            return 0.0
        xs = [s[0] for s in self.samples]
        ys = [float(s[column]) for s in self.samples]
        mx, my = sum(xs) / n, sum(ys) / n
        den = sum((x - mx) ** 2 for x in xs)
        return (
            0.0
            if den == 0
            else 60 * sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den
        )

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        first, last = self.thirds(1)
        ffirst, flast = self.thirds(2)
        d["trend"] = {
            "rss_first_third_kib": round(first),
            "rss_last_third_kib": round(last),
            "rss_slope_kib_per_min": round(self.slope_per_minute(1), 1),
            "fds_first_third": round(ffirst, 1),
            "fds_last_third": round(flast, 1),
            "fds_slope_per_min": round(self.slope_per_minute(2), 2),
        }
        return d

    def lines(self) -> list[str]:
        first, last = self.thirds(1)
        ffirst, flast = self.thirds(2)
        total = sum(self.ops.values())
        out = [
            f"{self.impl}: {self.seconds:g} s, {total} operations {dict(self.ops)}, "
            f"{len(self.errors)} errors; RSS first/last third {first / 1024:.1f}/"
            f"{last / 1024:.1f} MiB (slope {self.slope_per_minute(1):+.0f} KiB/min), fds "
            f"{ffirst:.1f}/{flast:.1f} (slope {self.slope_per_minute(2):+.2f}/min), "
            f"fds {self.fds_base} before, {self.fds_after} after",
            "  samples (s, RSS MiB, fds): "
            + " ".join(f"{t:.1f}:{rss / 1024:.1f}:{fds}" for t, rss, fds in self.samples),
        ]
        return out


class _Load:
    """The workload against one server; counts operations and errors."""

    def __init__(self, port: int, deadline: float) -> None:
        self.port = port
        self.deadline = deadline
        self.ops: Counter[str] = Counter()
        self.errors: list[str] = []
        self.rng = random.Random(port)

    def _error(self, what: str, e: BaseException) -> None:
        if len(self.errors) < 1000:
            self.errors.append(f"{what}: {type(e).__name__}: {e}")

    async def http_worker(self) -> None:
        conn: c.HTTPClient | None = None
        i = 0
        while time.monotonic() < self.deadline:
            what = ("get", "post", "upload")[i % 3]
            try:
                if conn is None or conn.lost or i % RECONNECT_EVERY == 0:
                    if conn is not None:
                        conn.close()
                    conn = await c.connect(c.HTTPClient, self.port)
                await getattr(self, "_" + what)(conn)
                self.ops[what] += 1
            except (OSError, asyncio.TimeoutError, c.ClientError, ValueError) as e:
                self._error(what, e)
                conn = None
            i += 1
        if conn is not None:
            conn.close()

    async def _get(self, conn: c.HTTPClient) -> None:
        status, body = await conn.request(c.get("/"))
        if status != 200 or body != b"Hello, world":
            raise c.ClientError(f"GET / answered {status} {body[:40]!r}")

    async def _post(self, conn: c.HTTPClient) -> None:
        data = self.rng.randbytes(self.rng.randint(1, 64 * 1024))
        status, body = await conn.request(c.post("/echo", data))
        if status != 200 or json.loads(body) != {"len": len(data)}:
            raise c.ClientError(f"POST /echo answered {status} {body[:60]!r}")

    async def _upload(self, conn: c.HTTPClient) -> None:
        sizes = [self.rng.randint(1, 4096), self.rng.randint(1, 200 * 1024)]
        files = {"small": self.rng.randbytes(sizes[0]), "large": self.rng.randbytes(sizes[1])}
        data, ctype = c.multipart({"title": "soak"}, files)
        status, body = await conn.request(c.post("/upload", data, ctype))
        want = {"files": {"small": [sizes[0]], "large": [sizes[1]]}, "fields": ["title"]}
        if status != 200 or json.loads(body) != want:
            raise c.ClientError(f"upload answered {status} {body[:80]!r}")

    async def ws_worker(self) -> None:
        while time.monotonic() < self.deadline:
            try:
                ws = await c.connect(c.WSClient, self.port)
                await ws.handshake()
                for _ in range(20):
                    size = self.rng.randint(1, 16 * 1024)
                    binary = self.rng.random() < 0.5
                    payload = self.rng.randbytes(size) if binary else b"t" * size
                    await ws.echo(payload, binary=binary)
                    self.ops["ws message"] += 1
                await ws.close()
                self.ops["ws session"] += 1
            except (OSError, asyncio.TimeoutError, c.ClientError) as e:
                self._error("ws", e)
                await asyncio.sleep(0.1)

    async def long_lived_ws(self) -> None:
        try:
            ws = await c.connect(c.WSClient, self.port)
            await ws.handshake()
            while time.monotonic() < self.deadline:
                await ws.echo(b"still here")
                self.ops["ws long-lived"] += 1
                pause = 2.0 + self.rng.random()
                await asyncio.sleep(min(pause, max(0.0, self.deadline - time.monotonic())))
            await ws.close()
        except (OSError, asyncio.TimeoutError, c.ClientError) as e:
            self._error("long-lived ws", e)

    async def run(self) -> None:
        await asyncio.gather(
            *(self.http_worker() for _ in range(HTTP_WORKERS)),
            *(self.ws_worker() for _ in range(WS_WORKERS)),
            *(self.long_lived_ws() for _ in range(LONG_LIVED_WS)),
        )


async def _sample(
    servers: list[ServerProcess],
    results: list[SoakResult],
    start: float,
    warmup: float,
    every: float,
    deadline: float,
) -> None:
    await asyncio.sleep(warmup)
    while time.monotonic() < deadline - every / 2:
        now = time.monotonic() - start
        for srv, res in zip(servers, results, strict=True):
            res.samples.append((round(now, 2), srv.rss_kib(), srv.fd_count()))
        await asyncio.sleep(every)


async def _soak(
    servers: list[ServerProcess], results: list[SoakResult], seconds: float, every: float
) -> None:
    start = time.monotonic()
    deadline = start + seconds
    loads = [_Load(srv.port, deadline) for srv in servers]
    # Warm-up: the first tenth (at most 10 s) fills caches and allocator arenas.
    warmup = min(10.0, seconds / 10)
    await asyncio.gather(
        *(load.run() for load in loads),
        _sample(servers, results, start, warmup, every, deadline),
    )
    for load, res in zip(loads, results, strict=True):
        res.ops = dict(load.ops)
        res.errors = load.errors


def soak(impls: list[str], seconds: float, sample_every: float | None = None) -> list[SoakResult]:
    """Run the mixed workload against one fresh server per ``impls`` entry, at once."""
    every = sample_every if sample_every is not None else max(0.5, min(3.0, seconds / 40))
    results = [SoakResult(impl=impl, seconds=seconds) for impl in impls]
    servers = [ServerProcess(impl) for impl in impls]
    try:
        for srv, res in zip(servers, results, strict=True):
            srv.start()
            res.fds_base = srv.fd_count()
        c.run(_soak(servers, results, seconds, every))
        for srv, res in zip(servers, results, strict=True):
            res.fds_after = srv.wait_fds(res.fds_base, timeout=15)
            res.server_errors = srv.error_lines()[:10]
    finally:
        for srv in servers:
            srv.close()
    return results
