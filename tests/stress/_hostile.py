"""Point 2: slow and hostile clients against one server, with a healthy client watching.

``hostile(impl, counts)`` starts a server with short timeouts, measures a healthy
client's latency alone, then again while these attackers run:

- ``slowloris``: a request head sent one byte at a time, never finished;
- ``slow-body``: a complete head promising a body, a few bytes of it, then silence;
- ``trickle-body``: a body sent one byte every half second (faster than the silence
  allowed by ``body_timeout``, slower than any useful upload: ``min_body_rate``);
- ``never-reads``: pipelined requests for 1 MiB answers, with a tiny receive window,
  and nothing ever read;
- ``half-open``: connections that never send a byte;
- ``half-closed``: half a request line, then the client's FIN.

Each attacker's socket is watched through the kernel (``TCP_INFO``, which reads
nothing from it) to time when the server hung up on it. Afterwards the server's
descriptors are counted while the attackers still hold their ends, so a connection the
server forgot to close cannot hide behind the client closing it.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from . import _clients as c
from ._app import raise_nofile_limit
from ._server import ROOT, ServerProcess


@dataclass(frozen=True)
class Timeouts:
    """The server's timeouts for the scenario, short so the test can watch them fire."""

    idle: float = 3.0
    header: float = 2.0
    body: float = 2.0


STRESS_TIMEOUTS = Timeouts()
SMOKE_TIMEOUTS = Timeouts(idle=1.5, header=1.0, body=1.0)
HEALTHY_GAP = 0.02  # between the healthy client's requests
HEALTHY_RECONNECT = 20  # a fresh connection every this many requests

# TCP states that mean the server has sent its FIN or a reset.
_SERVER_GONE = {6, 7, 8, 9, 11}  # TIME_WAIT, CLOSE, CLOSE_WAIT, LAST_ACK, CLOSING

STRESS_COUNTS = {
    "slowloris": 200,
    "slow-body": 200,
    "trickle-body": 100,
    "never-reads": 50,
    "half-open": 2000,
    "half-closed": 300,
}
SMOKE_COUNTS = {
    "slowloris": 20,
    "slow-body": 20,
    "trickle-body": 10,
    "never-reads": 5,
    "half-open": 200,
    "half-closed": 30,
}


def close_limits(impl: str, t: Timeouts) -> dict[str, float | None]:
    """The timeout expected to end each attack (None: no timeout applies)."""
    tornado = impl == "tornado"
    return {
        # Tornado bounds the request head with its idle timeout.
        "slowloris": t.idle if tornado else t.header,
        "slow-body": t.body,
        # Tornado's body_timeout bounds the whole body; tornadish's bounds silence, and
        # past it a body must average min_body_rate (240 B/s): either way, body_timeout.
        "trickle-body": t.body,
        "never-reads": t.idle,
        "half-open": t.idle,
        "half-closed": t.idle,
    }


@dataclass
class AttackStats:
    """How the server dealt with one kind of attacker."""

    count: int
    limit_s: float | None
    connected: int = 0
    closed: int = 0
    close_seconds: list[float] = field(default_factory=list)

    @property
    def median_s(self) -> float:
        return c.percentile(self.close_seconds, 0.5)

    @property
    def max_s(self) -> float:
        return max(self.close_seconds, default=0.0)

    def summary(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "connected": self.connected,
            "closed": self.closed,
            "limit_s": self.limit_s,
            "median_close_s": round(self.median_s, 2),
            "max_close_s": round(self.max_s, 2),
        }


@dataclass
class HostileResult:
    impl: str
    timeouts: dict[str, float] = field(default_factory=dict)
    base_ms: dict[str, float] = field(default_factory=dict)
    attack_ms: dict[str, float] = field(default_factory=dict)
    healthy_requests: dict[str, int] = field(default_factory=dict)
    healthy_errors: list[str] = field(default_factory=list)
    attacks: dict[str, AttackStats] = field(default_factory=dict)
    fds_base: int = 0
    fds_peak: int = 0
    fds_attackers_still_open: int = 0
    fds_after: int = 0
    server_errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["attacks"] = {k: v.summary() for k, v in self.attacks.items()}
        return d

    def lines(self) -> list[str]:
        out = [
            f"{self.impl}: healthy p50/p99 {self.base_ms['p50']:.1f}/{self.base_ms['p99']:.1f}"
            f" ms alone, {self.attack_ms['p50']:.1f}/{self.attack_ms['p99']:.1f} ms under"
            f" attack ({self.healthy_requests}), errors {len(self.healthy_errors)}; server fds"
            f" {self.fds_base} -> peak {self.fds_peak} -> {self.fds_attackers_still_open}"
            f" with attackers still open -> {self.fds_after}"
        ]
        for name, st in self.attacks.items():
            limit = "none" if st.limit_s is None else f"{st.limit_s:g} s"
            out.append(
                f"  {name:12} {st.closed}/{st.connected} closed by server (timeout {limit}),"
                f" median {st.median_s:.2f} s, max {st.max_s:.2f} s"
            )
        return out


