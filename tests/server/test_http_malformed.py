"""Bad input, limits and timeouts over real sockets.

Every case checks the status the RFCs ask for, that the connection is closed afterwards,
that a ``tornadish.general`` line reports it, and that the server goes on serving others.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
import pytest

from tornadish.web import Application, RequestHandler, stream_request_body

from tests.support.rawhttp import (
    RawConn,
    assert_logged,
    assert_own_answer,
    capture_general,
    chunked,
    request,
)


class Calls:
    def __init__(self) -> None:
        self.handled: list[str] = []
        self.closed = asyncio.Event()
        self.chunks: list[bytes] = []


def make_app(calls: Calls) -> Application:
    class Hello(RequestHandler):
        def get(self) -> None:
            calls.handled.append("GET " + self.request.uri)
            self.write("Hello")

    class Echo(RequestHandler):
        def post(self) -> None:
            calls.handled.append("POST " + self.request.uri)
            self.write(self.request.body)

        put = post

    @stream_request_body
    class Streamed(RequestHandler):
        def data_received(self, chunk: bytes) -> None:
            calls.chunks.append(chunk)

        def post(self) -> None:
            calls.handled.append("POST " + self.request.uri)
            self.write(str(sum(map(len, calls.chunks))))

        def on_connection_close(self) -> None:
            super().on_connection_close()
            calls.closed.set()

    return Application([(r"/", Hello), (r"/echo", Echo), (r"/stream", Streamed)])


@pytest.fixture
def calls() -> Calls:
    return Calls()


async def still_serves(srv) -> None:
    async with httpx.AsyncClient() as client:
        r = await client.get(srv.base_url + "/")
    assert r.status_code == 200 and r.text == "Hello"


async def expect_error(
    srv, data: bytes, status: int, *, half_close: bool = False, reason: str | None = None
) -> RawConn:
    """Send ``data``; expect the server's own answer ``status``, then the connection
    closed by the server. A 400 is Tornado's bare status line (its test suite pins
    those bytes); any other refusal a complete RFC 9110 answer: ``Date``, ``Server``,
    an empty body, ``Connection: close``."""
    conn = await RawConn.open(srv.port)
    conn.send(data)
    if half_close:
        conn.half_close()
    resp = await conn.response()
    assert resp.status == status, (resp.status, resp.body)
    if reason is not None:
        assert resp.reason == reason
    assert_own_answer(resp)
    assert await conn.is_closed()
    conn.close()
    return conn


# -- limits ---------------------------------------------------------------------------


@pytest.mark.parametrize("one_write", [True, False], ids=["one-write", "trickled"])
async def test_header_too_large_431(serve, calls, caplog, one_write) -> None:
    capture_general(caplog)
    srv = await serve(make_app(calls), max_header_size=1024)
    data = request(headers={"X-Big": "a" * 2048})
    conn = await RawConn.open(srv.port)
    if one_write:
        conn.send(data)
    else:
        for i in range(0, len(data), 256):
            await conn.send_drain(data[i : i + 256])
            await asyncio.sleep(0.005)
    resp = await conn.response()
    assert resp.status == 431
    assert_own_answer(resp)
    assert await conn.is_closed()
    conn.close()
    assert calls.handled == []
    assert_logged(caplog, 431)
    await still_serves(srv)


async def test_many_headers_within_limit_ok(serve, calls) -> None:
    srv = await serve(make_app(calls), max_header_size=4096)
    conn = await RawConn.open(srv.port)
    conn.send(request(headers=[(f"X-H{i}", "v" * 20) for i in range(50)]))
    resp = await conn.response()
    assert resp.status == 200
    conn.close()


async def test_body_content_length_over_limit_400_without_reading_body(
    serve, calls, caplog, loop_factory
) -> None:
    capture_general(caplog)
    srv = await serve(make_app(calls), max_body_size=100)
    conn = await RawConn.open(srv.port)
    # Only the head: the answer must not wait for a body the server will not read.
    conn.send(request("POST", "/echo", {"Content-Length": "1000"}))
    resp = await conn.response(timeout=1.0)
    assert resp.status == 400
    assert_own_answer(resp)  # Tornado's bare answer: the close ends it
    assert await conn.is_closed()
    conn.close()
    assert calls.handled == []
    assert_logged(caplog, 400)
    await still_serves(srv)


async def test_body_at_limit_is_accepted(serve, calls) -> None:
    srv = await serve(make_app(calls), max_body_size=100)
    conn = await RawConn.open(srv.port)
    conn.send(request("POST", "/echo", body=b"b" * 100))
    resp = await conn.response()
    assert resp.status == 200 and resp.body == b"b" * 100
    body = chunked(b"c" * 60, b"d" * 40)
    conn.send(request("POST", "/echo", {"Transfer-Encoding": "chunked"}, body))
    resp = await conn.response()
    assert resp.status == 200 and resp.body == b"c" * 60 + b"d" * 40
    conn.close()


@pytest.mark.parametrize("path", ["/echo", "/stream"])
async def test_chunked_body_over_limit_400_mid_stream(serve, calls, caplog, path) -> None:
    capture_general(caplog)
    srv = await serve(make_app(calls), max_body_size=100)
    conn = await RawConn.open(srv.port)
    conn.send(request("POST", path, {"Transfer-Encoding": "chunked"}))
    conn.send(b"40\r\n" + b"a" * 64 + b"\r\n")
    await asyncio.sleep(0.05)
    # Still within the limit: no answer yet.
    assert not conn.reader.at_eof() and not conn.reader._buffer  # type: ignore[attr-defined]
    conn.send(b"40\r\n" + b"a" * 64 + b"\r\n")  # 128 > 100; no last chunk ever sent
    resp = await conn.response()
    assert resp.status == 400
    assert await conn.is_closed()
    conn.close()
    assert calls.handled == []
    assert_logged(caplog, 400)
    await still_serves(srv)


async def test_url_over_url_limit_below_header_limit_414(serve, calls, caplog) -> None:
    capture_general(caplog)
    srv = await serve(make_app(calls), max_url_size=100, max_header_size=4096)
    # RFC 9110's phrase, not Python's older "Request-URI Too Long".
    await expect_error(srv, request(target="/" + "u" * 500), 414, reason="URI Too Long")
    assert_logged(caplog, 414)
    assert calls.handled == []
    await still_serves(srv)


@pytest.mark.parametrize("complete", [True, False], ids=["complete", "partial"])
async def test_url_over_both_limits_414(serve, calls, caplog, complete) -> None:
    capture_general(caplog)
    srv = await serve(make_app(calls), max_url_size=100, max_header_size=1024)
    data = request(target="/" + "u" * 5000)
    if not complete:
        data = data[:3000]  # no end of the request line in sight
    await expect_error(srv, data, 414)
    assert_logged(caplog, 414)
    await still_serves(srv)


async def test_url_at_limit_is_accepted(serve, calls) -> None:
    srv = await serve(make_app(calls), max_url_size=100)
    target = "/?" + "q" * 98
    assert len(target) == 100
    conn = await RawConn.open(srv.port)
    conn.send(request(target=target))
    assert (await conn.response()).status == 200
    conn.close()


# -- malformed requests ---------------------------------------------------------------

_BAD_400 = {
    "bad-request-line": b"GARBAGE\r\n\r\n",
    "bad-version": b"GET / HTTP/x.y\r\nHost: a\r\n\r\n",
    "space-before-colon": b"GET / HTTP/1.1\r\nHost: a\r\nX-Foo : bar\r\n\r\n",
    "header-without-colon": b"GET / HTTP/1.1\r\nHost: a\r\nNoColonHere\r\n\r\n",
    "nul-in-header": b"GET / HTTP/1.1\r\nHost: a\r\nX-Foo: a\x00b\r\n\r\n",
    "nul-in-name": b"GET / HTTP/1.1\r\nHost: a\r\nX-F\x00oo: ab\r\n\r\n",
    "garbage-bytes": b"\xff\xfe\x00\x01\x02garbage\x80\x81\r\n\r\n",
    "missing-host-1.1": b"GET / HTTP/1.1\r\n\r\n",
    "duplicate-host": b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "differing-content-length": b"POST /echo HTTP/1.1\r\nHost: a\r\n"
    b"Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    "content-length-list": b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 4\r\n\r\nabcd",
    "negative-content-length": b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
    "cl-and-te": b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "te-and-cl": b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
    b"Content-Length: 4\r\n\r\n0\r\n\r\n",
    "invalid-chunk-size": b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
    b"\r\nzz\r\nhello\r\n0\r\n\r\n",
    "chunk-missing-crlf": b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
    b"\r\n5\r\nhelloXX0\r\n\r\n",
}


@pytest.mark.parametrize("data", list(_BAD_400.values()), ids=list(_BAD_400))
async def test_malformed_request_400(serve, calls, caplog, data) -> None:
    capture_general(caplog)
    srv = await serve(make_app(calls))
    await expect_error(srv, data, 400)
    assert calls.handled == []
    assert_logged(caplog, 400)
    await still_serves(srv)


async def test_malformed_second_request_on_keep_alive_connection(serve, calls, caplog) -> None:
    capture_general(caplog)
    srv = await serve(make_app(calls))
    conn = await RawConn.open(srv.port)
    conn.send(request())
    assert (await conn.response()).status == 200
    conn.send(b"GET / HTTP/1.1\r\nHost: a\r\nBroken\r\n\r\n")
    resp = await conn.response()
    assert resp.status == 400
    assert await conn.is_closed()
    conn.close()
    assert_logged(caplog, 400)


async def test_malformed_pipelined_after_good_request(serve, calls, caplog, loop_factory) -> None:
    """The good request is answered in full, then the 400 for the bad one."""
    capture_general(caplog)
    srv = await serve(make_app(calls))
    conn = await RawConn.open(srv.port)
    conn.send(request() + b"BAD LINE\r\n\r\n")
    first = await conn.response()
    assert first.status == 200 and first.body == b"Hello"
    second = await conn.response()
    assert second.status == 400
    assert await conn.is_closed()
    conn.close()
    assert_logged(caplog, 400)


@pytest.mark.parametrize("te", ["gzip", "chunked, gzip", "gzip, chunked", "identity"])
async def test_unsupported_transfer_encoding_400(serve, calls, caplog, te) -> None:
    # Tornado's 400 (its 6.4.1 smuggling fix), not RFC 9112 §6.1's recommended 501.
    capture_general(caplog)
    srv = await serve(make_app(calls))
    await expect_error(srv, request("POST", "/echo", {"Transfer-Encoding": te}), 400)
    assert calls.handled == []
    assert_logged(caplog, 400)
    await still_serves(srv)


async def test_tls_handshake_to_plain_server(serve, calls, caplog) -> None:
    """A TLS ClientHello to a plain-HTTP port is refused at once, not left to time out."""
    capture_general(caplog)
    srv = await serve(make_app(calls), header_timeout=5)
    hello = bytes.fromhex("16030100a5010000a10303") + bytes(range(14, 46))
    hello += b"\x00\x20" + b"\x13\x01" * 16
    assert b"\n" not in hello
    conn = await RawConn.open(srv.port)
    conn.send(hello)
    resp = await conn.response(timeout=1)
    assert resp.status == 400
    assert await conn.is_closed()
    conn.close()
    assert_logged(caplog, 400)


# -- clients that go away ---------------------------------------------------------------


async def test_half_close_after_request_still_answered(serve, calls, loop_factory) -> None:
    srv = await serve(make_app(calls))
    out = await srv.raw(request(), half_close=True)
    assert out.startswith(b"HTTP/1.1 200 ")
    assert out.endswith(b"\r\n\r\nHello")
    out = await srv.raw(request("POST", "/echo", body=b"xyz"), half_close=True)
    assert out.startswith(b"HTTP/1.1 200 ") and out.endswith(b"\r\n\r\nxyz")


async def test_half_close_after_pipelined_requests_all_answered(serve, calls) -> None:
    srv = await serve(make_app(calls))
    out = await srv.raw(request("GET", "/?a") + request("GET", "/?b"), half_close=True)
    assert out.count(b"HTTP/1.1 200 ") == 2
    assert calls.handled == ["GET /?a", "GET /?b"]


async def test_half_close_mid_head(serve, calls, caplog, loop_factory) -> None:
    capture_general(caplog)
    srv = await serve(make_app(calls))
    conn = await RawConn.open(srv.port)
    conn.send(b"GET / HTTP/1.1\r\nHost: a\r\nX-Partial: ")
    await asyncio.sleep(0.05)
    conn.half_close()
    resp = await conn.response()
    assert resp.status == 400
    assert await conn.is_closed()
    conn.close()
    assert calls.handled == []
    assert_logged(caplog, 400)
    await still_serves(srv)


async def test_half_close_mid_body(serve, calls, caplog) -> None:
    capture_general(caplog)
    srv = await serve(make_app(calls))
    conn = await RawConn.open(srv.port)
    conn.send(request("POST", "/echo", {"Content-Length": "100"}) + b"x" * 10)
    await asyncio.sleep(0.05)
    conn.half_close()
    resp = await conn.response()
    assert resp.status == 400
    assert await conn.is_closed()
    conn.close()
    assert calls.handled == []
    assert_logged(caplog, 400)


async def test_eof_mid_body(serve, calls, caplog, loop_factory) -> None:
    capture_general(caplog)
    srv = await serve(make_app(calls))
    conn = await RawConn.open(srv.port)
    conn.send(request("POST", "/stream", {"Content-Length": "100"}) + b"x" * 10)
    await asyncio.sleep(0.05)
    conn.close()
    await asyncio.wait_for(calls.closed.wait(), 1)  # the streaming handler is told
    assert calls.handled == []
    assert calls.chunks == [b"x" * 10]
    for _ in range(50):
        if not srv.server.connections:
            break
        await asyncio.sleep(0.01)
    assert not srv.server.connections
    assert_logged(caplog, 400)
    await still_serves(srv)


async def test_eof_mid_chunked_body(serve, calls, caplog) -> None:
    capture_general(caplog)
    srv = await serve(make_app(calls))
    conn = await RawConn.open(srv.port)
    conn.send(request("POST", "/echo", {"Transfer-Encoding": "chunked"}) + b"5\r\nhel")
    await asyncio.sleep(0.05)
    conn.close()
    for _ in range(50):
        if not srv.server.connections:
            break
        await asyncio.sleep(0.01)
    assert not srv.server.connections
    assert calls.handled == []
    assert_logged(caplog, 400)


async def test_client_that_never_reads(serve, loop_factory) -> None:
    """A client that sends requests and never reads: the handler's flush blocks, the
    server's buffer stays bounded, and everybody else is still served."""
    progress: dict[str, Any] = {"written": 0, "max_buffer": 0, "done": False, "error": None}
    chunk = b"z" * 65536

    class Flood(RequestHandler):
        async def get(self) -> None:
            transport = self.request.connection.transport  # type: ignore[union-attr]
            transport.get_extra_info("socket").setsockopt(
                socket.SOL_SOCKET, socket.SO_SNDBUF, 16384
            )
            try:
                for _ in range(200):
                    self.write(chunk)
                    await self.flush()
                    progress["written"] += 1
                    progress["max_buffer"] = max(
                        progress["max_buffer"], transport.get_write_buffer_size()
                    )
            except Exception as e:  # StreamClosedError once we hang up
                progress["error"] = e
            progress["done"] = True

    class Hello(RequestHandler):
        def get(self) -> None:
            self.write("Hello")

    srv = await serve(
        Application([(r"/flood", Flood), (r"/", Hello)]), write_buffer_limits=(65536, 16384)
    )
    conn = await RawConn.open(srv.port, rcvbuf=4096)
    conn.send(request("GET", "/flood"))
    await asyncio.sleep(0.3)
    stalled_at = progress["written"]
    assert 0 < stalled_at < 50, stalled_at
    await still_serves(srv)
    await asyncio.sleep(0.1)
    assert progress["written"] == stalled_at  # still blocked, not buffering
    assert progress["max_buffer"] <= 65536 + len(chunk) + 64
    assert not progress["done"]
    conn.writer.transport.abort()
    for _ in range(100):
        if progress["done"]:
            break
        await asyncio.sleep(0.01)
    assert progress["done"]
    assert progress["error"] is not None


