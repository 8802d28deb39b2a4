"""Coordination primitives for coroutines: Tornado's ``tornado.locks`` on asyncio futures.

:class:`Condition`, :class:`Event`, :class:`Semaphore`, :class:`BoundedSemaphore` and
:class:`Lock` behave as Tornado 6.6's, which differ from asyncio's in ways applications
rely on: ``Condition.wait()`` needs no lock, every wait takes a ``timeout``, and
``acquire()`` resolves to a context manager for ``with (yield lock.acquire()):``.

How this module works, so the code below only has to be correct:

- Every wait returns an :class:`asyncio.Future` of the current loop (the running one, else
  ``IOLoop.current()``'s), never a coroutine: it can be awaited, yielded from a
  ``@gen.coroutine``, or checked with ``.done()`` at once, as Tornado's tests do.
- A ``timeout`` is a deadline in ``IOLoop.time()`` terms or a :class:`datetime.timedelta`
  from now, scheduled with ``IOLoop.add_timeout``; zero expires on the next loop
  iteration (Tornado 6.6). The timer is cancelled as soon as the waiter is done.
- Waking a waiter resolves its Future; the waiting coroutine runs on a later iteration,
  never inside ``notify()``/``set()``/``release()``.
- A waiter that timed out, or that its caller cancelled, stays in line and is skipped when
  its turn comes. Every 100 timeouts the line is swept, as Tornado's collector does. So
  that cancelled waiters (``asyncio.wait_for``, a task group) cannot pile up either, a
  line is also swept when it has doubled since its last sweep and holds over 100: an
  amortised constant cost, no callback per waiter, and never much more than twice the
  live waiters in memory.
- Nothing here is thread-safe: call these from the loop's thread
  (``IOLoop.add_callback`` hands work over from another thread).
"""

from __future__ import annotations

import asyncio
import collections
import datetime
from collections.abc import Callable
from types import TracebackType
from typing import Any, Generic, NoReturn, Protocol, TypeVar

from tornadish import gen
from tornadish.concurrent import future_set_result_unless_cancelled
from tornadish.ioloop import IOLoop, _current_asyncio_loop
from tornadish.util import TimeoutError

__all__ = ["BoundedSemaphore", "Condition", "Event", "Lock", "Semaphore"]

_W = TypeVar("_W")

_Timeout = float | datetime.timedelta | None

# Tornado's threshold: sweep a line after more than this many timeouts. It is also the
# shortest line that is swept for having doubled.
_SWEEP_AFTER = 100


def _next_sweep(live: int) -> int:
    """The length at which a line just swept down to ``live`` waiters is swept again.

    Twice the live waiters, so sweeping costs a constant amount per waiter queued.
    """
    return max(_SWEEP_AFTER, 2 * live)


def _new_future() -> asyncio.Future[Any]:
    return _current_asyncio_loop().create_future()


def _expire_at(
    future: asyncio.Future[Any], timeout: float | datetime.timedelta, on_timeout: Callable[[], None]
) -> None:
    """Call ``on_timeout`` at ``timeout`` unless ``future`` is done first.

    Raises ``TypeError`` for a deadline that is neither a number nor a ``timedelta``;
    callers call this before queueing the waiter, so a bad deadline leaves nothing behind.
    """
    handle = IOLoop._for_loop(future.get_loop()).add_timeout(timeout, on_timeout)
    future.add_done_callback(lambda _: handle.cancel())


class _TimeoutGarbageCollector(Generic[_W]):
    """A line of waiters, swept now and then of those that expired.

    Without the sweep a common pattern would leak one Future per turn while nobody
    notifies::

        while True:
            await condition.wait(short_timeout)
    """

    def __init__(self) -> None:
        self._waiters: collections.deque[asyncio.Future[_W]] = collections.deque()
        self._timeouts = 0
        self._sweep_at = _SWEEP_AFTER

    def _garbage_collect(self) -> None:
        """Count a timeout; sweep after more than 100 (Tornado's rule)."""
        self._timeouts += 1
        if self._timeouts > _SWEEP_AFTER:
            self._timeouts = 0
            self._sweep()

    def _enqueue(self, waiter: asyncio.Future[_W]) -> None:
        self._waiters.append(waiter)
        if len(self._waiters) > self._sweep_at:
            self._sweep()

    def _sweep(self) -> None:
        self._waiters = collections.deque(w for w in self._waiters if not w.done())
        self._sweep_at = _next_sweep(len(self._waiters))


