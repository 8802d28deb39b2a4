"""Behaviour of tornadish.locks, each scenario run against Tornado's module and ours.

The ``locks`` fixture is ``tornado.locks`` or ``tornadish.locks``: a test passing for both
shows that the behaviour is Tornado's. Every test also runs on a plain asyncio loop and on
uvloop. The few tests that name one implementation check where tornadish deliberately
does better (cancelled waiters are swept, as timed-out ones are).
"""

from __future__ import annotations

import asyncio
import datetime
import re
from typing import Any

import pytest

import tornadish.locks
from tornadish import gen, util

from tests.support.side_by_side import (
    SOON,
    TINY,
    deadline,
    next_iterations,
    twin_fixtures,
)

pytestmark = pytest.mark.usefixtures("loop_factory")

locks_fixture, locks_66_fixture = twin_fixtures("locks")


def plain_repr(obj: Any) -> str:
    """``repr(obj)`` without the module path or the address, for comparing."""
    text = re.sub(r"\b(tornado|tornadish)\.locks\.", "", repr(obj))
    return re.sub(r" at 0x[0-9a-f]+", "", text)


# -- Condition ---------------------------------------------------------------------------


async def test_condition_wait_needs_no_lock_and_resolves_true_once_notified(locks):
    c = locks.Condition()
    waiter = c.wait()
    assert not waiter.done()
    c.notify()
    assert await waiter is True


async def test_condition_wait_returns_false_at_a_deadline_or_after_a_timedelta(locks):
    c = locks.Condition()
    assert await c.wait(timeout=deadline(0.01)) is False
    assert await c.wait(timeout=SOON) is False
    assert len(c._waiters) == 2  # skipped by notify() and swept later, not removed now


async def test_condition_zero_timeout_expires_on_the_next_iteration(locks_66):
    c = locks_66.Condition()
    waiter = c.wait(timeout=0)
    assert not waiter.done()
    await next_iterations()
    assert waiter.result() is False


async def test_condition_notify_before_any_wait_is_not_remembered(locks):
    c = locks.Condition()
    c.notify()
    c.notify_all()
    assert await c.wait(timeout=SOON) is False


async def test_condition_notify_wakes_n_waiters_in_order_skipping_expired_ones(locks):
    c = locks.Condition()
    cancelled = c.wait()
    timed_out = c.wait(timeout=TINY)
    live = [c.wait() for _ in range(4)]
    cancelled.cancel()
    await asyncio.sleep(0.005)
    assert timed_out.result() is False
    c.notify(2)
    assert [w.done() for w in live] == [True, True, False, False]
    c.notify_all()
    assert [await w for w in live] == [True] * 4


async def test_condition_many_waiters_wake_in_order_whatever_expired_among_them(locks):
    c = locks.Condition()
    live = []
    for i in range(600):
        waiter = c.wait()
        if i % 3:
            live.append(waiter)
        else:
            waiter.cancel()
    assert len(live) == 400
    c.notify(150)
    assert [w.done() for w in live] == [True] * 150 + [False] * 250
    c.notify_all()
    assert all(await asyncio.gather(*live))


async def test_condition_waiters_resume_after_notify_returns(locks):
    c = locks.Condition()
    log = []

    async def waiter(name: str) -> None:
        await c.wait()
        log.append(name)

    tasks = [asyncio.ensure_future(waiter(n)) for n in "ab"]
    await next_iterations()
    c.notify_all()
    log.append("notified")
    await asyncio.gather(*tasks)
    assert log == ["notified", "a", "b"]


async def test_condition_repr_counts_its_waiters(locks):
    c = locks.Condition()
    assert repr(c) == "<Condition>"
    c.wait()
    c.wait()
    assert repr(c) == "<Condition waiters[2]>"
    c.notify_all()
    assert repr(c) == "<Condition>"


async def test_condition_looping_on_a_short_timeout_does_not_grow_the_line(locks):
    c = locks.Condition()
    for _ in range(250):
        assert await c.wait(timeout=TINY) is False
    assert len(c._waiters) <= 101


async def test_tornadish_condition_sweeps_cancelled_waiters_too():
    # Tornado sweeps only after timeouts, so a loop over asyncio.wait_for(c.wait(), t)
    # grows its line for ever; here a line that doubled since its last sweep is swept.
    c = tornadish.locks.Condition()
    for _ in range(250):
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(c.wait(), 0.0001)
    assert len(c._waiters) <= 101
    waiter = c.wait()
    c.notify()
    assert await waiter is True


# -- Event ---------------------------------------------------------------------------------


async def test_event_set_wakes_every_waiter_and_clear_blocks_again(locks):
    e = locks.Event()
    assert repr(e) == "<Event clear>" and not e.is_set()
    waiters = [e.wait() for _ in range(3)]
    e.set()
    assert repr(e) == "<Event set>" and e.is_set()
    assert await asyncio.gather(*waiters) == [None] * 3
    assert e.wait().done()  # set: no waiting
    e.clear()
    assert not e.wait(timeout=SOON).done()


async def test_event_wait_timeout_raises_tornadish_timeout_error(locks):
    assert util.TimeoutError is gen.TimeoutError is asyncio.TimeoutError
    e = locks.Event()
    with pytest.raises(util.TimeoutError):
        await e.wait(timeout=SOON)
    with pytest.raises(util.TimeoutError):
        await e.wait(timeout=deadline(0.01))
    await next_iterations()
    assert not e._waiters  # the timed-out waiters left no trace


