"""Pub/sub fan-out benchmark: one publisher to N WebSocket subscribers spread over two
server processes sharing one Redis — tornadish.pubsub beside encode/broadcaster.

    python -m bench.pubsub_bench [--subscribers=1000] [--rate=20] [--seconds=5]
                                 [--burst=200] [--only=tornadish,broadcaster]

For each library, a redis-server of the benchmark's own (Debian package
``redis-server``; installed with apt-get when running as root, otherwise the benchmark
says how and exits 2) and two server processes (uvloop when installed), each a tornadish
``WebSocketHandler`` whose every connection subscribes to one channel through the
library under test and forwards each message to its client. Only the pub/sub library
differs: ``tornadish.pubsub.Broadcast`` (``redis://``: a Lua script XADDs and PUBLISHes
each message; one SUBSCRIBE per process; bounded queues) or ``broadcaster.Broadcast``
(``redis://``: plain PUBLISH; one SUBSCRIBE per process; unbounded queues). The
publisher, in this process, uses the same library; this process is also every client
(a minimal raw-socket WebSocket reader, the same for both).

- **latency**: ``--rate`` messages per second for ``--seconds``, each carrying the
  monotonic clock at publishing (one clock for every process of the machine); for each
  delivery to each subscriber, receive time minus publish time: p50 and p99, and the
  share of the deliveries that arrived.
- **burst**: ``--burst`` messages published back to back; messages per second from
  the first publish until every subscriber has the last one (deliveries per second is
  that times N), and what was lost (tornadish: gap markers from its overflow policy).

Numbers on a shared machine are indicative only; the client, in one Python process
reading N sockets, is often the bottleneck, and it is the same for both libraries.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench._servers import raise_fd_limit
from bench.ws_bench import _open

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
CHANNEL = "bench"
LIBRARIES = ("tornadish", "broadcaster")
_NO_PERSISTENCE = ("--save", "", "--appendonly", "no", "--dir")
_SERVER = (sys.executable, "-m", "bench.pubsub_bench", "--serve")


# -- the servers (run with --serve) -------------------------------------------------


async def _serve_app(library: str, port: int, redis_url: str) -> None:
    from tornadish.web import Application
    from tornadish.websocket import WebSocketHandler

    bc: Any
    if library == "tornadish":
        from tornadish.pubsub import Broadcast

        bc = Broadcast(redis_url, history=100, max_queue=1000)
    else:
        from broadcaster import Broadcast as EncodeBroadcast

        bc = EncodeBroadcast(redis_url)
    await bc.connect()

    async def hold() -> None:
        # One subscription per process held from the start, read and discarded, for both
        # libraries, working around two races of broadcaster 0.3.1 that would be
        # measured as loss: its subscribe() drops subscribers when the first ones of a
        # channel arrive together (each awaits the backend's SUBSCRIBE, then replaces
        # the channel's set of queues with its own); and its Redis listener, woken by
        # the first SUBSCRIBE before redis-py has recorded the channel, finds nothing
        # subscribed and sleeps until the next SUBSCRIBE (of another channel, here).
        if library == "tornadish":
            async with bc.subscribe(CHANNEL) as sub:
                async for _ in sub:
                    pass
        else:
            async with bc.subscribe(channel=CHANNEL) as sub:
                await asyncio.sleep(0.1)
                async with bc.subscribe(channel=CHANNEL + ":wake"):
                    async for _ in sub:
                        pass

    holding = asyncio.ensure_future(hold())
    await asyncio.sleep(0.5)

    class Subscriber(WebSocketHandler):
        def open(self) -> None:
            self.relay = asyncio.ensure_future(self.forward())

        async def forward(self) -> None:
            if library == "tornadish":
                async with bc.subscribe(CHANNEL) as sub:
                    self.write_message("ready")
                    async for m in sub:
                        await self.write_message("gap" if m.gap else m.data)
            else:
                async with bc.subscribe(channel=CHANNEL) as sub:
                    self.write_message("ready")
                    async for event in sub:
                        await self.write_message(event.message)

        def on_close(self) -> None:
            self.relay.cancel()

    Application([(r"/ws", Subscriber)]).listen(port, HOST, backlog=4096)
    await holding


def _serve(library: str, port: int, redis_url: str) -> None:
    raise_fd_limit()
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    asyncio.run(_serve_app(library, port, redis_url))


# -- Redis and the server processes -------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _redis_binary() -> str:
    found = shutil.which("redis-server")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        cmd = ["apt-get", "install", "-y", "--no-install-recommends", "redis-server"]
        if subprocess.run(cmd, capture_output=True, env=env).returncode != 0:
            subprocess.run(["apt-get", "update"], capture_output=True)
            subprocess.run(cmd, capture_output=True, env=env)
        found = shutil.which("redis-server")
    if found is None:
        print("redis-server is needed: apt-get install -y redis-server", file=sys.stderr)
        raise SystemExit(2)
    return found


def _wait_port(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with status {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), 0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port}")


@contextlib.contextmanager
def _processes(library: str) -> Iterator[tuple[str, list[int]]]:
    """A fresh redis-server and two servers for ``library``: (redis URL, ports)."""
    procs: list[subprocess.Popen[bytes]] = []
    tmp = tempfile.mkdtemp(prefix="pubsub-bench-")
    try:
        redis_port = _free_port()
        redis = subprocess.Popen(
            [_redis_binary(), "--port", str(redis_port), "--bind", HOST, *_NO_PERSISTENCE, tmp],
            stdout=subprocess.DEVNULL,
        )
        procs.append(redis)
        _wait_port(redis_port, redis, "redis-server")
        url = f"redis://{HOST}:{redis_port}/0"
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        ports = [_free_port(), _free_port()]
        for port in ports:
            server = subprocess.Popen(
                [*_SERVER, library, "--port", str(port), "--redis", url],
                cwd=ROOT,
                env=env,
                start_new_session=True,
            )
            procs.append(server)
            _wait_port(port, server, f"the {library} server")
        yield url, ports
    finally:
        for proc in reversed(procs):
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGKILL if proc is not procs[0] else signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


# -- the clients ----------------------------------------------------------------------


@dataclass
class Client:
    """One subscriber's socket and what it received."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    received: int = 0
    gaps: int = 0
    latencies: list[float] = field(default_factory=list)
    last: int = -1
    changed: asyncio.Event = field(default_factory=asyncio.Event)


