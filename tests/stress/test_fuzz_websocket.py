"""Fuzzing WebSocket frames against the server side of ``tornadish._io.websocket`` (hypothesis).

The protocol object is driven sans-IO: a recording transport stands in for the
socket, frames built from a model (any opcode, FIN/RSV bits, masking, length
encodings, fragmentation, interleaved control frames, close codes and reasons, valid
and invalid UTF-8) or plain random bytes go in, in random reads.

- Nothing ever escapes ``data_received`` and nothing is logged at error level.
- Well-formed traffic is delivered exactly: every message once, in order, pings
  answered with their payload.
- Anything else ends with a close frame carrying a protocol-error code, then the TCP
  close.
- Both WebSocket engines (every test runs on each, see ``ws_engine``) deliver the same
  messages and pings, and answer the same pongs, whatever the peer sends.
"""

from __future__ import annotations

import asyncio
import logging
import os
import struct
from collections.abc import Iterator

import pytest
from hypothesis import strategies as st

from tornadish._io.websocket import WebSocketProtocol

from .test_fuzz_http import SIZES, cuts_st, run, split
from tests.support.transports import RecordingTransport

# The codes a close frame may carry (RFC 6455 §7.4.1, and 1012-1014 registered since):
# the peer's, echoed, or ours.
WIRE_CODES = {1000, 1001, 1002, 1003, *range(1007, 1015)}
# The properties of one engine run on each (TORNADISH_WS names it; see ws_engine).
ON_EACH_ENGINE = pytest.mark.usefixtures("ws_engine")


class Sink:
    def __init__(self) -> None:
        self.messages: list[str | bytes] = []
        self.pings: list[bytes] = []
        self.closed: tuple[int | None, str | None] | None = None

    def _ws_message(self, message: str | bytes) -> None:
        self.messages.append(message)

    def _ws_ping(self, data: bytes) -> None:
        self.pings.append(data)

    def _ws_pong(self, data: bytes) -> None:
        pass

    def _ws_closed(self, code: int | None, reason: str | None) -> None:
        assert self.closed is None, "on_close twice"
        self.closed = (code, reason)


