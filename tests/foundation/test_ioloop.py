"""Tests for tornadish.ioloop: the IOLoop facade and PeriodicCallback.

Most tests run twice, on a plain asyncio loop and on uvloop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime
import gc
import itertools
import json
import logging
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tornadish import gen, util
from tornadish.ioloop import IOLoop, PeriodicCallback

APP_LOG = "tornadish.application"


@pytest.fixture(params=["asyncio", "uvloop"])
def io_loop(request: pytest.FixtureRequest) -> Iterator[IOLoop]:
    """A fresh current IOLoop of each kind, closed afterwards."""
    if request.param == "uvloop":
        pytest.importorskip("uvloop")
    IOLoop.configure_uvloop(request.param == "uvloop")
    try:
        loop = IOLoop()
    finally:
        IOLoop.configure_uvloop(None)
    kind = type(loop.asyncio_loop).__module__.split(".")[0]
    assert kind == request.param
    yield loop
    loop.close()


def in_fresh_thread(func: Callable[[], Any]) -> Any:
    """Run ``func`` in a new thread (which has no current event loop) and return its result."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = func()
        except BaseException as exc:  # pragma: no cover - re-raised below
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(10)
    if "error" in box:
        raise box["error"]
    return box["result"]


# -- current(), construction, closing ------------------------------------------------------


def test_current_is_cached_per_loop(io_loop: IOLoop) -> None:
    assert IOLoop.current() is io_loop
    assert IOLoop.instance() is io_loop

    async def inside() -> IOLoop:
        return IOLoop.current()

    assert io_loop.run_sync(inside) is io_loop


def test_current_wraps_a_foreign_running_loop() -> None:
    def body() -> None:
        loop = asyncio.new_event_loop()
        try:

            async def main() -> tuple[IOLoop, IOLoop]:
                return IOLoop.current(), IOLoop.current()

            first, second = loop.run_until_complete(main())
            assert first is second
            assert first.asyncio_loop is loop
            assert IOLoop.current(instance=False) is None  # nothing set for the thread
        finally:
            loop.close()

    in_fresh_thread(body)


def test_wrapping_does_not_keep_foreign_loops_alive() -> None:
    def body() -> bool:
        loop = asyncio.new_event_loop()

        async def main() -> None:
            IOLoop.current().add_callback(lambda: None)

        loop.run_until_complete(main())
        loop.close()
        ref = weakref.ref(loop)
        del loop
        gc.collect()
        return ref() is None

    assert in_fresh_thread(body)


def test_current_creates_and_installs_a_loop_without_warnings() -> None:
    def body() -> tuple[bool, bool, bool]:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert IOLoop.current(instance=False) is None
            io = IOLoop.current()
            again = IOLoop.current() is io
            installed = asyncio.get_event_loop_policy().get_event_loop() is io.asyncio_loop
            io.close()
            # A closed loop is not handed out again.
            replaced = IOLoop.current() is not io
            IOLoop.current().close()
            return again, installed, replaced

    assert in_fresh_thread(body) == (True, True, True)


def test_uvloop_is_default_and_can_be_switched_off() -> None:
    pytest.importorskip("uvloop")

    def kind() -> str:
        io = IOLoop(make_current=False)
        try:
            return type(io.asyncio_loop).__module__
        finally:
            io.close()

    assert IOLoop.uvloop_enabled() == (os.environ.get("TORNADISH_NO_UVLOOP", "") == "")
    try:
        IOLoop.configure_uvloop(True)
        assert kind().startswith("uvloop")
        IOLoop.configure_uvloop(False)
        assert kind().startswith("asyncio")
        assert not IOLoop.uvloop_enabled()
    finally:
        IOLoop.configure_uvloop(None)


def test_env_var_disables_uvloop() -> None:
    code = (
        "from tornadish.ioloop import IOLoop; print(type(IOLoop.current().asyncio_loop).__module__)"
    )
    env = dict(os.environ, TORNADISH_NO_UVLOOP="1")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip().startswith("asyncio")


