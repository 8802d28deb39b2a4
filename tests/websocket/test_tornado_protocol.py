"""What Tornado code relies on in a WebSocket connection beyond the public methods, over
real sockets where it crosses one: the byte counters, the ``_handle_message`` and
``_write_frame`` hooks, pong coalescing, yielding to the loop under a flood, errors and
cancellation in ``on_message``, the handler once upgraded, subprotocol selection, the
client's ``stream`` and ``ping``, and the memory a compressed send takes."""

from __future__ import annotations

import asyncio
import logging
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest

from tornadish.web import Application
from tornadish.websocket import (
    WebSocketHandler,
    WebSocketProtocol,
    WebSocketProtocol13,
    websocket_connect,
)

from .test_websocket import ws_url
from .test_websocket_hostile import HANDSHAKE, frame
from tests.support.transports import RecordingTransport
from tests.support.waiting import until


class Echo(WebSocketHandler):
    def initialize(self, compress: bool = False) -> None:
        self.compress = compress

    def get_compression_options(self) -> dict[str, Any] | None:
        return {} if self.compress else None

    def on_message(self, message: str | bytes) -> None:
        self.write_message(message, binary=isinstance(message, bytes))


# -- counters ----------------------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True])
async def test_message_and_wire_byte_counters(serve: Any, compress: bool) -> None:
    """Message bytes count payloads (text as UTF-8) before compression; wire bytes
    count the frames, the client's 4-byte masking key included."""
    srv = await serve(Application([(r"/ws", Echo, {"compress": compress})]))
    options: dict[str, Any] | None = {} if compress else None
    conn = await websocket_connect(ws_url(srv), compression_options=options)
    message = "héllo wörld, héllo"
    size = len(message.encode("utf-8"))
    for _ in range(3):
        await conn.write_message(message)
        assert await conn.read_message() == message
    protocol = conn.protocol
    assert protocol is not None
    assert protocol._message_bytes_out == protocol._message_bytes_in == 3 * size
    if compress:
        assert protocol._wire_bytes_out < 3 * (size + 6)
        assert protocol._wire_bytes_out == protocol._wire_bytes_in + 12
    else:
        assert protocol._wire_bytes_out == 3 * (size + 6)
        assert protocol._wire_bytes_in == 3 * (size + 2)
    conn.close()


# -- hooks ---------------------------------------------------------------------------


async def test_handle_message_hook_sees_pongs_and_can_drop_them(serve: Any) -> None:
    """Wrapping ``_handle_message`` on one connection intercepts what it receives: here
    the pongs, whose loss then trips the client's ping timeout (close 1000)."""
    srv = await serve(Application([(r"/ws", Echo)]))
    conn = await websocket_connect(ws_url(srv), ping_interval=0.05, ping_timeout=0.02)
    protocol = conn.protocol
    assert protocol is not None
    seen: list[int] = []
    drop = False
    real = protocol._handle_message

    def hook(opcode: int, data: str | bytes) -> Any:
        seen.append(opcode)
        if opcode == 0xA and drop:
            return None
        return real(opcode, data)

    protocol._handle_message = hook  # type: ignore[method-assign]
    await until(lambda: seen.count(0xA) >= 2, 3.0)
    assert protocol.close_code is None
    drop = True
    assert await conn.read_message() is None
    assert protocol.close_code == 1000  # the server's answer to our close


async def test_write_frame_hook_sees_every_frame_written(serve: Any) -> None:
    srv = await serve(Application([(r"/ws", Echo)]))
    conn = await websocket_connect(ws_url(srv))
    protocol = conn.protocol
    assert protocol is not None
    written: list[tuple[bool, int, bytes, int]] = []
    real = protocol._write_frame

    def hook(fin: bool, opcode: int, data: bytes, flags: int = 0) -> Any:
        written.append((fin, opcode, bytes(data), flags))
        return real(fin, opcode, data, flags)

    protocol._write_frame = hook  # type: ignore[method-assign]
    await conn.write_message("text")
    await conn.write_message(b"\x00bin", binary=True)
    conn.ping("p")
    assert await conn.read_message() == "text"
    assert written == [(True, 0x1, b"text", 0), (True, 0x2, b"\x00bin", 0), (True, 0x9, b"p", 0)]
    conn.close()


def test_ping_sleep_time_and_tornados_name() -> None:
    assert WebSocketProtocol13 is WebSocketProtocol
    assert WebSocketProtocol.ping_sleep_time(last_ping_time=100.0, interval=10, now=106.0) == 4
    assert WebSocketProtocol.ping_sleep_time(last_ping_time=100.0, interval=10, now=130.0) == 0