def frame(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    mask: bool = True,
    rsv: int = 0,
    wide: int = 0,
) -> bytes:
    """A client frame; ``wide`` forces the 16-bit (1) or 64-bit (2) length form."""
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    m = 0x80 if mask else 0
    if n < 126 and not wide:
        head = struct.pack("!BB", first, m | n)
    elif n < 1 << 16 and wide != 2:
        head = struct.pack("!BBH", first, m | 126, n)
    else:
        head = struct.pack("!BBQ", first, m | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def parse_server_frames(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(opcode, payload) of each (unmasked, unfragmented) frame the server wrote."""
    i = 0
    while i < len(data):
        b0, b1 = data[i], data[i + 1]
        assert b1 & 0x80 == 0, "server frames are never masked"
        n, i = b1 & 0x7F, i + 2
        if n == 126:
            (n,) = struct.unpack("!H", data[i : i + 2])
            i += 2
        elif n == 127:
            (n,) = struct.unpack("!Q", data[i : i + 8])
            i += 8
        yield b0 & 0x0F, data[i : i + n]
        i += n


def drive(
    pieces: list[bytes], max_size: int = 1 << 20, engine: str | None = None
) -> tuple[Sink, RecordingTransport]:
    """Feed ``pieces`` to a fresh server-side protocol (on ``engine``, else the one
    ``TORNADISH_WS`` names); let it settle."""

    async def go() -> tuple[Sink, RecordingTransport]:
        sink = Sink()
        transport = RecordingTransport()
        proto = WebSocketProtocol(sink, client=False, max_message_size=max_size, engine=engine)
        transport.protocol = proto
        proto.take_over(transport, b"", False, None)
        for piece in pieces:
            proto.data_received(piece)
            await asyncio.sleep(0)
        for _ in range(3):
            await asyncio.sleep(0)
        if not transport.closed:
            transport.close()  # the peer goes away; cancels the protocol's timers
            await asyncio.sleep(0)
        assert sink.closed is not None
        return sink, transport

    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(go())
    finally:
        loop.close()


class ErrorLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def errors() -> Iterator[ErrorLog]:
    handler = ErrorLog()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)
    assert [r.getMessage() for r in handler.records] == []


# -- frames from a model ---------------------------------------------------------------

text_st = st.text(max_size=40)
close_payload_st = st.one_of(
    st.just(b""),
    st.binary(min_size=1, max_size=1),
    st.tuples(
        st.sampled_from([0, 999, 1000, 1001, 1004, 1005, 1006, 1011, 1015, 2999, 3000, 4999, 5000]),
        st.one_of(text_st.map(str.encode), st.just(b"\xff\xfe")),
    ).map(lambda t: struct.pack("!H", t[0]) + t[1]),
)


@st.composite
def any_frame_st(draw: st.DrawFn, minimal_lengths: bool = False) -> bytes:
    """Any frame; its length in a longer form than needed unless ``minimal_lengths``."""
    opcode = draw(st.sampled_from([0, 1, 2, 8, 9, 10, 3, 7, 11, 15]))
    if opcode == 8:
        payload = draw(close_payload_st)
    elif opcode == 1:
        payload = draw(st.one_of(text_st.map(str.encode), st.binary(max_size=20)))
    else:
        payload = draw(st.binary(max_size=140))
    return frame(
        opcode,
        payload,
        fin=draw(st.booleans()) or opcode >= 8,
        mask=draw(st.integers(0, 9)) > 0,
        rsv=draw(st.sampled_from([0, 0, 0, 0, 1, 2, 4])),
        wide=0 if minimal_lengths else draw(st.sampled_from([0, 0, 0, 1, 2])),
    )


@st.composite
def valid_traffic_st(draw: st.DrawFn) -> tuple[bytes, list[str | bytes], list[bytes]]:
    """Data messages, maybe fragmented, with pings between fragments."""
    wire = b""
    messages: list[str | bytes] = []
    pings: list[bytes] = []
    for _ in range(draw(st.integers(0, 5))):
        binary = draw(st.booleans())
        message: str | bytes = draw(st.binary(max_size=300)) if binary else draw(text_st)
        messages.append(message)
        raw = message if isinstance(message, bytes) else message.encode()
        cuts = sorted(set(draw(st.lists(st.integers(0, len(raw)), max_size=3))))
        fragments = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
        for i, fragment in enumerate(fragments):
            opcode = (2 if binary else 1) if i == 0 else 0
            wire += frame(opcode, fragment, fin=i == len(fragments) - 1)
            if draw(st.integers(0, 4)) == 0:
                ping = draw(st.binary(max_size=125))
                pings.append(ping)
                wire += frame(9, ping)
    return wire, messages, pings


@ON_EACH_ENGINE
@pytest.mark.parametrize("examples", SIZES)
def test_valid_traffic_is_delivered_exactly(examples: int, errors: ErrorLog) -> None:
    @run(examples, valid_traffic_st(), cuts_st)
    def prop(traffic: tuple[bytes, list[str | bytes], list[bytes]], cuts: list[int]) -> None:
        wire, messages, pings = traffic
        sink, transport = drive(split(wire, cuts))
        assert sink.messages == messages
        assert sink.pings == pings
        pongs = [p for op, p in parse_server_frames(bytes(transport.out)) if op == 10]
        assert pongs == pings
        assert sink.closed == (None, None)  # the peer vanished without a close frame


@ON_EACH_ENGINE
@pytest.mark.parametrize("examples", SIZES)
def test_arbitrary_frames_are_handled_or_failed_with_a_close_code(
    examples: int, errors: ErrorLog
) -> None:
    @run(examples, st.lists(any_frame_st(), max_size=6), cuts_st, st.sampled_from([16, 1 << 20]))
    def prop(frames: list[bytes], cuts: list[int], max_size: int) -> None:
        _sink, transport = drive(split(b"".join(frames), cuts), max_size=max_size)
        out = list(parse_server_frames(bytes(transport.out)))
        closes = [payload for op, payload in out if op == 8]
        assert len(closes) <= 1, "one close frame at most"
        if closes and len(closes[0]) >= 2:
            code = struct.unpack("!H", closes[0][:2])[0]
            assert code in WIRE_CODES or 3000 <= code < 5000, code
        for op, _ in out:
            assert op in (8, 10), op  # only pongs and a close: nothing is echoed


@ON_EACH_ENGINE
@pytest.mark.parametrize("examples", SIZES)
def test_random_bytes_never_escape(examples: int, errors: ErrorLog) -> None:
    @run(examples, st.binary(max_size=300), cuts_st)
    def prop(data: bytes, cuts: list[int]) -> None:
        drive(split(data, cuts), max_size=64)


@pytest.mark.parametrize("examples", SIZES)
def test_both_engines_deliver_the_same(examples: int, errors: ErrorLog) -> None:
    """Whatever the peer sends, wsproto and the websockets library deliver the same
    messages and pings and answer the same pongs. (Where they fail the connection may
    differ in its code, and wsproto alone refuses a length not in its shortest form:
    see tornadish/_http/ws_websockets.py.)"""
    pytest.importorskip("websockets")

    @run(examples, st.lists(any_frame_st(minimal_lengths=True), max_size=6), cuts_st)
    def prop(frames: list[bytes], cuts: list[int]) -> None:
        pieces = split(b"".join(frames), cuts)
        outcomes = []
        for engine in ("wsproto", "websockets"):
            sink, transport = drive(pieces, engine=engine)
            pongs = [p for op, p in parse_server_frames(bytes(transport.out)) if op == 10]
            outcomes.append((sink.messages, sink.pings, pongs))
        assert outcomes[0] == outcomes[1]