def test_constructor_make_current_and_close_restores() -> None:
    def body() -> None:
        outer = IOLoop()
        assert IOLoop.current() is outer
        inner = IOLoop()
        assert IOLoop.current() is inner
        inner.close()
        assert IOLoop.current() is outer
        detached = IOLoop(make_current=False)
        assert IOLoop.current() is outer
        assert detached is not outer
        detached.close()
        outer.close()
        outer.close()  # twice is harmless
        assert IOLoop.current(instance=False) is None

    in_fresh_thread(body)


def test_wrapping_an_explicit_loop() -> None:
    loop = asyncio.new_event_loop()
    io = IOLoop(make_current=False, asyncio_loop=loop)
    try:
        assert io.asyncio_loop is loop
        with pytest.raises(RuntimeError):
            IOLoop(make_current=False, asyncio_loop=loop)
    finally:
        io.close()
    assert loop.is_closed()


def test_make_current_and_clear_current_are_deprecated() -> None:
    def body() -> None:
        io = IOLoop(make_current=False)
        with pytest.warns(DeprecationWarning):
            io.make_current()
        assert IOLoop.current() is io
        with pytest.warns(DeprecationWarning):
            IOLoop.clear_current()
        assert IOLoop.current(instance=False) is None
        io.close()

    in_fresh_thread(body)


def test_close_running_loop_refused(io_loop: IOLoop) -> None:
    async def main() -> None:
        with pytest.raises(RuntimeError):
            io_loop.close()

    io_loop.run_sync(main)


# -- start / stop / run_sync -----------------------------------------------------------------


def test_start_stopped_by_callback(io_loop: IOLoop) -> None:
    seen: list[str] = []
    io_loop.add_callback(seen.append, "ran")
    io_loop.call_later(0.02, io_loop.stop)
    io_loop.start()
    assert seen == ["ran"]


def test_stop_from_another_thread(io_loop: IOLoop) -> None:
    stopper = threading.Timer(0.05, io_loop.stop)
    stopper.start()
    started = time.monotonic()
    io_loop.start()
    assert time.monotonic() - started < 5
    stopper.join()


def test_stop_before_start_returns_promptly(io_loop: IOLoop) -> None:
    io_loop.stop()
    started = time.monotonic()
    io_loop.start()
    assert time.monotonic() - started < 1


def test_run_sync_results(io_loop: IOLoop) -> None:
    async def coro() -> int:
        await asyncio.sleep(0)
        return 1

    def returns_future() -> asyncio.Future[int]:
        fut: asyncio.Future[int] = io_loop.asyncio_loop.create_future()
        io_loop.call_later(0.001, fut.set_result, 2)
        return fut

    assert io_loop.run_sync(coro) == 1
    assert io_loop.run_sync(returns_future) == 2
    assert io_loop.run_sync(lambda: None) is None
    with pytest.raises(gen.BadYieldError):  # as in Tornado: only None or awaitables
        io_loop.run_sync(lambda: 3)
    assert io_loop.run_sync(lambda: [coro(), coro()]) == [1, 1]


def test_run_sync_reraises(io_loop: IOLoop) -> None:
    async def fails() -> None:
        raise KeyError("boom")

    def fails_now() -> None:
        raise ValueError("sync")

    with pytest.raises(KeyError):
        io_loop.run_sync(fails)
    with pytest.raises(ValueError, match="sync"):
        io_loop.run_sync(fails_now)


def test_run_sync_timeout_cancels_the_work(io_loop: IOLoop) -> None:
    cleaned_up: list[bool] = []

    async def slow() -> None:
        try:
            await asyncio.sleep(10)
        finally:
            cleaned_up.append(True)

    started = time.monotonic()
    with pytest.raises(util.TimeoutError) as info:
        io_loop.run_sync(slow, timeout=0.05)
    assert time.monotonic() - started < 5
    assert isinstance(info.value, asyncio.TimeoutError)
    assert "0.05" in str(info.value)
    assert cleaned_up == [True]
    # The loop is usable again afterwards.
    assert io_loop.run_sync(lambda: asyncio.sleep(0, "again"), timeout=5) == "again"


