"""tornadish.concurrent: future helpers across asyncio and concurrent.futures."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from concurrent import futures
from typing import Any

import pytest
import tornado.concurrent as tconc

from tornadish.concurrent import (
    FUTURES,
    DummyExecutor,
    Future,
    ReturnValueIgnoredError,
    chain_future,
    dummy_executor,
    future_add_done_callback,
    future_set_exc_info,
    future_set_exception_unless_cancelled,
    future_set_result_unless_cancelled,
    is_future,
    run_on_executor,
)


def test_future_is_asyncio_future() -> None:
    assert Future is asyncio.Future is tconc.Future
    assert set(FUTURES) == {futures.Future, asyncio.Future}
    assert issubclass(ReturnValueIgnoredError, Exception)


def test_is_future() -> None:
    loop = asyncio.new_event_loop()
    try:
        assert is_future(loop.create_future())
    finally:
        loop.close()
    assert is_future(futures.Future())
    assert not is_future(42)
    assert not is_future(None)


# -- setting results -----------------------------------------------------------------


def test_set_result_unless_cancelled() -> None:
    f: futures.Future[int] = futures.Future()
    future_set_result_unless_cancelled(f, 1)
    assert f.result() == 1
    cancelled: futures.Future[int] = futures.Future()
    cancelled.cancel()
    future_set_result_unless_cancelled(cancelled, 1)  # no InvalidStateError
    assert cancelled.cancelled()


async def test_set_result_unless_cancelled_asyncio() -> None:
    f: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    f.cancel()
    future_set_result_unless_cancelled(f, 1)
    assert f.cancelled()
    done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    done.set_result(0)
    with pytest.raises(asyncio.InvalidStateError):
        future_set_result_unless_cancelled(done, 1)  # only cancellation is forgiven


def test_set_exception_unless_cancelled_logs(caplog: pytest.LogCaptureFixture) -> None:
    f: futures.Future[int] = futures.Future()
    future_set_exception_unless_cancelled(f, ValueError("x"))
    assert isinstance(f.exception(), ValueError)

    cancelled: futures.Future[int] = futures.Future()
    cancelled.cancel()
    with caplog.at_level(logging.ERROR, logger="tornadish.application"):
        future_set_exception_unless_cancelled(cancelled, KeyError("lost"))
    [record] = [r for r in caplog.records if r.name == "tornadish.application"]
    assert "cancelled" in record.getMessage()
    assert record.exc_info is not None and isinstance(record.exc_info[1], KeyError)


def test_future_set_exc_info() -> None:
    f: futures.Future[int] = futures.Future()
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        future_set_exc_info(f, sys.exc_info())
    assert isinstance(f.exception(), RuntimeError)
    with pytest.raises(Exception, match="no exception"):
        future_set_exc_info(futures.Future(), (None, None, None))


# -- callbacks -----------------------------------------------------------------------


async def test_add_done_callback_runs_at_once_when_done() -> None:
    seen: list[Any] = []
    f: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    f.set_result(1)
    future_add_done_callback(f, seen.append)
    assert seen == [f]  # before any loop iteration, unlike f.add_done_callback

    pending: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    future_add_done_callback(pending, seen.append)
    pending.set_result(2)
    assert seen == [f]
    await asyncio.sleep(0)
    assert seen == [f, pending]


def test_add_done_callback_concurrent() -> None:
    seen: list[Any] = []
    f: futures.Future[int] = futures.Future()
    future_add_done_callback(f, seen.append)
    assert seen == []
    f.set_result(1)
    assert seen == [f]


# -- chain_future --------------------------------------------------------------------


def test_chain_concurrent_to_concurrent() -> None:
    a: futures.Future[int] = futures.Future()
    b: futures.Future[int] = futures.Future()
    chain_future(a, b)
    a.set_result(42)
    assert b.result() == 42

    a, b = futures.Future(), futures.Future()
    chain_future(a, b)
    a.set_exception(KeyError("k"))
    assert isinstance(b.exception(), KeyError)


async def test_chain_asyncio_to_asyncio() -> None:
    loop = asyncio.get_running_loop()
    a: asyncio.Future[int] = loop.create_future()
    b: asyncio.Future[int] = loop.create_future()
    chain_future(a, b)
    a.set_result(5)
    assert await b == 5


async def test_chain_thread_future_to_asyncio() -> None:
    loop = asyncio.get_running_loop()
    with futures.ThreadPoolExecutor(1) as pool:
        a = pool.submit(lambda: threading.get_ident())
        b: asyncio.Future[int] = loop.create_future()
        chain_future(a, b)
        assert await asyncio.wait_for(b, 5) != threading.get_ident()

        failing = pool.submit(lambda: 1 // 0)
        b2: asyncio.Future[int] = loop.create_future()
        chain_future(failing, b2)
        with pytest.raises(ZeroDivisionError):
            await asyncio.wait_for(b2, 5)


async def test_chain_asyncio_to_concurrent() -> None:
    a: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    b: futures.Future[str] = futures.Future()
    chain_future(a, b)
    a.set_result("x")
    await asyncio.sleep(0)
    assert b.result(timeout=0) == "x"


async def test_chain_cancellation_propagates() -> None:
    loop = asyncio.get_running_loop()
    a: asyncio.Future[int] = loop.create_future()
    b: asyncio.Future[int] = loop.create_future()
    chain_future(a, b)
    a.cancel()
    await asyncio.sleep(0)
    assert b.cancelled()

    c: futures.Future[int] = futures.Future()
    d: asyncio.Future[int] = loop.create_future()
    chain_future(c, d)
    c.cancel()
    await asyncio.sleep(0.01)
    assert d.cancelled()


async def test_chain_leaves_finished_target_alone() -> None:
    loop = asyncio.get_running_loop()
    a: asyncio.Future[int] = loop.create_future()
    b: asyncio.Future[int] = loop.create_future()
    chain_future(a, b)
    b.set_result(1)
    a.set_result(2)  # must not raise InvalidStateError inside the callback
    await asyncio.sleep(0)
    assert b.result() == 1


async def test_chain_already_done_source() -> None:
    a: futures.Future[int] = futures.Future()
    a.set_result(3)
    b: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    chain_future(a, b)
    assert await asyncio.wait_for(b, 5) == 3


# -- executors -----------------------------------------------------------------------


def test_dummy_executor() -> None:
    assert isinstance(dummy_executor, DummyExecutor)
    assert isinstance(dummy_executor, futures.Executor)
    assert dummy_executor.submit(pow, 2, 10).result() == 1024
    f = dummy_executor.submit(lambda: 1 // 0)
    assert f.done() and isinstance(f.exception(), ZeroDivisionError)
    dummy_executor.shutdown()  # harmless


class _Worker:
    def __init__(self) -> None:
        self.executor = futures.ThreadPoolExecutor(1)
        self.other = futures.ThreadPoolExecutor(1, thread_name_prefix="other")

    @run_on_executor
    def where(self, x: int, *, y: int = 0) -> tuple[str, int]:
        return threading.current_thread().name, x + y

    @run_on_executor(executor="other")
    def where_other(self) -> str:
        return threading.current_thread().name

    @run_on_executor
    def fail(self) -> None:
        raise ValueError("from the pool")

    def close(self) -> None:
        self.executor.shutdown()
        self.other.shutdown()


async def test_run_on_executor() -> None:
    worker = _Worker()
    try:
        fut = worker.where(1, y=2)
        assert isinstance(fut, asyncio.Future)
        name, total = await fut
        assert total == 3 and name != threading.current_thread().name
        assert (await worker.where_other()).startswith("other")
        with pytest.raises(ValueError, match="from the pool"):
            await worker.fail()
        assert _Worker.where.__name__ == "where"  # functools.wraps
    finally:
        worker.close()


def test_run_on_executor_argument_errors() -> None:
    with pytest.raises(ValueError, match="expected 1 argument, got 2"):
        run_on_executor(1, 2)
    with pytest.raises(ValueError, match="cannot combine"):
        run_on_executor(lambda self: None, executor="x")
    with pytest.raises(ValueError):
        tconc.run_on_executor(lambda self: None, executor="x")
