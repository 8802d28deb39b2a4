"""Per-route limits and deadlines: ``max_body_size`` (413), ``body_timeout`` (408) and
``request_timeout`` (503, the handler cancelled) set by ``url(...)`` or handler class
attributes, while the other routes of the same server keep the server-wide limits."""

from __future__ import annotations

import asyncio
import gzip
import logging
from typing import Any

import pytest

from tornadish.routing import PathMatches, Rule, URLSpec
from tornadish.web import Application, RequestHandler, stream_request_body, url

from tests.support.rawhttp import RawConn, assert_logged, capture_general, chunked, request

SERVER_LIMIT = 4096
ROUTE_LIMIT = 1024
SERVER_BODY_TIMEOUT = 2.0
ROUTE_TIMEOUT = 0.3


class Echo(RequestHandler):
    """Answers with the length of the (decompressed) body it got."""

    def put(self) -> None:
        self.write(str(len(self.request.body)))


class Big(Echo):
    max_body_size = 64 * 1024  # a class attribute may raise the server's limit too


class Tiny(Echo):
    max_body_size = 10  # the route's setting wins over it


@stream_request_body
class StreamEcho(RequestHandler):
    max_body_size = ROUTE_LIMIT

    def prepare(self) -> None:
        self.received = 0

    def data_received(self, chunk: bytes) -> None:
        self.received += len(chunk)

    def put(self) -> None:
        self.write(str(self.received))


def make_app(state: dict[str, Any]) -> Application:
    class Stuck(RequestHandler):
        request_timeout = ROUTE_TIMEOUT

        async def get(self) -> None:
            state["loop"] = asyncio.get_running_loop()
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                state["cancelled_at"] = state["loop"].time()
                raise
            finally:
                state["finally"] = state.get("finally", 0) + 1

        def on_finish(self) -> None:
            state["on_finish"] = state.get("on_finish", 0) + 1

    class StuckMidResponse(RequestHandler):
        async def get(self) -> None:
            self.write("partial")
            await self.flush()
            try:
                await asyncio.sleep(30)
            finally:
                state["mid_finally"] = True

    class QuickThenBusy(RequestHandler):
        request_timeout = ROUTE_TIMEOUT

        async def get(self) -> None:
            self.finish("quick")
            state["quick_handler"] = self
            await asyncio.sleep(2 * ROUTE_TIMEOUT)  # after finish(): not the route's business
            state["quick_done"] = True

    @stream_request_body
    class StuckUpload(StreamEcho):
        def on_finish(self) -> None:
            state["upload_on_finish"] = True

    return Application(
        [
            url(r"/upload", Echo, max_body_size=ROUTE_LIMIT),
            (r"/other", Echo),
            (r"/big", Big),
            url(r"/override", Tiny, max_body_size=2048),
            (r"/stream", StreamEcho),
            url(r"/slow-body", Echo, body_timeout=ROUTE_TIMEOUT),
            (r"/deadline", Stuck),
            url(r"/deadline-started", StuckMidResponse, request_timeout=ROUTE_TIMEOUT),
            url(r"/deadline-body", Echo, request_timeout=ROUTE_TIMEOUT),
            url(r"/deadline-stream", StuckUpload, request_timeout=ROUTE_TIMEOUT),
            (r"/quick", QuickThenBusy),
        ]
    )


async def start(serve: Any, state: dict[str, Any]) -> Any:
    return await serve(
        make_app(state),
        max_body_size=SERVER_LIMIT,
        body_timeout=SERVER_BODY_TIMEOUT,
        decompress_request=True,
    )


async def put(port: int, path: str, body: bytes, headers: dict[str, str] | None = None) -> Any:
    conn = await RawConn.open(port)
    try:
        conn.send(request("PUT", path, headers, body))
        return await conn.response()
    finally:
        conn.close()