def test_run_sync_loop_stopped_early(io_loop: IOLoop) -> None:
    async def stops_loop() -> None:
        io_loop.stop()
        await asyncio.sleep(10)

    with pytest.raises(RuntimeError, match="stopped before"):
        io_loop.run_sync(stops_loop)


# -- callbacks ----------------------------------------------------------------------------


def test_add_callback_from_threads(io_loop: IOLoop) -> None:
    loop_thread: list[int] = []
    received: list[int] = []

    def record(n: int) -> None:
        loop_thread.append(threading.get_ident())
        received.append(n)

    def worker(base: int) -> None:
        for i in range(50):
            io_loop.add_callback(record, base + i)

    async def main() -> None:
        threads = [threading.Thread(target=worker, args=(k * 100,)) for k in range(4)]
        for t in threads:
            t.start()
        while len(received) < 200:
            await asyncio.sleep(0.005)
        for t in threads:
            t.join()

    io_loop.run_sync(main, timeout=10)
    assert sorted(received) == sorted(k * 100 + i for k in range(4) for i in range(50))
    assert set(loop_thread) == {threading.get_ident()}


def test_add_callback_kwargs_and_spawn(io_loop: IOLoop) -> None:
    got: list[Any] = []

    async def main() -> None:
        io_loop.add_callback(lambda a, b=0: got.append((a, b)), 1, b=2)
        io_loop.spawn_callback(got.append, "spawned")
        await asyncio.sleep(0.01)

    io_loop.run_sync(main)
    assert got == [(1, 2), "spawned"]


def test_callback_errors_are_logged(io_loop: IOLoop, caplog: pytest.LogCaptureFixture) -> None:
    def bad() -> None:
        raise ZeroDivisionError("sync failure")

    async def bad_async() -> None:
        await asyncio.sleep(0)
        raise LookupError("async failure")

    async def cancelled() -> None:
        raise asyncio.CancelledError

    async def main() -> None:
        io_loop.add_callback(bad)
        io_loop.spawn_callback(bad_async)
        io_loop.add_callback(cancelled)
        io_loop.add_callback(lambda: 42)  # non-awaitable results are ignored
        await asyncio.sleep(0.02)

    with caplog.at_level(logging.ERROR, logger=APP_LOG):
        io_loop.run_sync(main)
    errors = [r for r in caplog.records if r.name == APP_LOG]
    assert len(errors) == 2
    assert all("Exception in callback" in r.getMessage() for r in errors)
    kinds = {r.exc_info[0] for r in errors if r.exc_info}
    assert kinds == {ZeroDivisionError, LookupError}


def test_add_callback_on_closed_loop_is_dropped() -> None:
    io = IOLoop(make_current=False)
    io.close()
    io.add_callback(print, "never")  # no exception, as in Tornado


def test_add_callback_from_signal(io_loop: IOLoop) -> None:
    got: list[int] = []
    with pytest.warns(DeprecationWarning):
        io_loop.add_callback_from_signal(got.append, 7)
    io_loop.run_sync(lambda: asyncio.sleep(0.01))
    assert got == [7]


# -- timers ---------------------------------------------------------------------------------


def test_time_is_the_loop_clock(io_loop: IOLoop) -> None:
    assert abs(io_loop.time() - io_loop.asyncio_loop.time()) < 0.01


def test_timeouts(io_loop: IOLoop) -> None:
    fired: list[str] = []

    async def main() -> None:
        now = io_loop.time()
        io_loop.add_timeout(now + 0.02, fired.append, "deadline")
        io_loop.add_timeout(datetime.timedelta(milliseconds=10), fired.append, "delta")
        io_loop.call_later(0.005, fired.append, "later")
        io_loop.call_at(now + 0.015, lambda what: fired.append(what), what="at")
        removed = io_loop.add_timeout(now + 0.01, fired.append, "removed")
        io_loop.remove_timeout(removed)
        io_loop.remove_timeout(removed)  # twice is fine
        io_loop.remove_timeout(None)
        await asyncio.sleep(0.06)

    io_loop.run_sync(main)
    assert fired == ["later", "delta", "at", "deadline"]
    with pytest.raises(TypeError):
        io_loop.add_timeout("soon", print)  # type: ignore[arg-type]


