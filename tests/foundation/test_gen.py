"""Tests for tornadish.gen, on both a plain asyncio loop and uvloop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import datetime
import gc
import inspect
import logging
import weakref
from collections.abc import Callable, Generator, Iterator
from typing import Any

import pytest

from tornadish import gen, util
from tornadish.ioloop import IOLoop

APP_LOG = "tornadish.application"

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


@pytest.fixture(params=["asyncio", "uvloop"])
def io_loop(request: pytest.FixtureRequest) -> Iterator[IOLoop]:
    if request.param == "uvloop":
        pytest.importorskip("uvloop")
    IOLoop.configure_uvloop(request.param == "uvloop")
    try:
        loop = IOLoop()
    finally:
        IOLoop.configure_uvloop(None)
    yield loop
    loop.close()


async def value_later(value: Any, delay: float = 0.001) -> Any:
    await asyncio.sleep(delay)
    return value


async def fail_later(exc: BaseException, delay: float = 0.001) -> Any:
    await asyncio.sleep(delay)
    raise exc


# -- @gen.coroutine -------------------------------------------------------------------------


def test_coroutine_yields_everything(io_loop: IOLoop) -> None:
    pool = concurrent.futures.ThreadPoolExecutor(1)

    @gen.coroutine
    def worker() -> Generator[Any, Any, Any]:
        a = yield value_later("coro")
        b = yield gen.sleep(0.001)
        c = yield [value_later(1), value_later(2)]
        d = yield {"x": value_later("X"), "y": gen.maybe_future("Y")}
        e = yield pool.submit(lambda: "thread")
        f = yield None
        g = yield gen.moment
        h = yield io_loop.run_in_executor(None, lambda: "executor")
        return [a, b, c, d, e, f, g, h]

    result = io_loop.run_sync(worker)
    pool.shutdown()
    assert result == ["coro", None, [1, 2], {"x": "X", "y": "Y"}, "thread", None, None, "executor"]


def test_gen_return_and_plain_return(io_loop: IOLoop) -> None:
    @gen.coroutine
    def with_return() -> Generator[Any, Any, None]:
        yield gen.moment
        raise gen.Return("via Return")

    @gen.coroutine
    def bare_return_value() -> Generator[Any, Any, str]:
        yield gen.moment
        return "via return"

    @gen.coroutine
    def empty_return() -> Generator[Any, Any, None]:
        yield gen.moment
        raise gen.Return()

    assert io_loop.run_sync(with_return) == "via Return"
    assert io_loop.run_sync(bare_return_value) == "via return"
    assert io_loop.run_sync(empty_return) is None
    assert gen.Return(3).value == 3


def test_non_generator_functions_are_wrapped(io_loop: IOLoop) -> None:
    @gen.coroutine
    def plain(x: int) -> int:
        return x + 1

    @gen.coroutine
    def plain_return(x: int) -> Any:
        raise gen.Return(x * 10)

    @gen.coroutine
    def plain_error() -> None:
        raise ValueError("nope")

    async def main() -> None:
        fut = plain(1)
        assert isinstance(fut, asyncio.Future) and fut.done()
        assert await fut == 2
        assert await plain_return(2) == 20
        with pytest.raises(ValueError):
            await plain_error()

    io_loop.run_sync(main)


def test_coroutine_runs_synchronously_until_first_pending_yield(io_loop: IOLoop) -> None:
    steps: list[str] = []

    @gen.coroutine
    def worker() -> Generator[Any, Any, str]:
        steps.append("start")
        yield gen.maybe_future(None)  # already done: no pause
        steps.append("after done future")
        yield gen.sleep(0.001)
        steps.append("after sleep")
        return "ok"

    async def main() -> None:
        fut = worker()
        assert steps == ["start", "after done future"]
        assert not fut.done()
        assert await fut == "ok"

    io_loop.run_sync(main)


def test_exceptions_are_thrown_at_the_yield(io_loop: IOLoop) -> None:
    @gen.coroutine
    def worker() -> Generator[Any, Any, Any]:
        try:
            yield fail_later(KeyError("inner"))
        except KeyError as exc:
            caught = exc.args[0]
        try:
            yield 42  # not yieldable
        except gen.BadYieldError:
            caught += "+bad"
        yield fail_later(ValueError("escapes"))

    with pytest.raises(ValueError, match="escapes"):
        io_loop.run_sync(worker)

    @gen.coroutine
    def catcher() -> Generator[Any, Any, Any]:
        try:
            yield fail_later(KeyError("inner"))
        except KeyError as exc:
            caught = exc.args[0]
        try:
            yield 42
        except gen.BadYieldError:
            caught += "+bad"
        return caught

    assert io_loop.run_sync(catcher) == "inner+bad"


def test_coroutines_compose_with_async_def(io_loop: IOLoop) -> None:
    @gen.coroutine
    def legacy(x: int) -> Generator[Any, Any, int]:
        y = yield value_later(x)
        return int(y) * 2

    async def modern(x: int) -> int:
        return await legacy(x) + 1

    @gen.coroutine
    def outer() -> Generator[Any, Any, list[int]]:
        results = yield [modern(1), legacy(5)]
        return list(results)

    assert io_loop.run_sync(outer) == [3, 10]


def test_cancelling_a_coroutine_runs_its_finally(io_loop: IOLoop) -> None:
    log: list[str] = []
    inner_task: list[asyncio.Future[Any]] = []

    async def long_job() -> None:
        try:
            await asyncio.sleep(10)
        finally:
            log.append("inner cleaned up")

    @gen.coroutine
    def worker() -> Generator[Any, Any, None]:
        try:
            task = gen.convert_yielded(long_job())
            inner_task.append(task)
            yield task
        except asyncio.CancelledError:
            log.append("cancelled at yield")
            raise
        finally:
            log.append("finally")

    async def main() -> None:
        fut = worker()
        await asyncio.sleep(0.01)
        fut.cancel()
        with pytest.raises(asyncio.CancelledError):
            await fut
        await asyncio.sleep(0.01)

    io_loop.run_sync(main)
    assert log[:2] == ["cancelled at yield", "finally"]
    # The task was yielded as a Future (shared), so it is left running.
    assert not inner_task[0].done()
    inner_task[0].cancel()
    io_loop.run_sync(lambda: asyncio.sleep(0.01))


def test_cancelling_cancels_work_the_coroutine_started(io_loop: IOLoop) -> None:
    log: list[str] = []

    async def long_job() -> None:
        try:
            await asyncio.sleep(10)
        finally:
            log.append("inner cleaned up")

    @gen.coroutine
    def worker() -> Generator[Any, Any, None]:
        yield long_job()  # a coroutine: the task created for it belongs to this coroutine

    async def main() -> None:
        fut = worker()
        await asyncio.sleep(0.01)
        fut.cancel()
        await asyncio.sleep(0.01)

    io_loop.run_sync(main)
    assert log == ["inner cleaned up"]


def test_run_sync_timeout_on_legacy_coroutine(io_loop: IOLoop) -> None:
    log: list[str] = []

    @gen.coroutine
    def slow() -> Generator[Any, Any, None]:
        try:
            yield gen.sleep(10)
        finally:
            log.append("finally")

    with pytest.raises(util.TimeoutError):
        io_loop.run_sync(slow, timeout=0.02)
    assert log == ["finally"]


def test_context_variables_flow_through_steps(io_loop: IOLoop) -> None:
    @gen.coroutine
    def handler(name: str) -> Generator[Any, Any, list[str]]:
        seen = [request_id.get()]
        request_id.set(name)
        yield gen.sleep(0.002)
        seen.append(request_id.get())
        yield [value_later(None), value_later(None)]
        seen.append(request_id.get())
        yield gen.moment
        seen.append(request_id.get())
        return seen

    async def main() -> list[list[str]]:
        request_id.set("outer")
        results = await gen.multi([handler("a"), handler("b"), handler("c")])
        assert request_id.get() == "outer"  # nothing leaked back
        return results

    assert io_loop.run_sync(main) == [
        ["outer", "a", "a", "a"],
        ["outer", "b", "b", "b"],
        ["outer", "c", "c", "c"],
    ]


def test_raising_cancelled_error_cancels_the_future(io_loop: IOLoop) -> None:
    @gen.coroutine
    def at_once() -> None:
        raise asyncio.CancelledError()

    async def main() -> asyncio.Future[Any]:
        future = at_once()  # no exception at the call, as with any other error
        with pytest.raises(asyncio.CancelledError):
            await future
        return future

    assert io_loop.run_sync(main).cancelled()


def test_failed_coroutine_frees_its_locals_without_gc(io_loop: IOLoop) -> None:
    # No reference cycle through the runner's frames, the Future and the traceback:
    # the failed coroutine's locals go as soon as nothing uses the error any more.
    class Big:
        pass

    refs: list[weakref.ref[Big]] = []

    @gen.coroutine
    def failing(wait: bool) -> Generator[Any, Any, None]:
        local = Big()
        refs.append(weakref.ref(local))
        yield (gen.sleep(0.001) if wait else gen.maybe_future(None))
        raise ValueError("boom")

    @gen.coroutine
    def catching() -> Generator[Any, Any, None]:
        for wait in (False, True):
            try:
                yield failing(wait)
            except ValueError:
                pass

    gc.disable()
    try:
        io_loop.run_sync(catching)
        assert [ref() for ref in refs] == [None, None]
    finally:
        gc.enable()


def test_future_debug_info_names_the_caller(io_loop: IOLoop) -> None:
    @gen.coroutine
    def legacy() -> Generator[Any, Any, None]:
        yield gen.moment

    async def main() -> str:
        asyncio.get_running_loop().set_debug(True)
        future = legacy()
        line = inspect.currentframe().f_lineno - 1  # type: ignore[union-attr]
        text = repr(future)
        await future
        return text + f" | {__file__}:{line}"

    text, expected = io_loop.run_sync(main).split(" | ")
    assert f"created at {expected}" in text


def test_is_coroutine_function() -> None:
    @gen.coroutine
    def legacy() -> Generator[Any, Any, None]:
        yield None

    async def native() -> None:
        pass

    assert gen.is_coroutine_function(legacy)
    assert not gen.is_coroutine_function(native)
    assert not gen.is_coroutine_function(print)
    assert legacy.__name__ == "legacy"


# -- multi -----------------------------------------------------------------------------------


def test_multi_list_and_dict(io_loop: IOLoop) -> None:
    async def main() -> None:
        assert await gen.multi([value_later(1, 0.003), value_later(2, 0.001)]) == [1, 2]
        assert await gen.multi({"a": value_later(1), "b": value_later(2)}) == {"a": 1, "b": 2}
        assert await gen.multi([]) == []
        assert await gen.multi({}) == {}
        shared = asyncio.ensure_future(value_later("s"))
        assert await gen.multi([shared, shared]) == ["s", "s"]
        assert await gen.multi_future(value_later(i) for i in range(3)) == [0, 1, 2]
        assert gen.Multi is gen.multi  # Tornado's older name

    io_loop.run_sync(main)


def test_multi_of_finished_futures_is_finished(io_loop: IOLoop) -> None:
    async def main() -> None:
        fut = gen.multi([gen.maybe_future(1), gen.maybe_future(2)])
        assert fut.done() and fut.result() == [1, 2]

    io_loop.run_sync(main)


def test_multi_errors_first_raised_rest_logged(
    io_loop: IOLoop, caplog: pytest.LogCaptureFixture
) -> None:
    finished: list[str] = []

    async def slow_ok() -> str:
        await asyncio.sleep(0.02)
        finished.append("slow")
        return "slow"

    async def main() -> None:
        with pytest.raises(KeyError):
            await gen.multi(
                [fail_later(KeyError("first")), fail_later(ValueError("second")), slow_ok()]
            )
        # Every child was waited for, as in Tornado.
        assert finished == ["slow"]
        with pytest.raises(KeyError):
            await gen.multi(
                [fail_later(KeyError("first")), fail_later(ValueError("quiet"))],
                quiet_exceptions=ValueError,
            )

    with caplog.at_level(logging.ERROR, logger=APP_LOG):
        io_loop.run_sync(main)
    logged = [r for r in caplog.records if r.name == APP_LOG]
    assert len(logged) == 1
    assert logged[0].getMessage() == "Multiple exceptions in yield list"
    assert logged[0].exc_info is not None and logged[0].exc_info[0] is ValueError


def test_multi_in_legacy_coroutine_raises_first_error(io_loop: IOLoop) -> None:
    @gen.coroutine
    def worker() -> Generator[Any, Any, None]:
        yield {"ok": value_later(1), "bad": fail_later(LookupError("x"))}

    with pytest.raises(LookupError):
        io_loop.run_sync(worker)


def test_multi_rejects_non_awaitables(io_loop: IOLoop) -> None:
    async def main() -> None:
        with pytest.raises(gen.BadYieldError):
            gen.multi([1, 2])

    io_loop.run_sync(main)


# -- sleep, with_timeout, helpers -----------------------------------------------------------


def test_sleep(io_loop: IOLoop) -> None:
    async def main() -> float:
        start = io_loop.time()
        fut = gen.sleep(0.02)
        await fut
        assert fut.result() is None
        return io_loop.time() - start

    assert io_loop.run_sync(main) >= 0.018


def test_with_timeout(io_loop: IOLoop) -> None:
    async def main() -> None:
        assert await gen.with_timeout(datetime.timedelta(seconds=1), value_later("ok")) == "ok"
        assert await gen.with_timeout(io_loop.time() + 1, value_later("abs")) == "abs"
        inner = asyncio.ensure_future(value_later("late", 0.05))
        with pytest.raises(util.TimeoutError) as info:
            await gen.with_timeout(datetime.timedelta(seconds=0.01), inner)
        assert isinstance(info.value, asyncio.TimeoutError)
        assert str(info.value) == "Timeout"
        assert gen.TimeoutError is util.TimeoutError
        assert not inner.done()  # not cancelled: it may be shared
        assert await inner == "late"
        with pytest.raises(util.TimeoutError, match="custom"):
            await gen.with_timeout(io_loop.time() + 0.005, gen.sleep(1), message="custom")
        with pytest.raises(util.TimeoutError, match="computed"):
            await gen.with_timeout(io_loop.time() + 0.005, gen.sleep(1), message=lambda: "computed")
        done = gen.maybe_future("ready")
        # Already finished work wins even against a deadline in the past.
        assert await gen.with_timeout(io_loop.time() - 1, done) == "ready"
        with pytest.raises(KeyError):
            await gen.with_timeout(datetime.timedelta(seconds=1), fail_later(KeyError("k")))

    io_loop.run_sync(main)


def test_with_timeout_logs_late_failures(io_loop: IOLoop, caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        for quiet in ((), KeyError):
            with pytest.raises(util.TimeoutError):
                await gen.with_timeout(
                    datetime.timedelta(seconds=0.005),
                    fail_later(KeyError("late"), 0.02),
                    quiet_exceptions=quiet,
                )
        await asyncio.sleep(0.05)

    with caplog.at_level(logging.ERROR, logger=APP_LOG):
        io_loop.run_sync(main)
    logged = [r for r in caplog.records if r.name == APP_LOG]
    assert len(logged) == 1
    assert "after timeout" in logged[0].getMessage()


def test_with_timeout_in_legacy_coroutine(io_loop: IOLoop) -> None:
    @gen.coroutine
    def worker() -> Generator[Any, Any, str]:
        try:
            yield gen.with_timeout(datetime.timedelta(seconds=0.01), gen.sleep(1))
        except gen.TimeoutError:
            return "timed out"
        return "no timeout"

    assert io_loop.run_sync(worker) == "timed out"


def test_moment_is_awaitable(io_loop: IOLoop) -> None:
    order: list[str] = []

    async def main() -> None:
        io_loop.add_callback(order.append, "callback")
        await gen.moment
        order.append("after moment")

    io_loop.run_sync(main)
    assert order == ["callback", "after moment"]


def test_convert_yielded(io_loop: IOLoop) -> None:
    class Deferred:
        def __init__(self, value: Any) -> None:
            self.value = value

    @gen.convert_yielded.register(Deferred)
    def _(d: Deferred) -> asyncio.Future[Any]:
        return gen.maybe_future(d.value)

    async def main() -> None:
        fut = gen.maybe_future(1)
        assert gen.convert_yielded(fut) is fut
        assert await gen.convert_yielded(value_later(2)) == 2
        assert await gen.convert_yielded([value_later(3)]) == [3]
        assert await gen.convert_yielded(None) is None
        assert await gen.convert_yielded(Deferred("custom")) == "custom"
        with pytest.raises(gen.BadYieldError):
            gen.convert_yielded(object())

        @gen.coroutine
        def uses_custom() -> Generator[Any, Any, Any]:
            value = yield Deferred("from coroutine")
            return value

        assert await uses_custom() == "from coroutine"

    io_loop.run_sync(main)


def test_maybe_future(io_loop: IOLoop) -> None:
    async def main() -> None:
        fut = io_loop.asyncio_loop.create_future()
        assert gen.maybe_future(fut) is fut
        assert await gen.maybe_future(5) == 5
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            assert await gen.maybe_future(pool.submit(lambda: 6)) == 6

    io_loop.run_sync(main)


def test_wait_iterator(io_loop: IOLoop) -> None:
    async def main() -> None:
        order = []
        waiter = gen.WaitIterator(value_later("slow", 0.03), value_later("fast", 0.001))
        while not waiter.done():
            result = await waiter.next()
            order.append((result, waiter.current_index))
        assert order == [("fast", 1), ("slow", 0)]
        assert waiter.current_index is None

        named = gen.WaitIterator(a=fail_later(KeyError("a"), 0.01), b=value_later("b"))
        seen: dict[str, Any] = {}
        while not named.done():
            try:
                seen[named.current_index] = await named.next()
            except KeyError:
                seen[named.current_index] = "error"
        assert seen == {"b": "b", "a": "error"}

        collected = [r async for r in gen.WaitIterator(value_later(1, 0.01), value_later(2))]
        assert collected == [2, 1]
        with pytest.raises(ValueError):
            gen.WaitIterator(gen.maybe_future(1), a=gen.maybe_future(2))

        # The same Future twice is returned twice, once per position.
        twice = gen.maybe_future(42)
        repeated = gen.WaitIterator(twice, twice)
        seen_twice = []
        while not repeated.done():
            seen_twice.append((await repeated.next(), repeated.current_index))
        assert seen_twice == [(42, 0), (42, 1)]

    io_loop.run_sync(main)


# -- side by side with Tornado -------------------------------------------------------------


def test_same_results_as_tornado() -> None:
    tornado_gen = pytest.importorskip("tornado.gen")
    tornado_ioloop = pytest.importorskip("tornado.ioloop")

    def make(module: Any) -> Any:
        decorator: Callable[[Any], Any] = module.coroutine

        @decorator
        def body() -> Generator[Any, Any, Any]:
            first = yield module.sleep(0.001)
            pair = yield [value_later("a"), value_later("b")]
            mapping = yield {"k": value_later("v")}
            try:
                yield fail_later(KeyError("x"))
            except KeyError:
                caught = True
            raise module.Return((first, pair, mapping, caught))

        return body

    def run_with_tornado() -> Any:
        loop = tornado_ioloop.IOLoop(make_current=False)
        try:
            return loop.run_sync(make(tornado_gen))
        finally:
            loop.close()

    def run_with_tornadish() -> Any:
        loop = IOLoop(make_current=False)
        try:
            return loop.run_sync(make(gen))
        finally:
            loop.close()

    assert run_with_tornadish() == run_with_tornado() == (None, ["a", "b"], {"k": "v"}, True)
