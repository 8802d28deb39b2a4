"""What tornadish relies on in its engines, h11, httptools, wsproto and websockets, checked
against them directly.

pyproject.toml pins each below its next release that may change what is relied on (the
next minor release; for websockets, which numbers its releases by major, the next
major). When a pin is raised, this
file says what to look at: every test names the tornadish code that depends on the
behaviour it checks, so a failure here points at the code to revisit rather than at a
symptom three layers up.
"""

from __future__ import annotations

import inspect
import struct
from importlib.metadata import version
from typing import Any

import h11
import pytest
from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import CloseConnection, Event, TextMessage
from wsproto.extensions import Extension, PerMessageDeflate
from wsproto.frame_protocol import CloseReason, FrameDecoder, FrameProtocol, Opcode, RsvBits

from tornadish._http.permessage_deflate import BoundedDeflate


def _version(distribution: str) -> tuple[int, ...]:
    """The installed release of ``distribution``, as (major, minor)."""
    return tuple(int(part) for part in version(distribution).split(".")[:2])


# -- h11 -------------------------------------------------------------------------------------

GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def server(data: bytes = b"", **kw: int) -> h11.Connection:
    conn = h11.Connection(h11.SERVER, **kw)
    if data:
        conn.receive_data(data)
    return conn


def read_request(conn: h11.Connection) -> h11.Request:
    request = conn.next_event()
    assert isinstance(request, h11.Request), request
    while not isinstance(conn.next_event(), h11.EndOfMessage):
        pass
    return request


def remote_error(data: bytes, **kw: int) -> h11.RemoteProtocolError:
    conn = server(data, **kw)
    with pytest.raises(h11.RemoteProtocolError) as info:
        for _ in range(10):
            conn.next_event()
    return info.value


def test_h11_version_is_the_one_pinned() -> None:
    """pyproject.toml: ``h11>=0.16,<0.17`` (0.16 checks the CRLF after each chunk,
    CVE-2025-43859). Raise the pin only with this file passing against the new one."""
    assert (0, 16) <= _version("h11") < (0, 17)


def test_h11_trailing_data_holds_the_bytes_past_the_request() -> None:
    """``ServerSession.next_cycle`` starts the cycle after a whole response (and after an
    HTTP/1.0 keep-alive answer) on a fresh ``h11.Connection`` fed with
    ``trailing_data``; ``has_buffered_data`` reads it too. The bytes past the request,
    and the peer's close, must be there and parse again from the start."""
    conn = server(GET + b"GET /next HTTP/1.1\r\nHost: x\r\n\r\nGET /pa")
    read_request(conn)
    assert conn.next_event() is h11.PAUSED
    data, closed = conn.trailing_data
    assert data == b"GET /next HTTP/1.1\r\nHost: x\r\n\r\nGET /pa" and not closed
    conn.receive_data(b"")
    assert conn.trailing_data == (data, True)
    fresh = server(data)
    assert read_request(fresh).target == b"/next"
    assert fresh.next_event() is h11.PAUSED


def test_h11_trailing_data_while_idle_is_the_partial_head() -> None:
    """``ServerSession._check_partial_head`` measures an incomplete request line through
    ``trailing_data`` while ``their_state`` is IDLE (an early 414, the header
    deadline)."""
    conn = server(b"GET /" + b"u" * 50)
    assert conn.next_event() is h11.NEED_DATA
    assert conn.their_state is h11.IDLE
    assert conn.trailing_data == (b"GET /" + b"u" * 50, False)


def test_h11_trailing_data_after_101_belongs_to_the_new_protocol() -> None:
    """``ServerSession.accept_upgrade`` hands the bytes read past the upgrade request (the
    first WebSocket frames) to the WebSocket protocol from ``trailing_data``."""
    conn = server(
        b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
        b"\x81\x80frame"
    )
    read_request(conn)
    assert conn.next_event() is h11.PAUSED
    out = conn.send(h11.InformationalResponse(status_code=101, headers=[(b"Upgrade", b"x")]))
    assert out is not None and out.startswith(b"HTTP/1.1 101 ")
    assert conn.our_state is h11.SWITCHED_PROTOCOL
    assert conn.trailing_data == (b"\x81\x80frame", False)


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"NONSENSE\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n\r\n", 400),  # no Host
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
    ],
)
def test_h11_error_status_hints(data: bytes, status: int) -> None:
    """``ServerSession._classify`` answers with h11's ``error_status_hint``."""
    assert remote_error(data).error_status_hint == status