def test_timer_fires_no_earlier_than_asked(io_loop: IOLoop) -> None:
    when: list[float] = []
    deadline = io_loop.time() + 0.03
    io_loop.add_timeout(deadline, lambda: when.append(io_loop.time()))
    io_loop.run_sync(lambda: asyncio.sleep(0.06))
    assert when and when[0] >= deadline - 0.002


# -- futures and executors -------------------------------------------------------------------


def test_add_future(io_loop: IOLoop, caplog: pytest.LogCaptureFixture) -> None:
    got: list[Any] = []
    pool = concurrent.futures.ThreadPoolExecutor(1)

    async def main() -> None:
        fut: asyncio.Future[int] = io_loop.asyncio_loop.create_future()
        io_loop.add_future(fut, lambda f: got.append(("asyncio", f.result())))
        io_loop.add_future(fut, lambda f: 1 / 0)
        fut.set_result(5)
        cfut = pool.submit(lambda: threading.get_ident())
        io_loop.add_future(cfut, lambda f: got.append(("thread", threading.get_ident())))
        await asyncio.sleep(0.05)

    with caplog.at_level(logging.ERROR, logger=APP_LOG):
        io_loop.run_sync(main)
    pool.shutdown()
    assert ("asyncio", 5) in got
    assert ("thread", threading.get_ident()) in got
    assert any(r.exc_info and r.exc_info[0] is ZeroDivisionError for r in caplog.records)
    with pytest.raises(TypeError):
        io_loop.add_future(object(), print)  # type: ignore[call-overload]


class _InlineExecutor(concurrent.futures.Executor):
    """Runs work at once in the calling thread (an Executor asyncio would not accept)."""

    def __init__(self) -> None:
        self.calls = 0

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        self.calls += 1
        fut: concurrent.futures.Future[Any] = concurrent.futures.Future()
        fut.set_result(fn(*args, **kwargs))
        return fut


def test_run_in_executor(io_loop: IOLoop) -> None:
    async def main() -> tuple[int, int, int]:
        default = await io_loop.run_in_executor(None, lambda x: x + 1, 1)
        pool = concurrent.futures.ThreadPoolExecutor(1)
        explicit = await io_loop.run_in_executor(pool, pow, 2, 3)
        pool.shutdown()
        inline = _InlineExecutor()
        io_loop.set_default_executor(inline)
        chosen = await io_loop.run_in_executor(None, abs, -4)
        assert inline.calls == 1
        return default, explicit, chosen

    assert io_loop.run_sync(main) == (2, 8, 4)


# -- file descriptors -------------------------------------------------------------------------


def test_fd_handlers(io_loop: IOLoop) -> None:
    left, right = socket.socketpair()
    left.setblocking(False)
    right.setblocking(False)
    events: list[tuple[Any, int]] = []

    def on_event(fd: Any, ev: int) -> None:
        events.append((fd, ev))
        if ev & IOLoop.READ:
            left.recv(100)

    async def main() -> None:
        io_loop.add_handler(left, on_event, IOLoop.READ)
        with pytest.raises(ValueError):
            io_loop.add_handler(left.fileno(), on_event, IOLoop.READ)
        right.send(b"x")
        await asyncio.sleep(0.02)
        assert events == [(left, IOLoop.READ)]
        io_loop.update_handler(left, IOLoop.WRITE)
        await asyncio.sleep(0.02)
        assert events[-1] == (left, IOLoop.WRITE)
        io_loop.update_handler(left, IOLoop.NONE)
        count = len(events)
        right.send(b"y")
        await asyncio.sleep(0.02)
        assert len(events) == count
        io_loop.remove_handler(left)
        io_loop.remove_handler(left)  # unknown fds are ignored
        io_loop.add_handler(left.fileno(), on_event, IOLoop.READ)  # re-adding works
        await asyncio.sleep(0.02)
        fd_given: Any = events[-1][0]
        assert fd_given == left.fileno()  # an int was given, so the handler gets the int
        assert events[-1][1] == IOLoop.READ

    io_loop.run_sync(main)
    io_loop.close(all_fds=True)
    assert left.fileno() != -1  # an int fd was registered: the socket object stays open...
    with pytest.raises(OSError):
        os.fstat(left.fileno())  # ...but its descriptor was closed
    left.detach()
    right.close()


