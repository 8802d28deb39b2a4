"""``BoundedDeflate`` on its own: permessage-deflate (RFC 7692) inbound, capped at the
message size limit, driven through wsproto connections without sockets."""

from __future__ import annotations

import os
import zlib

import pytest
from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Event, Message, Ping, TextMessage
from wsproto.extensions import PerMessageDeflate

from tornadish._http.permessage_deflate import BoundedDeflate

from tests.support.wsframes import client_frame

_TEXT, _BINARY, _CONTINUATION, _PING = 0x1, 0x2, 0x0, 0x9


def server(limit: int = 1 << 20, offer: str = "permessage-deflate") -> Connection:
    """A server connection whose deflate extension accepted ``offer``."""
    ext = BoundedDeflate(limit)
    assert ext.accept(offer) is not None
    return Connection(ConnectionType.SERVER, [ext])


def client(agreed: str = "permessage-deflate", **options: bool | int) -> Connection:
    """A client compressing with wsproto's own extension, as negotiated by ``agreed``."""
    ext = PerMessageDeflate(**options)  # type: ignore[arg-type]
    ext.finalize(agreed)
    return Connection(ConnectionType.CLIENT, [ext])


def frame(opcode: int, payload: bytes, *, fin: bool = True, rsv1: bool = False) -> bytes:
    """One masked client frame (a zero mask: the payload goes as is)."""
    return client_frame(opcode, payload, fin=fin, rsv1=rsv1)


def deflated(compressor: zlib._Compress, data: bytes) -> bytes:
    """``data`` as one permessage-deflate message body (the sync-flush tail dropped)."""
    out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def feed(conn: Connection, data: bytes) -> list[Event]:
    conn.receive_data(data)
    return list(conn.events())


def messages(events: list[Event]) -> list[str | bytes]:
    """Whole messages, fragments joined, as the WebSocket protocol delivers them."""
    out: list[str | bytes] = []
    parts: list[str | bytes] = []
    for ev in events:
        if isinstance(ev, Message):
            parts.append(ev.data)
            if ev.message_finished:
                out.append("".join(parts) if isinstance(ev, TextMessage) else b"".join(parts))  # type: ignore[arg-type]
                parts = []
    return out


def close_code(events: list[Event]) -> int | None:
    closes = [ev for ev in events if isinstance(ev, CloseConnection)]
    return closes[-1].code if closes else None


# -- what a well-behaved peer sends ------------------------------------------------------------


def test_messages_from_wsproto_round_trip_with_context_takeover() -> None:
    srv, cli = server(), client()
    sent: list[str | bytes] = ["hello " * 50, b"\x00\x01" * 300, "hello " * 50, "", b""]
    data = b"".join(
        cli.send(TextMessage(data=m) if isinstance(m, str) else BytesMessage(data=m)) for m in sent
    )
    assert messages(feed(srv, data)) == sent


def test_uncompressed_messages_pass_through() -> None:
    srv = server()
    evs = feed(srv, frame(_TEXT, b"plain") + frame(_BINARY, b"\xff\xfe"))
    assert messages(evs) == ["plain", b"\xff\xfe"]


def test_fragmented_message_with_a_ping_between_its_fragments() -> None:
    """Control frames may come between the fragments of a compressed message (RFC 6455
    §5.4); they must not end the message's compression state."""
    srv, cli = server(), client()
    data = (
        cli.send(TextMessage(data="abc" * 100, message_finished=False))
        + cli.send(Ping(payload=b"p"))
        + cli.send(TextMessage(data="def" * 100, message_finished=True))
        + cli.send(TextMessage(data="next"))
    )
    evs = feed(srv, data)
    assert [ev.payload for ev in evs if isinstance(ev, Ping)] == [b"p"]
    assert messages(evs) == ["abc" * 100 + "def" * 100, "next"]


def test_the_negotiated_window_is_the_one_inflated_with() -> None:
    # The client agreed to compress with a 512-byte window; a back-reference into the
    # previous message further than that is not in ours: the payload is invalid (1007),
    # as wsproto's own extension would say.
    far = os.urandom(2000)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    wire = frame(_BINARY, deflated(compressor, far), rsv1=True)
    wire += frame(_BINARY, deflated(compressor, far), rsv1=True)
    evs = feed(server(offer="permessage-deflate; client_max_window_bits=9"), wire)
    assert messages(evs) == [far] and close_code(evs) == 1007
    evs = feed(server(offer="permessage-deflate; client_max_window_bits=15"), wire)
    assert messages(evs) == [far, far] and close_code(evs) is None


def test_context_takeover_is_honoured_both_ways() -> None:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = deflated(compressor, b"a shared phrase " * 20)
    second = deflated(compressor, b"a shared phrase " * 20)  # refers back to the first
    wire = frame(_BINARY, first, rsv1=True) + frame(_BINARY, second, rsv1=True)
    assert messages(feed(server(), wire)) == [b"a shared phrase " * 20] * 2
    # The client promised not to: our window starts empty for each message.
    srv = server(offer="permessage-deflate; client_no_context_takeover")
    evs = feed(srv, wire)
    assert messages(evs) == [b"a shared phrase " * 20]
    assert close_code(evs) == 1007


# -- what a hostile peer sends -----------------------------------------------------------------


def test_compression_bomb_fails_with_1009_without_inflating_it() -> None:
    bomb = deflated(zlib.compressobj(9, zlib.DEFLATED, -15), b"\0" * (64 << 20))
    assert len(bomb) < 100_000
    evs = feed(server(limit=1 << 20), frame(_BINARY, bomb, rsv1=True))
    assert close_code(evs) == 1009
    assert messages(evs) == []


def test_limit_counts_the_whole_message_across_fragments_and_pings() -> None:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = compressor.compress(b"\0" * 600) + compressor.flush(zlib.Z_SYNC_FLUSH)
    wire = frame(_BINARY, piece, fin=False, rsv1=True)
    wire += frame(_PING, b"") + frame(_CONTINUATION, piece, fin=False)
    evs = feed(server(limit=1000), wire)
    assert close_code(evs) == 1009


def test_message_at_the_limit_is_accepted_and_the_count_restarts() -> None:
    srv, cli = server(limit=1000), client()
    data = b"".join(cli.send(BytesMessage(data=b"x" * 1000)) for _ in range(3))
    assert messages(feed(srv, data)) == [b"x" * 1000] * 3
    assert close_code(feed(srv, cli.send(BytesMessage(data=b"x" * 1001)))) == 1009


@pytest.mark.parametrize(
    ("wire", "code"),
    [
        (frame(_PING, b"", rsv1=True), 1002),  # RSV1 on a control frame
        (frame(_TEXT, b"a", fin=False) + frame(_CONTINUATION, b"b", rsv1=True), 1002),
        (frame(_BINARY, b"\xff\xff\xff\xff", rsv1=True), 1007),  # not deflate data
    ],
)
def test_bad_compressed_frames_close_with_the_rfc_code(wire: bytes, code: int) -> None:
    assert close_code(feed(server(), wire)) == code
