"""The disconnect policy: ``cancel_on_disconnect`` cancels a handler's coroutine as soon
as its client goes away (``finally`` and ``on_finish`` run, nothing logged as an error);
the default keeps Tornado's behaviour; ``disconnected()`` waits for the client to go."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from tornadish.web import Application, RequestHandler, stream_request_body

from tests.support.rawhttp import RawConn, request


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


class _State:
    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        self.started = asyncio.Event()
        self.wake = asyncio.Event()
        self.finished = asyncio.Event()  # on_finish ran
        self.cancelled_at: float | None = None
        self.finally_ran = 0
        self.on_finish_calls = 0
        self.on_close_calls = 0
        self.resumed = False
        self.loop = loop


def _app(state: _State) -> Application:
    class Watched(RequestHandler):
        async def get(self) -> None:
            state.started.set()
            try:
                await state.wake.wait()
                state.resumed = True
            except asyncio.CancelledError:
                state.cancelled_at = state.loop.time()
                raise
            finally:
                state.finally_ran += 1

        def on_connection_close(self) -> None:
            state.on_close_calls += 1
            super().on_connection_close()

        def on_finish(self) -> None:
            state.on_finish_calls += 1
            state.finished.set()

    class Cancelled(Watched):
        cancel_on_disconnect = True

    class CancelledInPrepare(Cancelled):
        async def prepare(self) -> None:
            await Cancelled.get(self)

        async def get(self) -> None:
            raise AssertionError("the method runs after a cancelled prepare")

    @stream_request_body
    class CancelledUpload(Cancelled):
        def data_received(self, chunk: bytes) -> None:
            state.started.set()

        def on_connection_close(self) -> None:
            # Without super(): the wait for the body is not ended by it, only the
            # cancellation can end the request.
            state.on_close_calls += 1

        async def put(self) -> None:
            raise AssertionError("the body never completed")

    class DoneThenBusy(RequestHandler):
        cancel_on_disconnect = True

        async def get(self) -> None:
            self.finish("done")
            try:
                await state.wake.wait()
                state.resumed = True
            finally:
                state.finally_ran += 1

    return Application(
        [
            (r"/default", Watched),
            (r"/cancel", Cancelled),
            (r"/cancel-prepare", CancelledInPrepare),
            (r"/cancel-upload", CancelledUpload),
            (r"/done-then-busy", DoneThenBusy),
        ]
    )


async def test_cancel_on_disconnect_cancels_within_100ms(
    serve, loop_factory, http_engine, caplog
) -> None:
    state = _State()
    srv = await serve(_app(state))
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", "/cancel"))
    await asyncio.wait_for(state.started.wait(), 2)
    closed_at = state.loop.time()
    conn.close()
    await asyncio.wait_for(state.finished.wait(), 2)
    assert state.cancelled_at is not None, "the handler's coroutine was not cancelled"
    assert state.cancelled_at - closed_at < 0.1, state.cancelled_at - closed_at
    assert state.finally_ran == 1
    assert state.on_finish_calls == 1
    assert state.on_close_calls == 1  # on_connection_close still runs, before the cancel
    assert not state.resumed
    await asyncio.sleep(0.05)
    assert state.on_finish_calls == 1  # once
    assert not _errors(caplog), _errors(caplog)


async def test_default_policy_keeps_tornado_behaviour(serve, caplog) -> None:
    state = _State()
    srv = await serve(_app(state))
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", "/default"))
    await asyncio.wait_for(state.started.wait(), 2)
    conn.close()
    for _ in range(100):
        if state.on_close_calls:
            break
        await asyncio.sleep(0.01)
    assert state.on_close_calls == 1
    await asyncio.sleep(0.1)
    # Not cancelled: the coroutine runs on once woken, and finishes its request then.
    assert state.cancelled_at is None and not state.resumed and state.finally_ran == 0
    state.wake.set()
    await asyncio.wait_for(state.finished.wait(), 2)
    assert state.resumed and state.finally_ran == 1 and state.cancelled_at is None
    assert not _errors(caplog), _errors(caplog)


async def test_cancel_on_disconnect_in_prepare(serve, caplog) -> None:
    state = _State()
    srv = await serve(_app(state))
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", "/cancel-prepare"))
    await asyncio.wait_for(state.started.wait(), 2)
    conn.close()
    await asyncio.wait_for(state.finished.wait(), 2)
    assert state.cancelled_at is not None and state.finally_ran == 1
    assert state.on_finish_calls == 1
    assert not _errors(caplog), _errors(caplog)


async def test_cancel_on_disconnect_half_close(serve, caplog) -> None:
    # A half-close counts as the client going away, as it does for on_connection_close.
    state = _State()
    srv = await serve(_app(state))
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", "/cancel"))
    await asyncio.wait_for(state.started.wait(), 2)
    conn.half_close()
    await asyncio.wait_for(state.finished.wait(), 2)
    assert state.cancelled_at is not None and state.finally_ran == 1
    assert await conn.is_closed()  # and the connection goes with the request
    conn.close()
    assert not _errors(caplog), _errors(caplog)


async def test_cancel_on_disconnect_while_streaming_the_body(serve, caplog) -> None:
    state = _State()
    srv = await serve(_app(state))
    conn = await RawConn.open(srv.port)
    conn.send(request("PUT", "/cancel-upload", {"Content-Length": "100000"}, b"x" * 1000))
    await asyncio.wait_for(state.started.wait(), 2)
    conn.close()
    await asyncio.wait_for(state.finished.wait(), 2)
    await asyncio.sleep(0.05)
    assert state.on_finish_calls == 1 and state.on_close_calls >= 1
    assert not _errors(caplog), _errors(caplog)


async def test_no_cancel_once_the_response_is_finished(serve, caplog) -> None:
    # The request is over at finish(): what the coroutine does after it is its own.
    state = _State()
    srv = await serve(_app(state))
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", "/done-then-busy"))
    assert (await conn.response()).body == b"done"
    conn.close()
    await asyncio.sleep(0.1)
    assert state.finally_ran == 0
    state.wake.set()
    await asyncio.sleep(0.02)
    assert state.resumed and state.finally_ran == 1
    assert not _errors(caplog), _errors(caplog)


# -- disconnected() ---------------------------------------------------------------------


def _race_app(log: dict[str, Any]) -> Application:
    class Race(RequestHandler):
        async def get(self) -> None:
            work = asyncio.ensure_future(asyncio.sleep(30))
            # A waiter given up on (wait_for cancels it) leaves the others be.
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(self.disconnected(), 0.01)
            gone = self.disconnected()
            log["started"].set()
            await asyncio.wait([work, gone], return_when=asyncio.FIRST_COMPLETED)
            log["gone"] = gone.done()
            log["work_done"] = work.done()
            work.cancel()
            # Asked again after the client has left: resolved already.
            log["again"] = self.disconnected().done()

        def on_finish(self) -> None:
            log["finished"].set()

    class Quick(RequestHandler):
        async def get(self) -> None:
            waiter = self.disconnected()
            self.write("ok")
            log["quick_waiter"] = waiter

    return Application([(r"/race", Race), (r"/quick", Quick)])


async def test_disconnected_resolves_when_the_client_leaves(serve, caplog) -> None:
    log: dict[str, Any] = {"started": asyncio.Event(), "finished": asyncio.Event()}
    srv = await serve(_race_app(log))
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", "/race"))
    await asyncio.wait_for(log["started"].wait(), 2)
    loop = asyncio.get_running_loop()
    closed_at = loop.time()
    conn.close()
    await asyncio.wait_for(log["finished"].wait(), 2)
    assert loop.time() - closed_at < 0.5
    assert log["gone"] and not log["work_done"] and log["again"]
    assert not _errors(caplog), _errors(caplog)


async def test_disconnected_stays_pending_for_a_client_that_stays(serve) -> None:
    log: dict[str, Any] = {"started": asyncio.Event(), "finished": asyncio.Event()}
    srv = await serve(_race_app(log))
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", "/quick"))
    assert (await conn.response()).body == b"ok"
    conn.send(request("GET", "/quick"))  # the connection is kept alive and goes on
    assert (await conn.response()).body == b"ok"
    assert not log["quick_waiter"].done()
    conn.close()