def test_h11_incomplete_head_over_the_limit_hints_431() -> None:
    """``ServerSession`` passes ``max_header_size`` as ``max_incomplete_event_size`` and
    ``_classify`` turns h11's 431 into a 414 when the request line is what is long."""
    data = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 2000
    assert remote_error(data, max_incomplete_event_size=1024).error_status_hint == 431


def test_h11_rejects_a_chunk_without_its_crlf() -> None:
    """CVE-2025-43859: the chunked reader must check the CRLF after each chunk, or a
    request can be smuggled past the server (the reason for the ``h11>=0.16`` floor)."""
    data = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n"
    assert remote_error(data).error_status_hint == 400


def test_h11_data_after_the_peer_closed_raises_runtime_error() -> None:
    """``ServerSession.receive_data`` turns h11's RuntimeError for bytes after the close
    into a 400."""
    conn = server()
    conn.receive_data(b"")
    with pytest.raises(RuntimeError):
        conn.receive_data(b"GET")


def test_h11_reads_chunked_bodies_with_extensions_and_trailers() -> None:
    """``ServerSession.next_event`` relies on h11 for the request body framing (of the
    plain chunks ``ServerSession._read_chunked`` gives it)."""
    conn = server(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;name=v\r\nhello\r\n0\r\nTrailer: y\r\n\r\n"
    )
    assert isinstance(conn.next_event(), h11.Request)
    data = conn.next_event()
    assert isinstance(data, h11.Data) and bytes(data.data) == b"hello"
    assert isinstance(conn.next_event(), h11.EndOfMessage)
    assert conn.their_state is h11.DONE


def test_h11_gives_back_what_follows_a_head_and_reads_it_again() -> None:
    """``ServerSession._start_chunked`` (and ``H11ClientSession._start_chunked``) take
    the bytes after a chunked head from ``trailing_data`` (h11 parses nothing past the
    head until asked), and the server side starts over on a fresh connection fed the
    head rebuilt from ``raw_items()``: h11 must read it as the same request."""
    head = b"POST /a?b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nX-A:  1 \r\n\r\n"
    conn = server(head + b"5 ;a=b\r\nhel")
    req = conn.next_event()
    assert isinstance(req, h11.Request)
    assert bytes(conn.trailing_data[0]) == b"5 ;a=b\r\nhel"
    lines = [b"%s %s HTTP/%s\r\n" % (req.method, req.target, req.http_version)]
    lines.extend(b"%s: %s\r\n" % pair for pair in req.headers.raw_items())
    again = server(b"".join(lines) + b"\r\n").next_event()
    assert isinstance(again, h11.Request)
    assert (again.method, again.target, list(again.headers)) == (
        req.method,
        req.target,
        list(req.headers),
    )


def test_h11_frames_a_response_of_unknown_length_as_chunked() -> None:
    """``ServerSession.response_head``/``response_data``/``response_end`` let h11 choose
    the framing: chunked for HTTP/1.1 when no Content-Length is given."""
    conn = server(GET)
    read_request(conn)
    head = conn.send(h11.Response(status_code=200, headers=[]))
    assert head is not None and b"Transfer-Encoding: chunked\r\n" in head
    assert conn.send(h11.Data(data=b"hello")) == b"5\r\nhello\r\n"
    assert conn.send(h11.EndOfMessage()) == b"0\r\n\r\n"
    conn.start_next_cycle()


def test_h11_head_ends_with_one_blank_line() -> None:
    """``ServerSession.response_head`` splices the headers h11 never sees in just before
    the blank line that ends h11's head."""
    conn = server(GET)
    read_request(conn)
    head = conn.send(h11.Response(status_code=200, headers=[(b"Content-Length", b"0")]))
    assert head == b"HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n"