async def test_event_set_before_the_deadline_wins(locks):
    e = locks.Event()
    asyncio.get_running_loop().call_later(0.005, e.set)
    assert await e.wait(timeout=datetime.timedelta(seconds=5)) is None


async def test_event_cancelled_wait_is_forgotten(locks):
    e = locks.Event()
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(e.wait(), 0.001)
    await next_iterations()
    assert not e._waiters


async def test_event_zero_timeout_returns_or_raises_at_once(locks_66):
    e = locks_66.Event()
    with pytest.raises(util.TimeoutError):
        await e.wait(timeout=0)
    e.set()
    assert e.wait(timeout=0).done()


# -- Semaphore, BoundedSemaphore, Lock -------------------------------------------------------


async def test_semaphore_admits_value_holders_at_a_time_first_come_first_served(locks):
    sem = locks.Semaphore(2)
    inside: list[int] = []
    log = []

    async def worker(i: int) -> None:
        async with sem:
            inside.append(i)
            log.append((i, len(inside)))
            await asyncio.sleep(0.001 * (3 - i))
            inside.remove(i)

    await asyncio.gather(*(worker(i) for i in range(4)))
    assert max(n for _, n in log) == 2
    assert [i for i, _ in log] == [0, 1, 2, 3]


async def test_semaphore_acquire_timeout_raises_and_leaves_the_counter(locks):
    sem = locks.Semaphore(1)
    await sem.acquire()
    with pytest.raises(util.TimeoutError):
        await sem.acquire(timeout=deadline(0.01))
    with pytest.raises(util.TimeoutError):
        await sem.acquire(timeout=SOON)
    sem.release()
    assert sem.acquire().done()


async def test_semaphore_release_skips_a_cancelled_waiter(locks):
    sem = locks.Semaphore(0)
    first, second = sem.acquire(), sem.acquire()
    first.cancel()
    sem.release()
    assert second.done()
    assert "locked" in repr(sem) and "unlocked" not in repr(sem)


async def test_semaphore_acquire_resolves_to_a_context_manager_that_releases(locks):
    sem = locks.Semaphore(1)
    with await sem.acquire() as entered:
        assert entered is None
        probe = sem.acquire()
        assert not probe.done()
        probe.cancel()
    assert sem.acquire().done()


async def test_semaphore_repr(locks):
    sem = locks.Semaphore(2)
    assert plain_repr(sem) == "<Semaphore object [unlocked,value:2]>"
    sem.acquire()
    sem.acquire()
    assert plain_repr(sem) == "<Semaphore object [locked]>"
    sem.acquire()
    assert plain_repr(sem) == "<Semaphore object [locked,waiters:1]>"
    lock = locks.Lock()
    assert plain_repr(lock) == "<Lock _block=<BoundedSemaphore object [unlocked,value:1]>>"


async def test_semaphore_rejects_a_negative_value_and_plain_with(locks):
    with pytest.raises(ValueError, match="semaphore initial value must be >= 0"):
        locks.Semaphore(-1)
    sem: Any = locks.Semaphore()
    message = "Use 'async with' instead of 'with' for Semaphore"
    with pytest.raises(RuntimeError, match=message), sem:
        pass


async def test_bounded_semaphore_refuses_to_go_past_its_initial_value(locks):
    sem = locks.BoundedSemaphore(2)
    with pytest.raises(ValueError, match="Semaphore released too many times"):
        sem.release()
    await sem.acquire()
    sem.release()
    with pytest.raises(ValueError, match="Semaphore released too many times"):
        sem.release()


async def test_lock_serialises_holders_in_order_and_refuses_unlocked_release(locks):
    lock = locks.Lock()
    with pytest.raises(RuntimeError, match="release unlocked lock"):
        lock.release()
    history = []

    async def holder(i: int) -> None:
        async with lock:
            history.append(f"in {i}")
            await asyncio.sleep(0)
            history.append(f"out {i}")

    await asyncio.gather(*(holder(i) for i in range(3)))
    assert history == ["in 0", "out 0", "in 1", "out 1", "in 2", "out 2"]
    plain: Any = lock
    with pytest.raises(RuntimeError, match="Use `async with` instead of `with` for Lock"), plain:
        pass


async def test_lock_acquire_timeout_and_yield_style(locks):
    lock = locks.Lock()

    @gen.coroutine
    def hold():
        with (yield lock.acquire()), pytest.raises(util.TimeoutError):
            yield lock.acquire(timeout=SOON)
        return "released"

    assert await hold() == "released"
    assert lock.acquire().done()


async def test_semaphore_zero_timeout_acquires_or_raises_at_once(locks_66):
    sem = locks_66.Semaphore(1)
    assert sem.acquire(timeout=0).done()
    with pytest.raises(util.TimeoutError):
        await sem.acquire(timeout=0)


async def test_semaphore_timed_out_waiters_are_swept(locks):
    sem = locks.Semaphore(0)
    for _ in range(250):
        with pytest.raises(util.TimeoutError):
            await sem.acquire(timeout=TINY)
    assert len(sem._waiters) <= 101


async def test_tornadish_semaphore_sweeps_cancelled_waiters_too():
    sem = tornadish.locks.Semaphore(0)
    for _ in range(250):
        sem.acquire().cancel()
    assert len(sem._waiters) <= 101
    waiter = sem.acquire()
    sem.release()
    assert waiter.done()


async def test_a_bad_timeout_is_refused_before_anything_is_queued():
    c = tornadish.locks.Condition()
    with pytest.raises(TypeError):
        c.wait(timeout="soon")  # type: ignore[arg-type]
    assert not c._waiters