# -- timeouts ---------------------------------------------------------------------------


async def test_idle_connection_timeout(serve, calls, loop_factory) -> None:
    srv = await serve(make_app(calls), idle_connection_timeout=0.2)
    conn = await RawConn.open(srv.port)
    conn.send(request())
    assert (await conn.response()).status == 200
    assert await conn.is_closed(timeout=1.0)
    conn.close()
    # A connection that never sends anything is closed as well.
    loop = asyncio.get_running_loop()
    conn = await RawConn.open(srv.port)
    start = loop.time()
    assert await conn.is_closed(timeout=1.0)
    assert loop.time() - start >= 0.15
    conn.close()


async def test_idle_timeout_not_applied_while_handling(serve) -> None:
    class Slow(RequestHandler):
        async def get(self) -> None:
            await asyncio.sleep(0.4)
            self.write("slow")

    srv = await serve(Application([(r"/", Slow)]), idle_connection_timeout=0.15)
    conn = await RawConn.open(srv.port)
    conn.send(request())
    resp = await conn.response()
    assert resp.status == 200 and resp.body == b"slow"
    conn.close()


async def test_header_timeout_slowloris(serve, calls, caplog, loop_factory) -> None:
    capture_general(caplog)
    srv = await serve(make_app(calls), header_timeout=0.3)
    conn = await RawConn.open(srv.port)
    conn.send(b"GET / HTTP/1.1\r\nHost: a\r\n")
    resp = await conn.response(timeout=2)
    assert resp.status == 408
    assert await conn.is_closed()
    conn.close()
    assert_logged(caplog, 408, "headers")
    await still_serves(srv)


