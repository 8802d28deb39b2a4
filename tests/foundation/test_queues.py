"""Behaviour of tornadish.queues, each scenario run against Tornado's module and ours.

The ``queues`` fixture is ``tornado.queues`` or ``tornadish.queues``: a test passing for
both shows that the behaviour is Tornado's. Every test also runs on a plain asyncio loop
and on uvloop. The tests that name one implementation check where tornadish deliberately
does better (expired waiters stuck behind a live one are swept).
"""

from __future__ import annotations

import asyncio
import datetime
import re
from typing import Any

import pytest

import tornadish.queues
from tornadish import util

from tests.support.side_by_side import (
    SOON,
    TINY,
    deadline,
    next_iterations,
    twin_fixtures,
)

pytestmark = pytest.mark.usefixtures("loop_factory")

queues_fixture, queues_66_fixture = twin_fixtures("queues")


# -- sizes and the non-blocking calls -----------------------------------------------------


async def test_queue_sizes(queues):
    q = queues.Queue(maxsize=2)
    assert (q.maxsize, q.qsize(), q.empty(), q.full()) == (2, 0, True, False)
    q.put_nowait("a")
    assert (q.qsize(), q.empty(), q.full()) == (1, False, False)
    q.put_nowait("b")
    assert (q.qsize(), q.empty(), q.full()) == (2, False, True)
    unbounded = queues.Queue()
    for i in range(1000):
        unbounded.put_nowait(i)
    assert not unbounded.full() and unbounded.maxsize == 0


async def test_queue_refuses_a_bad_maxsize(queues):
    with pytest.raises(TypeError, match="maxsize can't be None"):
        queues.Queue(maxsize=None)
    with pytest.raises(ValueError, match="maxsize can't be negative"):
        queues.Queue(maxsize=-1)


async def test_nowait_calls_raise_queue_full_and_queue_empty(queues):
    q = queues.Queue(maxsize=1)
    with pytest.raises(queues.QueueEmpty):
        q.get_nowait()
    q.put_nowait(1)
    with pytest.raises(queues.QueueFull):
        q.put_nowait(2)
    assert q.get_nowait() == 1


# -- blocking get and put ---------------------------------------------------------------------


async def test_get_waits_for_a_put_and_put_waits_for_room(queues):
    q = queues.Queue(maxsize=1)
    getter = q.get()
    assert not getter.done()
    await q.put("first")
    assert await getter == "first"
    await q.put("second")
    putter = q.put("third")
    assert not putter.done()
    assert await q.get() == "second"
    assert putter.done()
    assert q.get_nowait() == "third"


async def test_put_nowait_resolves_the_getter_whose_coroutine_resumes_later(queues):
    q = queues.Queue()
    log = []

    async def consumer() -> None:
        log.append(("got", await q.get()))

    task = asyncio.ensure_future(consumer())
    await next_iterations()
    q.put_nowait(1)
    log.append(("put", 1))
    await task
    assert log == [("put", 1), ("got", 1)]


async def test_get_and_put_timeouts_raise_timeout_error(queues):
    q = queues.Queue(maxsize=1)
    with pytest.raises(util.TimeoutError):
        await q.get(timeout=SOON)
    with pytest.raises(util.TimeoutError):
        await q.get(timeout=deadline(0.01))
    q.put_nowait("x")
    with pytest.raises(util.TimeoutError):
        await q.put("y", timeout=SOON)
    with pytest.raises(util.TimeoutError):
        await q.put("y", timeout=deadline(0.01))
    assert q.qsize() == 1 and q.get_nowait() == "x"  # the timed-out puts put nothing
    assert q.empty()


async def test_zero_timeout_returns_at_once_or_raises_next_iteration(queues_66):
    q = queues_66.Queue(maxsize=1)
    with pytest.raises(util.TimeoutError):
        await q.get(timeout=0)
    assert q.put(1, timeout=0).done()
    pending = q.put(2, timeout=datetime.timedelta(0))
    assert not pending.done()
    with pytest.raises(util.TimeoutError):
        await pending
    assert q.get(timeout=0).result() == 1


async def test_a_cancelled_getter_does_not_swallow_an_item(queues):
    q = queues.Queue()
    first, second = q.get(), q.get()
    first.cancel()
    q.put_nowait("item")
    assert await second == "item"
    assert q.empty()


async def test_many_waiting_getters_are_served_in_order_past_expired_ones(queues):
    q = queues.Queue()
    live = []
    for i in range(600):
        getter = q.get()
        if i % 3:
            live.append(getter)
        else:
            getter.cancel()
    for i in range(400):
        q.put_nowait(i)
    assert [g.result() for g in live] == list(range(400))
    assert not q._getters


async def test_a_cancelled_putter_puts_nothing(queues):
    q = queues.Queue(maxsize=1)
    q.put_nowait(1)
    cancelled, live = q.put(2), q.put(3)
    cancelled.cancel()
    assert [await q.get(), await q.get()] == [1, 3]
    assert live.done()


