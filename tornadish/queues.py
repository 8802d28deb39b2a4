"""Asynchronous queues for coroutines: Tornado's ``tornado.queues`` on asyncio futures.

:class:`Queue`, :class:`PriorityQueue` and :class:`LifoQueue` are like asyncio's queues,
with Tornado 6.6's face: ``get``/``put``/``join`` take a ``timeout`` (a deadline in
``IOLoop.time()`` terms or a :class:`datetime.timedelta` from now, as everywhere in
Tornado; zero expires on the next loop iteration) and return Futures, and
``async for item in queue`` reads items for ever.

How this module works:

- A blocked ``get``/``put`` is a Future in the line of getters or putters. Whoever makes
  progress possible hands the item over at once (``put_nowait`` resolves the first
  getter, ``get_nowait`` moves the first putter's item in), so the line never holds an
  item and a free slot at the same time.
- A waiter that timed out, or that its caller cancelled, stays in line until it reaches
  the front, where the next ``put``/``get`` drops it (Tornado's rule). So that expired
  waiters stuck behind a live one cannot pile up for ever, a line is also swept when it
  has doubled since its last sweep and holds over 100, as in :mod:`tornadish.locks`.
- Like Tornado's, these queues are *not* thread-safe: use ``IOLoop.add_callback`` to
  move to the loop's thread before calling any queue method.
"""

from __future__ import annotations

import asyncio
import collections
import datetime
import heapq
from collections.abc import Awaitable
from typing import Any, Generic, TypeVar, cast

from tornadish.concurrent import future_set_result_unless_cancelled
from tornadish.locks import _SWEEP_AFTER, Event, _expire_at, _new_future, _next_sweep
from tornadish.util import TimeoutError

__all__ = ["LifoQueue", "PriorityQueue", "Queue", "QueueEmpty", "QueueFull"]

_T = TypeVar("_T")

_Timeout = float | datetime.timedelta | None


class QueueEmpty(Exception):
    """Raised by :meth:`Queue.get_nowait` when the queue has no items."""


class QueueFull(Exception):
    """Raised by :meth:`Queue.put_nowait` when a queue is at its maximum size."""


class _QueueIterator(Generic[_T]):
    def __init__(self, q: Queue[_T]) -> None:
        self.q = q

    def __anext__(self) -> Awaitable[_T]:
        return self.q.get()


