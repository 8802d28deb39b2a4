"""SIGTERM with long-lived responses open, or with handlers that outlast the grace period.

:func:`sigterm_with_open_streams` starts ``tornadish.run(app, grace=...)`` in a
subprocess, opens ``each`` event streams (``tornadish.sse.EventSourceHandler``), long
polls and WebSockets, and a tenth as many event streams written by a plain handler that
awaits ``self.shutting_down``, sends SIGTERM once all are open, and reports how each
ended and how long the process took to exit. A proper end is, for an event stream, a
``retry:`` hint and the chunked body's last chunk; for a long poll, a complete answer;
for a WebSocket, a close frame with 1001 (Going Away), answered by ours, then the end
of the connection.

:func:`sigterm_past_grace` sends SIGTERM while ``handlers`` requests sleep far longer
than the grace period (a third of them with an ``async def on_finish``, a third Tornado-
style long polls that hear only ``on_connection_close``), and reports what each
handler's ``finally`` and ``on_finish`` wrote, and the server's log.
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import struct
import subprocess
import sys
import textwrap
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.drain_load import wait_listening
from tests.support.servers import free_port
from tests.support.wsframes import client_frame

SERVER = """
import asyncio, sys
import tornadish
from tornadish.sse import EventSourceHandler
from tornadish.web import Application, RequestHandler
from tornadish.websocket import WebSocketHandler

class Feed(EventSourceHandler):
    heartbeat_interval = None

    async def stream(self):
        await self.send("open")
        await asyncio.Event().wait()  # until the drain ends the stream

class Events(RequestHandler):
    # An event stream as a plain handler: it ends, with a reconnection hint, when the
    # server drains.
    async def get(self):
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-store")
        self.write("data: open\\n\\n")
        await self.flush()
        await self.shutting_down
        self.write("retry: 1000\\n\\n")

class Poll(RequestHandler):
    waiting = 0

    async def get(self):
        Poll.waiting += 1
        try:
            await self.shutting_down
        finally:
            Poll.waiting -= 1
        self.write({"again": True})

class Count(RequestHandler):
    def get(self):
        self.write({"polls": Poll.waiting})

class Echo(WebSocketHandler):
    def on_message(self, message):
        self.write_message(message)

app = Application(
    [(r"/sse", Feed), (r"/events", Events), (r"/poll", Poll), (r"/count", Count), (r"/ws", Echo)]
)
tornadish.run(app, port=int(sys.argv[1]), address="127.0.0.1", grace=float(sys.argv[2]))
"""


@dataclass
class StreamsResult:
    """How each long-lived response ended, and how the process did."""

    outcomes: dict[str, Counter[str]] = field(default_factory=dict)
    exit_code: int | None = None
    exit_seconds: float = 0.0  # from SIGTERM to the process's exit
    log: str = ""


async def _connect(
    port: int, limit: asyncio.Semaphore
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    async with limit:  # a bounded number of handshakes at once: the backlog holds
        return await asyncio.open_connection("127.0.0.1", port)


async def _event_stream(
    port: int, limit: asyncio.Semaphore, opened: asyncio.Queue[None], path: str
) -> str:
    reader, writer = await _connect(port, limit)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: drain\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200 ") or b"Transfer-Encoding: chunked" not in head:
            return "bad head"
        body = await _chunk(reader)
        if body != b"data: open\n\n":
            return f"bad first event {body!r}"
        opened.put_nowait(None)
        rest = b""
        while True:
            chunk = await _chunk(reader)
            if chunk == b"":
                break  # the last chunk: the response ended cleanly
            rest += chunk
        if b"retry: " not in rest:
            return "ended without a retry hint"
        return "retry hint, clean end"
    except (OSError, asyncio.IncompleteReadError) as e:
        return f"broken: {type(e).__name__}"
    finally:
        writer.close()


async def _chunk(reader: asyncio.StreamReader) -> bytes:
    size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
    data = await reader.readexactly(size + 2)
    if size == 0:
        return b""
    return data[:-2]


async def _long_poll(port: int, limit: asyncio.Semaphore) -> str:
    reader, writer = await _connect(port, limit)
    try:
        writer.write(b"GET /poll HTTP/1.1\r\nHost: drain\r\n\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        body = await reader.readexactly(length)
        if not head.startswith(b"HTTP/1.1 200 ") or body != b'{"again": true}':
            return f"bad answer {head[:20]!r} {body!r}"
        return "answered"
    except (OSError, asyncio.IncompleteReadError, StopIteration) as e:
        return f"broken: {type(e).__name__}"
    finally:
        writer.close()


async def _websocket(port: int, limit: asyncio.Semaphore, opened: asyncio.Queue[None]) -> str:
    reader, writer = await _connect(port, limit)
    try:
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                "GET /ws HTTP/1.1\r\nHost: drain\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101 "):
            return "not upgraded"
        writer.write(client_frame(0x1, b"hi", key=b"abcd"))
        opcode, payload = await _frame(reader)
        if (opcode, payload) != (0x1, b"hi"):
            return "no echo"
        opened.put_nowait(None)
        opcode, payload = await _frame(reader)
        if opcode != 0x8:
            return f"frame {opcode} instead of a close"
        code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
        writer.write(client_frame(0x8, payload[:2], key=b"abcd"))  # the closing handshake
        if await reader.read() != b"":
            return "bytes after the close"
        return f"close {code}"
    except (OSError, asyncio.IncompleteReadError) as e:
        return f"broken: {type(e).__name__}"
    finally:
        writer.close()


async def _frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    first, second = await reader.readexactly(2)
    length = second & 0x7F
    if length == 126:
        length = struct.unpack("!H", await reader.readexactly(2))[0]
    elif length == 127:
        length = struct.unpack("!Q", await reader.readexactly(8))[0]
    return first & 0x0F, await reader.readexactly(length)


async def _polls_waiting(port: int) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /count HTTP/1.1\r\nHost: drain\r\nConnection: close\r\n\r\n")
        data = await reader.read()
        return int(data.rsplit(b":", 1)[1].strip(b" }"))
    finally:
        writer.close()


async def sigterm_with_open_streams(workdir: Path, each: int, grace: float) -> StreamsResult:
    """Open ``each`` event streams, long polls and WebSockets, SIGTERM, see them end."""
    script = workdir / "drain_streams_server.py"
    script.write_text(textwrap.dedent(SERVER))
    log = workdir / "drain_streams_server.log"
    port = free_port()
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1")
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, str(script), str(port), str(grace)], stdout=out, stderr=out, env=env
        )
    result = StreamsResult()
    try:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, wait_listening, port, proc, log, "/count")
        limit = asyncio.Semaphore(100)
        opened: asyncio.Queue[None] = asyncio.Queue()
        plain = max(1, each // 10)
        kinds = {
            "event stream": [
                asyncio.create_task(_event_stream(port, limit, opened, "/sse")) for _ in range(each)
            ],
            "plain event stream": [
                asyncio.create_task(_event_stream(port, limit, opened, "/events"))
                for _ in range(plain)
            ],
            "long poll": [asyncio.create_task(_long_poll(port, limit)) for _ in range(each)],
            "websocket": [
                asyncio.create_task(_websocket(port, limit, opened)) for _ in range(each)
            ],
        }
        for _ in range(2 * each + plain):  # every stream and WebSocket open...
            await asyncio.wait_for(opened.get(), 60)
        deadline = time.monotonic() + 60
        while await _polls_waiting(port) < each:  # ...and every long poll waiting
            assert time.monotonic() < deadline, "the long polls did not all arrive"
            await asyncio.sleep(0.05)
        sigterm_at = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        result.exit_code = await loop.run_in_executor(None, proc.wait, grace + 30)
        result.exit_seconds = time.monotonic() - sigterm_at
        for kind, tasks in kinds.items():
            done = await asyncio.wait_for(asyncio.gather(*tasks), 10)
            result.outcomes[kind] = Counter(done)
        result.log = log.read_text()
        return result
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


GRACE_SERVER = """
import asyncio, sys
import tornadish
from tornadish.web import Application, RequestHandler