# -- pongs while the peer is not reading --------------------------------------------------


class _Sink:
    def __init__(self) -> None:
        self.pings: list[bytes] = []

    def _ws_message(self, message: str | bytes) -> None:
        pass

    def _ws_ping(self, data: bytes) -> None:
        self.pings.append(data)

    def _ws_pong(self, data: bytes) -> None:
        pass

    def _ws_closed(self, code: int | None, reason: str | None) -> None:
        pass


def _pongs(out: bytearray) -> list[bytes]:
    # The server's frames are unmasked and short here: opcode, length, payload.
    found, i = [], 0
    while i < len(out):
        assert out[i] == 0x8A
        n = out[i + 1]
        found.append(bytes(out[i + 2 : i + 2 + n]))
        i += 2 + n
    return found


async def test_while_a_pong_waits_only_the_latest_ping_is_answered() -> None:
    """RFC 6455 §5.5.3: a peer that pings without reading our output gets one pong for
    the pings that came while the last one waited, the most recent, once there is room."""
    sink = _Sink()
    protocol = WebSocketProtocol(sink, client=False)
    transport = RecordingTransport()
    transport.protocol = protocol
    protocol.take_over(transport, b"", False)
    protocol.pause_writing()
    protocol.data_received(frame(0x9, b"1") + frame(0x9, b"2") + frame(0x9, b"3"))
    assert sink.pings == [b"1", b"2", b"3"]
    assert _pongs(transport.out) == []  # corked until the loop's round is over
    await asyncio.sleep(0)
    assert _pongs(transport.out) == [b"1"]  # written; its drain waits
    protocol.resume_writing()
    await asyncio.sleep(0)
    assert _pongs(transport.out) == [b"1", b"3"]
    protocol.data_received(frame(0x9, b"4"))
    await asyncio.sleep(0)
    assert _pongs(transport.out) == [b"1", b"3", b"4"]  # room: answered in that round
    protocol.connection_lost(None)


# -- reading -----------------------------------------------------------------------------


async def test_a_flood_of_small_frames_lets_the_loop_run(serve: Any) -> None:
    """5000 one-byte messages that arrive together are delivered a slice at a time."""
    count = 5000
    received: list[int] = []

    class Counter(WebSocketHandler):
        def on_message(self, message: str | bytes) -> None:
            received.append(1)

    srv = await serve(Application([(r"/ws", Counter)]))
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    ticks = 0

    def tick() -> None:
        nonlocal ticks
        if len(received) < count:
            ticks += 1
            asyncio.get_running_loop().call_soon(tick)

    writer.write(HANDSHAKE + b"\r\n" + frame(0x2, b"x") * count)
    await reader.readuntil(b"\r\n\r\n")
    tick()
    await until(lambda: len(received) == count, 3.0)
    assert ticks > 10
    writer.close()


class Failing(WebSocketHandler):
    def initialize(self, how: str) -> None:
        self.how = how

    def on_message(self, message: str | bytes) -> Any:
        if self.how == "sync-cancel":
            raise asyncio.CancelledError()
        return self._async(message)

    async def _async(self, message: str | bytes) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fut.cancel()
        await fut


