"""Body limits and timeouts: ``max_body_size`` and ``body_timeout`` per server and per request
from ``prepare()`` (Tornado's HTTP1Connection API), and ``min_body_rate`` against trickled
bodies."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from tornadish.web import Application, RequestHandler, stream_request_body

from tests.support.rawhttp import RawConn, assert_logged, capture_general, chunked, request

# -- per-request limits from prepare() (Tornado's HTTP1Connection API) ------------------------


def limits_app() -> Application:
    class Buffered(RequestHandler):
        def put(self) -> None:
            self.write(str(len(self.request.body)))

    @stream_request_body
    class Streaming(RequestHandler):
        def prepare(self) -> None:
            self.bytes_read = 0
            conn: Any = self.request.connection
            if "expected_size" in self.request.arguments:
                conn.set_max_body_size(int(self.get_argument("expected_size")))
            if "body_timeout" in self.request.arguments:
                conn.set_body_timeout(float(self.get_argument("body_timeout")))

        def data_received(self, chunk: bytes) -> None:
            self.bytes_read += len(chunk)

        def put(self) -> None:
            self.write(str(self.bytes_read))

    return Application([(r"/buffered", Buffered), (r"/streaming", Streaming)])


async def test_body_limits_small_body(serve) -> None:
    srv = await serve(limits_app(), max_body_size=4096)
    async with httpx.AsyncClient() as client:
        assert (await client.put(srv.base_url + "/buffered", content=b"a" * 4096)).text == "4096"
        assert (await client.put(srv.base_url + "/streaming", content=b"a" * 4096)).text == "4096"


@pytest.mark.parametrize("path", ["/buffered", "/streaming"])
@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_body_limits_large_body_400(serve, caplog, path, framing) -> None:
    capture_general(caplog)
    srv = await serve(limits_app(), max_body_size=4096)
    conn = await RawConn.open(srv.port)
    if framing == "chunked":
        conn.send(request("PUT", path, {"Transfer-Encoding": "chunked"}, chunked(b"a" * 10240)))
    else:
        conn.send(request("PUT", path, body=b"a" * 10240))
    resp = await conn.response()
    assert resp.status == 400  # Tornado's status (docs/migrating.md)
    assert await conn.is_closed()
    conn.close()
    assert_logged(caplog, 400)


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_body_limits_streaming_override(serve, framing) -> None:
    srv = await serve(limits_app(), max_body_size=4096)
    conn = await RawConn.open(srv.port)
    target = "/streaming?expected_size=10240"
    if framing == "chunked":
        conn.send(request("PUT", target, {"Transfer-Encoding": "chunked"}, chunked(b"a" * 10240)))
    else:
        conn.send(request("PUT", target, body=b"a" * 10240))
    resp = await conn.response()
    assert resp.status == 200 and resp.body == b"10240"
    # The override is per request: the next one has the server's limit again.
    conn.send(request("PUT", "/streaming", body=b"a" * 10240))
    assert (await conn.response()).status == 400
    conn.close()


async def test_body_timeout_override(serve, caplog) -> None:
    capture_general(caplog)
    srv = await serve(limits_app(), body_timeout=3600)
    conn = await RawConn.open(srv.port)
    conn.send(request("PUT", "/streaming?body_timeout=0.1", {"Content-Length": "42"}))
    resp = await conn.response(timeout=1)
    assert resp.status == 408
    assert await conn.is_closed()
    conn.close()
    assert_logged(caplog, 408)


async def test_body_limits_override_from_async_prepare(serve) -> None:
    @stream_request_body
    class AsyncPrepare(RequestHandler):
        async def prepare(self) -> None:
            await asyncio.sleep(0.01)
            self.request.connection.set_max_body_size(10240)  # type: ignore[union-attr]
            self.n = 0

        def data_received(self, chunk: bytes) -> None:
            self.n += len(chunk)

        def put(self) -> None:
            self.write(str(self.n))

    srv = await serve(Application([(r"/", AsyncPrepare)]), max_body_size=4096)
    conn = await RawConn.open(srv.port)
    conn.send(request("PUT", "/", body=b"a" * 10240))
    resp = await conn.response()
    conn.close()
    assert resp.status == 200 and resp.body == b"10240"


# -- slow bodies: body_timeout and min_body_rate ---------------------------------------------


async def _trickle(conn: RawConn, nbytes: int, every: float) -> None:
    for _ in range(nbytes):
        await asyncio.sleep(every)
        try:
            conn.send(b"a")
        except (ConnectionError, OSError, RuntimeError):
            return


@pytest.mark.parametrize("path", ["/buffered", "/streaming"])
async def test_trickled_body_is_408_once_too_slow(serve, caplog, path) -> None:
    # Never silent for body_timeout, but far below min_body_rate: closed once the body
    # has taken body_timeout (Tornado's default holds it for ever).
    capture_general(caplog)
    srv = await serve(limits_app(), body_timeout=0.5, min_body_rate=100)
    conn = await RawConn.open(srv.port)
    conn.send(request("PUT", path, {"Content-Length": "1000"}))
    started = time.monotonic()
    trickle = asyncio.ensure_future(_trickle(conn, 1000, 0.1))
    resp = await conn.response(timeout=5)
    assert resp.status == 408
    assert time.monotonic() - started < 3
    trickle.cancel()
    conn.close()
    assert_logged(caplog, 408)


async def test_min_body_rate_zero_allows_trickles(serve) -> None:
    srv = await serve(limits_app(), body_timeout=0.3, min_body_rate=0)
    conn = await RawConn.open(srv.port)
    conn.send(request("PUT", "/buffered", {"Content-Length": "10"}))
    for _ in range(10):
        await asyncio.sleep(0.1)
        conn.send(b"a")
    resp = await conn.response(timeout=5)
    assert (resp.status, resp.body) == (200, b"10")
    conn.close()


async def test_time_the_handler_spends_is_not_held_against_the_body(serve) -> None:
    # A streaming handler that takes its time with each chunk pauses reading; the rate
    # is judged only while the server is reading.
    class Slow(RequestHandler):
        def initialize(self) -> None:
            self.size = 0

        async def data_received(self, chunk: bytes) -> None:
            self.size += len(chunk)
            await asyncio.sleep(0.4)

        def put(self) -> None:
            self.write(str(self.size))

    srv = await serve(
        Application([(r"/slow", stream_request_body(Slow))]), body_timeout=0.3, min_body_rate=1e6
    )
    conn = await RawConn.open(srv.port)
    conn.send(request("PUT", "/slow", {"Content-Length": "3"}))
    for _ in range(3):
        conn.send(b"a")
        await asyncio.sleep(0.05)
    resp = await conn.response(timeout=10)
    assert (resp.status, resp.body) == (200, b"3")
    conn.close()
