"""The dispatcher <-> handler lifecycle (``HandlerRun``), driven without a socket.

The application's dispatcher is fed by hand, as a connection would feed it, over a
connection that implements the contract and records what is sent: these tests pin the
order of a streamed request (prepare, body, method) and what a close mid-body does.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tornadish._http.contract import HTTPConnection, StreamClosedError
from tornadish._http.headers import HTTPHeaders
from tornadish._http.parse import RequestStartLine
from tornadish._web.handler_run import HandlerRun
from tornadish.web import Application, RequestHandler, stream_request_body


class RecordingConnection(HTTPConnection):
    """The contract, in memory: what is sent is kept; ``lose()`` plays the client leaving."""

    remote_ip = "192.0.2.7"
    scheme = "https"

    def __init__(self) -> None:
        self.status: int | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = b""
        self.finished = False
        self.is_closed = False
        self.close_callback: Callable[[], None] | None = None
        self.limit = 100 * 1024 * 1024

    def send_response(
        self,
        status: int,
        reason: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        finish: bool,
    ) -> None:
        self.status = status
        self.headers = headers
        self.body += body
        self.finished = finish

    def send_body(self, chunk: bytes, finish: bool) -> None:
        self.body += chunk
        self.finished = finish

    def drain(self) -> Awaitable[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.is_closed:
            fut.set_exception(StreamClosedError())
        else:
            fut.set_result(None)
        return fut

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        self.close_callback = callback

    def set_max_body_size(self, max_body_size: int) -> None:
        self.limit = max_body_size

    def set_body_timeout(self, timeout: float) -> None:
        pass

    @property
    def max_body_size(self) -> int:
        return self.limit

    @property
    def closed(self) -> bool:
        return self.is_closed

    def close(self) -> None:
        self.is_closed = True

    def sent(self) -> tuple[int | None, bytes, bool]:
        return self.status, self.body, self.finished

    def lose(self, delegate: Any) -> None:
        # What the server connection does when the peer goes: callback, then delegate.
        self.is_closed = True
        callback, self.close_callback = self.close_callback, None
        if callback is not None:
            callback()
        delegate.on_connection_close()


def start(app: Application, conn: RecordingConnection, method: str, path: str) -> Any:
    delegate = app.start_request(None, conn)
    headers = HTTPHeaders.from_raw([(b"host", b"example.com")])
    paused = delegate.headers_received(RequestStartLine(method, path, "HTTP/1.1"), headers)
    return delegate, paused


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_buffered_request_runs_once_the_body_is_in() -> None:
    seen: list[Any] = []

    class Echo(RequestHandler):
        def post(self) -> None:
            seen.append((self.request.remote_ip, self.request.protocol))
            self.write(self.request.body)

    conn = RecordingConnection()
    delegate, paused = start(Application([("/", Echo)]), conn, "POST", "/")
    assert paused is None
    delegate.data_received(b"ab")
    delegate.data_received(b"cd")
    assert conn.sent() == (None, b"", False)
    delegate.finish()
    assert conn.sent() == (200, b"abcd", True)
    # The request took the connection's (proxy-resolved) address and scheme.
    assert seen == [("192.0.2.7", "https")]


async def test_streamed_body_waits_for_prepare_then_reaches_the_method() -> None:
    events: list[str] = []
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    @stream_request_body
    class Streamed(RequestHandler):
        async def prepare(self) -> None:
            events.append("prepare")
            assert self.request.connection is not None
            self.request.connection.set_max_body_size(10)
            await gate
            events.append("prepared")

        def data_received(self, chunk: bytes) -> None:
            events.append("chunk " + chunk.decode())

        def put(self) -> None:
            events.append("put")
            self.write("done")

    conn = RecordingConnection()
    delegate, paused = start(Application([("/", Streamed)]), conn, "PUT", "/")
    assert paused is not None  # no body is read before prepare() has run
    await settle()
    assert events == ["prepare"]
    assert conn.limit == 10
    assert not paused.done()
    # A chunk that comes anyway (the server had it buffered) waits for prepare too.
    held = delegate.data_received(b"a")
    assert held is not None
    await settle()
    assert events == ["prepare"]
    gate.set_result(None)
    await paused
    await held
    assert delegate.data_received(b"b") is None
    assert events == ["prepare", "prepared", "chunk a", "chunk b"]
    delegate.finish()
    await settle()
    assert events[-1] == "put"
    assert conn.sent() == (200, b"done", True)


async def test_close_mid_body_ends_the_request_without_a_response(
    caplog: pytest.LogCaptureFixture,
) -> None:
    events: list[str] = []

    @stream_request_body
    class Streamed(RequestHandler):
        def data_received(self, chunk: bytes) -> None:
            events.append("chunk")

        def put(self) -> None:
            events.append("put")

        def on_connection_close(self) -> None:
            events.append("closed")
            super().on_connection_close()

        def on_finish(self) -> None:
            events.append("finish")

    conn = RecordingConnection()
    with caplog.at_level(logging.WARNING):
        delegate, paused = start(Application([("/", Streamed)]), conn, "PUT", "/")
        await paused  # prepare() runs in the request's task, even a plain one
        delegate.data_received(b"x")
        conn.lose(delegate)
        await settle()
    # Heard once (the close callback ended the body's wait, so the dispatcher's own
    # notice finds nothing left to tell), no response, on_finish for clean-up, no log.
    assert events == ["chunk", "closed", "finish"]
    assert conn.status is None
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_body_after_an_answer_in_prepare_is_dropped() -> None:
    chunks: list[bytes] = []

    @stream_request_body
    class Refusing(RequestHandler):
        def prepare(self) -> None:
            self.set_status(403)
            self.finish("no")

        def data_received(self, chunk: bytes) -> None:
            chunks.append(chunk)

    conn = RecordingConnection()
    delegate, _ = start(Application([("/", Refusing)]), conn, "PUT", "/")
    assert delegate.data_received(b"ignored") is None
    delegate.finish()
    await settle()
    assert chunks == []
    assert conn.sent() == (403, b"no", True)


async def test_handler_run_outside_the_dispatcher() -> None:
    # The API on its own: a handler made by hand, run buffered with a transform.
    made: list[Any] = []

    class Upper:
        def __init__(self, request: Any) -> None:
            made.append(request)

        def transform_first_chunk(
            self, status: int, headers: HTTPHeaders, chunk: bytes, finishing: bool
        ) -> tuple[int, HTTPHeaders, bytes]:
            return status, headers, chunk.upper()

        def transform_chunk(self, chunk: bytes, finishing: bool) -> bytes:
            return chunk.upper()

    class Hello(RequestHandler):
        def get(self, name: str) -> None:
            self.write("hello " + name)

    conn = RecordingConnection()
    app = Application()
    from tornadish.httputil import HTTPServerRequest

    request = HTTPServerRequest("GET", "/x", connection=conn)
    run = HandlerRun(Hello(app, request), [Upper])
    assert run.until_prepared() is None  # not streaming: nothing to wait for
    assert run.execute([b"you"], {}) is None
    assert made == [request]
    assert conn.body == b"HELLO YOU"
    run.connection_lost()  # after the fact, not streaming: nothing to hear


async def test_take_over_response_hands_the_headers_over() -> None:
    finished: list[bool] = []

    class Upgrading(RequestHandler):
        def on_finish(self) -> None:
            finished.append(True)

    conn = RecordingConnection()
    request_conn: HTTPConnection = conn
    from tornadish.httputil import HTTPServerRequest

    handler = Upgrading(Application(), HTTPServerRequest("GET", "/", connection=request_conn))
    handler.set_status(101)
    handler.set_cookie("a", "b")
    headers = handler.take_over_response()
    assert (b"Set-Cookie", b"a=b; Path=/") in headers
    assert (b"Server", b"tornadish/0.1") in headers
    with pytest.raises(RuntimeError):
        handler.finish()  # the response is no longer the handler's
    assert conn.status is None
    handler.abandon_response()  # finished already: nothing to give up
    assert not conn.is_closed
    handler.run_on_finish()
    handler.run_on_finish()
    assert finished == [True]


async def test_abandon_response_closes_and_runs_on_finish() -> None:
    finished: list[bool] = []

    class Streaming(RequestHandler):
        def on_connection_close(self) -> None:
            raise AssertionError("a server-side close is not the client's")

        def on_finish(self) -> None:
            finished.append(True)

    conn = RecordingConnection()
    from tornadish.httputil import HTTPServerRequest

    handler = Streaming(Application(), HTTPServerRequest("GET", "/", connection=conn))
    handler.write("partial")
    await handler.flush()
    handler.abandon_response()
    assert conn.is_closed and not conn.finished
    assert conn.close_callback is None
    assert finished == [True]


async def test_cancel_on_disconnect_before_the_task_ran_still_runs_on_finish(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The client leaves in the very loop turn the handler's task was made in. Cancelled
    # before its first step, the handler's own path would never run and the method's
    # coroutine would never be awaited: the task takes its first step, then is
    # cancelled; on_finish runs, nothing is sent, logged or warned about.
    events: list[str] = []

    class Watched(RequestHandler):
        cancel_on_disconnect = True

        async def get(self) -> None:
            events.append("get")
            try:
                await asyncio.sleep(10)
            finally:
                events.append("finally")

        def on_finish(self) -> None:
            events.append("finish")

    conn = RecordingConnection()
    with caplog.at_level(logging.WARNING), warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        delegate, _ = start(Application([("/", Watched)]), conn, "GET", "/")
        delegate.finish()  # the task is made, not yet run
        conn.lose(delegate)
        await settle()
        gc.collect()  # an un-awaited coroutine warns when it is collected
    assert events == ["get", "finally", "finish"]
    assert conn.sent() == (None, b"", False)
    assert not caplog.records
    assert not [w for w in warned if issubclass(w.category, RuntimeWarning)]