class _Attacker:
    __slots__ = ("closed_at", "kind", "opened_at", "port", "seen", "sock", "task")

    def __init__(self, kind: str, sock: socket.socket) -> None:
        self.kind = kind
        self.sock = sock
        self.port = int(sock.getsockname()[1])
        self.opened_at = time.monotonic()
        self.closed_at: float | None = None
        self.seen = False  # the server has been seen holding this connection
        self.task: asyncio.Future[None] | None = None  # the sender, if it keeps sending

    def check(self, server_ports: set[int] | None = None) -> bool:
        """Record (and say) whether the server has let go of this connection: it sent
        its FIN or a reset, or (``server_ports``: what the server holds now) it no
        longer has a descriptor for it. An abort with output still queued sends
        neither FIN nor reset at once, so the second test is the one that counts."""
        if self.closed_at is None:
            gone = False
            if server_ports is not None:
                if self.port in server_ports:
                    self.seen = True
                elif self.seen:
                    gone = True
            if not gone:
                try:
                    gone = c.tcp_state(self.sock) in _SERVER_GONE
                except OSError:
                    gone = True
            if gone:
                self.closed_at = time.monotonic()
        return self.closed_at is not None

    def send(self, data: bytes) -> bool:
        try:
            self.sock.send(data)
            return True
        except OSError:  # reset or full: either way the server is done with us
            return False


async def _open_attacker(kind: str, port: int, rcvbuf: int | None = None) -> _Attacker:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    try:
        await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, (c.HOST, port)), 30)
    except BaseException:
        sock.close()
        raise
    return _Attacker(kind, sock)


async def _slowloris(a: _Attacker, stop: asyncio.Event) -> None:
    a.send(b"GET / HTTP/1.1\r\nHost: stress\r\n")
    header = b"X-Slow: " + b"a" * 10_000
    for i in range(len(header)):
        if stop.is_set() or a.check() or not a.send(header[i : i + 1]):
            return
        await asyncio.sleep(0.3)


async def _trickle(a: _Attacker, stop: asyncio.Event) -> None:
    a.send(_body_head(100_000))
    while not stop.is_set() and not a.check() and a.send(b"x"):
        await asyncio.sleep(0.5)