async def test_async_for_reads_items_as_they_come(queues):
    q = queues.Queue()
    got = []

    async def consume() -> None:
        async for item in q:
            got.append(item)
            q.task_done()

    task = asyncio.ensure_future(consume())
    for i in range(5):
        await q.put(i)
    await q.join()
    task.cancel()
    assert got == list(range(5))


# -- task_done and join --------------------------------------------------------------------


async def test_join_waits_for_task_done_not_for_get(queues):
    q = queues.Queue()
    await q.join()  # nothing put: no waiting
    q.put_nowait("job")
    join = q.join()
    q.get_nowait()
    await next_iterations()
    assert not join.done()
    q.task_done()
    assert await join is None


async def test_join_timeout_raises_and_task_done_refuses_to_go_below_zero(queues):
    q = queues.Queue()
    q.put_nowait("job")
    with pytest.raises(util.TimeoutError):
        await q.join(timeout=SOON)
    with pytest.raises(util.TimeoutError):
        await q.join(timeout=deadline(0.01))
    q.task_done()
    with pytest.raises(ValueError, match=r"task_done\(\) called too many times"):
        q.task_done()


# -- subclasses and repr ------------------------------------------------------------------------


async def test_priority_queue_gets_lowest_first(queues):
    q = queues.PriorityQueue()
    for item in [(1, "medium"), (0, "high"), (10, "low"), (0, "also high")]:
        q.put_nowait(item)
    assert [q.get_nowait() for _ in range(4)] == [
        (0, "also high"),
        (0, "high"),
        (1, "medium"),
        (10, "low"),
    ]


async def test_lifo_queue_gets_latest_first_and_a_waiting_putter_goes_in_on_top(queues):
    q = queues.LifoQueue(maxsize=2)
    q.put_nowait(1)
    q.put_nowait(2)
    putter = q.put(3)
    assert [await q.get() for _ in range(3)] == [3, 2, 1]
    assert putter.done()


async def test_str_and_repr(queues):
    q = queues.Queue(maxsize=2)
    assert str(q) == "<Queue maxsize=2>"
    assert repr(q) == f"<Queue at {hex(id(q))} maxsize=2>"
    q.get()
    assert str(q) == "<Queue maxsize=2 getters[1]>"
    q.put_nowait("a")
    q.put_nowait("b")
    q.put_nowait("c")
    q.put("d")
    assert str(q) == "<Queue maxsize=2 queue=deque(['b', 'c']) putters[1] tasks=3>"
    p = queues.PriorityQueue()
    p.put_nowait(2)
    p.put_nowait(1)
    assert str(p) == "<PriorityQueue maxsize=0 queue=[1, 2] tasks=2>"
    lifo = queues.LifoQueue(maxsize=3)
    lifo.put_nowait(1)
    assert re.fullmatch(r"<LifoQueue at 0x[0-9a-f]+ maxsize=3 queue=\[1\] tasks=1>", repr(lifo))


async def test_overridable_storage(queues):
    class SetQueue(queues.Queue):  # type: ignore[name-defined,misc]
        def _init(self) -> None:
            self._queue: Any = set()

        def _put(self, item: Any) -> None:
            self._queue.add(item)

        def _get(self) -> Any:
            return self._queue.pop()

    q = SetQueue()
    for item in "abca":
        q.put_nowait(item)
    assert q.qsize() == 3
    assert sorted(q.get_nowait() for _ in range(3)) == ["a", "b", "c"]


# -- memory ---------------------------------------------------------------------------------------


async def test_timed_out_waiters_at_the_front_are_dropped_by_the_next_call(queues):
    q = queues.Queue()
    for _ in range(10):
        q.get(timeout=TINY)
    await asyncio.sleep(0.005)
    assert len(q._getters) == 10
    q.put_nowait("x")
    assert not q._getters


async def test_tornadish_sweeps_expired_waiters_stuck_behind_a_live_one():
    # Tornado drops expired waiters only when they reach the front of the line: behind a
    # consumer that waits for ever, every timed-out get() would stay.
    q: tornadish.queues.Queue[int] = tornadish.queues.Queue()
    live = q.get()
    for _ in range(150):
        with pytest.raises(util.TimeoutError):
            await q.get(timeout=TINY)
    for _ in range(150):
        q.get().cancel()
    assert len(q._getters) <= 101
    q.put_nowait(1)
    assert live.result() == 1

    full: tornadish.queues.Queue[int] = tornadish.queues.Queue(maxsize=1)
    full.put_nowait(0)
    stuck = full.put(1)
    for _ in range(150):
        with pytest.raises(util.TimeoutError):
            await full.put(2, timeout=TINY)
    assert len(full._putters) <= 101
    assert full.get_nowait() == 0
    assert stuck.done() and full.get_nowait() == 1


async def test_a_bad_timeout_is_refused_before_anything_is_queued():
    q: tornadish.queues.Queue[int] = tornadish.queues.Queue(maxsize=1)
    with pytest.raises(TypeError):
        q.get(timeout="soon")  # type: ignore[arg-type]
    q.put_nowait(1)
    with pytest.raises(TypeError):
        q.put(2, timeout="soon")  # type: ignore[arg-type]
    assert not q._getters and not q._putters
    assert q.get_nowait() == 1
