"""Writing the response: ``write`` of str/bytes/dict, ``finish``, and ``flush`` streaming
(chunked on HTTP/1.1, close-delimited on HTTP/1.0)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tornadish.web import Application, RequestHandler

from tests.support.web import compare, get, parse_raw


async def test_write_str_bytes_dict(serve: Any) -> None:
    def make(base: Any) -> Any:
        class H(base):  # type: ignore[misc]
            def get(self, kind: str) -> None:
                if kind == "str":
                    self.write("héllo ")
                    self.write("wörld")
                elif kind == "bytes":
                    self.write(b"\x00\xff raw")
                elif kind == "dict":
                    self.write({"a": [1, 2], "b": "</script>", "c": None})
                else:
                    self.write("")

        return H

    for kind in ("str", "bytes", "dict", "empty"):
        await compare(
            serve, make, f"/{kind}", r"/(\w+)", headers_to_compare=("content-type", "etag")
        )
    srv = await serve(Application([(r"/(\w+)", make(RequestHandler))]))
    r = await get(srv, "/dict")
    assert r.headers["content-type"] == "application/json; charset=UTF-8"
    assert r.json() == {"a": [1, 2], "b": "</script>", "c": None}
    assert b"</" not in r.content  # escaped for safe embedding in HTML
    r = await get(srv, "/str")
    assert r.content == "héllo wörld".encode()


async def test_write_list_is_refused(serve: Any, caplog: pytest.LogCaptureFixture) -> None:
    errors: list[BaseException] = []

    class H(RequestHandler):
        def get(self) -> None:
            try:
                self.write([1, 2, 3])  # type: ignore[arg-type]
            except TypeError as e:
                errors.append(e)
                raise

    srv = await serve(Application([(r"/", H)]))
    r = await get(srv, "/")
    assert r.status_code == 500
    assert "1, 2, 3" not in r.text
    assert errors and "Lists not accepted" in str(errors[0])


async def test_write_after_finish_raises(serve: Any) -> None:
    seen: list[str] = []

    class H(RequestHandler):
        def get(self) -> None:
            self.finish("done")
            try:
                self.write("more")
            except RuntimeError as e:
                seen.append(str(e))
            try:
                self.finish()
            except RuntimeError as e:
                seen.append(str(e))

    srv = await serve(Application([(r"/", H)]))
    r = await get(srv, "/")
    assert r.text == "done"
    assert len(seen) == 2


async def test_finish_with_chunk_and_async_finish_awaitable(serve: Any) -> None:
    class H(RequestHandler):
        async def get(self) -> None:
            self.write("a")
            await self.finish("b")

    srv = await serve(Application([(r"/", H)]))
    r = await get(srv, "/")
    assert r.text == "ab"
    assert r.headers["content-length"] == "2"


async def test_flush_streams_chunked_pieces(serve: Any, loop_factory: Any) -> None:
    go_on = asyncio.Event()

    class Streamer(RequestHandler):
        async def get(self) -> None:
            self.write("first;")
            await self.flush()
            await go_on.wait()
            self.write("second;")
            await self.flush()
            self.write("third")

    srv = await serve(Application([(r"/", Streamer)]))
    async with httpx.AsyncClient() as c, c.stream("GET", srv.base_url + "/") as r:
        assert r.headers["transfer-encoding"] == "chunked"
        assert "content-length" not in r.headers
        assert "etag" not in r.headers
        it = r.aiter_raw()
        first = await asyncio.wait_for(it.__anext__(), 2)
        assert first == b"first;"  # arrived before the handler was allowed to go on
        go_on.set()
        rest = b"".join([chunk async for chunk in it])
        assert rest == b"second;third"


async def test_flush_on_raw_socket_is_chunk_encoded(serve: Any) -> None:
    class Streamer(RequestHandler):
        async def get(self) -> None:
            self.write("ab")
            await self.flush()
            self.write("cde")
            await self.flush()

    srv = await serve(Application([(r"/", Streamer)]))
    raw = await srv.raw(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    _, headers, body = parse_raw(raw)
    assert headers["transfer-encoding"] == ["chunked"]
    assert body == b"2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n"


async def test_flush_on_http10_is_close_delimited(serve: Any) -> None:
    class Streamer(RequestHandler):
        async def get(self) -> None:
            self.write("ab")
            await self.flush()
            self.write("cd")

    srv = await serve(Application([(r"/", Streamer)]))
    raw = await srv.raw(b"GET / HTTP/1.0\r\n\r\n")
    status, headers, body = parse_raw(raw)
    assert status.startswith("HTTP/1.1 200")
    assert "transfer-encoding" not in headers
    assert body == b"abcd"
