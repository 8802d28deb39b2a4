"""WebSocket benchmark: tornadish on each WebSocket engine against Tornado, aiohttp and
the ``websockets`` library's own server.

    python -m bench.ws_bench [--seconds=5] [--clients=8] [--depth=8] [--idle=5000]
                             [--rounds=1] [--only=NAME,...] [--no-pin]

Each server echoes what it receives, in its own subprocess (uvloop when installed, for
all): tornadish with ``TORNADISH_WS=websockets`` and with ``TORNADISH_WS=wsproto``,
Tornado, aiohttp (``WebSocketResponse``) and websockets
(``websockets.asyncio.server.serve``). A server whose package is missing is skipped.
This process is the client:

- **echo messages/s** — ``--clients`` connections, each keeping ``--depth`` 32-byte
  text messages in flight (one sent for each echo read), for ``--seconds``;
- **64 KiB throughput** — the same with 64 KiB binary messages: MiB/s echoed;
- **RSS per idle connection** — the server's resident memory (``/proc``) before and
  after ``--idle`` handshaken, silent connections, divided by their number;
- **server CPU per message** — the server process's CPU time (``/proc``) over each
  echo run, divided by the messages echoed: what the server spends, whatever the
  scheduling makes of the run.

With ``--rounds=N`` the servers take turns N times and each keeps its best figures
(less noise from a busy machine). Then the ratios of tornadish (websockets engine) to
the websockets server and to aiohttp, with the targets: at least 1.0x the websockets
server on echo and on 64 KiB throughput, at most 8 KiB per idle WebSocket.

The server runs on one CPU and this process (the client) on another, as ``make
bench``'s HTTP step pins them (``--no-pin``: anywhere). The client parses nothing after
each connection's first echo (checked frame by frame): it counts echoes by their size
and sends a message for each, keeping ``--depth`` in flight, so the server is the
bottleneck and the messages/s and the server's CPU per message tell the same story.
Why: a client that awaits each echo before sending again (one in flight) was itself the
bottleneck (100 % of its CPU, the server's at 50 %), and bistable — the same server read
37,000 or 91,000 round trips/s depending on whether the eight connections' messages
happened to fall into step, letting the client batch its reads and writes.

The 64 KiB figure is bound by memory copies (the kernel's and the parser's, a few
per message whatever the server) and varies by up to 30 % between runs for every server:
take ``--rounds`` of 2 or more.

Frames are masked once, ahead of time, with a fixed non-zero key, so the client's cost
stays small and equal. Numbers on a shared machine are indicative only.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench._servers import raise_fd_limit, rss_kib

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
#: Server name -> the WebSocket engine tornadish runs on (None: another framework).
SERVERS: dict[str, str | None] = {
    "tornadish[websockets]": "websockets",
    "tornadish[wsproto]": "wsproto",
    "tornado": None,
    "aiohttp": None,
    "websockets": None,
}
BIG = 64 * 1024
# What the ratios compare, and the targets they are held to.
OURS = "tornadish[websockets]"
ECHO_TARGET = THROUGHPUT_TARGET = 1.0
RSS_TARGET_KIB = 8.0


# -- the servers (run with --serve) -------------------------------------------------


async def _serve_handlers(framework: str, port: int) -> None:
    """A ``WebSocketHandler`` echo on tornadish or Tornado."""
    if framework == "tornado":
        from tornado.web import Application
        from tornado.websocket import WebSocketClosedError, WebSocketHandler
    else:
        from tornadish.web import Application  # type: ignore[assignment]
        from tornadish.websocket import (  # type: ignore[assignment]
            WebSocketClosedError,
            WebSocketHandler,
        )

    class Echo(WebSocketHandler):
        def on_message(self, message: str | bytes) -> None:
            try:
                self.write_message(message, binary=isinstance(message, bytes))
            except WebSocketClosedError:
                pass  # the client leaves by dropping the connection, as it does everywhere

    def quiet(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        # A write the dropped client never reads fails its future (Tornado's does).
        if not isinstance(context.get("exception"), (WebSocketClosedError, OSError)):
            loop.default_exception_handler(context)

    asyncio.get_running_loop().set_exception_handler(quiet)
    Application([(r"/ws", Echo)]).listen(port, HOST, backlog=4096)
    print("ready", flush=True)
    await asyncio.Event().wait()


async def _serve_aiohttp(port: int) -> None:
    from aiohttp import WSMsgType, web

    async def echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await ws.send_str(msg.data)
                elif msg.type is WSMsgType.BINARY:
                    await ws.send_bytes(msg.data)
        except ConnectionResetError:
            pass  # the client leaves by dropping the connection, as it does everywhere
        return ws

    app = web.Application()
    app.router.add_get("/ws", echo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, HOST, port, backlog=4096).start()
    print("ready", flush=True)
    await asyncio.Event().wait()


async def _serve_websockets(port: int) -> None:
    from websockets.asyncio.server import ServerConnection, serve
    from websockets.exceptions import ConnectionClosed

    async def echo(ws: ServerConnection) -> None:
        try:
            async for message in ws:
                await ws.send(message)
        except ConnectionClosed:
            pass  # the client leaves without a close frame, as it does everywhere

    # As the others run: no compression (the client offers none anyway), no pings.
    async with serve(echo, HOST, port, backlog=4096, compression=None, ping_interval=None):
        print("ready", flush=True)
        await asyncio.Event().wait()


def _serve(name: str, port: int) -> None:
    raise_fd_limit()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    try:
        if name == "aiohttp":
            main = _serve_aiohttp(port)
        elif name == "websockets":
            main = _serve_websockets(port)
        else:
            if SERVERS[name] is not None:
                from tornadish._http.ws_engines import resolve_ws

                resolve_ws()  # TORNADISH_WS names the engine; a missing one skips
            main = _serve_handlers("tornado" if name == "tornado" else "tornadish", port)
    except ImportError as e:
        print(f"skip {e}", flush=True)
        return
    try:
        asyncio.run(main)
    except ImportError as e:
        print(f"skip {e}", flush=True)


# -- the client ----------------------------------------------------------------------


async def _open(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(HOST, port, limit=4 * BIG)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET /ws HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(f"handshake refused: {head[:40]!r}")
    return reader, writer


def _client_frame(opcode: int, payload: bytes) -> bytes:
    """A masked client frame, built once: the server unmasks for real, the client pays
    nothing per message."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    key = b"\x37\xfa\x21\x3d"
    whole = (key * (n // 4 + 1))[:n]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(whole, "big")).to_bytes(n, "big")
    return head + key + masked


async def _read_frame(reader: asyncio.StreamReader) -> int:
    """Read one (unmasked, server) frame; returns its payload length."""
    head = await reader.readexactly(2)
    n = head[1] & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", await reader.readexactly(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", await reader.readexactly(8))
    await reader.readexactly(n)
    return n


class _Echoes(asyncio.Protocol):
    """Counts a connection's echoes by their size and sends a message for each one:
    every server answers an unfragmented message with one unmasked frame of the same
    payload, so the client parses nothing and copies nothing (its cost stays small next
    to the server's, which is what is measured)."""

    def __init__(self, frame: bytes, echo_size: int, done: asyncio.Future[None]) -> None:
        self.frame = frame
        self.echo_size = echo_size
        self.done = done
        self.buffered = 0
        self.count = 0
        self.transport: Any = None

    def data_received(self, data: bytes) -> None:
        if self.done.done():
            return
        got, self.buffered = divmod(self.buffered + len(data), self.echo_size)
        if got:
            self.count += got
            self.transport.write(self.frame * got if got > 1 else self.frame)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(ConnectionError(f"the server closed: {exc}"))


def _finish(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)


async def _echo_client(port: int, deadline: float, frame: bytes, size: int, depth: int) -> int:
    """Keep ``depth`` copies of ``frame`` (a ``size``-byte payload) in flight on one
    connection until ``deadline`` (``loop.time()``); returns the echoes read. The
    first echo is read and checked frame by frame."""
    reader, writer = await _open(port)
    writer.write(frame)
    if await _read_frame(reader) != size:
        raise RuntimeError("the echo is not the message sent")
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    header = 2 if size < 126 else 4 if size < 1 << 16 else 10
    counter = _Echoes(frame, header + size, done)
    counter.transport = writer.transport
    writer.transport.set_protocol(counter)
    writer.write(frame * depth)
    timer = loop.call_at(deadline, _finish, done)
    try:
        await done
    finally:
        timer.cancel()
        writer.transport.abort()
    return counter.count


async def _round_trips(
    port: int, pid: int, seconds: float, clients: int, frame: bytes, size: int, depth: int
) -> tuple[float, float]:
    """Echoes per second over ``clients`` connections, each keeping ``depth`` copies
    of ``frame`` in flight, and the server's CPU microseconds per echo."""
    cpu = _cpu_seconds(pid)
    start = time.perf_counter()
    deadline = asyncio.get_running_loop().time() + seconds
    counts = await asyncio.gather(
        *(_echo_client(port, deadline, frame, size, depth) for _ in range(clients))
    )
    elapsed = time.perf_counter() - start
    echoed = max(sum(counts), 1)
    return echoed / elapsed, (_cpu_seconds(pid) - cpu) / echoed * 1e6


def _cpu_seconds(pid: int) -> float:
    # utime and stime, fields 14 and 15 of /proc/PID/stat (after the command's name).
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _measure(
    port: int, pid: int, seconds: float, clients: int, idle: int, depth: int
) -> dict[str, float]:
    echo = _client_frame(0x1, b"x" * 32)
    rate, cpu = await _round_trips(port, pid, seconds, clients, echo, 32, depth)
    big_frame = _client_frame(0x2, os.urandom(BIG))
    big, big_cpu = await _round_trips(port, pid, seconds, clients, big_frame, BIG, depth)
    await asyncio.sleep(0.2)
    before = rss_kib(pid)
    conns = []
    for i in range(0, idle, 200):
        batch = min(200, idle - i)
        conns += await asyncio.gather(*(_open(port) for _ in range(batch)))
    await asyncio.sleep(0.5)
    after = rss_kib(pid)
    for _, writer in conns:
        writer.close()
    return {
        "rtt_per_s": rate,
        "mib_per_s": big * BIG / (1 << 20),
        "rss_per_conn_kib": (after - before) / max(idle, 1),
        "cpu_us_echo": cpu,
        "cpu_us_big": big_cpu,
    }


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def run(
    seconds: float,
    clients: int,
    idle: int,
    only: list[str] | None = None,
    rounds: int = 1,
    depth: int = 8,
    pin: bool = True,
) -> dict[str, dict[str, float]]:
    """Benchmark each server in turn, ``rounds`` times; returns the best numbers of each
    by name (a skipped server is absent). ``pin``: the server on one CPU, this process
    (the client) on another, when there are two."""
    raise_fd_limit()
    cpus = _plan_cpus() if pin else None
    if cpus is not None:
        os.sched_setaffinity(0, {cpus[1]})
    results: dict[str, dict[str, float]] = {}
    names = [name for name in only if name in SERVERS] if only else list(SERVERS)
    skipped: set[str] = set()
    for _ in range(rounds):
        for name in names:
            if name in skipped:
                continue
            server_cpu = cpus[0] if cpus is not None else None
            got = _run_one(name, seconds, clients, idle, depth, server_cpu)
            if got is None:
                skipped.add(name)
                continue
            best = results.setdefault(name, got)
            for key, value in got.items():
                better = min if key.startswith(("rss", "cpu")) else max
                best[key] = better(best[key], value)
    return results


def _plan_cpus() -> tuple[int, int] | None:
    """(the server's CPU, the client's), or None with fewer than two CPUs to use."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        print("one CPU: server and client share it", file=sys.stderr)
        return None
    return allowed[0], allowed[1]


def _run_one(
    name: str, seconds: float, clients: int, idle: int, depth: int, cpu: int | None
) -> dict[str, float] | None:
    engine = SERVERS[name]
    port = _free_port()
    env = dict(os.environ)
    if engine is not None:
        env["TORNADISH_WS"] = engine
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.ws_bench", "--serve", name, "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=None if cpu is None else (lambda: os.sched_setaffinity(0, {cpu})),
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if line.startswith("skip"):
            print(f"{name}: skipped ({line[5:]})", file=sys.stderr)
            return None
        if line != "ready":
            raise RuntimeError(f"{name} server did not start")
        return asyncio.run(_measure(port, proc.pid, seconds, clients, idle, depth))
    finally:
        proc.terminate()
        proc.wait(10)


def report(results: dict[str, dict[str, float]]) -> list[str]:
    """The table, then the ratios of ours to the websockets server and aiohttp."""
    lines = [
        f"{'':<22} {'echo':>9} {'64 KiB':>8} {'RSS/idle':>9}   server CPU per message",
        f"{'server':<22} {'msg/s':>9} {'MiB/s':>8} {'conn':>9}   {'echo':>8} {'64 KiB':>9}",
    ]
    for name, r in results.items():
        lines.append(
            f"{name:<22} {r['rtt_per_s']:>9,.0f} {r['mib_per_s']:>8,.0f}"
            f" {r['rss_per_conn_kib']:>5.1f} KiB   {r['cpu_us_echo']:>5.1f} us"
            f" {r['cpu_us_big']:>6.1f} us"
        )
    ours = results.get(OURS)
    if ours is None:
        return lines
    lines.append("")
    for other in ("websockets", "aiohttp"):
        theirs: Any = results.get(other)
        if theirs is None:
            continue
        echo = ours["rtt_per_s"] / theirs["rtt_per_s"]
        big = ours["mib_per_s"] / theirs["mib_per_s"]
        line = f"{OURS} / {other}: echo {echo:.2f}x, 64 KiB {big:.2f}x"
        if other == "websockets":
            line += f" (targets >= {ECHO_TARGET:.1f}x, >= {THROUGHPUT_TARGET:.1f}x)"
        # Less CPU per message is better: theirs over ours, so above 1 is ahead.
        cpu_echo = theirs["cpu_us_echo"] / max(ours["cpu_us_echo"], 1e-9)
        cpu_big = theirs["cpu_us_big"] / max(ours["cpu_us_big"], 1e-9)
        line += f"; server CPU per message: echo {cpu_echo:.2f}x, 64 KiB {cpu_big:.2f}x"
        lines.append(line)
    rss = ours["rss_per_conn_kib"]
    lines.append(f"{OURS} RSS per idle WebSocket: {rss:.1f} KiB (target <= {RSS_TARGET_KIB:g})")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--idle", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--depth", type=int, default=8)
    parser.add_argument("--no-pin", action="store_true")
    parser.add_argument(
        "--only", default="", help="comma-separated server names, in the order to run them"
    )
    parser.add_argument("--serve", choices=list(SERVERS), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve(args.serve, args.port)
        return
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    results = run(
        args.seconds, args.clients, args.idle, only, args.rounds, args.depth, not args.no_pin
    )
    print("\n".join(report(results)))


if __name__ == "__main__":
    main()