class Condition(_TimeoutGarbageCollector[bool]):
    """A condition allows one or more coroutines to wait until notified.

    Like a standard :class:`threading.Condition`, but without an underlying lock to
    acquire and release. With a ``Condition``, coroutines can wait to be notified by
    other coroutines:

    >>> import asyncio
    >>> from tornadish import gen
    >>> from tornadish.locks import Condition
    >>> condition = Condition()
    >>> async def waiter():
    ...     print("I'll wait right here")
    ...     await condition.wait()
    ...     print("I'm done waiting")
    >>> async def notifier():
    ...     print("About to notify")
    ...     condition.notify()
    ...     print("Done notifying")
    >>> async def runner():
    ...     # Wait for waiter() and notifier() in parallel.
    ...     await gen.multi([waiter(), notifier()])
    >>> asyncio.run(runner())
    I'll wait right here
    About to notify
    Done notifying
    I'm done waiting

    :meth:`wait` takes an optional ``timeout``, either an absolute deadline::

        io_loop = IOLoop.current()
        # Wait up to 1 second for a notification.
        await condition.wait(timeout=io_loop.time() + 1)

    or a :class:`datetime.timedelta` relative to now::

        # Wait up to 1 second.
        await condition.wait(timeout=datetime.timedelta(seconds=1))

    The wait resolves to ``False`` if no notification came before the deadline.
    Notified waiters always resume on a later loop iteration, never inside
    :meth:`notify`.
    """

    def __repr__(self) -> str:
        result = f"<{self.__class__.__name__}"
        if self._waiters:
            result += f" waiters[{len(self._waiters)}]"
        return result + ">"

    def wait(self, timeout: _Timeout = None) -> asyncio.Future[bool]:
        """Wait for :meth:`notify`.

        Returns a Future that resolves to ``True`` when the condition is notified, or to
        ``False`` after ``timeout`` (a zero timeout resolves on the next loop iteration
        unless a notification comes first).
        """
        waiter: asyncio.Future[bool] = _new_future()
        if timeout is not None:

            def on_timeout() -> None:
                if not waiter.done():
                    future_set_result_unless_cancelled(waiter, False)
                self._garbage_collect()

            _expire_at(waiter, timeout, on_timeout)
        self._enqueue(waiter)
        return waiter

    def notify(self, n: int = 1) -> None:
        """Wake ``n`` waiters (those that timed out do not count)."""
        waiters = []  # Collected first: a woken waiter's callback may call notify() again.
        while n and self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                n -= 1
                waiters.append(waiter)
        for waiter in waiters:
            future_set_result_unless_cancelled(waiter, True)

    def notify_all(self) -> None:
        """Wake all waiters."""
        self.notify(len(self._waiters))


