"""WebSocket benchmark: tornadish against Tornado.

    python -m bench.ws_bench [--seconds=5] [--clients=8] [--idle=5000] [--rounds=1]

For each framework an echo server runs in its own subprocess (uvloop when installed,
for both). This process is the client:

- **echo round trips/s** — ``--clients`` connections, each sending a 32-byte text
  message and waiting for its echo, for ``--seconds``;
- **RSS per idle connection** — the server's resident memory (``/proc``) before and
  after ``--idle`` handshaken, silent connections, divided by their number.

The client is a minimal raw-socket WebSocket client (the same for both servers) so
its own cost stays small and equal. Numbers on a shared machine are indicative only.
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

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
FRAMEWORKS = ("tornadish", "tornado")


# -- the servers (run with --serve) -------------------------------------------------


def _raise_fd_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 1 << 16
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, 1 << 16), hard))


def _serve(framework: str, port: int) -> None:
    _raise_fd_limit()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    async def main() -> None:
        if framework == "tornadish":
            from tornadish.web import Application
            from tornadish.websocket import WebSocketHandler
        else:
            from tornado.web import Application  # type: ignore[assignment]
            from tornado.websocket import WebSocketHandler  # type: ignore[assignment]

        class Echo(WebSocketHandler):
            def on_message(self, message: str | bytes) -> None:
                self.write_message(message, binary=isinstance(message, bytes))

        Application([(r"/ws", Echo)]).listen(port, HOST, backlog=4096)
        print("ready", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


# -- the client ----------------------------------------------------------------------


async def _open(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(HOST, port)
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


def _text_frame(payload: bytes) -> bytes:
    # Client frames must be masked; a zero mask keeps the payload as it is.
    return struct.pack("!BB", 0x81, 0x80 | len(payload)) + b"\0\0\0\0" + payload


async def _echo_client(port: int, deadline: float) -> int:
    reader, writer = await _open(port)
    frame = _text_frame(b"x" * 32)
    count = 0
    while time.perf_counter() < deadline:
        writer.write(frame)
        head = await reader.readexactly(2)
        await reader.readexactly(head[1] & 0x7F)
        count += 1
    writer.close()
    return count


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def _measure(
    port: int, pid: int, seconds: float, clients: int, idle: int
) -> dict[str, float]:
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()
    counts = await asyncio.gather(*(_echo_client(port, deadline) for _ in range(clients)))
    rate = sum(counts) / (time.perf_counter() - start)
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
    return {"rtt_per_s": rate, "rss_per_conn_kib": (after - before) / max(idle, 1)}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def run(seconds: float, clients: int, idle: int) -> dict[str, dict[str, float]]:
    """Benchmark each framework in turn; returns its numbers by name."""
    _raise_fd_limit()
    results = {}
    for framework in FRAMEWORKS:
        port = _free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.ws_bench", "--serve", framework, "--port", str(port)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError(f"{framework} server did not start")
            results[framework] = asyncio.run(_measure(port, proc.pid, seconds, clients, idle))
        finally:
            proc.terminate()
            proc.wait(10)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--idle", type=int, default=5000)
    parser.add_argument("--serve", choices=FRAMEWORKS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve(args.serve, args.port)
        return
    results = run(args.seconds, args.clients, args.idle)
    print(f"{'server':<10} {'echo round trips/s':>20} {'RSS/idle conn (KiB)':>21}")
    for name, r in results.items():
        print(f"{name:<10} {r['rtt_per_s']:>20,.0f} {r['rss_per_conn_kib']:>21.1f}")


if __name__ == "__main__":
    main()
