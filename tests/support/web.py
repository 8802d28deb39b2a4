"""Helpers for the web tests: one-shot requests, raw response parsing, and a Tornado twin
of a handler so both frameworks' answers can be compared."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tornadish.web import Application, RequestHandler

# Logger names, for caplog.
ACCESS = "tornadish.access"
APP = "tornadish.application"
GEN = "tornadish.general"


async def get(srv: Any, path: str, method: str = "GET", **kw: Any) -> httpx.Response:
    async with httpx.AsyncClient(follow_redirects=False) as client:
        return await client.request(method, srv.base_url + path, **kw)


class _TornadoServer:
    def __init__(self, server: Any, port: int) -> None:
        self.server = server
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        self.server.stop()
        await self.server.close_all_connections()


async def serve_tornado(handlers: list[Any], **settings: Any) -> _TornadoServer:
    """Real Tornado, serving ``handlers`` in the running loop."""
    import tornado.httpserver
    import tornado.netutil
    import tornado.web

    app = tornado.web.Application(handlers, **settings)
    server = tornado.httpserver.HTTPServer(app)
    socks = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server.add_sockets(socks)
    return _TornadoServer(server, socks[0].getsockname()[1])


def tornado_twin(body: Callable[[Any], Any]) -> tuple[type, type]:
    """The same handler class on tornadish and on Tornado: ``body(base)`` builds it."""
    import tornado.web

    return body(RequestHandler), body(tornado.web.RequestHandler)


async def compare(
    serve: Any,
    make: Callable[[Any], Any],
    path: str,
    pattern: str = r"/",
    method: str = "GET",
    headers_to_compare: tuple[str, ...] = ("content-type",),
    settings: dict[str, Any] | None = None,
    **kw: Any,
) -> tuple[httpx.Response, httpx.Response]:
    """Serve ``make(RequestHandler)`` on both frameworks; assert same status, reason,
    body and the chosen headers; return both responses (ours, Tornado's)."""
    ours_cls, theirs_cls = tornado_twin(make)
    srv = await serve(Application([(pattern, ours_cls)], **(settings or {})))
    tsrv = await serve_tornado([(pattern, theirs_cls)], **(settings or {}))
    try:
        ours = await get(srv, path, method, **kw)
        theirs = await get(tsrv, path, method, **kw)
    finally:
        await tsrv.stop()
    assert ours.status_code == theirs.status_code, (ours.text, theirs.text)
    assert ours.reason_phrase == theirs.reason_phrase
    assert ours.content == theirs.content
    for h in headers_to_compare:
        assert ours.headers.get(h) == theirs.headers.get(h), h
    return ours, theirs


def parse_raw(data: bytes) -> tuple[str, dict[str, list[str]], bytes]:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers.setdefault(k.strip().lower(), []).append(v.strip())
    return lines[0], headers, body


def self_consistent_content_length(r: httpx.Response) -> bool:
    return int(r.headers["content-length"]) == len(r.content)