def _body_head(length: int) -> bytes:
    return (
        f"POST /echo HTTP/1.1\r\nHost: stress\r\nContent-Length: {length}\r\n"
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()


async def _attack(kind: str, port: int, stop: asyncio.Event) -> _Attacker:
    a = await _open_attacker(kind, port, rcvbuf=4096 if kind == "never-reads" else None)
    if kind == "slowloris":
        a.task = asyncio.ensure_future(_slowloris(a, stop))
    elif kind == "slow-body":
        a.send(_body_head(100_000) + b"x" * 10)  # ... and then nothing more
    elif kind == "trickle-body":
        a.task = asyncio.ensure_future(_trickle(a, stop))
    elif kind == "never-reads":
        a.send(c.get("/big?n=1048576") * 8)
    elif kind == "half-closed":
        a.send(b"GET / HT")
        a.sock.shutdown(socket.SHUT_WR)
    # half-open: connected, silent
    return a


class _Healthy:
    """A well-behaved client: small GETs on keep-alive connections, reconnecting now
    and then; it records each request's latency (connect included when it connects).

    It runs in a process of its own (``python -m tests.stress._hostile PORT SECONDS``),
    so the attackers' bookkeeping in the test process cannot delay it and blur what is
    measured: only the server's behaviour (and the shared CPU) is.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.errors: list[str] = []

    async def run(self, seconds: float) -> list[float]:
        latencies: list[float] = []
        conn: c.HTTPClient | None = None
        deadline = time.monotonic() + seconds
        i = 0
        while time.monotonic() < deadline:
            t0 = time.perf_counter()
            try:
                if conn is None or i % HEALTHY_RECONNECT == 0:
                    if conn is not None:
                        conn.close()
                    conn = await c.connect(c.HTTPClient, self.port, timeout=10)
                status, body = await conn.request(c.get("/"), timeout=10)
                if status != 200 or body != b"Hello, world":
                    raise c.ClientError(f"answered {status} {body[:40]!r}")
                latencies.append(time.perf_counter() - t0)
            except (OSError, asyncio.TimeoutError, c.ClientError) as e:
                self.errors.append(f"{type(e).__name__}: {e}")
                conn = None
            i += 1
            await asyncio.sleep(HEALTHY_GAP)
        if conn is not None:
            conn.close()
        return latencies


async def _run_healthy(port: int, seconds: float, started: asyncio.Event | None) -> Any:
    """Run the healthy client in a child process for ``seconds``; its JSON report.
    ``started`` is set when it begins measuring (after its warm-up)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.stress._hostile",
        str(port),
        str(seconds),
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = await proc.stdout.readline()
    if line.strip() != b"START":
        await proc.wait()
        raise RuntimeError(f"healthy client did not start: {line!r}")
    if started is not None:
        started.set()
    out, _ = await proc.communicate()
    return json.loads(out)


def _ms(latencies: list[float]) -> dict[str, float]:
    return {
        "p50": round(c.percentile(latencies, 0.5) * 1000, 2),
        "p99": round(c.percentile(latencies, 0.99) * 1000, 2),
        "max": round(max(latencies, default=0.0) * 1000, 2),
    }


async def _watch(srv: ServerProcess, attackers: list[_Attacker], stop: asyncio.Event) -> None:
    while not stop.is_set():
        ports = srv.peer_ports()
        for a in attackers:
            a.check(ports)
        await asyncio.sleep(0.2)


async def _scenario(
    srv: ServerProcess,
    counts: dict[str, int],
    timeouts: Timeouts,
    base_seconds: float,
    attack_seconds: float,
    grace: float,
    result: HostileResult,
) -> None:
    result.fds_base = srv.fd_count()
    no_run: dict[str, list[Any]] = {"latencies": [], "errors": []}
    base = await _run_healthy(srv.port, base_seconds, None) if base_seconds else no_run

    stop = asyncio.Event()
    watch_stop = asyncio.Event()
    limits = close_limits(srv.impl, timeouts)
    result.attacks = {k: AttackStats(n, limits[k]) for k, n in counts.items()}
    jobs = [_attack(kind, srv.port, stop) for kind, n in counts.items() for _ in range(n)]
    started = asyncio.Event()
    healthy_task = asyncio.ensure_future(_run_healthy(srv.port, attack_seconds, started))
    await started.wait()
    opened = await c.bounded_gather(jobs, 128)
    all_connected = time.monotonic()
    attackers = [a for a in opened if isinstance(a, _Attacker)]
    failed = [a for a in opened if not isinstance(a, _Attacker)]
    if failed:
        result.healthy_errors.append(f"{len(failed)} attackers could not connect: {failed[0]!r}")
    watcher = asyncio.ensure_future(_watch(srv, attackers, watch_stop))
    peak = 0
    while not healthy_task.done():
        peak = max(peak, srv.fd_count())
        await asyncio.sleep(0.25)
    under_attack = healthy_task.result()

    # Give every timed attack its timeout plus ``grace`` to be closed.
    longest = max((v for v in limits.values() if v is not None), default=0.0)
    give_up = all_connected + longest + grace
    timed = [a for a in attackers if limits[a.kind] is not None]
    while time.monotonic() < give_up and not all(a.closed_at for a in timed):
        await asyncio.sleep(0.2)
    stop.set()
    await asyncio.sleep(0.3)
    watch_stop.set()
    await watcher
    await asyncio.gather(*(a.task for a in attackers if a.task is not None))
    ports = srv.peer_ports()
    for a in attackers:
        a.check(ports)
        st = result.attacks[a.kind]
        st.connected += 1
        if a.closed_at is not None:
            st.closed += 1
            st.close_seconds.append(a.closed_at - a.opened_at)
    result.fds_peak = max(peak, srv.fd_count())
    # An attacker answered 408 gets the server's FIN at once, its descriptor is kept
    # a moment longer (a lingering close, so the answer is read): wait for that too.
    untimed = sum(1 for a in attackers if limits[a.kind] is None)
    result.fds_attackers_still_open = await asyncio.to_thread(
        srv.wait_fds, result.fds_base + untimed, 5.0
    )
    for a in attackers:
        a.sock.close()
    result.base_ms = _ms(base["latencies"])
    result.attack_ms = _ms(under_attack["latencies"])
    result.healthy_requests = {
        "alone": len(base["latencies"]),
        "under attack": len(under_attack["latencies"]),
    }
    result.healthy_errors += base["errors"] + under_attack["errors"]


def hostile(
    impl: str,
    counts: dict[str, int] | None = None,
    *,
    timeouts: Timeouts = STRESS_TIMEOUTS,
    base_seconds: float = 4.0,
    attack_seconds: float = 6.0,
    grace: float = 4.0,
) -> HostileResult:
    """Run the slow/hostile client scenario against a fresh ``impl`` server: the
    healthy client alone for ``base_seconds``, then for ``attack_seconds`` from the
    start of the attack; attackers get their timeout plus ``grace`` to be closed."""
    counts = dict(STRESS_COUNTS if counts is None else counts)
    raise_nofile_limit()
    result = HostileResult(impl=impl, timeouts=asdict(timeouts))
    with ServerProcess(
        impl,
        idle_timeout=timeouts.idle,
        header_timeout=timeouts.header,
        body_timeout=timeouts.body,
    ) as srv:
        c.run(_scenario(srv, counts, timeouts, base_seconds, attack_seconds, grace, result))
        result.fds_after = srv.wait_fds(result.fds_base, timeout=15)
        result.server_errors = srv.error_lines()[:10]
    return result


async def _healthy_main(port: int, seconds: float) -> None:
    healthy = _Healthy(port)
    await healthy.run(0.5)  # warm-up: imports, first connection
    healthy.errors.clear()
    print("START", flush=True)
    latencies = await healthy.run(seconds)
    print(json.dumps({"latencies": latencies, "errors": healthy.errors}), flush=True)


if __name__ == "__main__":
    c.run(_healthy_main(int(sys.argv[1]), float(sys.argv[2])))