async def _read_text(reader: asyncio.StreamReader) -> bytes:
    """One unmasked server frame's payload (the servers send short text frames)."""
    head = await reader.readexactly(2)
    n = head[1] & 0x7F
    if n == 126:
        n = int.from_bytes(await reader.readexactly(2), "big")
    elif n == 127:
        n = int.from_bytes(await reader.readexactly(8), "big")
    return await reader.readexactly(n)


async def _listen(client: Client, timed: list[bool]) -> None:
    with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
        while True:
            payload = await _read_text(client.reader)
            now = time.monotonic()
            if payload == b"gap":
                client.gaps += 1
                continue
            n, _, sent = payload.partition(b" ")
            client.received += 1
            client.last = int(n)
            if timed[0]:
                client.latencies.append(now - float(sent))
            client.changed.set()


async def _connect(ports: list[int], count: int) -> list[Client]:
    clients: list[Client] = []
    for i in range(0, count, 100):
        opened = await asyncio.gather(
            *(_open(ports[(i + j) % len(ports)]) for j in range(min(100, count - i)))
        )
        clients += [Client(reader, writer) for reader, writer in opened]
    for client in clients:  # each is subscribed once its server says so
        assert await asyncio.wait_for(_read_text(client.reader), 30) == b"ready"
    return clients


async def _until_all(clients: list[Client], last: int, timeout: float) -> float:
    """Wait until every client received message ``last``; returns when that was."""
    deadline = time.monotonic() + timeout
    for client in clients:
        while client.last < last and time.monotonic() < deadline:
            client.changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(client.changed.wait(), deadline - time.monotonic())
    return time.monotonic()


