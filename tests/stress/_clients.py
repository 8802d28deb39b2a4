"""Load-generating clients: bare ``asyncio.Protocol`` objects, one per connection.

Thousands of connections must cost the test process little, so each client is a small
protocol object with its own parser, written from RFC 9112 / RFC 6455 and independent of
the server's h11 and wsproto. Responses are expected with ``Content-Length`` (both
frameworks send it for the test app's answers).
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, TypeVar

T = TypeVar("T")
P = TypeVar("P", bound=asyncio.Protocol)

HOST = "127.0.0.1"


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on a fresh uvloop loop (the stdlib loop without it)."""
    try:
        import uvloop

        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def get(path: str = "/", host: str = "stress") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()


def post(path: str, body: bytes, content_type: str = "application/octet-stream") -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: stress\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def multipart(fields: dict[str, str], files: dict[str, bytes]) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body and its content type."""
    boundary = "stressboundary" + os.urandom(8).hex()
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode()
            + b"\r\n"
        )
    for name, data in files.items():
        parts.append(
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                f'filename="{name}.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
            ).encode()
            + data
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class ClientError(Exception):
    """The server broke the exchange (closed, answered garbage, or too late)."""


class _Exchanges(asyncio.Protocol):
    """What both clients share: bytes collect in a buffer, ``_deliver`` (the
    subclass's) resolves the pending waiter from it, and the server closing fails it."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._waiter: asyncio.Future[Any] | None = None
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._buf += data
        self._deliver()

    def eof_received(self) -> bool:
        self._fail("server closed the connection")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._fail(f"connection lost: {exc!r}")

    def _fail(self, why: str) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_exception(ClientError(why))
        self._waiter = None

    def _deliver(self) -> None:
        raise NotImplementedError


class HTTPClient(_Exchanges):
    """A keep-alive HTTP/1.1 connection: ``status, body = await conn.request(raw)``."""

    def _deliver(self) -> None:
        w = self._waiter
        if w is None or w.done():
            return
        buf = self._buf
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(buf[:end]).lower()
        if not head.startswith(b"http/1.1 "):
            w.set_exception(ClientError(f"not a response: {head[:60]!r}"))
            return
        status = int(head[9:12])
        at = head.find(b"\r\ncontent-length:")
        length = 0
        if at >= 0:
            stop = head.find(b"\r\n", at + 2)
            length = int(head[at + 17 : stop if stop >= 0 else len(head)])
        elif status != 101 and status != 304 and status >= 200:
            w.set_exception(ClientError("response without Content-Length"))
            return
        total = end + 4 + length
        if len(buf) < total:
            return
        body = bytes(buf[end + 4 : total])
        del buf[:total]
        self._waiter = None
        w.set_result((status, body))

    async def request(self, raw: bytes, timeout: float = 30.0) -> tuple[int, bytes]:
        """Send one request and read its response."""
        transport = self.transport
        if transport is None or self.lost or transport.is_closing():
            raise ClientError("connection is closed")
        fut: asyncio.Future[tuple[int, bytes]] = asyncio.get_running_loop().create_future()
        self._waiter = fut
        transport.write(raw)
        self._deliver()  # pipelined leftovers
        try:
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            raise ClientError(f"no response within {timeout} s") from None

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


_WS_KEY = b"c3RyZXNzdGVzdGtleTAwMA=="  # base64 of 16 bytes; the server only checks that


def ws_handshake(path: str = "/ws") -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: stress\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        f"Sec-WebSocket-Key: {_WS_KEY.decode()}\r\n\r\n"
    ).encode()


