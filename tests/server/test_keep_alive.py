"""Connection reuse over real sockets: keep-alive on HTTP/1.1 and HTTP/1.0, ``Connection:
close``, the ``no_keep_alive`` setting, pipelining, and HEAD answers that leave the
connection ready for the next response."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.support.rawhttp import RawConn, request
from tests.support.server_app import app

# -- connection reuse -------------------------------------------------------------------


async def test_keep_alive_httpx_reuses_connection(serve, loop_factory) -> None:
    srv = await serve(app())
    async with httpx.AsyncClient() as client:
        infos = [(await client.get(srv.base_url + "/info")).json() for _ in range(4)]
    assert len({i["conn"] for i in infos}) == 1
    assert len({i["port"] for i in infos}) == 1


async def test_keep_alive_raw(serve, loop_factory) -> None:
    srv = await serve(app())
    conn = await RawConn.open(srv.port)
    for i in range(3):
        conn.send(request("GET", f"/info?{i}"))
        resp = await conn.response()
        assert resp.status == 200
        assert resp.header("Connection") is None  # HTTP/1.1: persistent by default
        assert json.loads(resp.body)["port"] == conn.local_port
        conn.send(request("POST", "/echo", body=b"body%d" % i))
        resp = await conn.response()
        assert resp.body == b"body%d" % i
    assert len(srv.server.connections) == 1
    conn.close()


async def test_http10_without_keep_alive_closes(serve, loop_factory) -> None:
    srv = await serve(app())
    conn = await RawConn.open(srv.port)
    conn.send(b"GET / HTTP/1.0\r\n\r\n")
    resp = await conn.response()
    assert resp.status == 200 and resp.body == b"Hello"
    assert resp.header("Connection") != "keep-alive"
    assert await conn.is_closed()
    conn.close()


async def test_http10_keep_alive(serve, loop_factory) -> None:
    srv = await serve(app())
    conn = await RawConn.open(srv.port)
    for i in range(3):
        conn.send(b"GET /info?%d HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" % i)
        resp = await conn.response()
        assert resp.status == 200
        assert resp.header("Connection") == "Keep-Alive"
        assert resp.header("Content-Length") == str(len(resp.body))
        assert resp.header("Transfer-Encoding") is None
        assert json.loads(resp.body)["port"] == conn.local_port
    assert not await conn.is_closed(timeout=0.1)
    # Without the token the next one is the last.
    conn.send(b"GET / HTTP/1.0\r\n\r\n")
    assert (await conn.response()).body == b"Hello"
    assert await conn.is_closed()
    conn.close()


async def test_http10_keep_alive_pipelined_and_with_bodies(serve, loop_factory) -> None:
    srv = await serve(app())
    conn = await RawConn.open(srv.port)
    ka = {"Connection": "keep-alive"}
    conn.send(
        request("POST", "/echo", ka, b"one", version="HTTP/1.0")
        + request("GET", "/sleep?t=0.05&n=two", ka, version="HTTP/1.0")
        + request("POST", "/echo", ka, b"three", version="HTTP/1.0")
    )
    for expected in (b"one", b"two", b"three"):
        resp = await conn.response()
        assert resp.body == expected and resp.header("Connection") == "Keep-Alive"
    assert not await conn.is_closed(timeout=0.05)
    conn.close()


async def test_http10_keep_alive_streamed_response_is_close_delimited(serve) -> None:
    """HTTP/1.0 has no chunked encoding: a response of unknown length ends the connection
    even if the client asked for keep-alive."""
    srv = await serve(app())
    conn = await RawConn.open(srv.port)
    conn.send(b"GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    resp = await conn.response()
    assert resp.status == 200
    assert resp.header("Transfer-Encoding") is None
    assert resp.header("Connection") != "keep-alive"
    assert resp.body == b"part0;part1;part2;"  # read up to the close
    conn.close()


@pytest.mark.parametrize("token", ["close", "Close", "keep-alive, close"])
async def test_connection_close(serve, token) -> None:
    srv = await serve(app())
    conn = await RawConn.open(srv.port)
    conn.send(request(headers={"Connection": token}))
    resp = await conn.response()
    assert resp.status == 200 and resp.body == b"Hello"
    assert resp.header("Connection") == "close"
    assert await conn.is_closed()
    conn.close()


async def test_no_keep_alive_server_setting(serve) -> None:
    srv = await serve(app(), no_keep_alive=True)
    conn = await RawConn.open(srv.port)
    conn.send(request())
    resp = await conn.response()
    assert resp.header("Connection") == "close"
    assert await conn.is_closed()
    conn.close()


async def test_chunked_response_then_keep_alive(serve) -> None:
    srv = await serve(app())
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", "/stream?n=4"))
    resp = await conn.response()
    assert resp.header("Transfer-Encoding") == "chunked"
    assert resp.body == b"part0;part1;part2;part3;"
    conn.send(request())
    assert (await conn.response()).body == b"Hello"
    conn.close()


# -- pipelining -------------------------------------------------------------------------


async def test_pipelined_async_handlers_answered_in_order(serve, loop_factory) -> None:
    srv = await serve(app())
    conn = await RawConn.open(srv.port)
    # The first sleeps longest: answering in completion order would reverse them.
    conn.send(
        request("GET", "/sleep?t=0.15&n=a")
        + request("GET", "/sleep?t=0.05&n=b")
        + request("GET", "/sleep?t=0&n=c")
        + request("POST", "/echo", body=b"d")
    )
    bodies = [(await conn.response()).body for _ in range(4)]
    assert bodies == [b"a", b"b", b"c", b"d"]
    conn.close()


async def test_pipelined_many_sync_requests(serve, loop_factory) -> None:
    srv = await serve(app())
    conn = await RawConn.open(srv.port)
    n = 50
    conn.send(b"".join(request("POST", "/echo", body=b"r%d" % i) for i in range(n)))
    for i in range(n):
        resp = await conn.response()
        assert resp.body == b"r%d" % i
    assert not await conn.is_closed(timeout=0.05)
    conn.close()


async def test_pipelined_then_close_in_last(serve) -> None:
    srv = await serve(app())
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", "/?1") + request("GET", "/?2", {"Connection": "close"}) + request())
    assert (await conn.response()).status == 200
    last = await conn.response()
    assert last.header("Connection") == "close"
    assert await conn.is_closed()  # the third request is never answered
    conn.close()


# -- HEAD -------------------------------------------------------------------------------


async def test_head_no_body_same_length(serve, loop_factory) -> None:
    srv = await serve(app())
    conn = await RawConn.open(srv.port)
    conn.send(request("GET"))
    get = await conn.response()
    conn.send(request("HEAD"))
    head = await conn.response(head=True)
    assert head.status == 200
    assert head.header("Content-Length") == get.header("Content-Length") == "5"
    # No body bytes were sent: the next response starts right away.
    conn.send(request("GET", "/?after"))
    after = await conn.response()
    assert after.status == 200 and after.body == b"Hello"
    conn.close()
    async with httpx.AsyncClient() as client:
        r = await client.head(srv.base_url + "/")
    assert r.content == b"" and r.headers["content-length"] == "5"
