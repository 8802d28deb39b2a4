"""Every HTTP method on RequestHandler, sync and async, and HEAD of a GET-style body,
over real sockets."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tornadish.web import Application, RequestHandler

from tests.support.web import get


class AllMethods(RequestHandler):
    def get(self) -> None:
        self.write("get")

    def head(self) -> None:
        self.set_header("Content-Length", "3")

    def post(self) -> None:
        self.write("post:" + self.request.body.decode())

    def put(self) -> None:
        self.write("put:" + self.request.body.decode())

    def patch(self) -> None:
        self.write("patch:" + self.request.body.decode())

    def delete(self) -> None:
        self.write("delete")

    def options(self) -> None:
        self.set_status(204)


class AllMethodsAsync(RequestHandler):
    async def get(self) -> None:
        await asyncio.sleep(0)
        self.write("get")

    async def head(self) -> None:
        await asyncio.sleep(0)
        self.set_header("Content-Length", "3")

    async def post(self) -> None:
        await asyncio.sleep(0)
        self.write("post:" + self.request.body.decode())

    async def put(self) -> None:
        await asyncio.sleep(0)
        self.write("put:" + self.request.body.decode())

    async def patch(self) -> None:
        await asyncio.sleep(0)
        self.write("patch:" + self.request.body.decode())

    async def delete(self) -> None:
        await asyncio.sleep(0)
        self.write("delete")

    async def options(self) -> None:
        await asyncio.sleep(0)
        self.set_status(204)


@pytest.mark.parametrize("handler", [AllMethods, AllMethodsAsync], ids=["sync", "async"])
async def test_every_method_sync_and_async(serve: Any, handler: type, loop_factory: Any) -> None:
    srv = await serve(Application([(r"/", handler)]))
    async with httpx.AsyncClient(base_url=srv.base_url) as c:
        r = await c.get("/")
        assert (r.status_code, r.text) == (200, "get")
        r = await c.head("/")
        assert r.status_code == 200 and r.content == b""
        assert r.headers["content-length"] == "3"
        for m in ("POST", "PUT", "PATCH"):
            r = await c.request(m, "/", content=b"xyz")
            assert (r.status_code, r.text) == (200, f"{m.lower()}:xyz")
        r = await c.delete("/")
        assert (r.status_code, r.text) == (200, "delete")
        r = await c.options("/")
        assert r.status_code == 204 and r.content == b""
        assert "content-length" not in r.headers


async def test_head_of_a_get_style_body_keeps_content_length(serve: Any) -> None:
    class H(RequestHandler):
        def head(self) -> None:
            self.write("twelve bytes")

        get = head

    srv = await serve(Application([(r"/", H)]))
    r_get = await get(srv, "/")
    r_head = await get(srv, "/", "HEAD")
    assert r_get.headers["content-length"] == "12" == r_head.headers["content-length"]
    assert r_head.content == b""
    assert r_head.headers["etag"] == r_get.headers["etag"]
    # On the wire: no body bytes after the head, and the connection stays usable.
    raw = await srv.raw(
        b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    first, _, rest = raw.partition(b"\r\n\r\n")
    assert b"Content-Length: 12" in first
    assert rest.startswith(b"HTTP/1.1 200 OK")
    assert rest.endswith(b"twelve bytes")