def ws_frame(opcode: int, payload: bytes) -> bytes:
    """A client (masked) frame with FIN set."""
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    # XOR with the repeated mask, whole-buffer at once (bytes per byte would be slow).
    m = (mask * (n // 4 + 1))[:n]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(m, "big")).to_bytes(n, "big")
    return head + mask + masked


class WSClient(_Exchanges):
    """A WebSocket client connection: ``await ws.handshake()``, ``await ws.echo(text)``."""

    def __init__(self) -> None:
        super().__init__()
        self._upgraded = False
        self.close_code: int | None = None

    def _deliver(self) -> None:
        w = self._waiter
        if w is None or w.done():
            return
        buf = self._buf
        if not self._upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buf[9:12])
            del buf[: end + 4]
            self._waiter = None
            if status != b"101":
                w.set_exception(ClientError(f"handshake answered {status!r}"))
                return
            self._upgraded = True
            w.set_result(None)
            return
        frame = self._parse_frame()
        if frame is None:
            return
        self._waiter = None
        w.set_result(frame)

    def _parse_frame(self) -> tuple[int, bytes] | None:
        buf = self._buf
        if len(buf) < 2:
            return None
        opcode = buf[0] & 0x0F
        n = buf[1] & 0x7F
        at = 2
        if n == 126:
            if len(buf) < 4:
                return None
            n = struct.unpack_from("!H", buf, 2)[0]
            at = 4
        elif n == 127:
            if len(buf) < 10:
                return None
            n = struct.unpack_from("!Q", buf, 2)[0]
            at = 10
        if len(buf) < at + n:
            return None
        payload = bytes(buf[at : at + n])
        del buf[: at + n]
        return opcode, payload

    async def _wait(self, timeout: float) -> Any:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiter = fut
        self._deliver()
        try:
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            raise ClientError(f"no answer within {timeout} s") from None

    async def handshake(self, path: str = "/ws", timeout: float = 30.0) -> None:
        assert self.transport is not None
        self.transport.write(ws_handshake(path))
        await self._wait(timeout)

    async def echo(self, message: bytes, *, binary: bool = False, timeout: float = 30.0) -> None:
        """Send a message and check that the server echoes it back unchanged."""
        if self.transport is None or self.lost:
            raise ClientError("connection is closed")
        self.transport.write(ws_frame(0x2 if binary else 0x1, message))
        opcode, payload = await self._wait(timeout)
        if opcode == 0x8:
            raise ClientError(f"server closed the WebSocket: {payload[:2]!r}")
        if payload != message:
            raise ClientError(f"echo mismatch: {len(payload)} bytes for {len(message)}")

    async def close(self, timeout: float = 10.0) -> None:
        """The closing handshake: send 1000, wait for the server's close frame."""
        transport = self.transport
        if transport is None or self.lost:
            return
        transport.write(ws_frame(0x8, struct.pack("!H", 1000)))
        try:
            opcode, payload = await self._wait(timeout)
            if opcode == 0x8 and len(payload) >= 2:
                self.close_code = struct.unpack("!H", payload[:2])[0]
        except ClientError:
            pass
        transport.close()


async def connect(factory: Callable[[], P], port: int, *, timeout: float = 30.0) -> P:
    """Open one connection on loopback; the protocol object once connected."""
    loop = asyncio.get_running_loop()
    _, proto = await asyncio.wait_for(loop.create_connection(factory, HOST, port), timeout)
    return proto


async def bounded_gather(
    jobs: Iterable[Coroutine[Any, Any, T]], limit: int
) -> list[T | BaseException]:
    """Run coroutines with at most ``limit`` in flight; results or exceptions, in order."""
    sem = asyncio.Semaphore(limit)

    async def one(job: Coroutine[Any, Any, T]) -> T | BaseException:
        async with sem:
            try:
                return await job
            except Exception as e:
                return e

    return await asyncio.gather(*(one(j) for j in jobs))


def percentile(values: list[float], q: float) -> float:
    """The ``q``-quantile (0..1) of ``values`` by nearest rank; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))
    return ordered[rank]


def tcp_state(sock: socket.socket) -> int:
    """The kernel's TCP state of ``sock`` (1 ESTABLISHED, 7 CLOSE, 8 CLOSE_WAIT, ...),
    read without consuming anything from the socket."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)
    return info[0]


TCP_ESTABLISHED = 1


class Stopwatch:
    """``with Stopwatch() as sw: ...; sw.seconds``."""

    def __enter__(self) -> Stopwatch:
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start