async def test_route_limits_answer_413_408_503_while_other_routes_keep_the_servers(
    serve, http_engine, caplog
) -> None:
    # The acceptance test: every kind of per-route limit, and the server-wide ones next
    # to them, in one server over real sockets.
    capture_general(caplog)
    state: dict[str, Any] = {}
    srv = await start(serve, state)
    port = srv.port

    # max_body_size: 413 on the route, the server's 400 elsewhere.
    assert (await put(port, "/upload", b"a" * ROUTE_LIMIT)).body == b"1024"
    assert (await put(port, "/upload", b"a" * (ROUTE_LIMIT + 1))).status == 413
    assert (await put(port, "/other", b"a" * 2000)).body == b"2000"
    assert (await put(port, "/other", b"a" * (SERVER_LIMIT + 1))).status == 400

    # body_timeout: the route's body is given up after ROUTE_TIMEOUT (408), another
    # route's still waits at that point.
    slow = await RawConn.open(port)
    other = await RawConn.open(port)
    loop = asyncio.get_running_loop()
    began = loop.time()
    slow.send(request("PUT", "/slow-body", {"Content-Length": "100"}, b"x" * 10))
    other.send(request("PUT", "/other", {"Content-Length": "100"}, b"x" * 10))
    assert (await slow.response(timeout=SERVER_BODY_TIMEOUT)).status == 408
    assert loop.time() - began < SERVER_BODY_TIMEOUT
    await asyncio.sleep(ROUTE_TIMEOUT)
    other.send(b"x" * 90)
    assert (await other.response()).body == b"100"
    slow.close()
    other.close()

    # request_timeout: 503 past it, the handler cancelled with finally and on_finish run.
    conn = await RawConn.open(port)
    began = loop.time()
    conn.send(request("GET", "/deadline"))
    response = await conn.response(timeout=2)
    took = loop.time() - began
    assert response.status == 503
    assert ROUTE_TIMEOUT - 0.05 <= took < ROUTE_TIMEOUT + 0.5, took
    await asyncio.sleep(0.05)
    assert state["cancelled_at"] and state["finally"] == 1 and state["on_finish"] == 1
    # The connection goes on: the next request on it is answered as usual.
    conn.send(request("PUT", "/other", body=b"abc"))
    assert (await conn.response()).body == b"3"
    conn.close()

    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and "503" not in r.message]
    assert not errors, [r.getMessage() for r in errors]
    assert_logged(caplog, 413)
    assert_logged(caplog, 400)
    assert_logged(caplog, 408)
    assert any("request_timeout" in r.getMessage() for r in caplog.records)


async def test_route_body_limit_is_checked_before_the_body_is_read(serve) -> None:
    # A declared Content-Length over the limit is refused at once: the client that
    # asked to be told (Expect: 100-continue) gets the 413, never a 100 Continue.
    srv = await start(serve, {})
    conn = await RawConn.open(srv.port)
    head = {"Content-Length": str(ROUTE_LIMIT + 1), "Expect": "100-continue"}
    conn.send(request("PUT", "/upload", head))
    response = await conn.response(timeout=2)
    assert response.status == 413
    conn.close()
    conn = await RawConn.open(srv.port)
    conn.send(request("PUT", "/upload", {"Content-Length": "10", "Expect": "100-continue"}))
    assert (await conn.response()).status == 100
    conn.send(b"x" * 10)
    assert (await conn.response()).body == b"10"
    conn.close()


@pytest.mark.parametrize("path", ["/upload", "/stream"])
async def test_route_body_limit_on_a_chunked_body(serve, path) -> None:
    srv = await start(serve, {})
    body = chunked(b"a" * 600, b"a" * 600)
    response = await put(srv.port, path, body, {"Transfer-Encoding": "chunked"})
    assert response.status == 413
    ok = await put(srv.port, path, chunked(b"a" * 600), {"Transfer-Encoding": "chunked"})
    assert ok.body == b"600"


async def test_route_body_limit_on_a_streaming_handler(serve) -> None:
    # The class attribute of a @stream_request_body handler applies before its
    # prepare() runs, as a declared length is judged before any body is read.
    srv = await start(serve, {})
    assert (await put(srv.port, "/stream", b"a" * ROUTE_LIMIT)).body == b"1024"
    assert (await put(srv.port, "/stream", b"a" * (ROUTE_LIMIT + 1))).status == 413


async def test_decompressed_body_counts_against_the_route_limit(serve) -> None:
    srv = await start(serve, {})
    gz = {"Content-Encoding": "gzip"}
    small = gzip.compress(b"a" * 1000)
    bomb = gzip.compress(b"a" * 3000)  # a few dozen bytes on the wire
    assert len(bomb) < ROUTE_LIMIT
    assert (await put(srv.port, "/upload", small, gz)).body == b"1000"
    assert (await put(srv.port, "/upload", bomb, gz)).status == 413
    # Another route: the server's limit, and its status.
    assert (await put(srv.port, "/other", bomb, gz)).body == b"3000"
    assert (await put(srv.port, "/other", gzip.compress(b"a" * 5000), gz)).status == 400


async def test_route_setting_wins_over_the_class_attribute_and_both_over_the_server(
    serve,
) -> None:
    srv = await start(serve, {})
    assert (await put(srv.port, "/override", b"a" * 2048)).body == b"2048"  # not Tiny's 10
    assert (await put(srv.port, "/override", b"a" * 2049)).status == 413
    assert (await put(srv.port, "/big", b"a" * 20000)).body == b"20000"  # over the server's