class Event:
    """An event blocks coroutines until its internal flag is set to ``True``.

    Similar to :class:`threading.Event`. A coroutine can wait for an event to be set;
    once it is set, ``await event.wait()`` does not block until the event is cleared:

    >>> import asyncio
    >>> from tornadish import gen
    >>> from tornadish.locks import Event
    >>> event = Event()
    >>> async def waiter():
    ...     print("Waiting for event")
    ...     await event.wait()
    ...     print("Not waiting this time")
    ...     await event.wait()
    ...     print("Done")
    >>> async def setter():
    ...     print("About to set the event")
    ...     event.set()
    >>> async def runner():
    ...     await gen.multi([waiter(), setter()])
    >>> asyncio.run(runner())
    Waiting for event
    About to set the event
    Not waiting this time
    Done
    """

    def __init__(self) -> None:
        self._value = False
        self._waiters: set[asyncio.Future[None]] = set()

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__} {'set' if self.is_set() else 'clear'}>"

    def is_set(self) -> bool:
        """Return ``True`` if the internal flag is true."""
        return self._value

    def set(self) -> None:
        """Set the internal flag to ``True``. All waiters are awakened.

        Calling :meth:`wait` once the flag is set will not block.
        """
        if not self._value:
            self._value = True
            # Resolving only schedules the waiters' callbacks (which remove them from
            # the set), so the set does not change while it is walked.
            for fut in self._waiters:
                if not fut.done():
                    fut.set_result(None)

    def clear(self) -> None:
        """Reset the internal flag to ``False``.

        Calls to :meth:`wait` will block until :meth:`set` is called.
        """
        self._value = False

    def wait(self, timeout: _Timeout = None) -> asyncio.Future[None]:
        """Block until the internal flag is true.

        Returns a Future, which raises :class:`tornadish.util.TimeoutError` after
        ``timeout`` (a zero timeout either returns or raises on the next iteration).
        """
        fut: asyncio.Future[None] = _new_future()
        if self._value:
            fut.set_result(None)
            return fut
        self._waiters.add(fut)
        fut.add_done_callback(self._waiters.discard)
        if timeout is None:
            return fut
        timeout_fut: asyncio.Future[None] = gen.with_timeout(timeout, fut)
        # gen.with_timeout leaves the awaited Future alone (it may be shared); this one is
        # ours, so cancel it once the outcome is known, which also takes it off the set.
        timeout_fut.add_done_callback(lambda _: fut.cancel())
        return timeout_fut


class _Releasable(Protocol):
    def release(self) -> None: ...


class _ReleasingContextManager:
    """Releases a Lock or Semaphore at the end of a ``with`` statement.

    What ``acquire()`` resolves to, for ``with (yield semaphore.acquire()):``.
    """

    def __init__(self, obj: _Releasable) -> None:
        self._obj = obj

    def __enter__(self) -> None:
        pass

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        self._obj.release()


