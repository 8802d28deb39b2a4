"""RequestHandler and HTTPServerRequest over real sockets (httpx, raw sockets where needed).

Where Tornado's behaviour is the reference, the same handler runs on Tornado in the same
loop and the answers are compared.
"""

from __future__ import annotations

import asyncio
import datetime
import email.utils
import hashlib
import json
import logging
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tornadish.web import Application, Finish, HTTPError, RequestHandler

ACCESS = "tornadish.access"
APP = "tornadish.application"
GEN = "tornadish.general"


# -- helpers ------------------------------------------------------------------------------


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


# -- HTTP methods ---------------------------------------------------------------------------


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


# -- initialize / prepare / on_finish ---------------------------------------------------------


async def test_initialize_receives_route_kwargs(serve: Any) -> None:
    class H(RequestHandler):
        def initialize(self, greeting: str, punct: str = "!") -> None:
            self.greeting = greeting
            self.punct = punct

        def get(self) -> None:
            self.write(self.greeting + self.punct)

    srv = await serve(
        Application([(r"/a", H, {"greeting": "hi"}), (r"/b", H, dict(greeting="yo", punct="?"))])
    )
    assert (await get(srv, "/a")).text == "hi!"
    assert (await get(srv, "/b")).text == "yo?"


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_prepare_runs_before_method_and_can_finish(serve: Any, kind: str) -> None:
    events: list[str] = []

    class H(RequestHandler):
        if kind == "sync":

            def prepare(self) -> None:
                events.append("prepare")
                if self.get_query_argument("stop", None):
                    self.finish("stopped in prepare")

        else:

            async def prepare(self) -> None:
                await asyncio.sleep(0)
                events.append("prepare")
                if self.get_query_argument("stop", None):
                    self.finish("stopped in prepare")

        def get(self) -> None:
            events.append("get")
            self.write("from get")

        def on_finish(self) -> None:
            events.append("on_finish")

    srv = await serve(Application([(r"/", H)]))
    r = await get(srv, "/")
    assert r.text == "from get"
    assert events == ["prepare", "get", "on_finish"]
    events.clear()
    r = await get(srv, "/?stop=1")
    assert r.text == "stopped in prepare"
    assert events == ["prepare", "on_finish"]