async def test_header_timeout_not_extended_by_trickling(serve, calls, caplog) -> None:
    """Sending a byte now and then does not keep a request head alive forever."""
    capture_general(caplog)
    srv = await serve(make_app(calls), header_timeout=0.3)
    conn = await RawConn.open(srv.port)
    loop = asyncio.get_running_loop()
    start = loop.time()
    conn.send(b"GET / HTTP/1.1\r\n")

    async def trickle() -> None:
        for i in range(40):
            await asyncio.sleep(0.05)
            try:
                conn.send(b"X-%d: v\r\n" % i)
            except Exception:
                return

    task = asyncio.ensure_future(trickle())
    try:
        resp = await conn.response(timeout=1.5)
    finally:
        task.cancel()
    assert resp.status == 408
    assert loop.time() - start < 1.0
    conn.close()
    assert_logged(caplog, 408)


async def test_header_timeout_on_second_request(serve, calls, caplog) -> None:
    capture_general(caplog)
    srv = await serve(make_app(calls), header_timeout=0.2, idle_connection_timeout=10)
    conn = await RawConn.open(srv.port)
    conn.send(request())
    assert (await conn.response()).status == 200
    await asyncio.sleep(0.3)  # idle: fine, the header timer does not run yet
    conn.send(b"GET / HTTP/1.1\r\n")
    resp = await conn.response(timeout=2)
    assert resp.status == 408
    conn.close()


