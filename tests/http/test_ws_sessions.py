"""The WebSocket seam without sockets: both engines' sessions turn the same bytes into
the same events (``_http/ws_events.py``) and write the same close frames; choosing an
engine (``resolve_ws``) follows ``ws=``, then ``TORNADISH_WS``, then what is installed."""

from __future__ import annotations

import os
import struct
import zlib
from typing import Any

import pytest

from tornadish._http import engines
from tornadish._http import ws_events as ev
from tornadish._http.websocket import DeflateAgreement, close_payload, negotiate_deflate
from tornadish._http.ws_engines import WebSocketSessionType, resolve_ws, ws_session_class

from tests.support.wsframes import client_frame

ENGINES = ["wsproto", "websockets"]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    if request.param == "websockets":
        pytest.importorskip("websockets")
    return str(request.param)


def session(
    engine: str, *, client: bool = False, limit: int | None = 1 << 20, deflate: Any = None
) -> WebSocketSessionType:
    return ws_session_class(engine)(client, limit, deflate)  # type: ignore[arg-type]


def frame(opcode: int, payload: bytes, *, fin: bool = True, rsv1: bool = False) -> bytes:
    """One masked client frame (a random key)."""
    return client_frame(opcode, payload, fin=fin, rsv1=rsv1, key=os.urandom(4))


