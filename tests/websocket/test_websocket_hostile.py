"""Hostile and broken clients, built from raw frames: the server must answer protocol
violations with the right close code, keep memory bounded, and stay quiet in its logs
when a client simply vanishes."""

from __future__ import annotations

import asyncio
import logging
import os
import struct
import zlib
from typing import Any

import pytest

from tornadish.web import Application
from tornadish.websocket import WebSocketHandler

HANDSHAKE = (
    b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
)


def frame(
    opcode: int, payload: bytes, *, fin: bool = True, mask: bool = True, rsv: int = 0
) -> bytes:
    """One client frame, built by hand (``rsv`` is the 3-bit RSV field)."""
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", first, (0x80 if mask else 0) | n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", first, (0x80 if mask else 0) | 126, n)
    else:
        head = struct.pack("!BBQ", first, (0x80 if mask else 0) | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return head + key + masked


class RawSocket:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def read_frame(self, timeout: float = 3.0) -> tuple[int, bytes]:
        async def read() -> tuple[int, bytes]:
            b0, b1 = await self.reader.readexactly(2)
            n = b1 & 0x7F
            if n == 126:
                (n,) = struct.unpack("!H", await self.reader.readexactly(2))
            elif n == 127:
                (n,) = struct.unpack("!Q", await self.reader.readexactly(8))
            return b0 & 0x0F, await self.reader.readexactly(n)

        return await asyncio.wait_for(read(), timeout)

    async def read_close(self) -> tuple[int, str]:
        while True:
            opcode, payload = await self.read_frame()
            if opcode == 8:
                code = struct.unpack("!H", payload[:2])[0] if payload else 1005
                return code, payload[2:].decode()

    async def at_eof(self) -> bool:
        data = await asyncio.wait_for(self.reader.read(), 3)
        return data == b""


async def open_raw(port: int, extra_headers: bytes = b"", first: bytes = b"") -> RawSocket:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(HANDSHAKE + extra_headers + b"\r\n" + first)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 3)
    assert head.startswith(b"HTTP/1.1 101 "), head
    return RawSocket(reader, writer)


class Echo(WebSocketHandler):
    closed: list[Any] = []

    def get_compression_options(self) -> dict[str, Any]:
        return {}

    def on_message(self, message: str | bytes) -> None:
        self.write_message(message, binary=isinstance(message, bytes))

    def on_close(self) -> None:
        Echo.closed.append((self.close_code, self.close_reason))


async def start(serve: Any, **settings: Any) -> int:
    Echo.closed = []
    srv = await serve(Application([(r"/ws", Echo)], **settings))
    return int(srv.port)


@pytest.mark.usefixtures("http_engine")  # the HTTP engine hands these bytes over
async def test_frames_sent_with_the_handshake_are_not_lost(serve: Any) -> None:
    port = await start(serve)
    sock = await open_raw(port, first=frame(1, b"early bird"))
    assert await sock.read_frame() == (1, b"early bird")
    sock.writer.close()


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("unmasked", frame(1, b"hi", mask=False), 1002),
        ("reserved bits", frame(1, b"hi", rsv=0b010), 1002),
        ("bad opcode", frame(3, b"hi"), 1002),
        ("fragmented control frame", frame(9, b"", fin=False), 1002),
        ("continuation first", frame(0, b"hi"), 1002),
        ("invalid utf-8", frame(1, b"\xff\xfe"), 1007),
        ("invalid utf-8 across fragments", frame(1, b"ok", fin=False) + frame(0, b"\xc3"), 1007),
    ],
)
async def test_protocol_violations_close_with_the_right_code(
    serve: Any, name: str, data: bytes, code: int, caplog: pytest.LogCaptureFixture
) -> None:
    port = await start(serve)
    sock = await open_raw(port)
    with caplog.at_level(logging.ERROR):
        sock.writer.write(data)
        assert (await sock.read_close())[0] == code
        assert await sock.at_eof()
        for _ in range(100):
            if Echo.closed:
                break
            await asyncio.sleep(0.01)
    assert Echo.closed == [(None, None)]  # the peer never sent a close frame
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("fragmented", [False, True])
async def test_message_over_the_limit_closes_1009(serve: Any, fragmented: bool) -> None:
    port = await start(serve, websocket_max_message_size=1000)
    sock = await open_raw(port)
    if fragmented:
        data = frame(2, b"a" * 600, fin=False) + frame(0, b"b" * 600)
    else:
        data = frame(2, b"a" * 1001)
    sock.writer.write(frame(2, b"z" * 1000) + data)
    assert await sock.read_frame() == (2, b"z" * 1000)
    assert (await sock.read_close())[0] == 1009
    sock.writer.close()


async def test_compression_bomb_is_refused_with_1009(serve: Any) -> None:
    port = await start(serve, websocket_max_message_size=1 << 20)
    sock = await open_raw(port, b"Sec-WebSocket-Extensions: permessage-deflate\r\n")
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb = compressor.compress(b"\x00" * (32 << 20)) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert len(bomb) < 64_000
    sock.writer.write(frame(2, bomb[:-4], rsv=0b100))
    assert (await sock.read_close())[0] == 1009
    sock.writer.close()


async def test_a_client_that_stops_reading_keeps_server_memory_bounded(serve: Any) -> None:
    progress: list[int] = []
    handlers: list[WebSocketHandler] = []

    class Firehose(WebSocketHandler):
        async def open(self) -> None:
            handlers.append(self)
            chunk = b"x" * (256 << 10)
            for i in range(400):  # 100 MiB if nothing pushed back
                await self.write_message(chunk, binary=True)
                progress.append(i)

    srv = await serve(Application([(r"/ws", Firehose)]))
    sock = await open_raw(srv.port)
    await asyncio.sleep(0.3)
    sent = len(progress)
    await asyncio.sleep(0.2)
    assert len(progress) == sent < 400  # stuck in write_message, waiting for drain
    protocol = handlers[0].ws_connection
    assert protocol is not None
    # One message over the high-water mark at most.
    assert protocol.buffered_amount <= (64 << 10) + (256 << 10) + 64
    sock.writer.transport.abort()


async def test_abrupt_disconnect_mid_frame_calls_on_close_quietly(
    serve: Any, caplog: pytest.LogCaptureFixture, loop_factory: Any
) -> None:
    port = await start(serve)
    sock = await open_raw(port)
    whole = frame(1, b"y" * 5000)
    with caplog.at_level(logging.DEBUG):
        sock.writer.write(whole[:2000])
        await sock.writer.drain()
        await asyncio.sleep(0.02)
        sock.writer.transport.abort()
        for _ in range(200):
            if Echo.closed:
                break
            await asyncio.sleep(0.01)
    assert Echo.closed == [(None, None)]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_unanswered_pings_close_the_connection(serve: Any) -> None:
    port = await start(serve, websocket_ping_interval=0.05, websocket_ping_timeout=0.05)
    sock = await open_raw(port)
    opcode, _ = await sock.read_frame()
    assert opcode == 9  # a ping, which this client ignores
    assert await sock.read_close() == (1000, "ping timed out")
    sock.writer.close()


async def test_peer_close_frame_is_echoed_then_tcp_closed(serve: Any) -> None:
    port = await start(serve)
    sock = await open_raw(port)
    sock.writer.write(frame(8, struct.pack("!H", 4000) + b"bye"))
    assert await sock.read_close() == (4000, "")
    assert await sock.at_eof()
    for _ in range(100):
        if Echo.closed:
            break
        await asyncio.sleep(0.01)
    assert Echo.closed == [(4000, "bye")]
