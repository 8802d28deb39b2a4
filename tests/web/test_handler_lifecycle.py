"""The handler's lifecycle over real sockets: ``initialize``, ``prepare`` (which may finish
the request), ``on_finish`` and ``on_connection_close``, including clients that leave early
and streamed bodies that never complete."""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from typing import Any

import pytest

from tornadish.web import Application, Finish, HTTPError, RequestHandler, stream_request_body

from tests.support.waiting import until
from tests.support.web import ACCESS, APP, get

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

            async def prepare(self) -> None:  # type: ignore[misc]
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
    assert raw.startswith(b"HTTP/1.1 400") or raw == b""
    await asyncio.wait_for(finished.wait(), 2)
    assert events == ["on_finish"]


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


# -- a streamed body that never completes (400, or the client leaving) ends the request
# quietly: no 500, no "Uncaught exception" log, and on_finish still runs --------------------


@stream_request_body
class Sink(RequestHandler):
    def initialize(self, events: list[str]) -> None:
        self.events = events

    def prepare(self) -> None:
        assert self.request.connection is not None
        self.request.connection.set_max_body_size(1000)
        self.events.append("prepare")

    def data_received(self, chunk: bytes) -> None:
        self.events.append("data")

    def put(self) -> None:
        self.events.append("put")
        self.write("stored")

    def on_finish(self) -> None:
        self.events.append("finish")


async def _until(predicate: Any) -> None:
    await until(predicate, 5)


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_a_body_over_the_limit_gets_400_and_no_error_log(
    serve: Any, caplog: pytest.LogCaptureFixture, declared: bool
) -> None:
    events: list[str] = []
    srv = await serve(Application([(r"/", Sink, {"events": events})]))
    if declared:
        request = b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000
    else:
        chunk = b"x" * 600
        request = (
            b"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            + (b"258\r\n" + chunk + b"\r\n") * 3
            + b"0\r\n\r\n"
        )
    response = await srv.raw(request)
    assert response.startswith(b"HTTP/1.1 400 ")
    await _until(lambda: "finish" in events)
    assert "put" not in events
    assert _errors(caplog) == []


async def test_a_client_leaving_mid_body_runs_on_finish_quietly(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    events: list[str] = []
    srv = await serve(Application([(r"/", Sink, {"events": events})]))
    _reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    writer.write(b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 900\r\n\r\n" + b"x" * 100)
    await writer.drain()
    await _until(lambda: "data" in events)
    writer.close()
    await _until(lambda: "finish" in events)
    assert "put" not in events
    assert _errors(caplog) == []


# -- cancellation (Tornado 6.6's rules) ------------------------------------------------------


def _cancelled() -> asyncio.Future[None]:
    fut = asyncio.get_running_loop().create_future()
    fut.cancel()
    return fut


@pytest.mark.parametrize("where", ["sync", "get", "prepare", "streaming-prepare"])
async def test_awaiting_something_cancelled_is_an_uncaught_exception(
    serve: Any, caplog: pytest.LogCaptureFixture, where: str
) -> None:
    """Bug: a handler that awaited a cancelled future got no answer at all (the
    connection was dropped); Tornado answers 500 and logs it like any exception."""

    class H(RequestHandler):
        def prepare(self) -> Any:
            if where in ("prepare", "streaming-prepare"):
                return _cancelled()
            return None

        def get(self) -> Any:
            if where == "sync":
                raise asyncio.CancelledError()
            return _cancelled()

        put = get

        def data_received(self, chunk: bytes) -> None:
            pass

    handler = stream_request_body(H) if where == "streaming-prepare" else H
    srv = await serve(Application([(r"/", handler)]))
    caplog.set_level(logging.ERROR, logger=APP)
    r = await get(srv, "/", "PUT" if where == "streaming-prepare" else "GET", content=b"")
    assert r.status_code == 500
    assert [rec.getMessage().split("\n")[0] for rec in caplog.records if rec.name == APP] == [
        f"Uncaught exception {'PUT' if where == 'streaming-prepare' else 'GET'} / (127.0.0.1)"
    ]


async def test_cancelling_the_handler_task_answers_500_quietly(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    started = asyncio.Event()
    tasks: list[asyncio.Task[Any]] = []

    class H(RequestHandler):
        async def get(self) -> None:
            task = asyncio.current_task()
            assert task is not None
            tasks.append(task)
            started.set()
            await asyncio.get_running_loop().create_future()

    srv = await serve(Application([(r"/", H)]))
    caplog.set_level(logging.ERROR, logger=APP)
    pending = asyncio.ensure_future(get(srv, "/"))
    await started.wait()
    tasks[0].cancel()
    r = await pending
    assert r.status_code == 500
    assert tasks[0].cancelled()  # the cancellation went on
    assert not [rec for rec in caplog.records if rec.name == APP]