def test_close_all_fds_closes_file_objects(io_loop: IOLoop) -> None:
    left, right = socket.socketpair()
    io_loop.add_handler(left, lambda fd, ev: None, IOLoop.READ)
    io_loop.close(all_fds=True)
    assert left.fileno() == -1
    right.close()


def test_fd_handler_errors_are_logged(io_loop: IOLoop, caplog: pytest.LogCaptureFixture) -> None:
    left, right = socket.socketpair()

    def broken(fd: Any, events: int) -> None:
        io_loop.remove_handler(fd)
        raise OSError("handler failed")

    async def main() -> None:
        io_loop.add_handler(left, broken, IOLoop.READ)
        right.send(b"x")
        await asyncio.sleep(0.02)

    with caplog.at_level(logging.ERROR, logger=APP_LOG):
        io_loop.run_sync(main)
    left.close()
    right.close()
    logged = [r for r in caplog.records if r.name == APP_LOG]
    assert len(logged) == 1 and "I/O handler" in logged[0].getMessage()


# -- PeriodicCallback -------------------------------------------------------------------------


def test_periodic_callback_counts(io_loop: IOLoop) -> None:
    calls: list[float] = []
    pc = PeriodicCallback(lambda: calls.append(io_loop.time()), 20)

    async def main() -> None:
        assert not pc.is_running()
        pc.start()
        assert pc.is_running()
        await asyncio.sleep(0.25)
        pc.stop()
        assert not pc.is_running()
        count = len(calls)
        await asyncio.sleep(0.05)
        assert len(calls) == count

    io_loop.run_sync(main)
    assert 8 <= len(calls) <= 13  # 12 ideal; generous for a busy machine
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert min(gaps) > 0.01


def _schedule(pc: PeriodicCallback, durations: list[float]) -> list[float]:
    """The times of successive calls when each takes ``durations[i]`` seconds."""
    calls, now = [], 1000.0
    pc._next_timeout = now
    for duration in durations:
        pc._update_next(now)
        calls.append(pc._next_timeout)
        now = pc._next_timeout + duration
    return calls


def test_periodic_callback_schedule_skips_missed_ticks_and_ignores_clock_jumps() -> None:
    pc = PeriodicCallback(lambda: None, 10_000)
    assert _schedule(pc, [0, 0, 0]) == [1010, 1020, 1030]
    # Overruns skip whole periods, staying on the grid that started at start().
    assert _schedule(pc, [9, 10, 11, 20, 35, 0]) == [1010, 1020, 1040, 1060, 1090, 1130]
    # A clock going backwards still advances one period per call.
    assert _schedule(pc, [-2, -100, 0]) == [1010, 1020, 1030]


def test_periodic_callback_timedelta_and_validation() -> None:
    pc = PeriodicCallback(lambda: None, datetime.timedelta(seconds=1.5))
    assert pc.callback_time == 1500
    with pytest.raises(ValueError):
        PeriodicCallback(lambda: None, 0)
    with pytest.raises(ValueError):
        PeriodicCallback(lambda: None, datetime.timedelta(0))


