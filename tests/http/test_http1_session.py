"""``tornadish._http.h11_session.ServerSession`` on its own: bytes in, events out; no sockets."""

from __future__ import annotations

import h11
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tornadish._http.engines import server_session_class
from tornadish._http.h11_session import (
    CLOSED,
    END,
    NEED_DATA,
    PAUSED,
    LocalError,
    ProtocolError,
    RequestHead,
    ServerSession,
)


def session(max_header_size: int = 65536, max_url_size: int = 8192) -> ServerSession:
    return _ENGINE[0](max_header_size, max_url_size)  # type: ignore[no-any-return]


_ENGINE: list[type] = [ServerSession]


@pytest.fixture(autouse=True)
def _engine(http_engine: str) -> None:
    """Every test here runs on both engines' sessions (issue 15)."""
    _ENGINE[0] = server_session_class(http_engine)  # type: ignore[arg-type]


def events(s: ServerSession, limit: int = 100) -> list[object]:
    """Read events up to the end of a request or NEED_DATA/PAUSED/CLOSED (included), as
    the server does: it asks for nothing more until it has answered."""
    out: list[object] = []
    for _ in range(limit):
        ev = s.next_event()
        out.append(ev)
        if ev is END or ev is NEED_DATA or ev is PAUSED or ev is CLOSED:
            return out
    raise AssertionError(f"no end of events: {out[:10]}")


def head_of(evs: list[object]) -> RequestHead:
    heads = [e for e in evs if isinstance(e, RequestHead)]
    assert len(heads) == 1, evs
    return heads[0]


def body_of(evs: list[object]) -> bytes:
    return b"".join(e for e in evs if isinstance(e, bytes))


def respond(s: ServerSession, body: bytes = b"ok", headers=None) -> bytes:
    hs = headers if headers is not None else [(b"Content-Length", str(len(body)).encode())]
    return s.response_head(200, "OK", list(hs)) + s.response_data(body) + s.response_end()


def error_status(data: bytes, **kw: int) -> int:
    s = session(**kw)
    with pytest.raises(ProtocolError) as info:
        s.receive_data(data)
        events(s)
    assert info.value.message
    return info.value.status


# -- parsing --------------------------------------------------------------------------------


def test_simple_get() -> None:
    s = session()
    s.receive_data(b"GET /a?b=c HTTP/1.1\r\nHost: x\r\nX-Foo:  bar \r\n\r\n")
    evs = events(s)
    head = head_of(evs)
    assert (head.method, head.target, head.version) == ("GET", "/a?b=c", "HTTP/1.1")
    assert head.headers == [(b"host", b"x"), (b"x-foo", b"bar")]
    assert head.keep_alive and not head.expect_continue
    assert evs[1:] == [END]
    assert s.next_event() is NEED_DATA  # nothing more buffered
    # Read in full, nothing answered yet: the whole response may go out in one piece.
    assert s.whole_response(200, "OK", [], b"") is not None


def test_need_data_for_partial_head() -> None:
    s = session()
    s.receive_data(b"GET / HTTP/1.1\r\nHo")
    assert s.next_event() is NEED_DATA
    s.receive_data(b"st: x\r\n\r\n")
    assert isinstance(s.next_event(), RequestHead)


