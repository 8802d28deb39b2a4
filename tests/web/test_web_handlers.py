"""RedirectHandler and FallbackHandler over real sockets, compared with Tornado."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tornadish.httputil import HTTPServerRequest
from tornadish.web import Application, FallbackHandler, RedirectHandler, RequestHandler


async def get(srv: Any, path: str) -> httpx.Response:
    async with httpx.AsyncClient(follow_redirects=False) as client:
        return await client.get(srv.base_url + path)


@pytest.mark.parametrize(
    "path",
    [
        "/old/a/b",
        "/old/x?q=1&q=2",
        "/old/y?name=%C3%A9t%C3%A9&empty=",  # UTF-8 values survive as they came
        "/old/%7Ez",
        "/kw/42",
    ],
)
async def test_redirect_handler_matches_tornado(serve, path) -> None:
    import tornado.web

    from tests.support.web import serve_tornado

    routes: list[Any] = [
        (r"/old/(.*)", RedirectHandler, {"url": "/new/{0}"}),
        (r"/kw/(?P<id>\d+)", RedirectHandler, {"url": "/item/{id}", "permanent": False}),
    ]
    ours = await serve(Application(routes))
    theirs = await serve_tornado([(p, tornado.web.RedirectHandler, kw) for p, _, kw in routes])
    try:
        a, b = await get(ours, path), await get(theirs, path)
        assert (a.status_code, a.headers["location"]) == (b.status_code, b.headers["location"])
    finally:
        await theirs.stop()


async def test_fallback_handler_calls_legacy_callable(serve) -> None:
    seen: list[str] = []

    def legacy(request: HTTPServerRequest) -> None:
        seen.append(request.uri)
        body = b"legacy " + request.uri.encode()
        conn: Any = request.connection
        conn.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        conn.finish()

    srv = await serve(Application([(r".*", FallbackHandler, {"fallback": legacy})]))
    r = await get(srv, "/some/path?x=1")
    assert r.text == "legacy /some/path?x=1"
    assert seen == ["/some/path?x=1"]


async def test_method_returning_a_non_awaitable_is_a_500(serve: Any) -> None:
    class Gen(RequestHandler):
        async def get(self) -> Any:  # an async generator: calling it awaits nothing
            yield 1

    class Value(RequestHandler):
        def prepare(self) -> Any:
            return 42

        def get(self) -> None:
            self.write("unreachable")

    srv = await serve(Application([(r"/gen", Gen), (r"/value", Value)]))
    async with httpx.AsyncClient(base_url=srv.base_url) as c:
        assert (await c.get("/gen")).status_code == 500
        assert (await c.get("/value")).status_code == 500


async def test_body_longer_than_declared_content_length_is_an_output_error(serve: Any) -> None:
    from tornadish.httputil import HTTPOutputError

    seen: list[BaseException] = []

    class TooLong(RequestHandler):
        async def get(self) -> None:
            self.set_header("Content-Length", "2")
            self.write("hello")
            try:
                await self.flush()
            except HTTPOutputError as e:
                seen.append(e)
                raise

    class Fine(RequestHandler):
        def get(self) -> None:
            self.write("fine")

    srv = await serve(Application([(r"/long", TooLong), (r"/fine", Fine)]))
    # As with Tornado, nothing can be answered on that connection: it is closed...
    raw = await srv.raw(b"GET /long HTTP/1.1\r\nHost: x\r\n\r\n", half_close=True)
    assert b"hello" not in raw
    assert len(seen) == 1
    # ... and the server goes on serving.
    async with httpx.AsyncClient(base_url=srv.base_url) as c:
        assert (await c.get("/fine")).text == "fine"
