"""Frames written while a burst of frames is delivered are corked and leave together
after the loop's round of I/O callbacks (``_io/websocket.py``): in order, before a close,
at once past the cork's size, and never delaying a write made outside a delivery."""

from __future__ import annotations

import asyncio
from typing import Any

from tornadish._io.websocket import WebSocketProtocol

from .test_websocket_hostile import frame
from tests.support.transports import RecordingTransport


class EchoSink:
    """Echoes each message through the protocol; records what happens."""

    def __init__(self) -> None:
        self.protocol: WebSocketProtocol | None = None
        self.closed: list[Any] = []

    def _ws_message(self, message: str | bytes) -> None:
        assert self.protocol is not None
        if message == "close":
            self.protocol.close(1000, "bye")
            self.protocol._hang_up()
            return
        binary = isinstance(message, bytes)
        self.protocol.send_message(message, binary=binary)

    def _ws_ping(self, data: bytes) -> None:
        pass

    def _ws_pong(self, data: bytes) -> None:
        pass

    def _ws_closed(self, code: int | None, reason: str | None) -> None:
        self.closed.append(code)


def server(sink: EchoSink) -> tuple[WebSocketProtocol, RecordingTransport]:
    protocol = WebSocketProtocol(sink, client=False)
    sink.protocol = protocol
    transport = RecordingTransport()
    transport.protocol = protocol
    protocol.take_over(transport, b"", False)
    return protocol, transport


def texts(out: bytes | bytearray) -> list[bytes]:
    """The payloads of the server's (unmasked, short) frames in ``out``."""
    found, i = [], 0
    while i < len(out):
        n = out[i + 1]
        found.append(bytes(out[i + 2 : i + 2 + n]))
        i += 2 + n
    return found


async def test_a_burst_is_answered_in_one_write_in_order(ws_engine: str) -> None:
    sink = EchoSink()
    protocol, transport = server(sink)
    protocol.data_received(b"".join(frame(0x1, b"m%d" % i) for i in range(20)))
    assert transport.writes == []  # corked while the round runs
    # ...and counted as buffered: a 2-byte header each.
    assert protocol.buffered_amount == sum(2 + len(b"m%d" % i) for i in range(20))
    await asyncio.sleep(0)
    assert len(transport.writes) == 1
    assert texts(transport.out) == [b"m%d" % i for i in range(20)]
    protocol.connection_lost(None)


async def test_a_write_outside_a_delivery_goes_at_once(ws_engine: str) -> None:
    sink = EchoSink()
    protocol, transport = server(sink)
    protocol.send_message("hello")
    assert texts(transport.out) == [b"hello"]
    protocol.connection_lost(None)


async def test_a_write_after_the_burst_in_the_same_round_follows_it(ws_engine: str) -> None:
    sink = EchoSink()
    protocol, transport = server(sink)
    protocol.data_received(frame(0x1, b"a") + frame(0x1, b"b"))
    protocol.send_message("later")  # a task or a timer in the same round
    await asyncio.sleep(0)
    assert texts(transport.out) == [b"a", b"b", b"later"]
    protocol.connection_lost(None)


async def test_corked_frames_leave_before_the_connection_closes(ws_engine: str) -> None:
    sink = EchoSink()
    protocol, transport = server(sink)
    protocol.data_received(frame(0x1, b"one") + frame(0x1, b"close"))
    # The close frame was corked behind "one"; hanging up sent both, in order, first.
    assert transport.closed
    out = bytes(transport.out)
    assert texts(out[:5]) == [b"one"]
    assert out[5] == 0x88  # then the close frame
    await asyncio.sleep(0)


async def test_a_large_frame_flushes_the_cork_and_keeps_the_order(ws_engine: str) -> None:
    sink = EchoSink()
    protocol, transport = server(sink)
    big = b"x" * 40_000
    protocol.data_received(frame(0x1, b"small") + frame(0x2, big) + frame(0x1, b"after"))
    out = bytes(transport.out)
    assert out[:7] == b"\x81\x05small"  # flushed ahead of the large frame
    assert out[7:11] == b"\x82\x7e\x9c\x40" and out[11 : 11 + len(big)] == big
    await asyncio.sleep(0)
    assert bytes(transport.out)[11 + len(big) :] == b"\x81\x05after"
    protocol.connection_lost(None)


async def test_the_cork_goes_at_once_past_its_size(ws_engine: str) -> None:
    sink = EchoSink()
    protocol, transport = server(sink)
    chunk = b"y" * 10_000  # under the join limit: corked
    protocol.data_received(b"".join(frame(0x2, chunk) for i in range(8)))
    # 80 KB of answers: the first 64 KiB or so went without waiting for the round.
    assert len(transport.writes) == 1 and len(transport.out) >= 64 * 1024
    await asyncio.sleep(0)
    assert len(transport.out) == 8 * (4 + len(chunk))
    protocol.connection_lost(None)


async def test_nothing_is_written_after_the_connection_is_lost(ws_engine: str) -> None:
    sink = EchoSink()
    protocol, transport = server(sink)
    protocol.data_received(frame(0x1, b"gone"))
    transport.closed = True  # the peer vanished before the round ended
    protocol.connection_lost(ConnectionResetError())
    await asyncio.sleep(0)  # the batch runs: no "write after close"
    assert transport.writes == []