async def test_async_on_finish_runs_and_its_errors_are_logged(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    done = asyncio.Event()

    class H(RequestHandler):
        def get(self) -> None:
            self.write("ok")

        async def on_finish(self) -> None:
            await asyncio.sleep(0)
            done.set()
            if self.get_query_argument("fail", None):
                raise RuntimeError("boom in on_finish")

    srv = await serve(Application([(r"/", H)]))
    assert (await get(srv, "/")).text == "ok"
    await asyncio.wait_for(done.wait(), 2)
    done.clear()
    assert (await get(srv, "/?fail=1")).text == "ok"
    await asyncio.wait_for(done.wait(), 2)
    for _ in range(5):
        await asyncio.sleep(0)
    assert any(
        r.name == APP and r.exc_info and "boom in on_finish" in str(r.exc_info[1])
        for r in caplog.records
    )


async def test_on_finish_error_in_sync_hook_is_logged_and_response_sent(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    class H(RequestHandler):
        def get(self) -> None:
            self.write("ok")

        def on_finish(self) -> None:
            raise RuntimeError("sync on_finish boom")

    srv = await serve(Application([(r"/", H)]))
    r = await get(srv, "/")
    assert (r.status_code, r.text) == (200, "ok")
    assert any(r.name == APP and "on_finish" in r.getMessage() for r in caplog.records)
    assert (await get(srv, "/")).text == "ok"


async def _disconnect_early(srv: Any, path: str, reset: bool = False) -> None:
    """Send a request and go away before the answer: a FIN, or with ``reset`` a RST."""
    _, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    await asyncio.sleep(0.05)
    if reset:
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass


async def test_on_connection_close_and_on_finish_after_client_disconnects(
    serve: Any, caplog: pytest.LogCaptureFixture, loop_factory: Any
) -> None:
    """Long polling: the client goes away, on_connection_close wakes the handler, which
    returns; on_finish must still run (and nothing is logged as an error)."""
    events: list[str] = []
    finished = asyncio.Event()

    class LongPoll(RequestHandler):
        async def get(self) -> None:
            self.wake = asyncio.Event()
            events.append("get")
            await self.wake.wait()
            events.append("woken")

        def on_connection_close(self) -> None:
            events.append("on_connection_close")
            self.wake.set()

        def on_finish(self) -> None:
            events.append("on_finish")
            finished.set()

    srv = await serve(Application([(r"/", LongPoll)]))
    await _disconnect_early(srv, "/")
    await asyncio.wait_for(finished.wait(), 2)
    assert events == ["get", "on_connection_close", "woken", "on_finish"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR and r.name != ACCESS]


async def test_on_finish_runs_when_handler_writes_after_client_left(
    serve: Any, caplog: pytest.LogCaptureFixture, loop_factory: Any
) -> None:
    """The handler does not watch for the close: it keeps writing and flushing. Once the
    connection is gone (reset) the flush raises StreamClosedError; on_finish still runs,
    exactly once, and the closed stream is not logged as an application error."""
    from tornadish.web import StreamClosedError

    events: list[str] = []
    finished = asyncio.Event()
    gone = asyncio.Event()

    class Slow(RequestHandler):
        async def get(self) -> None:
            await gone.wait()
            await asyncio.sleep(0.02)
            self.write("late")
            try:
                await self.flush()
            except StreamClosedError:
                events.append("stream closed")
                raise

        def on_connection_close(self) -> None:
            gone.set()

        def on_finish(self) -> None:
            events.append("on_finish")
            finished.set()

    srv = await serve(Application([(r"/", Slow)]))
    await _disconnect_early(srv, "/", reset=True)
    await asyncio.wait_for(finished.wait(), 2)
    await asyncio.sleep(0.02)
    assert events == ["stream closed", "on_finish"]


async def test_on_finish_runs_when_handler_never_finishes_after_disconnect(
    serve: Any,
) -> None:
    """A handler that ignores the disconnect and finishes with a plain return later."""
    finished = asyncio.Event()

    class Sleeper(RequestHandler):
        async def get(self) -> None:
            await asyncio.sleep(0.1)
            self.write("nobody reads this")

        def on_finish(self) -> None:
            finished.set()

    srv = await serve(Application([(r"/", Sleeper)]))
    await _disconnect_early(srv, "/")
    await asyncio.wait_for(finished.wait(), 2)


async def test_on_finish_runs_for_parked_handler_when_client_leaves(serve: Any) -> None:
    """Tornado #517: a handler that returned without finishing (``_auto_finish`` off,
    waiting for some later event) never got ``on_finish`` once the client went away.
    Here it runs, once, after ``on_connection_close``; a late ``finish()`` is harmless."""
    events: list[str] = []
    parked: list[RequestHandler] = []
    finished = asyncio.Event()

    class Parked(RequestHandler):
        def get(self) -> None:
            self._auto_finish = False
            parked.append(self)
            events.append("get returned")

        def on_connection_close(self) -> None:
            events.append("on_connection_close")

        def on_finish(self) -> None:
            events.append("on_finish")
            finished.set()

    srv = await serve(Application([(r"/", Parked)]))
    await _disconnect_early(srv, "/")
    await asyncio.wait_for(finished.wait(), 2)
    assert events == ["get returned", "on_connection_close", "on_finish"]
    parked[0].finish("too late")  # the event the handler waited for, after all
    await asyncio.sleep(0.01)
    assert events == ["get returned", "on_connection_close", "on_finish"]


async def test_on_finish_runs_when_async_handler_parks_after_client_left(serve: Any) -> None:
    """The close comes first, then the method returns without finishing."""
    events: list[str] = []
    finished = asyncio.Event()

    class Parked(RequestHandler):
        async def get(self) -> None:
            self._auto_finish = False
            self.gone = asyncio.Event()
            await self.gone.wait()
            await asyncio.sleep(0)
            events.append("get returned")

        def on_connection_close(self) -> None:
            events.append("on_connection_close")
            self.gone.set()

        def on_finish(self) -> None:
            events.append("on_finish")
            finished.set()

    srv = await serve(Application([(r"/", Parked)]))
    await _disconnect_early(srv, "/")
    await asyncio.wait_for(finished.wait(), 2)
    assert events == ["on_connection_close", "get returned", "on_finish"]


async def test_parked_handler_finished_later_gets_one_on_finish(serve: Any) -> None:
    events: list[str] = []
    parked: list[RequestHandler] = []

    class Parked(RequestHandler):
        def get(self) -> None:
            self._auto_finish = False
            parked.append(self)

        def on_finish(self) -> None:
            events.append("on_finish")

    srv = await serve(Application([(r"/", Parked)]))
    task = asyncio.ensure_future(get(srv, "/"))
    while not parked:
        await asyncio.sleep(0.005)
    assert events == []
    parked[0].finish("later")
    r = await asyncio.wait_for(task, 2)
    assert r.text == "later"
    assert events == ["on_finish"]


async def test_on_finish_runs_when_streaming_upload_is_abandoned(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Tornado #2711: with ``stream_request_body``, a client that disconnects mid-body
    got ``on_connection_close`` but never ``on_finish``."""
    from tornadish.web import stream_request_body

    events: list[str] = []
    finished = asyncio.Event()
    got_chunk = asyncio.Event()

    @stream_request_body
    class Upload(RequestHandler):
        def data_received(self, chunk: bytes) -> None:
            got_chunk.set()

        def put(self) -> None:
            events.append("put")  # never: the body did not complete

        def on_connection_close(self) -> None:
            super().on_connection_close()
            events.append("on_connection_close")

        def on_finish(self) -> None:
            events.append("on_finish")
            finished.set()

    srv = await serve(Application([(r"/", Upload)]))
    _, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    writer.write(b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000)
    await writer.drain()
    await asyncio.wait_for(got_chunk.wait(), 2)
    writer.close()
    await asyncio.wait_for(finished.wait(), 2)
    assert events == ["on_connection_close", "on_finish"]


async def test_on_finish_runs_when_streaming_body_exceeds_max_size(serve: Any) -> None:
    from tornadish.web import stream_request_body

    events: list[str] = []
    finished = asyncio.Event()

    @stream_request_body
    class Upload(RequestHandler):
        def prepare(self) -> None:
            self.request.connection.set_max_body_size(10)  # type: ignore[union-attr]

        def data_received(self, chunk: bytes) -> None:
            pass

        def put(self) -> None:
            events.append("put")

        def on_finish(self) -> None:
            events.append("on_finish")
            finished.set()

    srv = await serve(Application([(r"/", Upload)]))
    raw = await srv.raw(b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n" + b"y" * 50)
    assert raw.startswith(b"HTTP/1.1 413") or raw == b""
    await asyncio.wait_for(finished.wait(), 2)
    assert events == ["on_finish"]


# -- status, headers ----------------------------------------------------------------------------


async def test_set_status_custom_reason_and_unknown_code(serve: Any) -> None:
    def make(base: Any) -> Any:
        class H(base):  # type: ignore[misc,valid-type]
            def get(self) -> None:
                code = int(self.get_argument("code"))
                reason = self.get_argument("reason", None)
                self.set_status(code, reason)
                self.write("body")

        return H

    ours, _ = await compare(serve, make, "/?code=201&reason=Made%20It")
    assert (ours.status_code, ours.reason_phrase) == (201, "Made It")
    ours, _ = await compare(serve, make, "/?code=418")
    assert ours.reason_phrase == "I'm a Teapot"
    ours, _ = await compare(serve, make, "/?code=299")
    assert (ours.status_code, ours.reason_phrase) == (299, "Unknown")
    ours, _ = await compare(serve, make, "/?code=404")
    assert ours.text == "body"


async def test_set_add_clear_header(serve: Any) -> None:
    class H(RequestHandler):
        def get(self) -> None:
            self.set_header("X-One", "1")
            self.set_header("X-One", "one")  # replaces
            self.add_header("X-Multi", "a")
            self.add_header("X-Multi", "b")
            self.set_header("X-Int", 42)
            self.set_header("X-Bytes", b"raw")
            self.set_header(
                "X-Date", datetime.datetime(2020, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
            )
            self.set_header("X-Gone", "soon")
            self.clear_header("X-Gone")
            self.clear_header("Server")
            self.clear_header("X-Never-Set")
            self.write("ok")

    srv = await serve(Application([(r"/", H)]))
    r = await get(srv, "/")
    assert r.headers["x-one"] == "one"
    assert r.headers.get_list("x-multi") == ["a", "b"]
    assert r.headers["x-int"] == "42"
    assert r.headers["x-bytes"] == "raw"
    assert r.headers["x-date"] == "Thu, 02 Jan 2020 03:04:05 GMT"
    assert "x-gone" not in r.headers
    assert "server" not in r.headers


async def test_set_default_headers_and_clear_resets_them(serve: Any) -> None:
    class H(RequestHandler):
        def set_default_headers(self) -> None:
            self.set_header("X-Default", "yes")
            self.clear_header("Server")

        def get(self) -> None:
            self.set_header("X-Temp", "1")
            self.write("discarded")
            self.clear()
            self.write("after clear")

    srv = await serve(Application([(r"/", H)]))
    r = await get(srv, "/")
    assert r.text == "after clear"
    assert r.headers["x-default"] == "yes"
    assert "x-temp" not in r.headers and "server" not in r.headers
    assert r.headers["content-type"] == "text/html; charset=UTF-8"


@pytest.mark.parametrize(
    "value",
    ["bad\r\nX-Injected: 1", "bad\nX-Injected: 1", "bad\rX-Injected: 1", "nul\x00"],
    ids=["crlf", "lf", "cr", "nul"],
)
async def test_header_value_with_line_break_is_refused(
    serve: Any, caplog: pytest.LogCaptureFixture, value: str
) -> None:
    class H(RequestHandler):
        def get(self) -> None:
            self.set_header("X-Evil", value)
            self.write("should not be sent")

    srv = await serve(Application([(r"/", H)]))
    raw = await srv.raw(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    status, headers, body = parse_raw(raw)
    assert status == "HTTP/1.1 500 Internal Server Error"
    assert "x-injected" not in headers and "x-evil" not in headers
    assert b"X-Injected" not in raw
    assert b"should not be sent" not in body
    assert any(r.name == APP and r.levelno == logging.ERROR for r in caplog.records)


async def test_add_header_and_header_name_refuse_line_breaks(serve: Any) -> None:
    class H(RequestHandler):
        def get(self) -> None:
            which = self.get_argument("which")
            if which == "add":
                self.add_header("X-Evil", "a\r\nX-Injected: 1")
            elif which == "redirect":
                self.redirect("/x\r\nX-Injected: 1")
            else:
                self.set_cookie("c", "v", path="/\r\nX-Injected: 1")
            self.write("never")

    srv = await serve(Application([(r"/", H)]))
    for which in ("add", "redirect", "cookie"):
        raw = await srv.raw(
            f"GET /?which={which} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
        )
        status, headers, _ = parse_raw(raw)
        assert status.startswith("HTTP/1.1 500"), (which, raw)
        assert "x-injected" not in headers, which


async def test_date_server_content_length_present(serve: Any) -> None:
    class H(RequestHandler):
        def get(self) -> None:
            self.write("hello")

    srv = await serve(Application([(r"/", H)]))
    before = time.time()
    r = await get(srv, "/")
    assert r.headers["server"].startswith("tornadish")
    assert r.headers["content-length"] == "5"
    date = email.utils.parsedate_to_datetime(r.headers["date"]).timestamp()
    assert before - 2 <= date <= time.time() + 1
    assert r.headers["date"].endswith(" GMT")


# -- writing ------------------------------------------------------------------------------------


async def test_write_str_bytes_dict(serve: Any) -> None:
    def make(base: Any) -> Any:
        class H(base):  # type: ignore[misc,valid-type]
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


# -- redirect -----------------------------------------------------------------------------------


async def test_redirect_statuses(serve: Any) -> None:
    def make(base: Any) -> Any:
        class H(base):  # type: ignore[misc,valid-type]
            def get(self, how: str) -> None:
                if how == "temp":
                    self.redirect("/target")
                elif how == "perm":
                    self.redirect("/target?x=1", permanent=True)
                elif how == "see":
                    self.redirect("http://example.com/abs", status=303)
                else:
                    self.redirect("/t", status=307)

        return H

    expected = {
        "temp": (302, "/target"),
        "perm": (301, "/target?x=1"),
        "see": (303, "http://example.com/abs"),
        "307": (307, "/t"),
    }
    for how, (status, location) in expected.items():
        ours, _ = await compare(serve, make, f"/{how}", r"/(\w+)", headers_to_compare=("location",))
        assert ours.status_code == status
        assert ours.headers["location"] == location


async def test_redirect_refuses_non_3xx_status(serve: Any) -> None:
    class H(RequestHandler):
        def get(self) -> None:
            self.redirect("/x", status=200)

    srv = await serve(Application([(r"/", H)]))
    r = await get(srv, "/")
    assert r.status_code == 500
    assert "location" not in r.headers


# -- arguments ----------------------------------------------------------------------------------


class ArgsHandler(RequestHandler):
    def get(self) -> None:
        self._answer()

    def post(self) -> None:
        self._answer()

    def _answer(self) -> None:
        self.write(
            {
                "arg": self.get_argument("a", "dflt"),
                "args": self.get_arguments("a"),
                "nostrip": self.get_arguments("a", strip=False),
                "query": self.get_query_arguments("a"),
                "query1": self.get_query_argument("a", None),
                "body": self.get_body_arguments("a"),
                "body1": self.get_body_argument("a", None),
                "none": self.get_argument("missing", None),
            }
        )


async def test_query_and_body_arguments(serve: Any) -> None:
    srv = await serve(Application([(r"/", ArgsHandler)]))
    r = await get(srv, "/?a=q1&a=%20q2%20&b=z")
    assert r.json() == {
        "arg": "q2",
        "args": ["q1", "q2"],
        "nostrip": ["q1", " q2 "],
        "query": ["q1", "q2"],
        "query1": "q2",
        "body": [],
        "body1": None,
        "none": None,
    }
    r = await get(srv, "/?a=q", "POST", data={"a": ["b1", "  b2\t"]})
    assert r.json() == {
        "arg": "b2",
        "args": ["q", "b1", "b2"],
        "nostrip": ["q", "b1", "  b2\t"],
        "query": ["q"],
        "query1": "q",
        "body": ["b1", "b2"],
        "body1": "b2",
        "none": None,
    }
    r = await get(srv, "/", "POST", data={"a": "x"}, files={"f": ("n.txt", b"data")})
    assert r.json()["body"] == ["x"]
    assert r.json()["arg"] == "x"
    r = await get(srv, "/")
    assert r.json()["arg"] == "dflt"


async def test_arguments_blank_plus_and_percent_decoding(serve: Any) -> None:
    def make(base: Any) -> Any:
        class H(base):  # type: ignore[misc,valid-type]
            def get(self) -> None:
                self.write({k: self.get_arguments(k) for k in ("a", "b", "c", "d")})

        return H

    ours, _ = await compare(serve, make, "/?a=&b=x+y&c=%C3%A9%2B&d")
    assert ours.json() == {"a": [""], "b": ["x y"], "c": ["é+"], "d": [""]}


async def test_argument_control_characters_removed(serve: Any) -> None:
    def make(base: Any) -> Any:
        class H(base):  # type: ignore[misc,valid-type]
            def get(self) -> None:
                self.write({"v": self.get_argument("v", strip=False)})

        return H

    ours, _ = await compare(serve, make, "/?v=a%00b%07c%1fd%09e%0Af%0Dg%7F")
    assert ours.json()["v"] == "a b c d\te\nf\rg\x7f"


async def test_missing_argument_is_400(serve: Any, caplog: pytest.LogCaptureFixture) -> None:
    def make(base: Any) -> Any:
        class H(base):  # type: ignore[misc,valid-type]
            def get(self) -> None:
                self.write(self.get_argument("needed"))

            def post(self) -> None:
                self.write(self.get_body_argument("needed"))

        return H

    ours, _ = await compare(serve, make, "/")
    assert ours.status_code == 400
    assert ours.reason_phrase == "Bad Request"
    ours, _ = await compare(serve, make, "/?needed=1", method="POST", data={"other": "1"})
    assert ours.status_code == 400
    assert any("Missing argument needed" in r.getMessage() for r in caplog.records)


async def test_invalid_utf8_argument_is_400(serve: Any) -> None:
    def make(base: Any) -> Any:
        class H(base):  # type: ignore[misc,valid-type]
            def get(self) -> None:
                self.write(self.get_argument("a"))

            def post(self) -> None:
                self.write(self.get_argument("a"))

        return H

    ours, _ = await compare(serve, make, "/?a=%FF%FE")
    assert ours.status_code == 400
    ours, _ = await compare(
        serve,
        make,
        "/",
        method="POST",
        content=b"a=%C3%28",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert ours.status_code == 400


async def test_multipart_upload_files_and_fields(serve: Any) -> None:
    class Upload(RequestHandler):
        def post(self) -> None:
            files = self.request.files
            self.write(
                {
                    "title": self.get_body_argument("title"),
                    "tags": self.get_body_arguments("tag"),
                    "files": {
                        name: [
                            [f["filename"], f["body"].decode("latin-1"), f["content_type"]]
                            for f in fs
                        ]
                        for name, fs in files.items()
                    },
                    "attr": files["doc"][0].filename,
                }
            )

    srv = await serve(Application([(r"/up", Upload)]))
    r = await get(
        srv,
        "/up",
        "POST",
        data={"title": "Holiday", "tag": ["a", "b"]},
        files=[
            ("doc", ("notes.txt", b"line1\r\nline2", "text/plain")),
            ("doc", ("pic.png", b"\x89PNG\x00\xff", "image/png")),
            ("raw", ("blob", b"", "application/octet-stream")),
        ],
    )
    assert r.status_code == 200, r.text
    assert r.json() == {
        "title": "Holiday",
        "tags": ["a", "b"],
        "files": {
            "doc": [
                ["notes.txt", "line1\r\nline2", "text/plain"],
                ["pic.png", "\x89PNG\x00\xff", "image/png"],
            ],
            "raw": [["blob", "", "application/octet-stream"]],
        },
        "attr": "notes.txt",
    }


# -- cookies ------------------------------------------------------------------------------------


async def test_get_cookie(serve: Any) -> None:
    def make(base: Any) -> Any:
        class H(base):  # type: ignore[misc,valid-type]
            def get(self) -> None:
                self.write(
                    {
                        "a": self.get_cookie("a"),
                        "b": self.get_cookie("b"),
                        "q": self.get_cookie("q"),
                        "none": self.get_cookie("nope"),
                        "dflt": self.get_cookie("nope", "d"),
                        "names": sorted(self.cookies),
                    }
                )

        return H

    ours, _ = await compare(
        serve, make, "/", headers={"Cookie": 'a=1; b=two%20words; q="quoted \\"x\\""'}
    )
    assert ours.json()["a"] == "1"
    assert ours.json()["none"] is None and ours.json()["dflt"] == "d"


async def test_set_cookie_every_attribute(serve: Any) -> None:
    when = datetime.datetime(2030, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc)

    def make(base: Any) -> Any:
        class H(base):  # type: ignore[misc,valid-type]
            def get(self) -> None:
                self.set_cookie("plain", "v")
                self.set_cookie(
                    "full",
                    "value",
                    domain="example.com",
                    expires=when,
                    path="/p",
                    max_age=3600,
                    httponly=True,
                    secure=True,
                    samesite="Strict",
                )
                self.set_cookie("lax", "1", samesite="Lax")
                self.set_cookie("none", "1", samesite="None", secure=True)
                self.set_cookie("ts", "1", expires=when.timestamp())
                self.set_cookie("tup", "1", expires=when.utctimetuple())
                self.set_cookie("nopath", "1", path=None)  # type: ignore[arg-type]
                self.write("ok")

        return H

    ours, theirs = await compare(serve, make, "/")
    ours_cookies = ours.headers.get_list("set-cookie")
    assert ours_cookies == theirs.headers.get_list("set-cookie")
    by_name = {c.split("=", 1)[0]: c for c in ours_cookies}
    assert by_name["plain"] == "plain=v; Path=/"
    full = by_name["full"]
    for attr in (
        "full=value",
        "Domain=example.com",
        "expires=Mon, 06 May 2030 07:08:09 GMT",
        "Path=/p",
        "Max-Age=3600",
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
    ):
        assert attr in full.split("; "), (attr, full)
    assert "SameSite=Lax" in by_name["lax"]
    assert "SameSite=None" in by_name["none"] and "Secure" in by_name["none"]
    assert "expires=Mon, 06 May 2030 07:08:09 GMT" in by_name["ts"]
    assert "expires=Mon, 06 May 2030 07:08:09 GMT" in by_name["tup"]
    assert "Path" not in by_name["nopath"]


async def test_set_cookie_expires_days_and_latest_value_wins(serve: Any) -> None:
    class H(RequestHandler):
        def get(self) -> None:
            self.set_cookie("c", "first")
            self.set_cookie("c", "second", expires_days=2)

    srv = await serve(Application([(r"/", H)]))
    r = await get(srv, "/")
    cookies = r.headers.get_list("set-cookie")
    assert len(cookies) == 1
    assert cookies[0].startswith("c=second; ")
    exp = cookies[0].split("expires=")[1].split(";")[0]
    when = email.utils.parsedate_to_datetime(exp).timestamp()
    assert abs(when - (time.time() + 2 * 86400)) < 60


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": "c", "value": "a\r\nb"},
        {"name": "c", "value": "a b"},
        {"name": "c d", "value": "v"},
        {"name": "c;d", "value": "v"},
        {"name": "c", "value": "v", "samesite": "bogus"},
        {"name": "c", "value": "v", "samesite": "Lax; Secure"},
        {"name": "c", "value": "v", "path": "/a;Domain=evil.com"},
        {"name": "c", "value": "v", "path": "/a\r\nX-Injected: 1"},
        {"name": "c", "value": "v", "domain": "a.com; HttpOnly"},
        {"name": "c", "value": "v", "max_age": "1; Domain=evil.com"},
        {"name": "c", "value": "v", "comment": "x;y"},
    ],
    ids=[
        "crlf",
        "space",
        "name-space",
        "name-semicolon",
        "samesite",
        "samesite-smuggle",
        "path-semicolon",
        "path-crlf",
        "domain-semicolon",
        "max-age-smuggle",
        "kwarg-semicolon",
    ],
)
async def test_set_cookie_invalid_values_rejected(serve: Any, kwargs: dict[str, Any]) -> None:
    errors: list[BaseException] = []

    class H(RequestHandler):
        def get(self) -> None:
            try:
                self.set_cookie(**kwargs)
            except (ValueError, TypeError) as e:
                errors.append(e)
                raise
            self.write("not reached")

    srv = await serve(Application([(r"/", H)]))
    r = await get(srv, "/")
    assert r.status_code == 500
    assert "set-cookie" not in r.headers
    assert errors


async def test_clear_cookie(serve: Any) -> None:
    def make(base: Any) -> Any:
        class H(base):  # type: ignore[misc,valid-type]
            def get(self) -> None:
                self.clear_cookie("gone")
                self.clear_cookie("scoped", path="/p", domain="example.com")

        return H

    ours, theirs = await compare(serve, make, "/")
    for r in (ours, theirs):
        cookies = {c.split("=", 1)[0]: c for c in r.headers.get_list("set-cookie")}
        gone = cookies["gone"]
        assert gone.startswith('gone=""; ')
        exp = gone.split("expires=")[1].split(";")[0]
        assert email.utils.parsedate_to_datetime(exp).timestamp() < time.time()
        assert "Path=/p" in cookies["scoped"] and "Domain=example.com" in cookies["scoped"]
    # Tornado leaves Max-Age out (it only sets a truthy one); a Max-Age=0 as well makes
    # browsers that prefer Max-Age to Expires drop the cookie too.
    assert "Max-Age=0" in ours.headers["set-cookie"]


async def test_cookie_value_with_semicolon_is_quoted_like_tornado(serve: Any) -> None:
    def make(base: Any) -> Any:
        class H(base):  # type: ignore[misc,valid-type]
            def get(self) -> None:
                self.set_cookie("c", 'a;b"c\\')

        return H

    ours, theirs = await compare(serve, make, "/")
    assert ours.headers["set-cookie"] == theirs.headers["set-cookie"]
    assert ours.headers["set-cookie"].startswith('c="a\\073b\\"c\\\\"; ')


async def test_cookie_round_trip_with_httpx(serve: Any) -> None:
    class Setter(RequestHandler):
        def get(self) -> None:
            self.set_cookie("session", "abc123")
            self.write("set")

    class Reader(RequestHandler):
        def get(self) -> None:
            self.write(self.get_cookie("session") or "none")

    srv = await serve(Application([(r"/set", Setter), (r"/read", Reader)]))
    async with httpx.AsyncClient(base_url=srv.base_url) as c:
        assert (await c.get("/read")).text == "none"
        await c.get("/set")
        assert (await c.get("/read")).text == "abc123"


# -- ETags --------------------------------------------------------------------------------------


class EtagHandler(RequestHandler):
    def get(self) -> None:
        self.write("etag body")

    def post(self) -> None:
        self.write("etag body")


async def test_etag_and_304(serve: Any) -> None:
    srv = await serve(Application([(r"/", EtagHandler)]))
    r = await get(srv, "/")
    etag = r.headers["etag"]
    assert etag == '"%s"' % hashlib.sha1(b"etag body").hexdigest()
    for inm in (etag, "W/" + etag, "*", f'"other", {etag}', f'"a", W/{etag}, "b"'):
        r304 = await get(srv, "/", headers={"If-None-Match": inm})
        assert r304.status_code == 304, inm
        assert r304.content == b""
        assert r304.headers["etag"] == etag
        assert "content-length" not in r304.headers or r304.headers["content-length"] == "0"
        assert "content-type" not in r304.headers
    for inm in ('"other"', 'W/"other"', '"a", "b"', "garbage"):
        r200 = await get(srv, "/", headers={"If-None-Match": inm})
        assert r200.status_code == 200, inm
        assert r200.text == "etag body"


async def test_etag_matches_tornado(serve: Any) -> None:
    def make(base: Any) -> Any:
        class H(base):  # type: ignore[misc,valid-type]
            def get(self) -> None:
                self.write("etag body")

        return H

    ours, _ = await compare(serve, make, "/", headers_to_compare=("etag",))
    inm = ours.headers["etag"]
    for value in (inm, "W/" + inm, "*", f'"x", {inm}'):
        await compare(
            serve, make, "/", headers={"If-None-Match": value}, headers_to_compare=("etag",)
        )


async def test_no_etag_on_post_or_error_or_custom_none(serve: Any) -> None:
    class NoEtag(RequestHandler):
        def compute_etag(self) -> None:
            return None

        def get(self) -> None:
            self.write("x")

    class Err(RequestHandler):
        def get(self) -> None:
            self.set_status(404)
            self.write("x")

    srv = await serve(Application([(r"/", EtagHandler), (r"/none", NoEtag), (r"/err", Err)]))
    r = await get(srv, "/", "POST")
    assert r.status_code == 200 and "etag" not in r.headers
    # If-None-Match on a POST does not turn it into a 304.
    r = await get(srv, "/", "POST", headers={"If-None-Match": "*"})
    assert r.status_code == 200 and r.text == "etag body"
    r = await get(srv, "/none", headers={"If-None-Match": "*"})
    assert r.status_code == 200 and "etag" not in r.headers
    r = await get(srv, "/err")
    assert "etag" not in r.headers


async def test_explicit_etag_header_is_kept(serve: Any) -> None:
    class H(RequestHandler):
        def get(self) -> None:
            self.set_header("Etag", '"v1"')
            self.write("x")

    srv = await serve(Application([(r"/", H)]))
    r = await get(srv, "/")
    assert r.headers["etag"] == '"v1"'


# -- current_user ------------------------------------------------------------------------------


async def test_current_user_from_get_current_user_and_async_prepare(serve: Any) -> None:
    calls: list[int] = []

    class CookieUser(RequestHandler):
        def get_current_user(self) -> Any:
            calls.append(1)
            return self.get_cookie("user")

        def get(self) -> None:
            self.write({"u": self.current_user, "again": self.current_user})

    class PrepUser(RequestHandler):
        async def prepare(self) -> None:
            await asyncio.sleep(0)
            self.current_user = {"name": self.get_query_argument("name", "anon")}

        def get(self) -> None:
            self.write({"u": self.current_user})

    srv = await serve(Application([(r"/cookie", CookieUser), (r"/prep", PrepUser)]))
    r = await get(srv, "/cookie", headers={"Cookie": "user=alice"})
    assert r.json() == {"u": "alice", "again": "alice"}
    assert calls == [1]  # computed once per request
    r = await get(srv, "/cookie")
    assert r.json() == {"u": None, "again": None}
    r = await get(srv, "/prep?name=bob")
    assert r.json() == {"u": {"name": "bob"}}


# -- the request object -------------------------------------------------------------------------


async def test_request_attributes(serve: Any) -> None:
    seen: dict[str, Any] = {}

    class Inspect(RequestHandler):
        def post(self, *args: str) -> None:
            req = self.request
            seen["request"] = req
            seen["time_during"] = req.request_time()
            self.write(
                {
                    "method": req.method,
                    "uri": req.uri,
                    "path": req.path,
                    "query": req.query,
                    "version": req.version,
                    "x": req.headers.get("X-Custom"),
                    "xs": req.headers.get_list("X-Multi"),
                    "body": req.body.decode(),
                    "remote_ip": req.remote_ip,
                    "protocol": req.protocol,
                    "host": req.host,
                    "host_name": req.host_name,
                    "arguments": {k: [v.decode() for v in vs] for k, vs in req.arguments.items()},
                    "query_arguments": {
                        k: [v.decode() for v in vs] for k, vs in req.query_arguments.items()
                    },
                    "body_arguments": {
                        k: [v.decode() for v in vs] for k, vs in req.body_arguments.items()
                    },
                    "cookies": {k: m.value for k, m in req.cookies.items()},
                    "full_url": req.full_url(),
                    "files": list(req.files),
                    "path_args": list(args),
                }
            )

    srv = await serve(Application([(r"/in(.*)", Inspect)]))
    async with httpx.AsyncClient() as c:
        r = await c.post(
            srv.base_url + "/inspect/%C3%A9?q=1&q=2&z=%20",
            data={"f": "v", "q": "body"},
            headers=[
                ("X-Custom", "yes"),
                ("X-Multi", "1"),
                ("X-Multi", "2"),
                ("Cookie", "c1=v1; c2=v2"),
                ("Host", "Example.COM:8080"),
            ],
        )
    assert r.status_code == 200, r.text
    assert r.json() == {
        "method": "POST",
        "uri": "/inspect/%C3%A9?q=1&q=2&z=%20",
        "path": "/inspect/%C3%A9",
        "query": "q=1&q=2&z=%20",
        "version": "HTTP/1.1",
        "x": "yes",
        "xs": ["1", "2"],
        "body": "f=v&q=body",
        "remote_ip": "127.0.0.1",
        "protocol": "http",
        "host": "Example.COM:8080",
        "host_name": "example.com",
        "arguments": {"q": ["1", "2", "body"], "z": [" "], "f": ["v"]},
        "query_arguments": {"q": ["1", "2"], "z": [" "]},
        "body_arguments": {"f": ["v"], "q": ["body"]},
        "cookies": {"c1": "v1", "c2": "v2"},
        "full_url": "http://Example.COM:8080/inspect/%C3%A9?q=1&q=2&z=%20",
        "files": [],
        "path_args": ["spect/é"],
    }
    req = seen["request"]
    assert 0 <= seen["time_during"] < 5
    t1 = req.request_time()
    await asyncio.sleep(0.02)
    assert req.request_time() == t1  # frozen once the request finished


async def test_request_without_host_header_http10(serve: Any) -> None:
    class H(RequestHandler):
        def get(self) -> None:
            self.write(f"{self.request.version}|{self.request.host}|{self.request.host_name}")

    srv = await serve(Application([(r"/", H)]))
    raw = await srv.raw(b"GET / HTTP/1.0\r\n\r\n")
    status, _, body = parse_raw(raw)
    assert status.startswith("HTTP/1.1 200")
    assert body == b"HTTP/1.0|127.0.0.1|127.0.0.1"


async def test_request_repr_and_settings(serve: Any) -> None:
    class H(RequestHandler):
        def get(self) -> None:
            self.write({"repr": repr(self.request), "setting": self.settings.get("custom")})

    srv = await serve(Application([(r"/", H)], custom="value"))
    r = await get(srv, "/")
    assert r.json()["setting"] == "value"
    assert "method='GET'" in r.json()["repr"] and "uri='/'" in r.json()["repr"]


# -- access log ---------------------------------------------------------------------------------


async def test_access_log_one_line_per_request_with_levels(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    class H(RequestHandler):
        def get(self, code: str) -> None:
            self.set_status(int(code))
            if int(code) >= 200:
                self.write("x")

    caplog.set_level(logging.DEBUG, logger=ACCESS)
    srv = await serve(Application([(r"/(\d+)", H)]))
    for code in ("200", "302", "404", "503"):
        await get(srv, f"/{code}?q=1")
    await get(srv, "/nowhere")
    lines = [r for r in caplog.records if r.name == ACCESS]
    assert [(r.levelno, r.args[0]) for r in lines] == [  # type: ignore[index]
        (logging.INFO, 200),
        (logging.INFO, 302),
        (logging.WARNING, 404),
        (logging.ERROR, 503),
        (logging.WARNING, 404),
    ]
    for r in lines:
        assert r.msg == "%d %s %.2fms"
    msg = lines[0].getMessage()
    assert msg.startswith("200 GET /200?q=1 (127.0.0.1) ")
    assert msg.endswith("ms")
    assert lines[-1].getMessage().startswith("404 GET /nowhere (127.0.0.1) ")


async def test_log_function_setting_overrides(serve: Any, caplog: pytest.LogCaptureFixture) -> None:
    logged: list[tuple[int, str]] = []

    def log_function(handler: RequestHandler) -> None:
        logged.append((handler.get_status(), handler.request.uri))

    class H(RequestHandler):
        def get(self) -> None:
            self.write("x")

    caplog.set_level(logging.DEBUG, logger=ACCESS)
    srv = await serve(Application([(r"/", H)], log_function=log_function))
    await get(srv, "/?a=1")
    await get(srv, "/missing")
    assert logged == [(200, "/?a=1"), (404, "/missing")]
    assert not [r for r in caplog.records if r.name == ACCESS]


async def test_uncaught_exception_logged_and_server_keeps_serving(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    class Boom(RequestHandler):
        def get(self) -> None:
            raise ZeroDivisionError("sync boom")

    class AsyncBoom(RequestHandler):
        async def get(self) -> None:
            await asyncio.sleep(0)
            raise KeyError("async boom")

    class Fine(RequestHandler):
        def get(self) -> None:
            self.write("fine")

    srv = await serve(Application([(r"/boom", Boom), (r"/aboom", AsyncBoom), (r"/", Fine)]))
    async with httpx.AsyncClient(base_url=srv.base_url) as c:
        for path, exc in (("/boom", ZeroDivisionError), ("/aboom", KeyError)):
            r = await c.get(path)
            assert r.status_code == 500
            assert r.reason_phrase == "Internal Server Error"
            assert "boom" not in r.text  # no traceback without serve_traceback
            assert "<html><title>500: Internal Server Error</title>" in r.text
            recs = [
                rec
                for rec in caplog.records
                if rec.name == APP and rec.exc_info and isinstance(rec.exc_info[1], exc)
            ]
            assert len(recs) == 1, path
            assert recs[0].levelno == logging.ERROR
            assert path in recs[0].getMessage()
            assert (await c.get("/")).text == "fine"  # same keep-alive connection


async def test_exception_in_initialize_gives_500(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    class Bad(RequestHandler):
        def initialize(self) -> None:
            raise RuntimeError("init failed")

    class Fine(RequestHandler):
        def get(self) -> None:
            self.write("fine")

    srv = await serve(Application([(r"/bad", Bad), (r"/", Fine)]))
    async with httpx.AsyncClient(base_url=srv.base_url) as c:
        r = await c.get("/bad")
        assert r.status_code == 500
        assert (await c.get("/")).text == "fine"
    assert any(r.name == APP and r.exc_info for r in caplog.records)


# -- Finish and HTTPError basics (more in test_web_errors.py) ------------------------------------


async def test_finish_exception_and_http_error_in_async_prepare(serve: Any) -> None:
    class H(RequestHandler):
        async def prepare(self) -> None:
            what = self.get_query_argument("what")
            if what == "finish":
                self.set_status(202)
                raise Finish("finished early")
            if what == "error":
                raise HTTPError(403)

        def get(self) -> None:
            self.write("method ran")

    srv = await serve(Application([(r"/", H)]))
    r = await get(srv, "/?what=finish")
    assert (r.status_code, r.text) == (202, "finished early")
    r = await get(srv, "/?what=error")
    assert r.status_code == 403
    r = await get(srv, "/?what=none")
    assert r.text == "method ran"


async def test_json_body_round_trip(serve: Any) -> None:
    class Echo(RequestHandler):
        def post(self) -> None:
            data = json.loads(self.request.body)
            data["seen"] = True
            self.write(data)

    srv = await serve(Application([(r"/", Echo)]))
    r = await get(srv, "/", "POST", json={"x": 1})
    assert r.json() == {"x": 1, "seen": True}
    assert self_consistent_content_length(r)


def self_consistent_content_length(r: httpx.Response) -> bool:
    return int(r.headers["content-length"]) == len(r.content)