def test_h11_connection_close_ends_the_connection() -> None:
    """``ServerSession.next_cycle`` returns False (so the server closes) when h11 refuses
    ``start_next_cycle``; the answer to ``Connection: close`` says close itself."""
    conn = server(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    read_request(conn)
    head = conn.send(h11.Response(status_code=200, headers=[(b"Content-Length", b"0")]))
    assert head is not None and b"Connection: close\r\n" in head
    conn.send(h11.EndOfMessage())
    assert conn.our_state is h11.MUST_CLOSE and conn.their_state is h11.MUST_CLOSE
    with pytest.raises(h11.LocalProtocolError):
        conn.start_next_cycle()


def test_h11_closes_every_http10_exchange() -> None:
    """h11 has no HTTP/1.0 keep-alive: it writes ``Connection: close`` and ends the cycle
    in MUST_CLOSE even when the client asked to keep the connection. This is why
    ``_http10_keep_alive_head`` (h11_session.py) writes that head itself and
    ``ServerSession.next_cycle`` accepts MUST_CLOSE on both sides and renews the h11
    connection. If h11 gains keep-alive for HTTP/1.0, simplify that code."""
    conn = server(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    read_request(conn)
    assert conn.their_state is h11.MUST_CLOSE
    resp = h11.Response(status_code=200, headers=[(b"Content-Length", b"2")])
    head = conn.send(resp)
    assert head is not None and b"Connection: close\r\n" in head
    # The body is still framed by the Content-Length and checked against it.
    assert conn.send(h11.Data(data=b"ok")) == b"ok"
    with pytest.raises(h11.LocalProtocolError):
        conn.send(h11.Data(data=b"!"))
    conn = server(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    read_request(conn)
    conn.send(resp)
    conn.send(h11.Data(data=b"ok"))
    assert conn.send(h11.EndOfMessage()) == b""
    assert conn.our_state is h11.MUST_CLOSE
    with pytest.raises(h11.LocalProtocolError):
        conn.start_next_cycle()


def test_h11_http10_response_of_unknown_length_is_close_delimited() -> None:
    """``_http10_keep_alive_head`` keeps only Content-Length framed answers alive: h11
    drops Transfer-Encoding for an HTTP/1.0 peer and delimits the body by the close."""
    conn = server(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    read_request(conn)
    head = conn.send(h11.Response(status_code=200, headers=[(b"Transfer-Encoding", b"chunked")]))
    assert head is not None
    assert b"transfer-encoding" not in head.lower() and b"Connection: close\r\n" in head
    assert conn.send(h11.Data(data=b"raw")) == b"raw"


def test_h11_response_headers_are_validated_and_normalised() -> None:
    """``_http10_keep_alive_head`` writes h11's validated headers itself: iterating
    ``Response.headers`` gives lower-case names, ``raw_items()`` the names as given, and
    repeated equal Content-Lengths become one; a bad value is refused when the event is
    built. (h11 does not check the reason phrase: ``response_head`` does.)"""
    resp = h11.Response(
        status_code=200,
        headers=[
            (b"Content-Length", b"5"),
            (b"Connection", b"keep-alive"),
            (b"content-length", b"5"),
        ],
    )
    assert list(resp.headers) == [(b"content-length", b"5"), (b"connection", b"keep-alive")]
    assert resp.headers.raw_items() == [(b"Content-Length", b"5"), (b"Connection", b"keep-alive")]
    assert resp.reason == b""
    with pytest.raises(h11.LocalProtocolError):
        h11.Response(status_code=200, headers=[(b"Content-Length", b"x")])


def test_h11_expect_100_continue_is_reported_and_cleared() -> None:
    """``ServerSession.expecting_continue`` and ``RequestHead.expect_continue``."""
    conn = server(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n"
    )
    assert isinstance(conn.next_event(), h11.Request)
    assert conn.they_are_waiting_for_100_continue
    conn.send(h11.InformationalResponse(status_code=100, headers=[]))
    assert not conn.they_are_waiting_for_100_continue


# -- httptools --------------------------------------------------------------------------------


class _Recorder:
    """llhttp's callbacks, recorded in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes]] = []

    def on_message_begin(self) -> None:
        self.calls.append(("begin", b""))

    def on_url(self, url: bytes) -> None:
        self.calls.append(("url", url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self.calls.append(("header", name + b"=" + value))

    def on_headers_complete(self) -> None:
        self.calls.append(("headers", b""))

    def on_body(self, body: bytes) -> None:
        self.calls.append(("body", body))

    def on_message_complete(self) -> None:
        self.calls.append(("complete", b""))


def test_httptools_version_is_the_one_pinned() -> None:
    """pyproject.toml's ``speed`` extra: ``httptools>=0.6,<0.10``. Raise the pin only
    with this file passing against the new one."""
    pytest.importorskip("httptools")
    assert (0, 6) <= _version("httptools") < (0, 10)


def test_httptools_reports_whole_headers_and_every_request_it_is_fed() -> None:
    """``HttptoolsSession.on_header`` takes a header whole even when it arrives in
    pieces (httptools joins llhttp's spans), without the value's leading whitespace;
    and one feed parses every pipelined request in it (the session queues events)."""
    httptools = pytest.importorskip("httptools")
    rec = _Recorder()
    parser = httptools.HttpRequestParser(rec)
    parser.feed_data(b"GET /a HTTP/1.1\r\nHo")
    parser.feed_data(b"st:   x\r\n\r\nGET /b HTTP/1.1\r\nHost: y\r\n\r\n")
    assert [c for c in rec.calls if c[0] in ("url", "header", "complete")] == [
        ("url", b"/a"),
        ("header", b"Host=x"),
        ("complete", b""),
        ("url", b"/b"),
        ("header", b"Host=y"),
        ("complete", b""),
    ]
    assert parser.get_method() == b"GET" and parser.get_http_version() == "1.1"


def test_httptools_stops_at_an_upgrade_and_says_where() -> None:
    """``HttptoolsSession`` hands the bytes past an upgrade request to the new protocol:
    the message completes, then ``HttpParserUpgrade`` carries the offset they start at."""
    httptools = pytest.importorskip("httptools")
    rec = _Recorder()
    parser = httptools.HttpRequestParser(rec)
    head = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
    with pytest.raises(httptools.HttpParserUpgrade) as info:
        parser.feed_data(head + b"\x81\x00")
    assert info.value.args[0] == len(head)
    assert rec.calls[-1] == ("complete", b"")


def test_httptools_is_strict_where_the_judge_relies_on_it() -> None:
    """What llhttp refuses in its strict mode, ``HttptoolsSession`` hands to h11 to
    judge; what it lets through (a double space in the request line) the session
    checks itself. Both halves are pinned here."""
    httptools = pytest.importorskip("httptools")
    for bad in (
        b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",  # space before the colon
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"FOO / HTTP/1.1\r\nHost: x\r\n\r\n",  # a method llhttp does not know
    ):
        with pytest.raises(httptools.HttpParserError):
            httptools.HttpRequestParser(_Recorder()).feed_data(bad)
    rec = _Recorder()
    httptools.HttpRequestParser(rec).feed_data(b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert ("complete", b"") in rec.calls


# -- wsproto ----------------------------------------------------------------------------------


def test_wsproto_version_is_the_one_pinned() -> None:
    """pyproject.toml: ``wsproto>=1.2,<1.4``."""
    assert (1, 2) <= _version("wsproto") < (1, 4)


@pytest.mark.parametrize(
    ("name", "parameters"),
    [
        ("frame_inbound_header", ["self", "proto", "opcode", "rsv", "payload_length"]),
        ("frame_inbound_payload_data", ["self", "proto", "data"]),
        ("frame_inbound_complete", ["self", "proto", "fin"]),
        ("frame_outbound", ["self", "proto", "opcode", "rsv", "data", "fin"]),
        ("accept", ["self", "offer"]),
        ("finalize", ["self", "offer"]),
        ("enabled", ["self"]),
    ],
)
def test_wsproto_extension_interface(name: str, parameters: list[str]) -> None:
    """``BoundedDeflate`` overrides the three ``frame_inbound_*`` methods of this
    interface and inherits the others from ``PerMessageDeflate``."""
    assert list(inspect.signature(getattr(Extension, name)).parameters) == parameters
    assert list(inspect.signature(getattr(PerMessageDeflate, name)).parameters) == parameters
    if name.startswith("frame_inbound"):
        assert getattr(BoundedDeflate, name) is not getattr(PerMessageDeflate, name)


def test_wsproto_deflate_parameters_are_public_attributes() -> None:
    """``BoundedDeflate`` inflates with the negotiated window and context takeover, read
    from these attributes after ``accept`` (server) or ``finalize`` (client)."""
    ext = PerMessageDeflate()
    assert ext.accept("permessage-deflate; client_max_window_bits=10; client_no_context_takeover")
    assert ext.enabled()
    assert ext.client_max_window_bits == 10 and ext.client_no_context_takeover
    assert ext.server_max_window_bits == 15 and not ext.server_no_context_takeover
    ext = PerMessageDeflate()
    ext.finalize("permessage-deflate; server_max_window_bits=9; server_no_context_takeover")
    assert ext.enabled()
    assert ext.server_max_window_bits == 9 and ext.server_no_context_takeover


class _Spy(Extension):
    """Records how wsproto drives an extension; returns ``fail`` from the payload hook."""

    name = "spy"

    def __init__(self, fail: CloseReason | None = None) -> None:
        self.calls: list[tuple[object, ...]] = []
        self.fail = fail

    def enabled(self) -> bool:
        return True

    def offer(self) -> bool | str:
        return True

    def frame_inbound_header(
        self, proto: FrameDecoder | FrameProtocol, opcode: Opcode, rsv: RsvBits, payload_length: int
    ) -> CloseReason | RsvBits:
        self.calls.append(("header", proto.client, opcode, rsv.rsv1, payload_length))
        return RsvBits(True, False, False)

    def frame_inbound_payload_data(
        self, proto: FrameDecoder | FrameProtocol, data: bytes
    ) -> bytes | CloseReason:
        self.calls.append(("payload", bytes(data)))
        return self.fail if self.fail is not None else data

    def frame_inbound_complete(
        self, proto: FrameDecoder | FrameProtocol, fin: bool
    ) -> bytes | CloseReason | None:
        self.calls.append(("complete", fin))
        return b"+" if fin else None


def _frame(opcode: int, payload: bytes, *, fin: bool = True, rsv1: bool = False) -> bytes:
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    assert len(payload) < 126
    return bytes([first, 0x80 | len(payload)]) + b"\0\0\0\0" + payload


def _events(conn: Connection, data: bytes) -> list[Event]:
    conn.receive_data(data)
    return list(conn.events())


def test_wsproto_drives_extensions_frame_by_frame() -> None:
    """``BoundedDeflate`` keeps its per-message state from these calls: a header per
    frame (control frames included, with the RSV bits as sent), the payload, then
    ``complete`` with the frame's FIN; what ``complete`` returns ends the message."""
    spy = _Spy()
    conn = Connection(ConnectionType.SERVER, [spy])
    evs = _events(
        conn,
        _frame(0x1, b"ab", fin=False, rsv1=True) + _frame(0x9, b"") + _frame(0x0, b"cd"),
    )
    assert spy.calls == [
        ("header", False, Opcode.TEXT, True, 2),
        ("payload", b"ab"),
        ("complete", False),
        ("header", False, Opcode.PING, False, 0),
        ("payload", b""),
        ("complete", True),
        ("header", False, Opcode.CONTINUATION, False, 2),
        ("payload", b"cd"),
        ("complete", True),
    ]
    text = "".join(ev.data for ev in evs if isinstance(ev, TextMessage))
    assert text == "abcd+"


@pytest.mark.parametrize(
    "reason", [CloseReason.MESSAGE_TOO_BIG, CloseReason.INVALID_FRAME_PAYLOAD_DATA]
)
def test_wsproto_turns_an_extension_close_reason_into_a_close(reason: CloseReason) -> None:
    """``BoundedDeflate`` fails a compression bomb with 1009 (and bad deflate data with
    1007) by returning the ``CloseReason``; ``WsprotoSession.events`` takes a
    ``CloseConnection`` while the state is still OPEN as such a parse failure."""
    conn = Connection(ConnectionType.SERVER, [_Spy(fail=reason)])
    evs = _events(conn, _frame(0x2, b"xx"))
    assert len(evs) == 1 and isinstance(evs[0], CloseConnection)
    assert evs[0].code == reason
    assert conn.state is ConnectionState.OPEN


def _masked(first: int, payload: bytes, mask: bytes = b"\x37\xfa\x21\x3d") -> bytes:
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([first, 0x80 | len(payload)]) + mask + masked


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (_masked(0x81, b"\xff\xfe"), 1007),  # bad UTF-8 in a text message
        (_masked(0x01, b"\xce") + _masked(0x80, b"\xff"), 1007),  # ... across fragments
        (b"\x81\x02hi", 1002),  # unmasked client frame
        (_masked(0xA1, b"hi"), 1002),  # a reserved bit without an extension
        (_masked(0x83, b"hi"), 1002),  # a reserved opcode
        (_masked(0x09, b""), 1002),  # a fragmented control frame
        (_masked(0x80, b"hi"), 1002),  # a continuation with nothing to continue
        (_masked(0x88, b"\x03\xe8" + b"\xff"), 1007),  # a close reason that is not UTF-8
        (_masked(0x88, b"\x03"), 1002),  # a one-byte close payload
    ],
)
def test_wsproto_close_codes_for_protocol_errors(data: bytes, code: int) -> None:
    """``WsprotoSession`` fails the connection with the code wsproto reports (the
    hostile-client tests check the same codes over a socket)."""
    evs = _events(Connection(ConnectionType.SERVER), data)
    assert isinstance(evs[-1], CloseConnection) and evs[-1].code == code, evs


def test_wsproto_deflate_outbound_marks_only_the_first_frame() -> None:
    """wsproto's outbound deflate (which ``BoundedDeflate`` inherits, for whoever sends
    through wsproto; the connection writes its own frames): RSV1 on the first frame of
    a compressed message, none on its continuations (RFC 7692 §6.1)."""
    ext = PerMessageDeflate()
    ext.finalize("permessage-deflate")
    conn = Connection(ConnectionType.CLIENT, [ext])
    first = conn.send(TextMessage(data="abc", message_finished=False))
    rest = conn.send(TextMessage(data="def", message_finished=True))
    assert first[0] & 0x40 and not first[0] & 0x80
    assert not rest[0] & 0x40 and rest[0] & 0x80
    assert struct.unpack("!B", rest[:1])[0] & 0x0F == 0x0


# -- websockets -------------------------------------------------------------------------------
# The library's sans-IO protocol parses frames for WebsocketsSession (_http/ws_websockets.py);
# its own writes (pongs, close frames) are dropped: tornadish writes every frame itself.


def _ws() -> Any:
    """``websockets``'s sans-IO modules, or a skip without the library."""
    pytest.importorskip("websockets")
    import websockets.exceptions
    import websockets.frames
    import websockets.protocol

    return websockets


def _ws_server(max_size: int | None = 1 << 20) -> Any:
    ws = _ws()
    return ws.protocol.Protocol(ws.protocol.Side.SERVER, max_size=max_size)


def _ws_feed(protocol: Any, data: bytes) -> list[Any]:
    protocol.receive_data(data)
    frames = protocol.events_received()
    protocol.data_to_send()
    return list(frames)


def _ws_failure(protocol: Any) -> tuple[int, BaseException | None]:
    """What ``WebsocketsSession._engine_failed`` reads: the code of the close frame the
    protocol queued when it failed, and the exception that made it fail."""
    protocol.receive_eof()
    protocol.data_to_send()
    closed = protocol.close_exc
    assert closed.sent is not None
    return int(closed.sent.code), closed.__cause__


def test_websockets_version_is_the_one_pinned() -> None:
    """pyproject.toml's ``speed`` extra: ``websockets>=13,<18``. Raise the pin only with
    this file passing against the new one."""
    _ws()
    assert (13,) <= _version("websockets")[:1] < (18,)


def test_websockets_unmasks_in_c() -> None:
    """``mask_payload`` (``_http/websocket.py``) masks client frames with ``apply_mask``
    from the library's C speedups, arguments (data, key)."""
    _ws()
    from websockets.speedups import apply_mask

    from tornadish._http.websocket import mask_payload
    from tornadish.util import _websocket_mask

    data = bytes(range(256)) * 5
    assert apply_mask(data, b"\x01\x02\x03\x04") == _websocket_mask(b"\x01\x02\x03\x04", data)
    assert mask_payload(b"\x01\x02\x03\x04", data) == _websocket_mask(b"\x01\x02\x03\x04", data)


def test_websockets_reports_whole_frames_in_order_and_stays_open() -> None:
    """``WebsocketsSession.receive_data``: every frame a feed completes comes out of
    ``events_received`` as a ``Frame`` (opcode, unmasked data, FIN), control frames
    between fragments included; the state stays OPEN; a partial frame waits."""
    ws = _ws()
    frames = ws.frames
    protocol = _ws_server()
    first = _masked(0x01, b"ab") + _masked(0x89, b"p") + _masked(0x80, b"cd")
    whole = _masked(0x82, b"\x00\xff")
    got = _ws_feed(protocol, first + whole[:3])
    assert [(f.opcode, bytes(f.data), f.fin) for f in got] == [
        (frames.Opcode.TEXT, b"ab", False),
        (frames.Opcode.PING, b"p", True),
        (frames.Opcode.CONT, b"cd", True),
    ]
    got = _ws_feed(protocol, whole[3:])
    assert [(f.opcode, bytes(f.data)) for f in got] == [(frames.Opcode.BINARY, b"\x00\xff")]
    assert protocol.state is ws.protocol.State.OPEN


def test_websockets_leaves_text_unchecked() -> None:
    """The library does not decode text frames: ``WebsocketsSession._translate`` does,
    and fails bad UTF-8 with 1007 itself."""
    protocol = _ws_server()
    got = _ws_feed(protocol, _masked(0x81, b"\xff\xfe"))
    assert [bytes(f.data) for f in got] == [b"\xff\xfe"]
    assert protocol.state is _ws().protocol.State.OPEN


def test_websockets_reports_the_peers_close_frame() -> None:
    """``WebsocketsSession._translate`` reads the close frame with ``Close.parse`` (an
    empty one is 1005), and reports nothing after it; the protocol leaves OPEN, which
    is not a failure when the close frame came."""
    ws = _ws()
    protocol = _ws_server()
    got = _ws_feed(protocol, _masked(0x88, b"\x0f\xa0bye") + _masked(0x81, b"late"))
    assert [f.opcode for f in got] == [ws.frames.Opcode.CLOSE]
    close = ws.frames.Close.parse(got[0].data)
    assert (close.code, close.reason) == (4000, "bye")
    assert ws.frames.Close.parse(b"").code == 1005
    assert protocol.state is not ws.protocol.State.OPEN


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"\x81\x02hi", 1002),  # unmasked client frame
        (_masked(0xA1, b"hi"), 1002),  # a reserved bit without an extension
        (_masked(0x83, b"hi"), 1002),  # a reserved opcode
        (_masked(0x09, b""), 1002),  # a fragmented control frame
        (_masked(0x80, b"hi"), 1002),  # a continuation with nothing to continue
        (_masked(0x01, b"a") + _masked(0x81, b"b"), 1002),  # a new message mid-message
        (_masked(0x88, b"\x03\xe8" + b"\xff"), 1007),  # a close reason that is not UTF-8
        (_masked(0x88, b"\x03"), 1002),  # a one-byte close payload
        (_masked(0x88, b"\x03\xec"), 1002),  # close code 1004, reserved
        # Where wsproto differs (documented in _http/ws_websockets.py): a close frame
        # between the fragments of a message is an error here.
        (_masked(0x01, b"a") + _masked(0x88, b""), 1002),
    ],
)
def test_websockets_fails_protocol_errors_with_the_rfc_code(data: bytes, code: int) -> None:
    """``WebsocketsSession._engine_failed``: a frame the library refuses leaves the state
    OPEN without a close frame among the events, and ``close_exc.sent`` carries the code
    (read once ``receive_eof`` has closed the protocol)."""
    ws = _ws()
    protocol = _ws_server()
    got = _ws_feed(protocol, data)
    assert ws.frames.Opcode.CLOSE not in [f.opcode for f in got]
    assert protocol.state is not ws.protocol.State.OPEN
    assert _ws_failure(protocol)[0] == code