def test_periodic_callback_skips_overlapping_async_runs(io_loop: IOLoop) -> None:
    running = 0
    most = 0
    starts: list[float] = []

    async def slow() -> None:
        nonlocal running, most
        starts.append(io_loop.time())
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.05)  # 2.5 periods
        running -= 1

    pc = PeriodicCallback(slow, 20)

    async def main() -> None:
        pc.start()
        await asyncio.sleep(0.33)
        pc.stop()
        await asyncio.sleep(0.06)

    io_loop.run_sync(main)
    assert most == 1
    # Runs start on the 20ms grid, every third tick: about 5 in 0.33s (not 16).
    assert 3 <= len(starts) <= 7
    first = starts[0]
    for start in starts[1:]:
        ticks = (start - first) / 0.02
        assert abs(ticks - round(ticks)) < 0.4


def test_periodic_callback_survives_errors(
    io_loop: IOLoop, caplog: pytest.LogCaptureFixture
) -> None:
    calls = 0

    def flaky() -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("tick failed")

    pc = PeriodicCallback(flaky, 10)

    async def main() -> None:
        pc.start()
        await asyncio.sleep(0.065)
        pc.stop()

    with caplog.at_level(logging.ERROR, logger=APP_LOG):
        io_loop.run_sync(main)
    assert calls >= 3
    assert sum(1 for r in caplog.records if r.name == APP_LOG) == calls


def test_periodic_callback_jitter_and_restart(io_loop: IOLoop) -> None:
    calls: list[float] = []
    pc = PeriodicCallback(lambda: calls.append(io_loop.time()), 20, jitter=0.5)

    async def main() -> None:
        pc.start()
        pc.start()  # already running: no second chain
        await asyncio.sleep(0.2)
        pc.stop()
        first_batch = len(calls)
        pc.start()
        await asyncio.sleep(0.1)
        pc.stop()
        assert first_batch >= 5
        assert len(calls) - first_batch >= 2

    io_loop.run_sync(main)
    assert len(calls) <= 22


def test_periodic_callback_started_from_another_thread(io_loop: IOLoop) -> None:
    calls: list[int] = []
    pc = PeriodicCallback(lambda: calls.append(1), 10)
    threading.Thread(target=io_loop.add_callback, args=(pc.start,)).start()
    io_loop.run_sync(lambda: asyncio.sleep(0.08))
    pc.stop()
    assert pc.io_loop is io_loop
    assert len(calls) >= 3


# -- the classic Tornado start-up pattern, in a fresh interpreter ------------------------------

SEED_SCRIPT = textwrap.dedent(
    """
    import json, sys, warnings
    warnings.simplefilter("error")
    from tornadish.ioloop import IOLoop, PeriodicCallback
    from tornadish import gen

    events = []

    async def main():
        await gen.sleep(0.01)
        return "main-done"

    result = IOLoop.current().run_sync(main)

    async def spawned():
        await gen.sleep(0.005)
        events.append("spawned")

    ticks = []
    pc = PeriodicCallback(lambda: ticks.append(1), 10)
    pc.start()
    loop = IOLoop.current()
    loop.spawn_callback(spawned)
    loop.add_timeout(loop.time() + 0.02, lambda: events.append("timeout"))
    loop.add_timeout(loop.time() + 0.1, loop.stop)
    loop.start()
    pc.stop()
    print(json.dumps({
        "result": result,
        "events": events,
        "ticks": len(ticks),
        "loop": type(loop.asyncio_loop).__module__.split(".")[0],
        "same": loop is IOLoop.current(),
    }))
    """
)


@pytest.mark.parametrize("no_uvloop", ["", "1"])
def test_seed_pattern_in_subprocess(no_uvloop: str) -> None:
    env = dict(os.environ, TORNADISH_NO_UVLOOP=no_uvloop)
    proc = subprocess.run(
        [sys.executable, "-c", SEED_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["result"] == "main-done"
    assert report["events"] == ["spawned", "timeout"]
    assert 5 <= report["ticks"] <= 11
    assert report["same"] is True
    expected = "asyncio" if no_uvloop else "uvloop"
    try:
        import uvloop  # noqa: F401
    except ImportError:
        expected = "asyncio"
    assert report["loop"] == expected