async def test_request_timeout_after_the_response_started_closes_the_connection(
    serve, caplog
) -> None:
    state: dict[str, Any] = {}
    srv = await start(serve, state)
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", "/deadline-started"))
    raw = await conn.read_until_eof(timeout=2)
    # The head and the first chunk went out; the response never ends (no last chunk).
    assert raw.startswith(b"HTTP/1.1 200 ")
    assert b"partial" in raw and not raw.endswith(b"0\r\n\r\n")
    await asyncio.sleep(0.02)
    assert state["mid_finally"]
    assert any("connection closed" in r.getMessage() for r in caplog.records)
    conn.close()


@pytest.mark.parametrize("path", ["/deadline-body", "/deadline-stream"])
async def test_request_timeout_while_the_body_is_still_coming(serve, path) -> None:
    # Buffered: no handler exists yet, the dispatcher answers. Streaming: the handler's
    # task waits for the body, and is cancelled (its on_finish runs).
    state: dict[str, Any] = {}
    srv = await start(serve, state)
    conn = await RawConn.open(srv.port)
    loop = asyncio.get_running_loop()
    began = loop.time()
    conn.send(request("PUT", path, {"Content-Length": "100"}, b"x" * 10))
    response = await conn.response(timeout=2)
    assert response.status == 503
    assert loop.time() - began < SERVER_BODY_TIMEOUT
    assert await conn.is_closed()
    conn.close()
    assert state.get("upload_on_finish", False) == (path == "/deadline-stream")


async def test_default_handler_class_attributes_apply(serve) -> None:
    class Fallback(Echo):
        max_body_size = 10

    app = Application([(r"/other", Echo)], default_handler_class=Fallback)
    srv = await serve(app)
    assert (await put(srv.port, "/anything", b"a" * 10)).body == b"10"
    assert (await put(srv.port, "/anything", b"a" * 11)).status == 413
    assert (await put(srv.port, "/other", b"a" * 11)).body == b"11"


async def test_request_timeout_ends_with_the_response(serve, caplog) -> None:
    # A request that finished in time is over: the deadline is cancelled with it (the
    # handler's task may go on after finish()), no 503, no warning, nothing kept.
    state: dict[str, Any] = {}
    srv = await start(serve, state)
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", "/quick"))
    assert (await conn.response()).body == b"quick"
    assert state["quick_handler"]._request_timer.cancelled()
    await asyncio.sleep(3 * ROUTE_TIMEOUT)
    assert state["quick_done"]
    conn.send(request("GET", "/quick"))
    assert (await conn.response()).body == b"quick"
    conn.close()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


# -- resolution, once, when the route is made ----------------------------------------


def test_url_keeps_tornados_signature() -> None:
    spec = url(r"/x/(\d+)", Echo, {"a": 1}, "x", max_body_size=5)
    assert (spec.kwargs, spec.name, spec.handler_class) == ({"a": 1}, "x", Echo)
    assert spec.policy is not None and spec.policy.max_body_size == 5
    assert url(r"/y", Echo).policy is None  # nothing set: nothing to pay per request
    assert URLSpec(r"/z", Big).policy is not None  # the class's attribute


def test_route_settings_override_class_attributes_one_by_one() -> None:
    class Declared(RequestHandler):
        cancel_on_disconnect = True
        max_body_size = 10
        body_timeout = 5.0
        request_timeout = 9.0

    policy = url(r"/", Declared, request_timeout=1.5).policy
    assert policy is not None
    assert (policy.max_body_size, policy.body_timeout, policy.request_timeout) == (10, 5.0, 1.5)
    assert policy.cancel_on_disconnect
    # A plain Rule and a tuple rule read the class's attributes too.
    assert Rule(PathMatches(r"/"), Declared).policy == url(r"/", Declared).policy


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_body_size": -1},
        {"max_body_size": 1.5},
        {"max_body_size": True},
        {"body_timeout": 0},
        {"request_timeout": -2.0},
        {"request_timeout": "10"},
    ],
)
def test_bad_route_settings_are_refused_when_the_route_is_made(kwargs) -> None:
    with pytest.raises(ValueError):
        url(r"/", Echo, **kwargs)


def test_bad_class_attribute_is_refused_when_the_route_is_made() -> None:
    class Wrong(RequestHandler):
        request_timeout = 0

    with pytest.raises(ValueError, match="request_timeout"):
        Application([(r"/", Wrong)])


def test_route_settings_need_a_handler_class() -> None:
    with pytest.raises(TypeError):
        url(r"/", [(r"/a", Echo)], max_body_size=10)
