"""WebSocket benchmark: tornadish on each WebSocket engine against Tornado, aiohttp and
the ``websockets`` library's own server.

    python -m bench.ws_bench [--seconds=5] [--clients=8] [--idle=5000] [--rounds=1]
                             [--only=NAME,...]

Each server echoes what it receives, in its own subprocess (uvloop when installed, for
all): tornadish with ``TORNADISH_WS=websockets`` and with ``TORNADISH_WS=wsproto``,
Tornado, aiohttp (``WebSocketResponse``) and websockets
(``websockets.asyncio.server.serve``). A server whose package is missing is skipped.
This process is the client:

- **echo round trips/s** — ``--clients`` connections, each sending a 32-byte text
  message and waiting for its echo, for ``--seconds``;
- **64 KiB throughput** — ``--clients`` connections, each sending a 64 KiB binary
  message and waiting for its echo, for ``--seconds``: MiB/s of messages echoed;
- **RSS per idle connection** — the server's resident memory (``/proc``) before and
  after ``--idle`` handshaken, silent connections, divided by their number;
- **server CPU per message** — the server process's CPU time (``/proc``) over each
  echo run, divided by the messages echoed: what the server spends, whatever the
  client (on the same machine, and often the bottleneck of the small-message echo)
  and the scheduling make of the round trips.

With ``--rounds=N`` the servers take turns N times and each keeps its best figures
(less noise from a busy machine). Then the ratios of tornadish (websockets engine) to
the websockets server and to aiohttp, with the targets: at least 1.0x the websockets
server on echo and on 64 KiB throughput, at most 8 KiB per idle WebSocket.

The client is a minimal raw-socket WebSocket client (the same for every server) whose
frames are masked once, ahead of time, with a fixed non-zero key, so its own cost
stays small and equal. Numbers on a shared machine are indicative only.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import resource
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

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


def _raise_fd_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 1 << 16
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, 1 << 16), hard))


async def _serve_handlers(framework: str, port: int) -> None:
    """A ``WebSocketHandler`` echo on tornadish or Tornado."""
    if framework == "tornado":
        from tornado.web import Application
        from tornado.websocket import WebSocketHandler
    else:
        from tornadish.web import Application  # type: ignore[assignment]
        from tornadish.websocket import WebSocketHandler  # type: ignore[assignment]

    class Echo(WebSocketHandler):
        def on_message(self, message: str | bytes) -> None:
            self.write_message(message, binary=isinstance(message, bytes))

    Application([(r"/ws", Echo)]).listen(port, HOST, backlog=4096)
    print("ready", flush=True)
    await asyncio.Event().wait()


async def _serve_aiohttp(port: int) -> None:
    from aiohttp import WSMsgType, web

    async def echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                await ws.send_str(msg.data)
            elif msg.type is WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
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
    _raise_fd_limit()
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


async def _echo_client(port: int, deadline: float, frame: bytes) -> int:
    reader, writer = await _open(port)
    count = 0
    while time.perf_counter() < deadline:
        writer.write(frame)
        await _read_frame(reader)
        count += 1
    writer.close()
    return count


async def _round_trips(
    port: int, pid: int, seconds: float, clients: int, frame: bytes
) -> tuple[float, float]:
    """Echoes per second over ``clients`` connections sending ``frame``, and the
    server's CPU microseconds per echo."""
    cpu = _cpu_seconds(pid)
    start = time.perf_counter()
    deadline = start + seconds
    counts = await asyncio.gather(*(_echo_client(port, deadline, frame) for _ in range(clients)))
    elapsed = time.perf_counter() - start
    echoed = max(sum(counts), 1)
    return echoed / elapsed, (_cpu_seconds(pid) - cpu) / echoed * 1e6


def _cpu_seconds(pid: int) -> float:
    # utime and stime, fields 14 and 15 of /proc/PID/stat (after the command's name).
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def _measure(
    port: int, pid: int, seconds: float, clients: int, idle: int
) -> dict[str, float]:
    rate, cpu = await _round_trips(port, pid, seconds, clients, _client_frame(0x1, b"x" * 32))
    big, big_cpu = await _round_trips(
        port, pid, seconds, clients, _client_frame(0x2, os.urandom(BIG))
    )
    await asyncio.sleep(0.2)
    before = _rss_kib(pid)
    conns = []
    for i in range(0, idle, 200):
        batch = min(200, idle - i)
        conns += await asyncio.gather(*(_open(port) for _ in range(batch)))
    await asyncio.sleep(0.5)
    after = _rss_kib(pid)
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
    seconds: float, clients: int, idle: int, only: list[str] | None = None, rounds: int = 1
) -> dict[str, dict[str, float]]:
    """Benchmark each server in turn, ``rounds`` times; returns the best numbers of each
    by name (a skipped server is absent)."""
    _raise_fd_limit()
    results: dict[str, dict[str, float]] = {}
    names = [name for name in only if name in SERVERS] if only else list(SERVERS)
    skipped: set[str] = set()
    for _ in range(rounds):
        for name in names:
            if name in skipped:
                continue
            got = _run_one(name, seconds, clients, idle)
            if got is None:
                skipped.add(name)
                continue
            best = results.setdefault(name, got)
            for key, value in got.items():
                better = min if key.startswith(("rss", "cpu")) else max
                best[key] = better(best[key], value)
    return results


def _run_one(name: str, seconds: float, clients: int, idle: int) -> dict[str, float] | None:
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
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if line.startswith("skip"):
            print(f"{name}: skipped ({line[5:]})", file=sys.stderr)
            return None
        if line != "ready":
            raise RuntimeError(f"{name} server did not start")
        return asyncio.run(_measure(port, proc.pid, seconds, clients, idle))
    finally:
        proc.terminate()
        proc.wait(10)


def report(results: dict[str, dict[str, float]]) -> list[str]:
    """The table, then the ratios of ours to the websockets server and aiohttp."""
    lines = [
        f"{'':<22} {'echo':>9} {'64 KiB':>8} {'RSS/idle':>9}   server CPU per message",
        f"{'server':<22} {'rt/s':>9} {'MiB/s':>8} {'conn':>9}   {'echo':>8} {'64 KiB':>9}",
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
    results = run(args.seconds, args.clients, args.idle, only, args.rounds)
    print("\n".join(report(results)))


if __name__ == "__main__":
    main()