EVENTS = open(sys.argv[3], "a", buffering=1)

class Slow(RequestHandler):
    async def get(self):
        EVENTS.write("start\\n")
        try:
            await asyncio.sleep(60)
        finally:
            EVENTS.write("finally\\n")

    def on_finish(self):
        EVENTS.write("on_finish\\n")

class SlowAsyncFinish(Slow):
    async def on_finish(self):
        await asyncio.sleep(0.01)
        EVENTS.write("on_finish\\n")

class TornadoPoll(RequestHandler):
    def initialize(self):
        self.news = asyncio.get_running_loop().create_future()

    async def get(self):
        EVENTS.write("start\\n")
        try:
            await self.news
        finally:
            EVENTS.write("finally\\n")

    def on_connection_close(self):
        EVENTS.write("on_connection_close\\n")
        self.news.cancel()

    def on_finish(self):
        EVENTS.write("on_finish\\n")

class Ready(RequestHandler):
    def get(self):
        self.write("ready")

app = Application(
    [(r"/", Ready), (r"/slow", Slow), (r"/slow-async-finish", SlowAsyncFinish),
     (r"/poll", TornadoPoll)]
)
tornadish.run(app, port=int(sys.argv[1]), address="127.0.0.1", grace=float(sys.argv[2]))
EVENTS.close()
"""


@dataclass
class GraceResult:
    """What the handlers wrote, and how the process ended."""

    events: Counter[str] = field(default_factory=Counter)
    exit_code: int | None = None
    exit_seconds: float = 0.0  # from SIGTERM to the process's exit
    log: str = ""


async def sigterm_past_grace(workdir: Path, handlers: int, grace: float) -> GraceResult:
    """``handlers`` requests still running when the grace period is over (see above)."""
    script = workdir / "drain_grace_server.py"
    script.write_text(textwrap.dedent(GRACE_SERVER))
    log = workdir / "drain_grace_server.log"
    events = workdir / "drain_grace_events.txt"
    events.write_text("")
    port = free_port()
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1")
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-X", "dev", str(script), str(port), str(grace), str(events)],
            stdout=out,
            stderr=out,
            env=env,
        )
    result = GraceResult()
    writers: list[asyncio.StreamWriter] = []
    try:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, wait_listening, port, proc, log)
        limit = asyncio.Semaphore(100)
        paths = ["/slow", "/slow-async-finish", "/poll"]
        for i in range(handlers):
            _reader, writer = await _connect(port, limit)
            writer.write(f"GET {paths[i % 3]} HTTP/1.1\r\nHost: drain\r\n\r\n".encode())
            writers.append(writer)
        deadline = time.monotonic() + 60
        while events.read_text().count("start") < handlers:
            assert time.monotonic() < deadline, "the requests did not all start"
            await asyncio.sleep(0.05)
        sigterm_at = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        result.exit_code = await loop.run_in_executor(None, proc.wait, grace + 30)
        result.exit_seconds = time.monotonic() - sigterm_at
        result.events = Counter(events.read_text().split())
        result.log = log.read_text()
        return result
    finally:
        for writer in writers:
            writer.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
