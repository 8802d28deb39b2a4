"""The connection contract on tornadish's own server connection, over real sockets:
``request.connection.stream`` for long polls, ``closed``/``close()``, ``get_extra_info``,
``max_body_size``, and what ``HTTPServer`` accepts as its request callback."""

from __future__ import annotations

import asyncio
import gzip
import ssl
from typing import Any

import httpx
import pytest

from tornadish._http.contract import StreamClosedError
from tornadish.httputil import (
    HTTPConnection,
    HTTPMessageDelegate,
    HTTPServerConnectionDelegate,
    HTTPServerRequest,
)
from tornadish.web import Application, RequestHandler, stream_request_body

from tests.support.rawhttp import RawConn, request


def _conn(handler: RequestHandler) -> HTTPConnection:
    conn = handler.request.connection
    assert conn is not None
    return conn


# -- connection.stream: the long poll ---------------------------------------------------


@pytest.mark.parametrize("how", ["close", "half-close"])
async def test_long_poll_sees_stream_closed_and_its_close_callback(
    serve, loop_factory, how
) -> None:
    state: dict[str, Any] = {"started": asyncio.Event(), "called": asyncio.Event()}

    class LongPoll(RequestHandler):
        async def get(self) -> None:
            stream = _conn(self).stream
            state["before"] = stream.closed()
            stream.set_close_callback(state["called"].set)
            state["started"].set()
            # Tornado's idiom: poll the stream until the client has gone.
            while not stream.closed():
                await asyncio.sleep(0.01)
            state["after"] = stream.closed()

    srv = await serve(Application([(r"/poll", LongPoll)]))
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", "/poll"))
    await asyncio.wait_for(state["started"].wait(), 2)
    await asyncio.sleep(0.05)
    assert not state["called"].is_set()
    if how == "close":
        conn.close()
    else:
        conn.half_close()
    await asyncio.wait_for(state["called"].wait(), 2)
    for _ in range(100):
        if "after" in state:
            break
        await asyncio.sleep(0.01)
    assert state["before"] is False and state["after"] is True
    conn.close()


async def test_stream_close_callback_runs_once_the_connection_closes(serve, loop_factory) -> None:
    calls: list[str] = []

    class Hello(RequestHandler):
        def get(self) -> None:
            _conn(self).stream.set_close_callback(lambda: calls.append("closed"))
            self.write("hi")

    srv = await serve(Application([(r"/", Hello)]))
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", "/"))
    assert (await conn.response()).body == b"hi"
    await asyncio.sleep(0.05)
    # The response is complete but the keep-alive connection is still open.
    assert calls == []
    conn.close()
    for _ in range(100):
        if calls:
            break
        await asyncio.sleep(0.01)
    assert calls == ["closed"]


