"""The client seam without sockets: both engines' client sessions read the same response
bytes the same way (issue 15): the same heads, body and end, or the same refusal."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tornadish._http.client_session import (
    CLOSED,
    END,
    NEED_DATA,
    ClientSessionType,
    LocalError,
    ResponseError,
    ResponseHead,
)
from tornadish._http.engines import client_session_class

pytest.importorskip("httptools")

ENGINES = ("h11", "httptools")


def read(engine: str, method: str, pieces: list[bytes], eof: bool) -> list[Any]:
    """What a client session makes of ``pieces`` (one read each) after sending a
    ``method`` request: heads, body bytes (joined), END/CLOSED, or the error."""
    session: ClientSessionType = client_session_class(engine)(4096)  # type: ignore[arg-type]
    session.request_head(method, "/", [(b"Host", b"example.com")])
    session.request_end()
    out: list[Any] = []
    body = b""
    pending = [*pieces, b""] if eof else list(pieces)
    try:
        while True:
            event = session.next_event()
            if isinstance(event, ResponseHead):
                out.append((event.code, event.reason, event.version, event.headers))
            elif isinstance(event, bytes):
                body += event
            elif event is NEED_DATA:
                if not pending:
                    out.append(("waiting", body))
                    break
                session.receive_data(pending.pop(0))
            else:
                assert event is END or event is CLOSED
                out.append((body, event))
                if event is END and not eof:
                    # (After the server's close the connection is never reused, whatever
                    # the session says: ClientConnection.usable.)
                    out.append(("reusable", session.next_cycle()))
                break
    except ResponseError as e:
        out.append(("error", body, e.too_large))
    return out


status_st = st.sampled_from(
    [
        b"200 OK",
        b"204 No Content",
        b"304 Not Modified",
        b"100 Continue",
        b"404 Not Found",
        b"200",
        b"999 X",
        b"20 OK",
        b"2000 OK",
    ]
)
header_st = st.sampled_from(
    [
        b"Content-Length: 5",
        b"Content-Length: 3",
        b"Content-Length: x",
        b"Content-Length: 5, 5",
        b"Transfer-Encoding: chunked",
        b"Transfer-Encoding: gzip",
        b"Connection: close",
        b"Connection: keep-alive",
        b"X-Thing: a b",
        b"Bad Header: 1",
        b"X-Fold:\r\n folded",
        b"Server: t",
        b"Content-Type: text/plain",
    ]
)
body_st = st.sampled_from(
    [
        b"",
        b"hello",
        b"5\r\nhello\r\n0\r\n\r\n",
        b"zz\r\n",
        b"hel",
        b"3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\r\n",
        # Chunk framing at RFC 9112 §7.1's edges (read by tornadish._http.chunked).
        b'5 ; a = "b"\r\nhello\r\n0;z\r\n\r\n',
        b"5 \r\nhello\r\n0\r\n\r\n",
        b"5;\r\nhello\r\n0\r\n\r\n",
        b"5;a=\x01\r\nhello\r\n0\r\n\r\n",
        b"0000000000000000000005\r\nhello\r\n0\r\n\r\n",
        b"10000000000000000\r\nhello\r\n",
        b"5\nhello\r\n0\r\n\r\n",
        b"5\r\nhelloXX0\r\n\r\n",
        b"3\r\nabc\r\n0\r\nX: 1\n\n",
        b"3\r\nabc\r\n0\r\nX 1\r\n\r\n",
    ]
)


@st.composite
def response_st(draw: st.DrawFn) -> bytes:
    version = draw(st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"http/1.1"]))
    lines = [version + b" " + draw(status_st)]
    lines += draw(st.lists(header_st, max_size=4))
    head = b"\r\n".join(lines) + b"\r\n\r\n"
    return head + draw(body_st)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(response_st(), min_size=1, max_size=2),
    st.sampled_from(["GET", "HEAD", "POST"]),
    st.lists(st.integers(min_value=0, max_value=400), max_size=3),
    st.booleans(),
)
def test_both_engines_read_responses_alike(
    responses: list[bytes], method: str, cuts: list[int], eof: bool
) -> None:
    data = b"".join(responses)
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True) if b > a]
    h11, llhttp = (read(engine, method, pieces, eof) for engine in ENGINES)
    assert llhttp == h11, (data, method)


@pytest.mark.parametrize("engine", ENGINES)
def test_requests_are_framed_alike(engine: str) -> None:
    session = client_session_class(engine)(4096)  # type: ignore[arg-type]
    head = session.request_head(
        "POST", "/a?b=c", [(b"Host", b"x"), (b"Content-Length", b"5"), (b"X-A", b"1")]
    )
    assert head.startswith(b"POST /a?b=c HTTP/1.1\r\n") and head.endswith(b"\r\n\r\n")
    assert b"Content-Length: 5\r\n" in head and b"X-A: 1\r\n" in head
    assert session.request_data(b"hel") == b"hel"
    with pytest.raises(LocalError):
        session.request_data(b"lo!")  # past the declared length
    chunked = client_session_class(engine)(4096)  # type: ignore[arg-type]
    chunked.request_head("PUT", "/", [(b"Host", b"x"), (b"Transfer-Encoding", b"chunked")])
    assert chunked.request_data(b"abc") == b"3\r\nabc\r\n"
    assert chunked.request_end() == b"0\r\n\r\n"
    for bad in ([(b"X-A", b"1")], [(b"Host", b"x"), (b"Bad Name", b"1")]):
        with pytest.raises(LocalError):
            client_session_class(engine)(4096).request_head("GET", "/", bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("engine", ENGINES)
def test_trailer_fields_are_dropped_and_bounded(engine: str) -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n"
    out = read(engine, "GET", [head + b"X-T: 1\r\nServer: evil\r\n\r\n"], eof=False)
    assert out[0] == (200, "OK", "HTTP/1.1", [(b"transfer-encoding", b"chunked")])
    assert out[1] == (b"abc", END)
    # An endless trailer line: refused as a head over the limit is, not held in memory.
    flood = read(engine, "GET", [head + b"X-T: ", *[b"a" * 1000] * 10], eof=False)
    assert flood[-1] == ("error", b"abc", True)
