"""The graceful drain (``HTTPServer.shutdown``) over real sockets: handlers told through
``RequestHandler.shutting_down``, idle keep-alive connections closed without resetting
a request on its way, connections queued on the listener served, and handlers still
running when the grace period is over cancelled and unwound (issue 17)."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import pytest

from tornadish.httpserver import HTTPServer
from tornadish.httputil import HTTPServerRequest
from tornadish.web import Application, RequestHandler

from tests.support.rawhttp import RawConn, request


class EventStream(RequestHandler):
    """An event stream that ends, with a reconnection hint, when the server drains."""

    async def get(self) -> None:
        self.set_header("Content-Type", "text/event-stream")
        self.write("data: hello\n\n")
        await self.flush()
        await self.shutting_down
        self.write("retry: 1500\n\n")


class LongPoll(RequestHandler):
    waiting = 0

    async def get(self) -> None:
        LongPoll.waiting += 1
        await self.shutting_down
        self.write({"shutting_down": True})


class Draining(RequestHandler):
    """Says whether the drain had started when the request arrived."""

    def get(self) -> None:
        self.write({"draining": self.shutting_down.done()})


class Gate(RequestHandler):
    def initialize(self, gate: asyncio.Event, entered: asyncio.Event) -> None:
        self.gate = gate
        self.entered = entered

    async def get(self) -> None:
        self.entered.set()
        await self.gate.wait()
        self.write("finished")


class Shielded(RequestHandler):
    """Cancelling one waiter on ``shutting_down`` leaves another waiting."""

    async def get(self) -> None:
        first, second = self.shutting_down, self.shutting_down
        assert first is not second
        first.cancel()
        await second
        self.write({"first": first.cancelled(), "second": second.done()})


EVENTS: list[str] = []


class Stuck(RequestHandler):
    """Ignores the drain: still sleeping when the grace period is over."""

    async def get(self) -> None:
        EVENTS.append("start")
        try:
            await asyncio.sleep(30)
        finally:
            EVENTS.append("finally")

    def on_finish(self) -> None:
        EVENTS.append("on_finish")


class StuckAsyncFinish(Stuck):
    async def on_finish(self) -> None:  # type: ignore[override]
        await asyncio.sleep(0.05)
        EVENTS.append("async on_finish")


class StuckLongPoll(RequestHandler):
    """A Tornado-style long poll that hears only ``on_connection_close``."""

    def initialize(self) -> None:
        self.news: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def get(self) -> None:
        EVENTS.append("start")
        try:
            await self.news
        except asyncio.CancelledError:
            EVENTS.append("poll cancelled")
            raise

    def on_connection_close(self) -> None:
        EVENTS.append("on_connection_close")


def make_app() -> tuple[Application, asyncio.Event, asyncio.Event]:
    gate, entered = asyncio.Event(), asyncio.Event()
    app = Application(
        [
            (r"/events", EventStream),
            (r"/poll", LongPoll),
            (r"/draining", Draining),
            (r"/gate", Gate, {"gate": gate, "entered": entered}),
            (r"/shielded", Shielded),
            (r"/stuck", Stuck),
            (r"/stuck-async-finish", StuckAsyncFinish),
            (r"/stuck-poll", StuckLongPoll),
        ]
    )
    return app, gate, entered


async def listening(app: Application) -> tuple[HTTPServer, int]:
    server = app.listen(0, "127.0.0.1")
    await server.wait_started()
    assert server.port is not None
    return server, server.port


async def test_shutting_down_ends_event_streams_and_answers_long_polls() -> None:
    app, _gate, _entered = make_app()
    server, port = await listening(app)
    streams = [await RawConn.open(port) for _ in range(3)]
    for conn in streams:
        conn.send(request("GET", "/events"))
        head = await asyncio.wait_for(conn.reader.readuntil(b"data: hello\n\n"), 3)
        assert head.startswith(b"HTTP/1.1 200 ")
    LongPoll.waiting = 0
    polls = [await RawConn.open(port) for _ in range(3)]
    for conn in polls:
        conn.send(request("GET", "/poll"))
    while LongPoll.waiting < 3:
        await asyncio.sleep(0.01)

    started = time.monotonic()
    await asyncio.wait_for(server.shutdown(grace=10), 5)
    assert time.monotonic() - started < 2  # ended by the drain, not by the grace period
    for conn in streams:
        # The rest of the chunked body: the retry hint, then the last chunk.
        rest = await conn.read_until_eof()
        assert b"retry: 1500\n\n" in rest and rest.endswith(b"0\r\n\r\n"), rest
    for conn in polls:
        answer = await conn.response()
        assert answer.status == 200 and json.loads(answer.body) == {"shutting_down": True}
        assert answer.header("Connection") == "close"
        assert await conn.is_closed()


async def test_a_request_sent_on_an_idle_connection_as_the_drain_starts_is_answered() -> None:
    app, gate, entered = make_app()
    server, port = await listening(app)
    idle = await RawConn.open(port)
    idle.send(request("GET", "/draining"))
    assert json.loads((await idle.response()).body) == {"draining": False}
    busy = await RawConn.open(port)
    busy.send(request("GET", "/gate"))
    await entered.wait()

    shutting = asyncio.create_task(server.shutdown(grace=5))
    await asyncio.sleep(0.05)  # the drain has started; the idle connection is still quiet
    # A client that has just been answered sends its next request at once: it must not
    # be reset under it, but answered, and told that the connection closes.
    idle.send(request("GET", "/draining"))
    answer = await idle.response()
    assert json.loads(answer.body) == {"draining": True}
    assert answer.header("Connection") == "close"
    assert await idle.is_closed()
    assert not shutting.done()
    gate.set()
    assert (await busy.response()).body == b"finished"
    await asyncio.wait_for(shutting, 3)


async def test_an_idle_connection_is_closed_once_quiet() -> None:
    app, _gate, _entered = make_app()
    server, port = await listening(app)
    idle = await RawConn.open(port)
    idle.send(request("GET", "/draining"))
    await idle.response()
    started = time.monotonic()
    await asyncio.wait_for(server.shutdown(grace=5), 3)
    assert await idle.is_closed(0.5)
    assert time.monotonic() - started < 1.0


async def test_an_idle_connection_with_a_request_waiting_unread_is_not_reset() -> None:
    app, _gate, _entered = make_app()
    server, port = await listening(app)
    client = socket.create_connection(("127.0.0.1", port))
    client.settimeout(3)
    loop = asyncio.get_running_loop()
    try:
        client.sendall(request("GET", "/draining"))
        assert b'"draining": false' in await loop.run_in_executor(None, client.recv, 4096)
        await asyncio.sleep(0.4)  # quiet for longer than the drain waits
        [conn] = server.connections
        # The next request reaches the server's socket, but the loop has not read it
        # yet when the drain looks at the connection: closing now would reset it.
        client.sendall(request("GET", "/draining"))
        time.sleep(0.02)  # (blocking: the kernel delivers it, the loop does not run)
        conn.close_when_idle()
        assert not conn.closed
        data = b""
        while b'"draining"' not in data:
            await asyncio.sleep(0.01)
            data += await loop.run_in_executor(None, client.recv, 4096)
        assert data.startswith(b"HTTP/1.1 200 ") and b"Connection: close" in data, data
    finally:
        client.close()
        await server.shutdown(grace=1)


async def test_connections_queued_on_the_listener_are_served() -> None:
    app, _gate, _entered = make_app()
    server, port = await listening(app)
    # Connected and sent, but still in the kernel's accept queue: the loop has not run
    # since (blocking calls), so nothing has accepted them.
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
    for client in clients:
        client.sendall(request("GET", "/draining"))
    try:
        await asyncio.wait_for(server.shutdown(grace=5), 3)
        for client in clients:
            client.settimeout(3)
            data = b""
            while True:
                chunk = client.recv(4096)  # a reset here: the queue was thrown away
                if not chunk:
                    break
                data += chunk
            # Served as the connections accepted before it (the drain's signal comes
            # once the listeners are closed), then closed.
            assert data.startswith(b"HTTP/1.1 200 "), data
            assert data.endswith(b'{"draining": false}'), data
    finally:
        for client in clients:
            client.close()


async def test_cancelling_one_shutting_down_waiter_leaves_the_others() -> None:
    app, _gate, _entered = make_app()
    server, port = await listening(app)
    conn = await RawConn.open(port)
    conn.send(request("GET", "/shielded"))
    await asyncio.sleep(0.1)
    await asyncio.wait_for(server.shutdown(grace=5), 3)
    answer = await conn.response()
    assert json.loads(answer.body) == {"first": True, "second": True}


async def test_shutting_down_never_completes_without_a_server() -> None:
    # A request with no connection (WSGI, tests): nothing will ever drain it.
    handler = RequestHandler(Application(), HTTPServerRequest("GET", "/"))
    waiter = handler.shutting_down
    await asyncio.sleep(0.01)
    assert not waiter.done()
    waiter.cancel()
    assert not handler.shutting_down.done()  # a cancelled waiter is only its own


async def test_shutting_down_is_done_already_once_the_drain_has_started() -> None:
    app, gate, entered = make_app()
    server, port = await listening(app)
    busy = await RawConn.open(port)
    busy.send(request("GET", "/gate"))
    await entered.wait()
    shutting = asyncio.create_task(server.shutdown(grace=5))
    await asyncio.sleep(0.01)
    assert server.params.drain.started
    assert server.params.drain.future().done()
    gate.set()
    await asyncio.wait_for(shutting, 3)


async def test_when_grace_runs_out_handlers_are_cancelled_and_unwind(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app, _gate, _entered = make_app()
    server, port = await listening(app)
    EVENTS.clear()
    conns: list[RawConn] = []
    for path in ["/stuck"] * 3 + ["/stuck-async-finish"] * 3 + ["/stuck-poll"] * 3:
        conn = await RawConn.open(port)
        conn.send(request("GET", path))
        conns.append(conn)
    while EVENTS.count("start") < 9:
        await asyncio.sleep(0.01)

    started = time.monotonic()
    await asyncio.wait_for(server.shutdown(grace=0.3), 5)
    assert 0.25 < time.monotonic() - started < 3
    # Every handler unwound: finally blocks, on_finish (an async one awaited, not left
    # to be destroyed), and the long polls heard on_connection_close before the cancel.
    assert EVENTS.count("finally") == 6, EVENTS
    assert EVENTS.count("on_finish") == 3, EVENTS
    assert EVENTS.count("async on_finish") == 3, EVENTS
    assert EVENTS.count("on_connection_close") == 3, EVENTS
    assert EVENTS.count("poll cancelled") == 3, EVENTS
    assert EVENTS.index("on_connection_close") < EVENTS.index("poll cancelled")
    assert server.params.drain.held == 0
    for conn in conns:
        assert await conn.read_until_eof() == b""  # closed: the grace period was over
    assert "Shutdown grace period of 0.3s over" in caplog.text
    assert "did not finish" not in caplog.text


async def test_the_drain_waits_for_a_handler_still_working_after_its_response() -> None:
    finished = asyncio.Event()

    class AfterResponse(RequestHandler):
        async def get(self) -> None:
            self.write("early")
            await self.finish()
            await asyncio.sleep(0.3)  # work after the answer, the server still waits
            finished.set()

    server, port = await listening(Application([(r"/", AfterResponse)]))
    conn = await RawConn.open(port)
    conn.send(request("GET", "/"))
    assert (await conn.response()).body == b"early"
    await asyncio.wait_for(server.shutdown(grace=5), 3)
    assert finished.is_set()