def test_websockets_refuses_a_frame_over_max_size_from_its_header() -> None:
    """``WebsocketsSession`` passes the message size limit as ``max_size``: a frame longer
    than the room left fails with 1009 before its payload arrives, and the room counts
    the message's earlier fragments."""
    ws = _ws()
    protocol = _ws_server(max_size=1000)
    header = bytes([0x82, 0x80 | 127]) + struct.pack("!Q", 1 << 40) + b"\0\0\0\0"
    assert _ws_feed(protocol, header) == []
    assert _ws_failure(protocol)[0] == 1009
    protocol = _ws_server(max_size=1000)
    fragments = _masked(0x02, b"a" * 100) + bytes([0x80, 0x80 | 126]) + struct.pack("!H", 901)
    assert len(_ws_feed(protocol, fragments)) == 1
    assert protocol.state is not ws.protocol.State.OPEN
    assert _ws_failure(protocol)[0] == 1009


def test_websockets_accepts_a_length_longer_than_needed() -> None:
    """Where wsproto differs (documented in ``_http/ws_websockets.py``): a payload length
    in the 16-bit form although it fits in 7 bits is accepted."""
    protocol = _ws_server()
    frame = bytes([0x82, 0x80 | 126]) + struct.pack("!H", 2) + b"\0\0\0\0" + b"hi"
    assert [bytes(f.data) for f in _ws_feed(protocol, frame)] == [b"hi"]