@pytest.mark.parametrize("how", ["sync-cancel", "async-cancel"])
async def test_cancellation_in_on_message_is_an_error(
    serve: Any, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A CancelledError out of ``on_message`` (raised, or awaited) is logged as an
    uncaught exception and ends the connection with 1011, as Tornado does."""
    srv = await serve(Application([(r"/ws", Failing, {"how": how})]))
    conn = await websocket_connect(ws_url(srv))
    with caplog.at_level(logging.ERROR, logger="tornadish.application"):
        await conn.write_message("hi")
        assert await conn.read_message() is None
    assert conn.close_code == 1011
    assert any("Uncaught exception" in r.getMessage() for r in caplog.records)


async def test_too_big_after_inflating_is_refused_quietly(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app = Application([(r"/ws", Echo, {"compress": True})], websocket_max_message_size=1024)
    srv = await serve(app)
    conn = await websocket_connect(ws_url(srv), compression_options={})
    with caplog.at_level(logging.INFO):
        await conn.write_message("a" * 2048)
        assert await conn.read_message() is None
    assert conn.close_code == 1009
    # Nothing but the upgrade's access line (which an earlier test may have let through).
    assert not [
        r for r in caplog.records if r.name.startswith("tornadish") and r.name != "tornadish.access"
    ]


async def test_sending_a_compressed_message_does_not_copy_it(serve: Any) -> None:
    """The sender compresses the caller's bytes as they are: 16 MiB of zeros go out in
    ~16 KiB, without a copy of the message (wsproto's serializer made two)."""
    limit = 32 << 20
    app = Application([(r"/ws", Echo, {"compress": True})], websocket_max_message_size=limit)
    srv = await serve(app)
    conn = await websocket_connect(ws_url(srv), compression_options={}, max_message_size=limit)
    message = bytes(16 << 20)
    tracemalloc.start()
    try:
        await conn.write_message(message, binary=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 << 20
    assert await conn.read_message() == message


# -- the handler and the client --------------------------------------------------------


async def test_select_subprotocol_is_asked_even_when_none_is_offered(serve: Any) -> None:
    asked: list[list[str]] = []

    class Picky(WebSocketHandler):
        def select_subprotocol(self, subprotocols: list[str]) -> str | None:
            asked.append(subprotocols)
            return None

        def open(self) -> None:
            self.write_message(f"subprotocol={self.selected_subprotocol}")

    srv = await serve(Application([(r"/ws", Picky)]))
    conn = await websocket_connect(ws_url(srv))
    assert await conn.read_message() == "subprotocol=None"
    assert asked == [[]]
    conn.close()


async def test_http_response_methods_fail_once_upgraded(serve: Any) -> None:
    outcomes: list[str] = []

    class Upgraded(WebSocketHandler):
        def open(self) -> None:
            calls: dict[str, Callable[[], object]] = {
                "write": lambda: self.write("x"),
                "redirect": lambda: self.redirect("/elsewhere"),
                "set_header": lambda: self.set_header("X-Test", "1"),
                "set_cookie": lambda: self.set_cookie("a", "b"),
                "set_status": lambda: self.set_status(503),
                "flush": self.flush,
                "finish": self.finish,
            }
            for name, call in calls.items():
                try:
                    call()
                except RuntimeError as e:
                    outcomes.append(f"{name}: {e}")
            self.write_message("done")

    srv = await serve(Application([(r"/ws", Upgraded)]))
    conn = await websocket_connect(ws_url(srv))
    assert await conn.read_message() == "done"
    assert len(outcomes) == 7
    assert all(o.endswith("Method not supported for Web Sockets") for o in outcomes)
    conn.close()


async def test_client_ping_takes_str_and_checks_its_length(serve: Any) -> None:
    pings: list[bytes] = []

    class Pinged(WebSocketHandler):
        def on_ping(self, data: bytes) -> None:
            pings.append(data)
            self.write_message(data, binary=True)

    srv = await serve(Application([(r"/ws", Pinged)]))
    conn = await websocket_connect(ws_url(srv))
    with pytest.raises(ValueError):
        conn.ping("é" * 63)  # 126 bytes as UTF-8
    conn.ping("héllo")
    assert await conn.read_message() == "héllo".encode()
    conn.close()


async def test_closing_the_clients_stream_drops_the_connection(serve: Any) -> None:
    """``ws.stream.close()`` ends the TCP connection without a close frame: the server
    sees no close code."""
    closed: list[Any] = []

    class Watch(Echo):
        def on_close(self) -> None:
            closed.append((self.close_code, self.close_reason))

    srv = await serve(Application([(r"/ws", Watch)]))
    conn = await websocket_connect(ws_url(srv))
    stream = conn.stream
    assert stream is not None and not stream.closed()
    lost: list[bool] = []
    stream.set_close_callback(lambda: lost.append(True))
    conn.write_message("hello")
    stream.close()
    assert stream.closed()
    assert await conn.read_message() in ("hello", None)
    await until(lambda: closed and lost, 3.0)
    assert closed == [(None, None)]


def test_client_masks_with_a_fresh_key_per_frame() -> None:
    """Two client frames with the same payload differ on the wire (RFC 6455 §5.3)."""

    async def main() -> tuple[bytes, bytes]:
        protocol = WebSocketProtocol(_Sink(), client=True)
        transport = RecordingTransport()
        transport.protocol = protocol
        protocol.take_over(transport, b"", False)
        protocol.send_message("same")
        first = bytes(transport.out)
        transport.out.clear()
        protocol.send_message("same")
        return first, bytes(transport.out)

    first, second = asyncio.run(main())
    assert first[:2] == second[:2] == b"\x81\x84"
    assert first[2:6] != second[2:6]  # the keys (equal once in 2**32 runs)
