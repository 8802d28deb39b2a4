"""Request bodies over real sockets: ``Expect: 100-continue``, Content-Length and chunked
bodies, streamed bodies, and ``decompress_request``."""

from __future__ import annotations

import asyncio
import json
import os

import httpx

from tornadish.web import Application, RequestHandler, stream_request_body

from tests.support.rawhttp import RawConn, assert_logged, capture_general, chunked, request
from tests.support.server_app import app

# -- Expect: 100-continue -----------------------------------------------------------------


async def test_expect_100_continue(serve, loop_factory) -> None:
    srv = await serve(app())
    conn = await RawConn.open(srv.port)
    conn.send(request("POST", "/echo", {"Content-Length": "5", "Expect": "100-continue"}))
    interim = await conn.response(timeout=1)
    assert interim.status == 100
    conn.send(b"hello")
    resp = await conn.response()
    assert resp.status == 200 and resp.body == b"hello"
    # and the connection goes on
    conn.send(request("POST", "/echo", {"Expect": "100-continue"}, body=b"again"))
    assert (await conn.response()).status == 100
    assert (await conn.response()).body == b"again"
    conn.close()


async def test_expect_100_continue_streaming_handler(serve) -> None:
    srv = await serve(app())
    conn = await RawConn.open(srv.port)
    conn.send(request("PUT", "/in", {"Transfer-Encoding": "chunked", "Expect": "100-continue"}))
    assert (await conn.response(timeout=1)).status == 100
    conn.send(chunked(b"a" * 10, b"b" * 20))
    resp = await conn.response()
    assert json.loads(resp.body)["bytes"] == 30
    conn.close()


async def test_expect_100_continue_over_limit_gets_400_without_100(serve, caplog) -> None:
    capture_general(caplog)
    srv = await serve(app(), max_body_size=10)
    conn = await RawConn.open(srv.port)
    conn.send(request("POST", "/echo", {"Content-Length": "11", "Expect": "100-continue"}))
    resp = await conn.response(timeout=1)
    assert resp.status == 400
    assert await conn.is_closed()
    conn.close()
    assert_logged(caplog, 400)


async def test_expect_100_continue_httpx_body(serve) -> None:
    srv = await serve(app())
    async with httpx.AsyncClient() as client:
        r = await client.post(
            srv.base_url + "/echo", content=b"x" * 1000, headers={"Expect": "100-continue"}
        )
    assert r.status_code == 200 and r.content == b"x" * 1000


# -- request bodies ----------------------------------------------------------------------


async def test_content_length_body_echo(serve, loop_factory) -> None:
    srv = await serve(app())
    body = os.urandom(300_000)
    async with httpx.AsyncClient() as client:
        r = await client.post(srv.base_url + "/echo", content=body)
    assert r.status_code == 200 and r.content == body


async def test_chunked_body_echo_raw(serve, loop_factory) -> None:
    srv = await serve(app())
    conn = await RawConn.open(srv.port)
    conn.send(request("POST", "/echo", {"Transfer-Encoding": "chunked"}))
    conn.send(b"5;ext=1\r\nhello\r\n")
    await asyncio.sleep(0.02)
    conn.send(b"6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n")
    resp = await conn.response()
    assert resp.body == b"hello world"
    conn.send(request("POST", "/echo", {"Transfer-Encoding": "chunked"}, chunked(b"second")))
    assert (await conn.response()).body == b"second"
    conn.close()


async def test_chunked_body_httpx_generator(serve) -> None:
    srv = await serve(app())

    async def gen():
        for i in range(20):
            yield b"%03d," % i

    async with httpx.AsyncClient() as client:
        r = await client.post(srv.base_url + "/echo", content=gen())
        assert r.content == b"".join(b"%03d," % i for i in range(20))
        r = await client.put(srv.base_url + "/in", content=gen())
        assert r.json()["bytes"] == 80


async def test_streaming_body_large(serve, loop_factory) -> None:
    srv = await serve(app())
    async with httpx.AsyncClient() as client:
        r = await client.put(srv.base_url + "/in", content=b"y" * 2_000_000)
    assert r.json()["bytes"] == 2_000_000


async def test_empty_body_post(serve) -> None:
    srv = await serve(app())
    conn = await RawConn.open(srv.port)
    conn.send(request("POST", "/echo", {"Content-Length": "0"}))
    resp = await conn.response()
    assert resp.status == 200 and resp.body == b""
    conn.close()


# -- decompress_request --------------------------------------------------------------------


def gzip_app() -> Application:
    class Info(RequestHandler):
        def post(self) -> None:
            self.write(
                {
                    "body": self.request.body.decode("latin-1"),
                    "args": {k: self.get_body_argument(k) for k in self.request.body_arguments},
                    "ce": self.request.headers.get("Content-Encoding"),
                    "consumed": self.request.headers.get("X-Consumed-Content-Encoding"),
                }
            )

    @stream_request_body
    class Streamed(RequestHandler):
        def prepare(self) -> None:
            self.data = b""

        async def data_received(self, chunk: bytes) -> None:
            assert len(chunk) <= 65536
            self.data += chunk
            await asyncio.sleep(0)

        def put(self) -> None:
            self.write({"len": len(self.data), "ok": self.data == b"0123456789" * 50_000})

    return Application([(r"/", Info), (r"/stream", Streamed)])


async def test_decompress_request_gzip(serve, loop_factory) -> None:
    import gzip

    srv = await serve(gzip_app(), decompress_request=True)
    body = gzip.compress(b"foo=bar&baz=qux")
    async with httpx.AsyncClient() as client:
        r = await client.post(
            srv.base_url + "/",
            content=body,
            headers={
                "Content-Encoding": "gzip",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        assert r.json() == {
            "body": "foo=bar&baz=qux",
            "args": {"foo": "bar", "baz": "qux"},
            "ce": None,
            "consumed": "gzip",
        }
        # Larger than one decompression chunk, streamed to the handler in bounded pieces.
        big = gzip.compress(b"0123456789" * 50_000)
        r = await client.put(
            srv.base_url + "/stream", content=big, headers={"Content-Encoding": "gzip"}
        )
        assert r.json() == {"len": 500_000, "ok": True}
        # Plain bodies are untouched.
        r = await client.post(srv.base_url + "/", content=b"plain")
        assert r.json()["body"] == "plain" and r.json()["consumed"] is None


async def test_decompress_request_off_by_default(serve) -> None:
    import gzip

    srv = await serve(gzip_app())
    body = gzip.compress(b"hello")
    async with httpx.AsyncClient() as client:
        r = await client.post(
            srv.base_url + "/", content=body, headers={"Content-Encoding": "gzip"}
        )
    # Without the setting the body is the application's business (Tornado's web layer
    # refuses to parse it as a form, but hands it over).
    assert r.status_code == 200


async def test_decompress_request_bad_gzip_400(serve, caplog) -> None:
    capture_general(caplog)
    srv = await serve(gzip_app(), decompress_request=True)
    conn = await RawConn.open(srv.port)
    conn.send(request("POST", "/", {"Content-Encoding": "gzip"}, b"this is not gzip"))
    resp = await conn.response()
    assert resp.status == 400
    assert await conn.is_closed()
    conn.close()
    assert_logged(caplog, 400)