class Queue(Generic[_T]):
    """Coordinate producer and consumer coroutines.

    If ``maxsize`` is 0 (the default) the queue size is unbounded.

    >>> import asyncio
    >>> from tornadish.ioloop import IOLoop
    >>> from tornadish.queues import Queue
    >>> q = Queue(maxsize=2)
    >>> async def consumer():
    ...     async for item in q:
    ...         try:
    ...             print('Doing work on %s' % item)
    ...             await asyncio.sleep(0.01)
    ...         finally:
    ...             q.task_done()
    >>> async def producer():
    ...     for item in range(5):
    ...         await q.put(item)
    ...         print('Put %s' % item)
    >>> async def main():
    ...     # Start consumer without waiting (since it never finishes).
    ...     IOLoop.current().spawn_callback(consumer)
    ...     await producer()     # Wait for producer to put all tasks.
    ...     await q.join()       # Wait for consumer to finish all tasks.
    ...     print('Done')
    >>> asyncio.run(main())
    Put 0
    Put 1
    Doing work on 0
    Put 2
    Doing work on 1
    Put 3
    Doing work on 2
    Put 4
    Doing work on 3
    Doing work on 4
    Done

    ``@gen.coroutine`` code can write the consumer as a loop instead::

        @gen.coroutine
        def consumer():
            while True:
                item = yield q.get()
                try:
                    print('Doing work on %s' % item)
                    yield gen.sleep(0.01)
                finally:
                    q.task_done()

    Subclasses may override ``_init``, ``_get`` and ``_put`` to store items
    differently, as :class:`PriorityQueue` and :class:`LifoQueue` do.
    """

    # The item store; its type depends on the subclass (a deque here, a list for the
    # priority and LIFO queues), set by _init.
    _queue: Any = None

    def __init__(self, maxsize: int = 0) -> None:
        given: object = maxsize
        if given is None:
            raise TypeError("maxsize can't be None")
        if maxsize < 0:
            raise ValueError("maxsize can't be negative")
        self._maxsize = maxsize
        self._init()
        self._getters: collections.deque[asyncio.Future[_T]] = collections.deque()
        self._putters: collections.deque[tuple[_T, asyncio.Future[None]]] = collections.deque()
        self._unfinished_tasks = 0
        self._finished = Event()
        self._finished.set()
        self._getters_sweep_at = self._putters_sweep_at = _SWEEP_AFTER

    @property
    def maxsize(self) -> int:
        """Number of items allowed in the queue."""
        return self._maxsize

    def qsize(self) -> int:
        """Number of items in the queue."""
        return len(self._queue)

    def empty(self) -> bool:
        """Whether the queue holds no items."""
        return not self._queue

    def full(self) -> bool:
        """Whether the queue holds ``maxsize`` items (never, when unbounded)."""
        if self.maxsize == 0:
            return False
        return self.qsize() >= self.maxsize

    def put(self, item: _T, timeout: _Timeout = None) -> asyncio.Future[None]:
        """Put an item into the queue, perhaps waiting until there is room.

        Returns a Future, which raises :class:`tornadish.util.TimeoutError` after
        ``timeout``: a number is a deadline on the scale of ``IOLoop.time()``, a
        :class:`datetime.timedelta` is relative to now. A zero timeout either puts at
        once or raises on the next loop iteration.
        """
        future: asyncio.Future[None] = _new_future()
        try:
            self.put_nowait(item)
        except QueueFull:
            self._expire(future, timeout)
            self._putters.append((item, future))
            if len(self._putters) > self._putters_sweep_at:
                self._putters = collections.deque(p for p in self._putters if not p[1].done())
                self._putters_sweep_at = _next_sweep(len(self._putters))
        else:
            future.set_result(None)
        return future

    def put_nowait(self, item: _T) -> None:
        """Put an item into the queue without blocking.

        If no free slot is immediately available, raise :class:`QueueFull`.
        """
        self._consume_expired()
        if self._getters:
            assert self.empty(), "queue non-empty, why are getters waiting?"
            getter = self._getters.popleft()
            self.__put_internal(item)
            future_set_result_unless_cancelled(getter, self._get())
        elif self.full():
            raise QueueFull
        else:
            self.__put_internal(item)

    def get(self, timeout: _Timeout = None) -> asyncio.Future[_T]:
        """Remove and return an item from the queue.

        Returns a Future which resolves once an item is available, or raises
        :class:`tornadish.util.TimeoutError` after ``timeout``: a number is a deadline
        on the scale of ``IOLoop.time()``, a :class:`datetime.timedelta` is relative to
        now. A zero timeout either gets an item at once or raises on the next loop
        iteration.

        Unlike :meth:`queue.Queue.get`, whose numeric timeouts are relative, a number
        here is an absolute deadline, consistent with other timeouts in Tornado::

            item = await q.get(timeout=datetime.timedelta(seconds=1))
        """
        future: asyncio.Future[_T] = _new_future()
        try:
            future.set_result(self.get_nowait())
        except QueueEmpty:
            self._expire(future, timeout)
            self._getters.append(future)
            if len(self._getters) > self._getters_sweep_at:
                self._getters = collections.deque(g for g in self._getters if not g.done())
                self._getters_sweep_at = _next_sweep(len(self._getters))
        return future

    def get_nowait(self) -> _T:
        """Remove and return an item from the queue without blocking.

        Return an item if one is immediately available, else raise :class:`QueueEmpty`.
        """
        self._consume_expired()
        if self._putters:
            assert self.full(), "queue not full, why are putters waiting?"
            item, putter = self._putters.popleft()
            self.__put_internal(item)
            future_set_result_unless_cancelled(putter, None)
            return self._get()
        if self.qsize():
            return self._get()
        raise QueueEmpty

    def task_done(self) -> None:
        """Indicate that a formerly enqueued task is complete.

        Used by queue consumers. For each :meth:`get` used to fetch a task, a subsequent
        call to :meth:`task_done` tells the queue that the processing on the task is
        complete. If a :meth:`join` is blocking, it resumes when all items have been
        processed; that is, when every :meth:`put` is matched by a :meth:`task_done`.

        Raises ``ValueError`` if called more times than :meth:`put`.
        """
        if self._unfinished_tasks <= 0:
            raise ValueError("task_done() called too many times")
        self._unfinished_tasks -= 1
        if self._unfinished_tasks == 0:
            self._finished.set()

    def join(self, timeout: _Timeout = None) -> asyncio.Future[None]:
        """Block until all items in the queue are processed.

        Returns a Future, which raises :class:`tornadish.util.TimeoutError` after
        ``timeout``.
        """
        return self._finished.wait(timeout)

    def __aiter__(self) -> _QueueIterator[_T]:
        return _QueueIterator(self)

    # These three are overridable in subclasses.
    def _init(self) -> None:
        self._queue = collections.deque()

    def _get(self) -> _T:
        return cast(_T, self._queue.popleft())

    def _put(self, item: _T) -> None:
        self._queue.append(item)

    # End of the overridable methods.

    def __put_internal(self, item: _T) -> None:
        self._unfinished_tasks += 1
        self._finished.clear()
        self._put(item)

    @staticmethod
    def _expire(future: asyncio.Future[Any], timeout: _Timeout) -> None:
        if timeout is None:
            return

        def on_timeout() -> None:
            if not future.done():
                future.set_exception(TimeoutError())

        _expire_at(future, timeout, on_timeout)

    def _consume_expired(self) -> None:
        # Remove timed-out waiters at the front of each line.
        while self._putters and self._putters[0][1].done():
            self._putters.popleft()
        while self._getters and self._getters[0].done():
            self._getters.popleft()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} at {hex(id(self))} {self._format()}>"

    def __str__(self) -> str:
        return f"<{type(self).__name__} {self._format()}>"

    def _format(self) -> str:
        result = f"maxsize={self.maxsize!r}"
        if getattr(self, "_queue", None):
            result += f" queue={self._queue!r}"
        if self._getters:
            result += f" getters[{len(self._getters)}]"
        if self._putters:
            result += f" putters[{len(self._putters)}]"
        if self._unfinished_tasks:
            result += f" tasks={self._unfinished_tasks}"
        return result