class _AsyncWithOnly:
    """``async with lock:`` acquires and releases; a plain ``with`` is refused, with
    Tornado's message (which quotes ``async with`` differently per class)."""

    _WITH_MESSAGE = ""

    def acquire(self, timeout: float | datetime.timedelta | None = None) -> Any:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> NoReturn:
        raise RuntimeError(self._WITH_MESSAGE)

    def __exit__(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__enter__()

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


class Semaphore(_AsyncWithOnly, _TimeoutGarbageCollector[_ReleasingContextManager]):
    """A lock that can be acquired a fixed number of times before blocking.

    A Semaphore manages a counter representing the number of :meth:`release` calls
    minus the number of :meth:`acquire` calls, plus an initial value. :meth:`acquire`
    blocks if necessary until it can return without making the counter negative.
    Waiters are served first come, first served.

    Semaphores limit access to a shared resource. To allow two workers at a time:

    >>> import asyncio
    >>> from tornadish import gen
    >>> from tornadish.locks import Semaphore
    >>> sem = Semaphore(2)
    >>> async def worker(worker_id):
    ...     await sem.acquire()
    ...     try:
    ...         print("Worker %d is working" % worker_id)
    ...         await asyncio.sleep(0.01 * (worker_id + 1))
    ...     finally:
    ...         print("Worker %d is done" % worker_id)
    ...         sem.release()
    >>> async def runner():
    ...     await gen.multi([worker(i) for i in range(3)])
    >>> asyncio.run(runner())
    Worker 0 is working
    Worker 1 is working
    Worker 0 is done
    Worker 2 is working
    Worker 1 is done
    Worker 2 is done

    Workers 0 and 1 run concurrently; worker 2 waits until worker 0 releases the
    semaphore. The semaphore is also an async context manager::

        async def worker(worker_id):
            async with sem:
                print("Worker %d is working" % worker_id)
                await use_some_resource()
            # Now the semaphore has been released.

    and, for ``@gen.coroutine`` code, :meth:`acquire` resolves to a context manager
    that releases it::

        @gen.coroutine
        def worker(worker_id):
            with (yield sem.acquire()):
                yield use_some_resource()

    A plain ``with sem:`` raises ``RuntimeError``.
    """

    _WITH_MESSAGE = "Use 'async with' instead of 'with' for Semaphore"

    def __init__(self, value: int = 1) -> None:
        super().__init__()
        if value < 0:
            raise ValueError("semaphore initial value must be >= 0")
        self._value = value

    def __repr__(self) -> str:
        res = super().__repr__()  # <tornadish.locks.Semaphore object at 0x...>
        extra = "locked" if self._value == 0 else f"unlocked,value:{self._value}"
        if self._waiters:
            extra = f"{extra},waiters:{len(self._waiters)}"
        return f"<{res[1:-1]} [{extra}]>"

    def release(self) -> None:
        """Increment the counter and wake one waiter."""
        self._value += 1
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._value -= 1
                # The waiter may be a coroutine paused at
                # ``with (yield semaphore.acquire()):``; the context manager's
                # __exit__ calls release() at the end of the block.
                waiter.set_result(_ReleasingContextManager(self))
                break

    def acquire(self, timeout: _Timeout = None) -> asyncio.Future[_ReleasingContextManager]:
        """Decrement the counter. Returns a Future.

        Blocks if the counter is zero and waits for a :meth:`release`. The Future raises
        :class:`tornadish.util.TimeoutError` after ``timeout`` (a zero timeout either
        acquires at once or raises on the next iteration).
        """
        waiter: asyncio.Future[_ReleasingContextManager] = _new_future()
        if self._value > 0:
            self._value -= 1
            waiter.set_result(_ReleasingContextManager(self))
            return waiter
        if timeout is not None:

            def on_timeout() -> None:
                if not waiter.done():
                    waiter.set_exception(TimeoutError())
                self._garbage_collect()

            _expire_at(waiter, timeout, on_timeout)
        self._enqueue(waiter)
        return waiter


class BoundedSemaphore(Semaphore):
    """A semaphore that prevents :meth:`release` being called too many times.

    If :meth:`release` would increment the semaphore's value past the initial value,
    it raises ``ValueError``. Semaphores are mostly used to guard resources with
    limited capacity, so a semaphore released too many times is a sign of a bug.

    >>> sem = BoundedSemaphore(1)
    >>> sem.release()
    Traceback (most recent call last):
      ...
    ValueError: Semaphore released too many times
    """

    def __init__(self, value: int = 1) -> None:
        super().__init__(value=value)
        self._initial_value = value

    def release(self) -> None:
        """Increment the counter and wake one waiter."""
        if self._value >= self._initial_value:
            raise ValueError("Semaphore released too many times")
        super().release()


class Lock(_AsyncWithOnly):
    """A lock for coroutines.

    A Lock begins unlocked, and :meth:`acquire` locks it immediately. While it is
    locked, a coroutine that awaits :meth:`acquire` waits until another coroutine calls
    :meth:`release`; waiters get the lock in the order they asked. Releasing an unlocked
    lock raises ``RuntimeError``.

    A Lock is an async context manager:

    >>> import asyncio
    >>> from tornadish import locks
    >>> lock = locks.Lock()
    >>> async def f():
    ...     async with lock:
    ...         # Do something holding the lock.
    ...         return repr(lock)
    >>> asyncio.run(f())  # doctest: +ELLIPSIS
    '<Lock _block=<tornadish.locks.BoundedSemaphore object at ... [locked]>>'

    For ``@gen.coroutine`` code, :meth:`acquire` resolves to a context manager::

        @gen.coroutine
        def f2():
            with (yield lock.acquire()):
                # Do something holding the lock.
                pass
            # Now the lock is released.
    """

    _WITH_MESSAGE = "Use `async with` instead of `with` for Lock"

    def __init__(self) -> None:
        self._block = BoundedSemaphore(value=1)

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__} _block={self._block}>"

    def acquire(self, timeout: _Timeout = None) -> asyncio.Future[_ReleasingContextManager]:
        """Attempt to lock. Returns a Future.

        The Future raises :class:`tornadish.util.TimeoutError` after ``timeout`` (a zero
        timeout either locks at once or raises on the next iteration).
        """
        return self._block.acquire(timeout)

    def release(self) -> None:
        """Unlock.

        The first coroutine in line waiting for :meth:`acquire` gets the lock.
        If not locked, raise a ``RuntimeError``.
        """
        try:
            self._block.release()
        except ValueError:
            raise RuntimeError("release unlocked lock") from None