class _WsSpy:
    """Records how the library drives an extension; ``fail`` is raised from ``decode``."""

    def __init__(self, fail: BaseException | None = None) -> None:
        self.calls: list[tuple[object, ...]] = []
        self.fail = fail

    def decode(self, frame: Any, *, max_size: int | None = None) -> Any:
        self.calls.append((frame.opcode, frame.rsv1, frame.fin, bytes(frame.data), max_size))
        if self.fail is not None:
            raise self.fail
        frames = _ws().frames
        return frames.Frame(frame.opcode, bytes(frame.data) + b"+", frame.fin, False)

    def encode(self, frame: Any) -> Any:
        self.calls.append(("encode", frame.opcode))
        return frame


def test_websockets_drives_extensions_frame_by_frame() -> None:
    """``BoundedInflate`` (``_http/ws_websockets.py``), installed by assigning the
    protocol's ``extensions`` list as the library's own handshake does: ``decode`` sees
    every frame whole, control frames included, with RSV1 as sent and the room left in
    the message as ``max_size``; the frame it returns (RSV1 cleared) is what is
    reported; ``encode`` sees the control frames the library queues (a pong here)."""
    ws = _ws()
    assert set(inspect.signature(ws.extensions.Extension.decode).parameters) == {
        "self",
        "frame",
        "max_size",
    }
    spy = _WsSpy()
    protocol = _ws_server(max_size=1000)
    protocol.extensions = [spy]
    got = _ws_feed(protocol, _masked(0x41, b"ab") + _masked(0x89, b"p") + _masked(0x80, b"cd"))
    opcode = ws.frames.Opcode
    assert spy.calls == [
        (opcode.TEXT, True, False, b"ab", 1000),
        (opcode.PING, False, True, b"p", 997),
        ("encode", opcode.PONG),
        (opcode.CONT, False, True, b"cd", 997),
    ]
    assert [bytes(f.data) for f in got] == [b"ab+", b"p+", b"cd+"]


@pytest.mark.parametrize("too_big", [True, False])
def test_websockets_fails_what_an_extension_raises(too_big: bool) -> None:
    """``BoundedInflate`` fails a compression bomb with ``PayloadTooBig`` (1009) and bad
    deflate data with a ``ProtocolError`` of its own, which ``close_exc.__cause__``
    names (``WebsocketsSession`` then fails with 1007)."""
    ws = _ws()
    exceptions = ws.exceptions
    fail: BaseException
    fail = exceptions.PayloadTooBig(None, 10) if too_big else exceptions.ProtocolError("bad")
    protocol = _ws_server()
    protocol.extensions = [_WsSpy(fail)]
    assert _ws_feed(protocol, _masked(0xC2, b"xx")) == []
    code, cause = _ws_failure(protocol)
    assert code == (1009 if too_big else 1002)
    assert cause is fail