async def _measure(
    library: str, ports: list[int], url: str, args: argparse.Namespace
) -> dict[str, float]:
    publisher: Any
    if library == "tornadish":
        from tornadish.pubsub import Broadcast

        publisher = Broadcast(url, history=100)

        async def publish(text: str) -> None:
            await publisher.publish(CHANNEL, text)
    else:
        from broadcaster import Broadcast as EncodeBroadcast

        publisher = EncodeBroadcast(url)

        async def publish(text: str) -> None:
            await publisher.publish(channel=CHANNEL, message=text)

    await publisher.connect()
    clients = await _connect(ports, args.subscribers)
    timed = [True]
    readers = [asyncio.ensure_future(_listen(c, timed)) for c in clients]
    try:
        # Latency at a steady rate.
        count = int(args.rate * args.seconds)
        start = time.monotonic()
        for n in range(count):
            await asyncio.sleep(max(0.0, start + n / args.rate - time.monotonic()))
            await publish(f"{n} {time.monotonic()!r}")
        await _until_all(clients, count - 1, timeout=30)
        latencies = sorted(x for c in clients for x in c.latencies) or [float("nan")]
        delivered = sum(c.received for c in clients) / (count * len(clients))
        # A burst, back to back.
        timed[0] = False
        base = count
        for c in clients:
            c.received = c.gaps = 0
        start = time.monotonic()
        for n in range(base, base + args.burst):
            await publish(f"{n} 0")
        published = time.monotonic() - start
        end = await _until_all(clients, base + args.burst - 1, timeout=60)
        got = sum(c.received for c in clients)
        return {
            "subscribers": len(clients),
            "p50_ms": statistics.median(latencies) * 1e3,
            "p99_ms": latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1e3,
            "delivered": delivered,
            "burst_msgs_s": args.burst / (end - start),
            "burst_deliveries_s": got / (end - start),
            "publish_s": args.burst / published,
            "lost": args.burst * len(clients) - got,
            "gaps": sum(c.gaps for c in clients),
        }
    finally:
        for task in readers:
            task.cancel()
        for c in clients:
            c.writer.close()
        await publisher.disconnect()


def _report(results: dict[str, dict[str, float]], args: argparse.Namespace) -> None:
    print(
        f"\n{args.subscribers} WebSocket subscribers over 2 server processes, one Redis; "
        f"latency at {args.rate:g} msg/s for {args.seconds:g} s, then a burst of {args.burst}"
    )
    head = (
        f"{'library':<12} {'p50 ms':>8} {'p99 ms':>8} {'arrived':>8} "
        f"{'burst msg/s':>12} {'deliveries/s':>13} {'publish/s':>10} {'lost':>6} {'gaps':>5}"
    )
    print(head)
    print("-" * len(head))
    for name, r in results.items():
        print(
            f"{name:<12} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['delivered']:>8.1%} "
            f"{r['burst_msgs_s']:>12,.0f} {r['burst_deliveries_s']:>13,.0f} "
            f"{r['publish_s']:>10,.0f} {r['lost']:>6,.0f} {r['gaps']:>5,.0f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=20.0, help="messages/s, latency run")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--only", default=",".join(LIBRARIES))
    parser.add_argument("--serve", choices=LIBRARIES, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--redis", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve(args.serve, args.port, args.redis)
        return
    if importlib.util.find_spec("redis") is None:
        print("redis-py is needed: pip install 'tornadish[redis]'", file=sys.stderr)
        raise SystemExit(2)
    raise_fd_limit()
    results: dict[str, dict[str, float]] = {}
    for library in args.only.split(","):
        if library == "broadcaster" and importlib.util.find_spec("broadcaster") is None:
            print("skip broadcaster: not installed (the `bench` extra lists it)")
            continue
        print(f"{library}: {args.subscribers} subscribers ...", flush=True)
        with _processes(library) as (url, ports):
            results[library] = asyncio.run(_measure(library, ports, url, args))
    _report(results, args)


if __name__ == "__main__":
    main()
