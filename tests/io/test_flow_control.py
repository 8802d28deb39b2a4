"""The one flow-control module (tornadish._io.flow_control), without sockets: the write
gate's waiters and the lazily re-armed deadline, on a real loop and on a fake clock."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable
from typing import Any, cast

import pytest

from tornadish._http.contract import StreamClosedError
from tornadish._io.flow_control import Deadline, WriteGate, failed_future

# -- the write gate -------------------------------------------------------------------


async def test_unpaused_gate_answers_with_one_cached_resolved_future() -> None:
    gate = WriteGate(asyncio.get_running_loop())
    first = gate.wait()
    assert first.done() and first.result() is None
    assert gate.wait() is first  # the fast path allocates nothing
    assert gate.ready() is first
    await first


async def test_paused_gate_waiters_resolve_on_resume() -> None:
    gate = WriteGate(asyncio.get_running_loop())
    gate.pause()
    a, b = gate.wait(), gate.wait()
    assert not a.done() and not b.done() and a is not b
    assert gate.waiting == 2
    gate.resume()
    assert a.done() and b.done() and a.result() is None and b.result() is None
    assert not gate.paused and gate.waiting == 0
    assert gate.wait().done()


async def test_gate_can_start_paused() -> None:
    # An upgraded protocol takes over a transport that is already above its high-water mark.
    gate = WriteGate(asyncio.get_running_loop(), paused=True)
    assert not gate.wait().done()


async def test_waiter_waits_for_the_next_resume_even_when_not_paused() -> None:
    gate = WriteGate(asyncio.get_running_loop())
    fut = gate.waiter()
    assert not fut.done()
    gate.resume()
    assert fut.done()


async def test_resume_and_lost_skip_waiters_already_done() -> None:
    gate = WriteGate(asyncio.get_running_loop())
    gate.pause()
    cancelled, pending = gate.wait(), gate.wait()
    cancelled.cancel()
    gate.resume()
    assert cancelled.cancelled() and pending.result() is None
    gate.pause()
    cancelled, pending = gate.wait(), gate.wait()
    cancelled.cancel()
    gate.lost()
    assert cancelled.cancelled() and isinstance(pending.exception(), StreamClosedError)


async def test_lost_fails_waiters_with_stream_closed_error_marked_retrieved() -> None:
    loop = asyncio.get_running_loop()
    unhandled: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: unhandled.append(context))
    try:
        gate = WriteGate(loop)
        gate.pause()
        waiters = [gate.wait(), gate.wait()]
        cause = ConnectionResetError("reset by peer")
        gate.lost(cause)
        errors = [w.exception() for w in waiters]
        assert all(isinstance(e, StreamClosedError) for e in errors)
        assert all(cast(StreamClosedError, e).real_error is cause for e in errors)
        assert errors[0] is not errors[1]  # each waiter has its own exception
        assert gate.waiting == 0
        # A waiter nobody awaits any more must not log "exception was never retrieved".
        gate.pause()
        gate.wait()
        gate.lost()
        del waiters, errors
        gc.collect()
        await asyncio.sleep(0)
        assert unhandled == []
    finally:
        loop.set_exception_handler(None)


async def test_lost_can_fail_waiters_with_a_roles_own_error() -> None:
    class ClientGone(Exception):
        pass

    gate = WriteGate(asyncio.get_running_loop())
    gate.pause()
    fut = gate.wait()
    gate.lost(error=ClientGone)
    assert isinstance(fut.exception(), ClientGone)


async def test_lost_without_waiters_is_a_no_op() -> None:
    gate = WriteGate(asyncio.get_running_loop())
    gate.lost()
    gate.resume()
    assert gate.wait().done()


async def test_failed_future_is_failed_and_retrieved() -> None:
    loop = asyncio.get_running_loop()
    fut = failed_future(loop)
    assert isinstance(fut.exception(), StreamClosedError)
    other = failed_future(loop, ValueError("x"))
    with pytest.raises(ValueError):
        await other


# -- the deadline, on a fake clock ----------------------------------------------------


class _Handle:
    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self._when = when
        self.callback = callback
        self.cancelled = False

    def when(self) -> float:
        return self._when

    def cancel(self) -> None:
        self.cancelled = True


class FakeLoop:
    """Just what Deadline uses of a loop: a clock and call_at, run by hand."""

    def __init__(self) -> None:
        self.now = 100.0
        self.scheduled: list[_Handle] = []

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[[], None]) -> _Handle:
        handle = _Handle(when, callback)
        self.scheduled.append(handle)
        return handle

    @property
    def live(self) -> list[_Handle]:
        return [h for h in self.scheduled if not h.cancelled]

    def advance(self, seconds: float) -> None:
        """Move the clock and run every live timer that is due (as the loop would)."""
        self.now += seconds
        while True:
            due = [h for h in self.live if h.when() <= self.now]
            if not due:
                return
            for h in due:
                h.cancelled = True  # a handle runs once
                h.callback()


def _deadline() -> tuple[FakeLoop, Deadline, list[float]]:
    loop = FakeLoop()
    fired: list[float] = []
    deadline = Deadline(cast(asyncio.AbstractEventLoop, loop), lambda: fired.append(loop.now))
    return loop, deadline, fired


def test_deadline_runs_its_callback_once_when_due() -> None:
    loop, deadline, fired = _deadline()
    deadline.after(10)
    assert deadline.when == 110.0 and deadline.armed
    loop.advance(9.9)
    assert fired == []
    loop.advance(0.1)
    assert fired == [110.0]
    assert deadline.when is None and not deadline.armed
    loop.advance(100)
    assert fired == [110.0]


def test_moving_a_deadline_later_is_an_assignment() -> None:
    loop, deadline, fired = _deadline()
    deadline.after(10)
    for _ in range(1000):  # every request of a keep-alive connection moves it
        loop.now += 0.001
        deadline.after(10)
    assert len(loop.scheduled) == 1  # no timer was cancelled or scheduled
    loop.advance(10 - 1.0)  # the first timer fires early and re-arms itself
    assert fired == [] and len(loop.live) == 1
    assert loop.live[0].when() == deadline.when
    loop.advance(1.0)
    assert fired == [pytest.approx(111.0)]


def test_an_earlier_deadline_reschedules_the_timer() -> None:
    loop, deadline, fired = _deadline()
    deadline.after(60)
    deadline.at(105.0)
    assert [h.when() for h in loop.live] == [105.0]
    assert loop.scheduled[0].cancelled
    loop.advance(5)
    assert fired == [105.0]


def test_cleared_deadline_lets_the_timer_lapse() -> None:
    loop, deadline, fired = _deadline()
    deadline.after(10)
    deadline.clear()
    assert deadline.armed  # clearing is an assignment...
    loop.advance(10)
    assert fired == [] and not deadline.armed and loop.live == []  # ...the timer lapses


def test_cancelled_deadline_leaves_no_timer() -> None:
    loop, deadline, fired = _deadline()
    deadline.after(10)
    deadline.cancel()
    assert not deadline.armed and deadline.when is None and loop.live == []
    deadline.cancel()  # twice is fine
    loop.advance(20)
    assert fired == []


def test_callback_may_set_the_next_deadline() -> None:
    loop = FakeLoop()
    fired: list[float] = []

    def again() -> None:
        fired.append(loop.now)
        if len(fired) < 3:
            deadline.after(5)

    deadline = Deadline(cast(asyncio.AbstractEventLoop, loop), again)
    deadline.after(5)
    loop.advance(5)
    loop.advance(5)
    loop.advance(5)
    loop.advance(5)
    assert fired == [105.0, 110.0, 115.0]


async def test_deadline_on_a_real_loop() -> None:
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    deadline = Deadline(loop, lambda: done.set_result(loop.time()))
    deadline.after(0.01)
    deadline.after(0.05)  # later: the first timer fires early and re-arms
    start = loop.time()
    fired_at = await asyncio.wait_for(done, 2)
    assert fired_at - start >= 0.04
    assert not deadline.armed


def test_flow_control_objects_are_small() -> None:
    # Every connection holds one of each: no __dict__.
    loop = FakeLoop()
    for obj in (WriteGate(cast(asyncio.AbstractEventLoop, loop)), _deadline()[1]):
        assert not hasattr(obj, "__dict__")