async def test_stream_write_and_close_pass_raw_bytes(serve, loop_factory) -> None:
    results: dict[str, Any] = {}

    async def handle(req: HTTPServerRequest) -> None:
        stream = _stream_of(req)
        await stream.write(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\n")
        await stream.write(b"raw")
        stream.close()
        assert stream.closed()
        with pytest.raises(StreamClosedError):
            await stream.write(b"late")
        results["done"] = True

    srv = await serve(handle)
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", "/"))
    data = await conn.read_until_eof()
    assert data.endswith(b"\r\n\r\nraw") and data.startswith(b"HTTP/1.1 200 OK")
    for _ in range(100):
        if results:
            break
        await asyncio.sleep(0.01)
    assert results == {"done": True}
    conn.close()


def _stream_of(req: HTTPServerRequest) -> Any:
    assert req.connection is not None
    return req.connection.stream


# -- closed, close(), get_extra_info, max_body_size ---------------------------------------


async def test_handler_can_close_its_connection(serve, loop_factory) -> None:
    seen: dict[str, bool] = {}

    class Closer(RequestHandler):
        def get(self) -> None:
            conn = _conn(self)
            seen["before"] = conn.closed
            conn.close()
            seen["after"] = conn.closed

    srv = await serve(Application([(r"/", Closer)]))
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", "/"))
    assert await conn.is_closed(2)
    assert seen == {"before": False, "after": True}
    conn.close()


async def test_get_extra_info_is_the_transports(serve, loop_factory) -> None:
    seen: dict[str, Any] = {}

    class Info(RequestHandler):
        def get(self) -> None:
            conn = _conn(self)
            seen["peername"] = conn.get_extra_info("peername")
            seen["sockname"] = conn.get_extra_info("sockname")
            seen["ssl_object"] = conn.get_extra_info("ssl_object")
            seen["nothing"] = conn.get_extra_info("no such thing", "fallback")
            seen["cert"] = self.request.get_ssl_certificate()
            self.write("ok")

    srv = await serve(Application([(r"/", Info)]))
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", "/"))
    assert (await conn.response()).body == b"ok"
    assert tuple(seen["peername"][:2]) == ("127.0.0.1", conn.local_port)
    assert seen["sockname"][1] == srv.port
    assert seen["ssl_object"] is None and seen["cert"] is None
    assert seen["nothing"] == "fallback"
    conn.close()


async def test_get_extra_info_gives_the_ssl_object_over_tls(serve, self_signed_cert) -> None:
    seen: dict[str, Any] = {}

    class Info(RequestHandler):
        def get(self) -> None:
            seen["ssl_object"] = _conn(self).get_extra_info("ssl_object")
            self.write("ok")

    cert, key = self_signed_cert
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    srv = await serve(Application([(r"/", Info)]), ssl_options=ctx)
    async with httpx.AsyncClient(verify=False) as client:
        r = await client.get(f"https://127.0.0.1:{srv.port}/")
    assert r.text == "ok"
    assert isinstance(seen["ssl_object"], ssl.SSLObject)


async def test_max_body_size_is_the_current_requests_limit(serve) -> None:
    seen: list[int] = []

    @stream_request_body
    class Raise(RequestHandler):
        def prepare(self) -> None:
            conn = _conn(self)
            seen.append(conn.max_body_size)
            conn.set_max_body_size(2000)
            seen.append(conn.max_body_size)

        def data_received(self, chunk: bytes) -> None:
            pass

        def post(self) -> None:
            seen.append(_conn(self).max_body_size)
            self.write("ok")

    srv = await serve(Application([(r"/", Raise)]), max_body_size=1000)
    conn = await RawConn.open(srv.port)
    conn.send(request("POST", "/", body=b"x" * 1500))
    assert (await conn.response()).body == b"ok"
    assert seen == [1000, 2000, 2000]
    # The next request on the connection starts from the server's limit again.
    conn.send(request("POST", "/", body=b"x" * 10))
    assert (await conn.response()).body == b"ok"
    assert seen[3] == 1000
    conn.close()


async def test_gzip_limit_follows_a_limit_raised_in_prepare(serve) -> None:
    @stream_request_body
    class Big(RequestHandler):
        def prepare(self) -> None:
            self.size = 0
            if self.get_argument("raise", None):
                _conn(self).set_max_body_size(200_000)

        def data_received(self, chunk: bytes) -> None:
            self.size += len(chunk)

        def post(self) -> None:
            self.write(str(self.size))

    srv = await serve(Application([(r"/", Big)]), decompress_request=True, max_body_size=100_000)
    body = gzip.compress(b"x" * 150_000)
    headers = {"Content-Encoding": "gzip"}
    async with httpx.AsyncClient() as client:
        r = await client.post(srv.base_url + "/?raise=1", content=body, headers=headers)
        assert (r.status_code, r.text) == (200, "150000")
        r = await client.post(srv.base_url + "/", content=body, headers=headers)
        assert r.status_code == 400


# -- what HTTPServer accepts as a request callback --------------------------------------


class _Answer(HTTPMessageDelegate):
    def __init__(self, conn: HTTPConnection, text: bytes) -> None:
        self.conn = conn
        self.text = text

    def finish(self) -> None:
        headers = [(b"Content-Length", str(len(self.text)).encode())]
        self.conn.send_response(200, "OK", headers, self.text, True)


class _Subclassed(HTTPServerConnectionDelegate):
    def start_request(self, server_conn: object, request_conn: HTTPConnection) -> _Answer:
        return _Answer(request_conn, b"subclass")


class _DuckTyped:
    """A router that does not subclass HTTPServerConnectionDelegate (tornadish accepts it)."""

    def start_request(self, server_conn: object, request_conn: HTTPConnection) -> _Answer:
        return _Answer(request_conn, b"duck")


def _plain(req: HTTPServerRequest) -> None:
    assert req.connection is not None
    req.connection.send_response(200, "OK", [(b"Content-Length", b"5")], b"plain", True)


@pytest.mark.parametrize(
    ("callback", "expected"),
    [(_Subclassed(), "subclass"), (_DuckTyped(), "duck"), (_plain, "plain")],
    ids=["delegate", "duck-typed", "callable"],
)
async def test_request_callback_kinds(serve, callback, expected) -> None:
    srv = await serve(callback)
    async with httpx.AsyncClient() as client:
        r = await client.get(srv.base_url + "/")
    assert r.text == expected