@pytest.mark.parametrize(
    ("data", "keep_alive"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", True),
        (b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", False),
        (b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Keep-Alive, CLOSE\r\n\r\n", False),
        (b"GET / HTTP/1.0\r\n\r\n", False),
        (b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", True),
        (b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", True),
        (b"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", False),
    ],
)
def test_keep_alive_flag(data: bytes, keep_alive: bool) -> None:
    s = session()
    s.receive_data(data)
    assert head_of(events(s)).keep_alive is keep_alive


def test_http10_version_string() -> None:
    s = session()
    s.receive_data(b"GET / HTTP/1.0\r\n\r\n")
    assert head_of(events(s)).version == "HTTP/1.0"


def test_content_length_body() -> None:
    s = session()
    s.receive_data(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello")
    evs = events(s)
    assert body_of(evs) == b"hello" and evs[-1] is NEED_DATA
    assert s.whole_response(200, "OK", [], b"") is None  # the request is not complete
    s.receive_data(b"world")
    evs = events(s)
    assert evs == [b"world", END]
    assert s.whole_response(200, "OK", [], b"") is not None  # now it is


def test_chunked_body_with_extensions_and_trailers() -> None:
    s = session()
    s.receive_data(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;name=v\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nTrailer: y\r\n\r\n"
    )
    evs = events(s)
    assert body_of(evs) == b"hello world"
    assert evs[-1] is END


CHUNKED_HEAD = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"


def test_chunked_refusal_comes_after_the_data_before_it() -> None:
    """Both engines read chunk framing with tornadish._http.chunked: the data read before
    a framing error is delivered, then the refusal (and it stays)."""
    s = session()
    s.receive_data(CHUNKED_HEAD + b"5 ; a = b\r\nhello\r\n3 \r\nabc\r\n0\r\n\r\n")
    assert isinstance(s.next_event(), RequestHead)
    assert s.next_event() == b"hello"
    for _ in range(2):
        with pytest.raises(ProtocolError) as info:
            s.next_event()
        assert (info.value.status, info.value.message) == (400, "invalid chunk size")
    s.receive_data(b"more")  # nothing more is read
    with pytest.raises(ProtocolError):
        s.next_event()


def test_chunked_body_over_many_reads_then_the_next_request() -> None:
    s = session()
    s.receive_data(CHUNKED_HEAD + b"a;x=1\r\nhello")
    assert events(s)[1:] == [b"hello", NEED_DATA]
    s.receive_data(b"world\r")
    assert events(s) == [b"world", NEED_DATA]
    s.receive_data(b"\n0\r\nT: 1\r\n")
    assert events(s) == [NEED_DATA]
    s.receive_data(b"\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n")
    assert events(s) == [END]
    assert s.detach() == (b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n", False)
    assert s.next_event() is PAUSED
    respond(s)
    assert s.next_cycle()
    assert head_of(events(s)).target == "/next"


def test_chunked_request_expecting_continue() -> None:
    s = session()
    s.receive_data(CHUNKED_HEAD[:-2] + b"Expect: 100-continue\r\n\r\n")
    assert head_of(events(s)).expect_continue and s.expecting_continue
    s.continue_response()
    s.receive_data(b"3\r\nabc\r\n0\r\n\r\n")
    assert events(s) == [b"abc", END]
    s = session()
    s.receive_data(CHUNKED_HEAD[:-2] + b"Expect: 100-continue\r\n\r\n3\r\nabc\r\n")
    assert body_of(events(s)) == b"abc"
    assert not s.expecting_continue  # the client sent body: it is not waiting


def test_chunked_body_cut_by_the_close() -> None:
    s = session()
    s.receive_data(CHUNKED_HEAD + b"5\r\nhel")
    events(s)
    s.receive_data(b"")
    with pytest.raises(ProtocolError) as info:
        events(s)
    assert info.value.incomplete and info.value.status == 400


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ((b"1;a=" + b"x" * 4000 + b"\r\nX\r\n") * 5 + b"0\r\n\r\n", 400),  # framing, no data
        (b"0\r\nX: " + b"a" * 70000 + b"\r\n\r\n", 431),  # trailer fields past the limit
        (b"5;a=" + b"x" * 5000 + b"\r\nhello\r\n0\r\n\r\n", 400),  # a chunk line past 4 KiB
    ],
)
def test_chunked_framing_is_bounded(body: bytes, status: int) -> None:
    for step in (len(body), 1000):
        s = session()
        s.receive_data(CHUNKED_HEAD)
        events(s)
        with pytest.raises(ProtocolError) as info:
            for i in range(0, len(body), step):
                s.receive_data(body[i : i + step])
                events(s)
        assert info.value.status == status


def test_expect_continue() -> None:
    s = session()
    s.receive_data(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n"
    )
    evs = events(s)
    assert head_of(evs).expect_continue and s.expecting_continue
    assert s.continue_response() == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert not s.expecting_continue
    s.receive_data(b"abc")
    assert events(s) == [b"abc", END]


def test_body_without_continue_clears_expectation() -> None:
    s = session()
    s.receive_data(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nabc"
    )
    events(s)
    assert not s.expecting_continue


def test_clean_close_between_requests() -> None:
    s = session()
    s.receive_data(b"")
    assert s.next_event() is CLOSED


def test_close_mid_head_is_400() -> None:
    s = session()
    s.receive_data(b"GET / HTTP/1.1\r\nHost")
    assert s.next_event() is NEED_DATA
    s.receive_data(b"")
    with pytest.raises(ProtocolError) as info:
        s.next_event()
    assert info.value.status == 400


def test_close_mid_body_is_400() -> None:
    s = session()
    s.receive_data(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab")
    events(s)
    s.receive_data(b"")
    with pytest.raises(ProtocolError) as info:
        s.next_event()
    assert info.value.status == 400


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",  # no Host
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n",
    ],
)
def test_bad_requests_are_400(data: bytes) -> None:
    assert error_status(data) == 400


def test_identical_duplicate_content_length_is_accepted() -> None:
    s = session()
    s.receive_data(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab"
    )
    assert body_of(events(s)) == b"ab"


@pytest.mark.parametrize("te", [b"gzip", b"chunked, gzip", b"deflate"])
def test_unsupported_transfer_encoding_400(te: bytes) -> None:
    # Tornado's 400, not the 501 RFC 9112 §6.1 recommends (docs/migrating.md).
    data = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + te + b"\r\n\r\n"
    assert error_status(data) == 400


def test_head_too_large_complete_431() -> None:
    data = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 2000 + b"\r\n\r\n"
    assert error_status(data, max_header_size=1024) == 431


def test_head_too_large_incremental_431() -> None:
    s = session(max_header_size=1024)
    s.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\n")
    assert s.next_event() is NEED_DATA
    with pytest.raises(ProtocolError) as info:
        for _ in range(20):
            s.receive_data(b"X-Filler: " + b"f" * 100 + b"\r\n")
            assert s.next_event() is NEED_DATA
    assert info.value.status == 431


def test_head_just_within_limit_is_accepted() -> None:
    data = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 900 + b"\r\n\r\n"
    assert len(data) < 1024
    s = session(max_header_size=1024)
    s.receive_data(data)
    assert isinstance(s.next_event(), RequestHead)


def test_long_target_in_complete_head_414() -> None:
    data = b"GET /" + b"u" * 200 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    assert error_status(data, max_url_size=100, max_header_size=4096) == 414


def test_long_request_line_detected_before_line_end_414() -> None:
    s = session(max_url_size=100, max_header_size=4096)
    s.receive_data(b"GET /" + b"u" * 300)  # no CRLF yet, below the head limit
    with pytest.raises(ProtocolError) as info:
        s.next_event()
    assert info.value.status == 414


def test_long_request_line_over_both_limits_414() -> None:
    s = session(max_url_size=100, max_header_size=1024)
    with pytest.raises(ProtocolError) as info:
        for _ in range(10):
            s.receive_data(b"u" * 500 if _ else b"GET /")
            s.next_event()
    assert info.value.status == 414


def test_target_at_limit_is_accepted() -> None:
    s = session(max_url_size=100)
    s.receive_data(b"GET /" + b"u" * 99 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert len(head_of(events(s)).target) == 100


def test_long_header_is_431_not_414() -> None:
    """A long header line (not the request line) is a head-size problem."""
    s = session(max_url_size=100, max_header_size=1024)
    s.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 300)
    assert s.next_event() is NEED_DATA
    with pytest.raises(ProtocolError) as info:
        s.receive_data(b"a" * 2000)
        s.next_event()
    assert info.value.status == 431


def test_data_after_peer_close_is_protocol_error() -> None:
    s = session()
    s.receive_data(b"")
    assert s.next_event() is CLOSED
    with pytest.raises(ProtocolError):
        s.receive_data(b"GET / HTTP/1.1\r\n")


# -- responses -------------------------------------------------------------------------------


def _ready(data: bytes = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") -> ServerSession:
    s = session()
    s.receive_data(data)
    events(s)
    return s


def test_response_content_length() -> None:
    s = _ready()
    head = s.response_head(
        200, "OK", [(b"Content-Length", b"2"), (b"X-A", b"1"), (b"Set-Cookie", b"a=b; Path=/")]
    )
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert head.endswith(b"\r\n\r\n") and head.count(b"\r\n\r\n") == 1
    lines = head[:-4].split(b"\r\n")[1:]
    assert b"Content-Length: 2" in lines and b"X-A: 1" in lines
    assert b"Set-Cookie: a=b; Path=/" in lines
    # The response has started: a protocol error can no longer get its own answer.
    assert s.error_response(500, "Internal Server Error") == b""
    assert s.response_data(b"ok") == b"ok"
    assert s.response_end() == b""
    assert s.next_cycle()


def test_response_without_length_is_chunked() -> None:
    s = _ready()
    head = s.response_head(200, "OK", [(b"Content-Type", b"text/plain")])
    assert b"Transfer-Encoding: chunked" in head
    assert s.response_data(b"hello") == b"5\r\nhello\r\n"
    assert s.response_data(b"") == b""
    assert s.response_end() == b"0\r\n\r\n"
    assert s.next_cycle()


def test_connection_close_response() -> None:
    s = _ready()
    head = s.response_head(200, "OK", [(b"Content-Length", b"0"), (b"Connection", b"close")])
    assert b"Connection: close" in head
    s.response_end()
    assert not s.next_cycle()


def test_response_to_close_request_says_close() -> None:
    s = _ready(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head = s.response_head(200, "OK", [(b"Content-Length", b"0")])
    assert b"connection: close" in head.lower()
    s.response_end()
    assert not s.next_cycle()


def test_http10_plain_is_close_delimited() -> None:
    s = _ready(b"GET / HTTP/1.0\r\n\r\n")
    head = s.response_head(200, "OK", [(b"Content-Type", b"text/plain")])
    assert b"chunked" not in head.lower() and b"keep-alive" not in head.lower()
    assert s.response_data(b"raw") == b"raw"
    s.response_end()
    assert not s.next_cycle()


def test_http10_keep_alive_with_content_length() -> None:
    """h11 closes every HTTP/1.0 exchange; the seam keeps a Content-Length framed one
    alive without touching h11's state (tests/http/test_engine_contract.py pins what it
    relies on)."""
    s = _ready(b"GET /1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.0\r\n\r\n")
    head = s.response_head(200, "OK", [(b"Content-Length", b"2"), (b"X-A", b"1")])
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and head.endswith(b"\r\n\r\n")
    lines = head[:-4].split(b"\r\n")[1:]
    assert sorted(lines) == [b"Connection: Keep-Alive", b"Content-Length: 2", b"X-A: 1"]
    assert s.response_data(b"ok") == b"ok"
    assert s.response_end() == b""
    assert s.next_cycle()
    evs = events(s)
    second = head_of(evs)
    assert second.target == "/2" and not second.keep_alive
    head = s.response_head(200, "OK", [(b"Content-Length", b"0")])
    assert b"keep-alive" not in head.lower()
    s.response_end()
    assert not s.next_cycle()


def test_http10_keep_alive_still_checks_the_body_length() -> None:
    """h11 still frames the body of a kept-alive HTTP/1.0 answer."""
    s = _ready(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    s.response_head(200, "OK", [(b"Content-Length", b"2")])
    with pytest.raises(LocalError):
        s.response_data(b"toolong")
    s = _ready(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    s.response_head(200, "OK", [(b"Content-Length", b"5")])
    s.response_data(b"ab")
    with pytest.raises(LocalError):
        s.response_end()


def test_http10_keep_alive_second_head_refused_and_no_error_page() -> None:
    s = _ready(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    s.response_head(200, "OK", [(b"Content-Length", b"0")])
    assert s.error_response(500, "Internal Server Error") == b""
    with pytest.raises(LocalError):
        s.response_head(200, "OK", [(b"Content-Length", b"0")])


@pytest.mark.parametrize(
    "headers",
    [
        [(b"Content-Length", b"2"), (b"Connection", b"close")],
        [(b"Content-Length", b"2"), (b"Transfer-Encoding", b"chunked")],
    ],
)
def test_http10_keep_alive_refused_by_the_response_closes(
    headers: list[tuple[bytes, bytes]],
) -> None:
    s = _ready(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.0\r\n\r\n")
    head = s.response_head(200, "OK", headers)
    assert b"connection: close" in head.lower() and b"keep-alive" not in head.lower()
    s.response_data(b"ok")
    s.response_end()
    assert not s.next_cycle()


def test_http10_keep_alive_head_request() -> None:
    s = _ready(b"HEAD / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.0\r\n\r\n")
    head = s.response_head(200, "OK", [(b"Content-Length", b"5")])
    assert b"Content-Length: 5" in head and b"Connection: Keep-Alive" in head
    assert s.response_end() == b""
    assert s.next_cycle()
    assert head_of(events(s)).target == "/2"


def test_http10_keep_alive_header_not_doubled() -> None:
    s = _ready(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    head = s.response_head(200, "OK", [(b"Content-Length", b"0"), (b"Connection", b"keep-alive")])
    assert head.lower().count(b"connection:") == 1


def test_http10_keep_alive_with_body_read_after_response() -> None:
    s = session()
    s.receive_data(b"POST / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 4\r\n\r\nab")
    events(s)
    s.response_head(200, "OK", [(b"Content-Length", b"0")])
    s.response_end()
    s.receive_data(b"cd")
    assert events(s)[-1] is END
    assert s.next_cycle()


def test_http10_keep_alive_streamed_response_closes() -> None:
    s = _ready(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    head = s.response_head(200, "OK", [])
    assert b"keep-alive" not in head.lower()
    s.response_data(b"x")
    s.response_end()
    assert not s.next_cycle()


def test_head_request_response_has_no_body_framing() -> None:
    s = _ready(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
    head = s.response_head(200, "OK", [(b"Content-Length", b"5")])
    assert b"Content-Length: 5" in head
    assert s.response_end() == b""
    assert s.next_cycle()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (b"Bad Name", b"v"),
        (b"", b"v"),
        (b"X:Y", b"v"),
        (b"X-A", b"a\r\nInjected: 1"),
        (b"X-A", b"a\nb"),
        (b"X-A", b"a\x00b"),
        (b"Content-Length", b"a\r\nb"),
    ],
)
def test_response_header_injection_refused(name: bytes, value: bytes) -> None:
    s = _ready()
    with pytest.raises(LocalError):
        s.response_head(200, "OK", [(name, value)])


def test_response_bad_reason_refused() -> None:
    s = _ready()
    with pytest.raises(LocalError):
        s.response_head(200, "Ok \u2603", [])


@pytest.mark.parametrize("reason", ["OK\r\nInjected: 1", "OK\n", "OK\x00", "OK\x7f"])
def test_response_reason_that_would_split_the_response_refused(reason: str) -> None:
    """h11 writes the reason phrase as given; the seam checks it, as whole_response does."""
    s = _ready()
    with pytest.raises(LocalError):
        s.response_head(200, reason, [])


def test_custom_reason() -> None:
    s = _ready()
    head = s.response_head(299, "Whatever", [(b"Content-Length", b"0")])
    assert head.startswith(b"HTTP/1.1 299 Whatever\r\n")


def test_too_much_body_refused() -> None:
    s = _ready()
    s.response_head(200, "OK", [(b"Content-Length", b"2")])
    with pytest.raises(LocalError):
        s.response_data(b"toolong")


def test_end_before_declared_length_refused() -> None:
    s = _ready()
    s.response_head(200, "OK", [(b"Content-Length", b"5")])
    s.response_data(b"ab")
    with pytest.raises(LocalError):
        s.response_end()


def test_second_response_head_refused() -> None:
    s = _ready()
    s.response_head(200, "OK", [(b"Content-Length", b"0")])
    with pytest.raises(LocalError):
        s.response_head(200, "OK", [(b"Content-Length", b"0")])


def test_error_response_complete_and_closing() -> None:
    s = session()
    s.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\nX-Partial")
    s.next_event()
    out = s.error_response(400, "Bad Request")
    # Tornado's bare answer: no framing, so the close that follows ends it.
    assert out == b"HTTP/1.1 400 Bad Request\r\n\r\n"
    assert not s.next_cycle()


def test_error_response_after_protocol_error() -> None:
    s = session()
    s.receive_data(b"NONSENSE\r\n\r\n")
    with pytest.raises(ProtocolError):
        s.next_event()
    assert s.error_response(400, "Bad Request").startswith(b"HTTP/1.1 400 ")


def test_error_response_empty_once_response_started() -> None:
    s = _ready()
    s.response_head(200, "OK", [])
    assert s.error_response(500, "Internal Server Error") == b""


# -- cycles and pipelining ------------------------------------------------------------------


def test_pipelined_requests_one_at_a_time() -> None:
    s = session()
    s.receive_data(
        b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"
        b"POST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
        b"GET /3 HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    targets: list[str] = []
    bodies = []
    for _ in range(3):
        evs = events(s)
        assert evs[-1] is END
        if len(targets) < 2:
            assert s.next_event() is PAUSED  # the next request waits for our answer
        targets.append(head_of(evs).target)
        bodies.append(body_of(evs))
        assert s.has_buffered_data == (len(targets) < 3)
        respond(s)
        assert s.next_cycle()
    assert targets == ["/1", "/2", "/3"]
    assert bodies == [b"", b"abc", b""]
    assert s.next_event() is NEED_DATA
    assert not s.has_buffered_data


def test_cannot_continue_before_request_is_read() -> None:
    s = session()
    s.receive_data(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab")
    assert events(s)[-1] is NEED_DATA  # the body is not read in full
    respond(s)
    assert not s.next_cycle()
    s.receive_data(b"cde")
    assert events(s) == [b"cde", END]
    assert s.next_cycle()


_STREAM = (
    b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
    b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world"
    b"PUT /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    b'3\r\nabc\r\n2 ; x = "y;z"\r\nde\r\n0\r\nT: 1\r\n\r\n'
    b"GET /d HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
)


def _run(pieces: list[bytes]) -> list[tuple[str, bytes]]:
    s = session()
    out: list[tuple[str, bytes]] = []
    target: str | None = None
    body = b""
    pending = list(pieces)
    while True:
        ev = s.next_event()
        if isinstance(ev, RequestHead):
            target = ev.target
        elif isinstance(ev, bytes):
            body += ev
        elif ev is END:
            assert target is not None
            out.append((target, body))
        elif ev is PAUSED:
            respond(s)
            assert s.next_cycle()
            target, body = None, b""
        elif ev is NEED_DATA:
            if not pending:
                return out
            s.receive_data(pending.pop(0))
        else:
            raise AssertionError(ev)


_EXPECTED = [("/a", b""), ("/b", b"hello world"), ("/c", b"abcde"), ("/d", b"")]


def test_stream_in_one_piece() -> None:
    assert _run([_STREAM]) == _EXPECTED


def test_stream_byte_by_byte() -> None:
    assert _run([_STREAM[i : i + 1] for i in range(len(_STREAM))]) == _EXPECTED


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(_STREAM)), max_size=12))
def test_stream_any_split(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    bounds = zip([0, *points], [*points, len(_STREAM)], strict=True)
    pieces = [_STREAM[a:b] for a, b in bounds if b > a]
    assert _run(pieces) == _EXPECTED


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_escape_as_other_exceptions(data: bytes) -> None:
    s = session(max_header_size=256, max_url_size=64)
    try:
        s.receive_data(data)
        for _ in range(10):
            ev = s.next_event()
            if ev is NEED_DATA or ev is CLOSED:
                break
            if ev is PAUSED:
                respond(s)
                assert s.next_cycle()
    except ProtocolError as e:
        assert e.status in (400, 408, 413, 414, 431, 501, 505)


# -- the whole-response path -------------------------------------------------------------

GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def read_request(s: ServerSession, data: bytes) -> RequestHead:
    s.receive_data(data)
    evs = events(s)
    assert evs[-1] is END, evs
    return head_of(evs)


def parse_response(data: bytes, method: bytes = b"GET") -> tuple[h11.Response, bytes]:
    """What an independent client (h11 in the client role) makes of ``data``."""
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method=method, target="/", headers=[(b"Host", b"x")]))
    client.send(h11.EndOfMessage())
    client.receive_data(data)
    resp = client.next_event()
    assert isinstance(resp, h11.Response), resp
    body = b""
    while True:
        ev = client.next_event()
        if isinstance(ev, h11.Data):
            body += ev.data
        else:
            assert isinstance(ev, h11.EndOfMessage), ev
            return resp, body


def test_whole_response_matches_what_h11_would_frame() -> None:
    s = session()
    read_request(s, GET)
    headers = [(b"Server", b"t"), (b"Content-Type", b"text/plain"), (b"Content-Length", b"5")]
    data = s.whole_response(200, "OK", list(headers), b"hello")
    assert data is not None
    resp, body = parse_response(data)
    assert (resp.status_code, resp.reason, body) == (200, b"OK", b"hello")
    assert dict(resp.headers)[b"content-length"] == b"5"
    assert data.count(b"Content-Length") == 1
    # The same response through h11 has the same lines (h11 orders them differently).
    h = session()
    read_request(h, GET)
    via_h11 = respond(h, b"hello", headers)
    assert sorted(data.split(b"\r\n")) == sorted(via_h11.split(b"\r\n"))


def test_whole_response_adds_content_length_when_missing() -> None:
    s = session()
    read_request(s, GET)
    data = s.whole_response(201, "Created", [], b"abc")
    assert data == b"HTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\nabc"


@pytest.mark.parametrize(
    ("request_bytes", "status", "headers"),
    [
        (b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", 200, []),
        (b"GET / HTTP/1.0\r\n\r\n", 200, []),
        (b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 200, []),
        (b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 200, []),
        (GET, 204, []),
        (GET, 304, []),
        (GET, 200, [(b"Content-Length", b"99")]),
        (GET, 200, [(b"Transfer-Encoding", b"chunked")]),
        (GET, 200, [(b"Connection", b"close")]),
    ],
)
def test_whole_response_leaves_the_rest_to_h11(
    request_bytes: bytes, status: int, headers: list[tuple[bytes, bytes]]
) -> None:
    s = session()
    read_request(s, request_bytes)
    assert s.whole_response(status, "X", headers, b"") is None
    s.response_head(status, "X", headers)  # h11 still in charge: nothing was sent


def test_whole_response_not_before_the_request_body_is_read() -> None:
    s = session()
    s.receive_data(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab")
    assert isinstance(s.next_event(), RequestHead)
    assert s.whole_response(200, "OK", [], b"early") is None


def test_whole_response_refuses_bad_headers_and_reasons() -> None:
    s = session()
    read_request(s, GET)
    with pytest.raises(LocalError):
        s.whole_response(200, "OK", [(b"X", b"a\r\nInjected: 1")], b"")
    with pytest.raises(LocalError):
        s.whole_response(200, "OK\r\nX: y", [], b"")
    with pytest.raises(LocalError):
        s.whole_response(200, "OK", [(b"Bad Name", b"v")], b"")


def test_next_cycle_after_whole_response_keeps_pipelined_bytes() -> None:
    s = session()
    read_request(s, GET + b"GET /second HTTP/1.1\r\nHost: x\r\n\r\nGET /th")
    assert s.whole_response(200, "OK", [], b"1") is not None
    assert s.next_cycle()
    assert head_of(events(s)).target == "/second"
    assert s.whole_response(200, "OK", [], b"2") is not None
    assert s.next_cycle() and s.has_buffered_data
    s.receive_data(b"ird HTTP/1.1\r\nHost: x\r\n\r\n")
    assert head_of(events(s)).target == "/third"


def test_next_cycle_after_whole_response_keeps_the_peer_close() -> None:
    s = session()
    read_request(s, GET)
    s.receive_data(b"")
    assert s.whole_response(200, "OK", [], b"1") is not None
    assert s.next_cycle()
    assert s.next_event() is CLOSED


def test_whole_response_limits_carry_over_to_the_next_cycle() -> None:
    s = session(max_header_size=200)
    read_request(s, GET)
    assert s.whole_response(200, "OK", [], b"") is not None
    assert s.next_cycle()
    with pytest.raises(ProtocolError) as info:
        s.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 300)
        events(s)
    assert info.value.status == 431


# -- Tornado's words and RFC 9112's leniencies ------------------------------------------


def _error_of(data: bytes) -> ProtocolError:
    s = session()
    s.receive_data(data)
    with pytest.raises(ProtocolError) as info:
        events(s)
    return info.value


@pytest.mark.parametrize(
    ("data", "status", "words"),
    [
        (b"asdf\r\n\r\n", 400, "Malformed HTTP request line"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nasdf\r\n\r\n", 400, "no colon in header line"),
        (b"GET / HTTP/1.1\r\nHost: foo bar\r\n\r\n", 400, "Invalid Host header"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "Invalid Host header"),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n",
            400,
            "Multiple unequal Content-Lengths: '5, 6'",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n",
            400,
            "Only integer Content-Length is allowed: +1",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            400,
            "Unsupported Transfer-Encoding gzip, chunked",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n",
            400,
            "Unsupported Transfer-Encoding chunked,chunked",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1_a\r\n",
            400,
            "invalid chunk size",
        ),
    ],
)
def test_errors_in_tornados_words(data: bytes, status: int, words: str) -> None:
    """The status is the RFCs'; the words are Tornado's (its users' log filters and its
    tests match on them)."""
    error = _error_of(data)
    assert (error.status, error.message) == (status, words) or (
        error.status == status and error.message.startswith(words)
    )


def test_valid_hosts_accepted() -> None:
    for host in (b"", b"example.com", b"example.com:8080", b"[::1]:80", b"127.0.0.1", b"a_b"):
        s = session()
        s.receive_data(b"GET / HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
        assert isinstance(events(s)[0], RequestHead), host


def test_empty_lines_before_a_request_are_ignored() -> None:
    """RFC 9112 §2.2: a CRLF sent after a body (some clients do) is not a bad request,
    whether it arrives with the request before it or alone."""
    s = session()
    s.receive_data(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n\r\n")
    events(s)
    s.response_head(200, "OK", [(b"Content-Length", b"0")])
    s.response_end()
    assert s.next_cycle()
    s.receive_data(b"\r\n")
    s.receive_data(b"GET /two HTTP/1.1\r\nHost: a\r\n\r\n")
    head = events(s)[0]
    assert isinstance(head, RequestHead) and head.target == "/two"


def test_http10_close_is_not_announced() -> None:
    """Closing is HTTP/1.0's default: the answer does not say ``Connection: close``, as
    Tornado's does not; a keep-alive one says ``Keep-Alive`` in Tornado's spelling."""
    s = session()
    s.receive_data(b"GET / HTTP/1.0\r\n\r\n")
    events(s)
    assert b"Connection" not in s.response_head(200, "OK", [(b"Content-Length", b"0")])