async def test_body_timeout(serve, calls, caplog, loop_factory) -> None:
    capture_general(caplog)
    srv = await serve(make_app(calls), body_timeout=0.3)
    conn = await RawConn.open(srv.port)
    conn.send(request("POST", "/echo", {"Content-Length": "100"}) + b"x" * 10)
    resp = await conn.response(timeout=2)
    assert resp.status == 408
    assert await conn.is_closed()
    conn.close()
    assert calls.handled == []
    assert_logged(caplog, 408, "body")
    await still_serves(srv)


async def test_body_timeout_is_about_silence_not_total_time(serve, calls) -> None:
    # (min_body_rate off: 6 bytes in 0.45 s is a trickle, judged by its own test.)
    srv = await serve(make_app(calls), body_timeout=0.25, min_body_rate=0)
    conn = await RawConn.open(srv.port)
    conn.send(request("POST", "/echo", {"Content-Length": "6"}))
    for b in (b"ab", b"cd", b"ef"):
        await asyncio.sleep(0.15)
        conn.send(b)
    resp = await conn.response()
    assert resp.status == 200 and resp.body == b"abcdef"
    conn.close()


async def test_client_not_reading_is_dropped_after_idle_timeout(serve, caplog) -> None:
    """A blocked write counts as idleness: after idle_connection_timeout the connection
    is dropped, the handler's flush fails and on_connection_close runs."""
    capture_general(caplog)
    state: dict[str, object] = {"error": None, "closed": False}

    class Flood(RequestHandler):
        async def get(self) -> None:
            transport = self.request.connection.transport  # type: ignore[union-attr]
            transport.get_extra_info("socket").setsockopt(
                socket.SOL_SOCKET, socket.SO_SNDBUF, 16384
            )
            try:
                for _ in range(500):
                    self.write(b"w" * 65536)
                    await self.flush()
            except Exception as e:
                state["error"] = e

        def on_connection_close(self) -> None:
            state["closed"] = True

    srv = await serve(
        Application([(r"/", Flood)]),
        idle_connection_timeout=0.3,
        write_buffer_limits=(65536, 16384),
    )
    conn = await RawConn.open(srv.port, rcvbuf=4096)
    conn.send(request())
    for _ in range(150):
        if state["error"] is not None:
            break
        await asyncio.sleep(0.01)
    assert type(state["error"]).__name__ == "StreamClosedError"
    assert state["closed"]
    assert any("not reading" in r.getMessage() for r in caplog.records)
    conn.close()