def events(s: WebSocketSessionType, data: bytes, pieces: int = 1) -> list[Any]:
    """Feed ``data`` in ``pieces``; what the session reports, as plain tuples (message
    data joined: wsproto reports a frame's payload as it arrives)."""
    out: list[Any] = []
    step = max(1, -(-len(data) // pieces))
    for i in range(0, len(data), step):
        s.receive_data(data[i : i + step])
        out += list(s.events())
    merged: list[Any] = []
    for e in out:
        if isinstance(e, ev.Data):
            data_: Any = e.data if isinstance(e.data, str) else bytes(e.data)
            if merged and merged[-1][0] == "data" and not merged[-1][3]:
                _, prev, size, _ = merged.pop()
                data_, e_size = prev + data_, size + e.size
            else:
                e_size = e.size
            merged.append(("data", data_, e_size, e.fin))
        elif isinstance(e, ev.Ping | ev.Pong):
            merged.append((type(e).__name__.lower(), e.payload))
        else:
            merged.append((type(e).__name__.lower(), e.code))
    return merged


@pytest.mark.parametrize("pieces", [1, 3, 50])
def test_messages_pings_and_fragments_come_out_in_order(engine: str, pieces: int) -> None:
    wire = (
        frame(0x1, "héllo".encode())
        + frame(0x2, b"\x00\xff")
        + frame(0x1, b"ab", fin=False)
        + frame(0x9, b"p")
        + frame(0x0, "cé".encode())
        + frame(0xA, b"q")
    )
    assert events(session(engine), wire, pieces) == [
        ("data", "héllo", 6, True),
        ("data", b"\x00\xff", 2, True),
        ("data", "ab", 2, False),
        ("ping", b"p"),
        ("data", "cé", 3, True),
        ("pong", b"q"),
    ]


def test_text_is_decoded_across_a_split_character(engine: str) -> None:
    wire = frame(0x1, "é".encode()[:1], fin=False) + frame(0x0, "é".encode()[1:])
    joined = "".join(e[1] for e in events(session(engine), wire) if e[0] == "data")
    assert joined == "é"


def test_the_peers_close_ends_the_events(engine: str) -> None:
    s = session(engine)
    got = events(s, frame(0x8, struct.pack("!H", 4000) + b"bye") + frame(0x1, b"late"))
    assert got == [("close", 4000)]
    assert events(session(engine), frame(0x8, b"")) == [("close", ev.NO_STATUS_RCVD)]


@pytest.mark.parametrize(
    ("wire", "code"),
    [
        (b"\x81\x02hi", 1002),  # unmasked
        (frame(0x3, b"x"), 1002),  # reserved opcode
        (frame(0x1, b"\xff"), 1007),  # bad UTF-8
        (frame(0x1, b"\xc3", fin=False) + frame(0x0, b"("), 1007),  # ... across fragments
        (frame(0x1, b"ok", fin=False) + frame(0x0, b"\xc3"), 1007),  # ... cut at the end
        (frame(0x2, b"x" * 2000), 1009),  # over the limit (wsproto: the glue says so)
    ],
)
def test_a_broken_frame_is_a_failure_and_the_end(engine: str, wire: bytes, code: int) -> None:
    s = session(engine, limit=1000)
    got = events(s, wire + frame(0x1, b"after"))
    if engine == "wsproto" and code == 1009:
        # wsproto has no limit: the data arrives, and the glue refuses it (politely).
        assert got[0][0] == "data" and got[0][2] == 2000
        return
    assert got[-1] == ("failure", code)
    assert ("data", "after", 5, True) not in got
    s.receive_data(frame(0x1, b"more"))  # ignored: the session has ended
    assert list(s.events()) == []


def test_events_not_taken_wait_for_the_next_call(engine: str) -> None:
    s = session(engine)
    s.receive_data(frame(0x1, b"a") + frame(0x1, b"b") + frame(0x1, b"c"))
    it = s.events()
    first = next(it)
    assert isinstance(first, ev.Data) and first.data == "a"
    del it  # the glue stops taking (an on_message is busy)
    rest = [e.data for e in s.events() if isinstance(e, ev.Data)]
    assert rest == ["b", "c"]


@pytest.mark.parametrize("client", [False, True])
@pytest.mark.parametrize(
    ("code", "reason"), [(1000, "bye"), (ev.NO_STATUS_RCVD, None), (4001, "é" * 100)]
)
def test_close_frames_are_the_same_on_both_engines(
    engine: str, client: bool, code: int, reason: str | None
) -> None:
    """Server frames byte for byte; client frames once unmasked."""
    data = session(engine, client=client).send_close(code, reason)
    assert data[0] == 0x88
    n = data[1] & 0x7F
    assert bool(data[1] & 0x80) is client
    payload = data[2:]
    if client:
        key, payload = payload[:4], payload[4:]
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    assert len(payload) == n <= 125
    assert payload == close_payload(code, reason)
    if reason and len(reason.encode()) > 123:
        assert payload[2:].decode() == reason[: len(payload[2:].decode())]


def test_only_one_close_frame_is_sent(engine: str) -> None:
    s = session(engine)
    assert s.send_close(1000)
    assert s.send_close(1001) == b""


def _deflated(compressor: Any, data: bytes) -> bytes:
    out: bytes = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return out[:-4]


def _agreement(offer: str = "permessage-deflate") -> DeflateAgreement:
    agreement = negotiate_deflate({}, offer)
    assert agreement is not None
    return agreement


def test_compressed_messages_are_inflated_with_context_takeover(engine: str) -> None:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    message = b"a shared phrase " * 20
    wire = frame(0x2, _deflated(compressor, message), rsv1=True)
    wire += frame(0x2, _deflated(compressor, message), rsv1=True)  # refers back
    wire += frame(0x1, b"plain")
    got = events(session(engine, deflate=_agreement()), wire)
    assert got == [("data", message, 320, True)] * 2 + [("data", "plain", 5, True)]


def test_a_fragmented_compressed_message_with_a_ping_between(engine: str) -> None:
    """Control frames may come between the fragments of a compressed message (RFC 6455
    §5.4): they are not compressed, and do not end the message."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = _deflated(compressor, b"x" * 500)
    wire = frame(0x2, body[:5], fin=False, rsv1=True) + frame(0x9, b"p")
    wire += frame(0x0, body[5:]) + frame(0x1, b"next")
    got = events(session(engine, deflate=_agreement()), wire)
    assert [e for e in got if e[0] == "ping"] == [("ping", b"p")]
    data = [e for e in got if e[0] == "data"]
    assert b"".join(e[1] for e in data[:-1]) == b"x" * 500 and data[-2][3]
    assert data[-1] == ("data", "next", 4, True)


@pytest.mark.parametrize(
    ("wire", "code"),
    [
        (frame(0x2, b"\xff\xff\xff\xff", rsv1=True), 1007),  # not deflate data
        (frame(0x9, b"", rsv1=True), 1002),  # RSV1 on a control frame
        (frame(0x1, b"a", fin=False) + frame(0x0, b"b", rsv1=True), 1002),  # ... on a CONT
    ],
)
def test_bad_compressed_frames_fail_with_the_rfc_code(engine: str, wire: bytes, code: int) -> None:
    assert events(session(engine, deflate=_agreement()), wire)[-1] == ("failure", code)


def test_a_compression_bomb_fails_with_1009_without_inflating(engine: str) -> None:
    bomb = _deflated(zlib.compressobj(9, zlib.DEFLATED, -15), bytes(64 << 20))
    got = events(session(engine, limit=1 << 20, deflate=_agreement()), frame(0x2, bomb, rsv1=True))
    assert got[-1] == ("failure", 1009)
    assert not [e for e in got if e[0] == "data"]


def test_the_agreed_window_is_the_one_inflated_with(engine: str) -> None:
    """The client agreed to a 512-byte window: a reference further back than that is
    invalid data for us (1007), on either engine."""
    far = os.urandom(2000)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    wire = frame(0x2, _deflated(compressor, far), rsv1=True)
    wire += frame(0x2, _deflated(compressor, far), rsv1=True)
    agreement = _agreement("permessage-deflate; client_max_window_bits=9")
    got = events(session(engine, deflate=agreement), wire)
    assert got[0] == ("data", far, 2000, True) and got[-1] == ("failure", 1007)


# -- choosing the engine ------------------------------------------------------------------


def test_resolve_ws_follows_the_argument_then_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TORNADISH_WS", "wsproto")
    assert resolve_ws() == "wsproto"
    assert resolve_ws(" WSPROTO ") == "wsproto"
    monkeypatch.delenv("TORNADISH_WS")
    expected = "websockets" if engines.installed("websockets") else "wsproto"
    assert resolve_ws() == resolve_ws("auto") == expected
    with pytest.raises(ValueError, match="ws engine must be one of"):
        resolve_ws("h11")


def test_asking_for_a_missing_websockets_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engines, "installed", lambda package: False)
    assert resolve_ws("auto") == "wsproto"
    with pytest.raises(ImportError, match=r"pip install 'tornadish\[speed\]'"):
        resolve_ws("websockets")