class PriorityQueue(Queue[_T]):
    """A :class:`Queue` that retrieves entries in priority order, lowest first.

    Entries are typically tuples like ``(priority number, data)``.

    >>> import asyncio
    >>> from tornadish.queues import PriorityQueue
    >>> async def main():
    ...     q = PriorityQueue()
    ...     q.put((1, 'medium-priority item'))
    ...     q.put((0, 'high-priority item'))
    ...     q.put((10, 'low-priority item'))
    ...     print(await q.get())
    ...     print(await q.get())
    ...     print(await q.get())
    >>> asyncio.run(main())
    (0, 'high-priority item')
    (1, 'medium-priority item')
    (10, 'low-priority item')
    """

    def _init(self) -> None:
        self._queue = []

    def _put(self, item: _T) -> None:
        heapq.heappush(self._queue, item)

    def _get(self) -> _T:
        return cast(_T, heapq.heappop(self._queue))


class LifoQueue(Queue[_T]):
    """A :class:`Queue` that retrieves the most recently put items first.

    >>> import asyncio
    >>> from tornadish.queues import LifoQueue
    >>> async def main():
    ...     q = LifoQueue()
    ...     q.put(3)
    ...     q.put(2)
    ...     q.put(1)
    ...     print(await q.get())
    ...     print(await q.get())
    ...     print(await q.get())
    >>> asyncio.run(main())
    1
    2
    3
    """

    def _init(self) -> None:
        self._queue = []

    def _put(self, item: _T) -> None:
        self._queue.append(item)

    def _get(self) -> _T:
        return cast(_T, self._queue.pop())
