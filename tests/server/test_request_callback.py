"""The pre-Application request callback: a plain callable, Tornado's raw write interface,
and a callable that raises."""

from __future__ import annotations

from typing import Any

import httpx

from tornadish.httputil import HTTPHeaders, HTTPServerRequest, ResponseStartLine

from tests.support.rawhttp import RawConn, request


def legacy_callback(request: HTTPServerRequest) -> None:
    conn = request.connection
    assert conn is not None
    if request.path == "/chunked":
        conn.write_headers(ResponseStartLine("HTTP/1.1", 200, "OK"), HTTPHeaders())
        conn.write(b"one,")
        conn.write(b"two")
        conn.finish()
        return
    body = b"legacy " + request.method.encode() + b" " + request.uri.encode()
    body += b" " + request.body
    conn.write_headers(
        ResponseStartLine("HTTP/1.1", 200, "OK"),
        HTTPHeaders({"Content-Length": str(len(body)), "X-Legacy": "yes"}),
        body,
    )
    conn.finish()


async def test_plain_callable_request_callback(serve, loop_factory) -> None:
    srv = await serve(legacy_callback)
    async with httpx.AsyncClient() as client:
        r1 = await client.get(srv.base_url + "/a?b=c")
        r2 = await client.post(srv.base_url + "/p", content=b"payload")
        r3 = await client.get(srv.base_url + "/chunked")
    assert r1.text == "legacy GET /a?b=c " and r1.headers["x-legacy"] == "yes"
    assert r2.text == "legacy POST /p payload"
    assert r3.text == "one,two" and r3.headers["transfer-encoding"] == "chunked"
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", "/x") + request("GET", "/y"))
    assert (await conn.response()).body == b"legacy GET /x "
    assert (await conn.response()).body == b"legacy GET /y "
    conn.close()


async def test_legacy_raw_write_interface(serve, loop_factory) -> None:
    """Tornado's oldest interface: the callback writes the status line itself."""

    def handle(request: HTTPServerRequest) -> None:
        conn: Any = request.connection
        message = b"Hello world"
        conn.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(message))
        conn.write(message)
        conn.finish()

    srv = await serve(handle)
    async with httpx.AsyncClient() as client:
        r = await client.get(srv.base_url + "/")
        assert r.content == b"Hello world"
        r = await client.get(srv.base_url + "/again")
        assert r.content == b"Hello world"


async def test_callable_that_raises_gets_500_and_is_logged(serve, caplog, loop_factory) -> None:
    def handle(request: HTTPServerRequest) -> None:
        if request.path == "/boom":
            raise ZeroDivisionError("boom")
        legacy_callback(request)

    srv = await serve(handle)
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", "/boom"))
    resp = await conn.response()
    assert resp.status == 500
    assert await conn.is_closed()
    conn.close()
    assert any(
        r.name == "tornadish.application" and r.exc_info and r.exc_info[0] is ZeroDivisionError
        for r in caplog.records
    )
    assert not [r for r in caplog.records if r.name == "asyncio"]
    async with httpx.AsyncClient() as client:
        assert (await client.get(srv.base_url + "/ok")).text == "legacy GET /ok "
