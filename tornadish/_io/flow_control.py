"""Flow control and deadlines, written once for every protocol object.

Rules of this module:

1. Everything here is bookkeeping on the event loop: no transport, no socket, no role.
   A protocol object owns one :class:`WriteGate` and at most one :class:`Deadline` and
   tells them what its transport said (``pause_writing``, ``resume_writing``,
   ``connection_lost``); they never call back into a transport.
2. The request path is hot: the unpaused case allocates nothing (one resolved future is
   made the first time and reused), and moving a deadline later is an assignment.
3. Output answered during a round of the loop's I/O callbacks leaves in one burst after
   that round (:class:`WriteBatch`), not interleaved with the reads: each write to a
   peer that is asleep waiting for it wakes that peer, and a burst wakes a busy client
   (a load balancer, a benchmark) once instead of once per connection. On loopback
   that wake-up cost more than the whole web layer (``wrk -c50``: 18,400 -> 28,400
   req/s for a hello route); uvicorn and aiohttp get the same shape from running every
   request in a task.

Theory of operation. A :class:`WriteGate` is the answer to ``await drain()``: while the
transport's buffer is below its high-water mark the answer is the cached resolved
future; once the transport calls ``pause_writing`` each caller gets a waiter, all of
them resolved on ``resume_writing`` — or failed with :class:`StreamClosedError` when
the connection is lost, with the exception marked retrieved, because whoever asked may
no longer be listening. A :class:`Deadline` is one ``asyncio`` timer per connection,
re-armed lazily: :meth:`Deadline.at` only moves a number unless the new deadline is
earlier than the scheduled timer, and a timer that fires before the (moved) deadline
schedules itself again for it.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable

from tornadish._http.contract import StreamClosedError
from tornadish.log import gen_log

__all__ = ["Deadline", "WriteBatch", "WriteGate", "failed_future", "write_batch"]


def failed_future(
    loop: asyncio.AbstractEventLoop, error: BaseException | None = None
) -> asyncio.Future[None]:
    """A future already failed with ``error`` (:class:`StreamClosedError` by default),
    marked retrieved: ``drain()`` on a closed connection that nobody awaits (an
    un-awaited ``flush()``) must not log "exception was never retrieved"."""
    fut: asyncio.Future[None] = loop.create_future()
    fut.set_exception(StreamClosedError() if error is None else error)
    fut.exception()
    return fut


class WriteGate:
    """Pause/resume writing and the drain waiters of one connection.

    >>> gate = WriteGate(loop)  # doctest: +SKIP
    >>> gate.pause()  # the transport's pause_writing()  # doctest: +SKIP
    >>> fut = gate.wait()  # pending until...  # doctest: +SKIP
    >>> gate.resume()  # ...the transport's resume_writing()  # doctest: +SKIP
    """

    __slots__ = ("_loop", "_ready", "_waiters", "paused")

    def __init__(self, loop: asyncio.AbstractEventLoop, paused: bool = False) -> None:
        self._loop = loop
        #: True between ``pause()`` and ``resume()``.
        self.paused = paused
        self._waiters: list[asyncio.Future[None]] | None = None
        self._ready: asyncio.Future[None] | None = None

    def pause(self) -> None:
        """The transport's buffer went above its high-water mark."""
        self.paused = True

    def resume(self) -> None:
        """The buffer drained below its low-water mark: every waiter resolves."""
        self.paused = False
        waiters = self._waiters
        if waiters:
            self._waiters = None
            for w in waiters:
                if not w.done():
                    w.set_result(None)

    def wait(self) -> asyncio.Future[None]:
        """Resolves once writing is not paused (at once, if it is not now)."""
        if self.paused:
            return self.waiter()
        ready = self._ready  # ready(), inlined: this runs once per response
        if ready is None:
            ready = self.ready()
        return ready

    def ready(self) -> asyncio.Future[None]:
        """The resolved future the unpaused case answers with (made once, then reused)."""
        ready = self._ready
        if ready is None:
            ready = self._ready = self._loop.create_future()
            ready.set_result(None)
        return ready

    def waiter(self) -> asyncio.Future[None]:
        """A future resolved by the next :meth:`resume` (whether paused now or not)."""
        fut = self._loop.create_future()
        waiters = self._waiters
        if waiters is None:
            self._waiters = [fut]
        else:
            waiters.append(fut)
        return fut

    def lost(
        self,
        exc: BaseException | None = None,
        error: Callable[[], BaseException] | None = None,
    ) -> None:
        """The connection is gone: every waiter fails with ``StreamClosedError(exc)``
        (or with what ``error()`` makes, for a role with its own exception type)."""
        waiters = self._waiters
        if waiters:
            self._waiters = None
            for w in waiters:
                if not w.done():
                    w.set_exception(StreamClosedError(exc) if error is None else error())
                    w.exception()  # retrieved: nobody may be awaiting it any more

    @property
    def waiting(self) -> int:
        """How many waiters are pending (for tests and introspection)."""
        waiters = self._waiters
        return 0 if waiters is None else sum(1 for w in waiters if not w.done())


class Deadline:
    """One lazily re-armed timer: ``callback()`` runs once the deadline has passed.

    Moving the deadline later is an assignment: the scheduled ``asyncio`` timer stays,
    and when it fires early it schedules itself again for the deadline then current.
    Only a deadline earlier than the scheduled timer re-schedules it.

    >>> deadline = Deadline(loop, self._timed_out)  # doctest: +SKIP
    >>> deadline.after(30.0)  # every request moves it; the timer stays  # doctest: +SKIP
    >>> deadline.clear()  # nothing runs (the timer, if armed, lapses)  # doctest: +SKIP
    """

    __slots__ = ("_callback", "_due", "_loop", "_timer", "when")

    def __init__(self, loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
        self._loop = loop
        self._callback = callback
        self._timer: asyncio.TimerHandle | None = None
        self._due = 0.0  # when the timer fires (kept: cheaper than asking it)
        #: The loop time the callback is due at; None: no deadline.
        self.when: float | None = None

    def at(self, when: float) -> None:
        """Run the callback at loop time ``when`` (replacing any earlier deadline)."""
        self.when = when
        timer = self._timer
        if timer is None or self._due > when:
            if timer is not None:
                timer.cancel()
            self._due = when
            self._timer = self._loop.call_at(when, self._fire)

    def after(self, seconds: float) -> None:
        """Run the callback ``seconds`` from now (replacing any earlier deadline)."""
        when = self.when = self._loop.time() + seconds
        timer = self._timer
        if timer is None or self._due > when:
            if timer is not None:
                timer.cancel()
            self._due = when
            self._timer = self._loop.call_at(when, self._fire)

    def clear(self) -> None:
        """No deadline (an assignment: an armed timer lapses when it fires)."""
        self.when = None

    def cancel(self) -> None:
        """No deadline, and no timer left on the loop (the connection is gone)."""
        self.when = None
        timer = self._timer
        if timer is not None:
            self._timer = None
            timer.cancel()

    @property
    def armed(self) -> bool:
        """True while a timer is scheduled on the loop (for tests and introspection)."""
        return self._timer is not None

    def _fire(self) -> None:
        self._timer = None
        when = self.when
        if when is None:
            return
        if self._loop.time() < when:
            self._due = when
            self._timer = self._loop.call_at(when, self._fire)
            return
        self.when = None
        self._callback()


class WriteBatch:
    """The flushes of one event loop's connections that corked output during the current
    round of I/O callbacks (rule 3): they run together, soon after the round.

    >>> batch = write_batch(loop)  # once per connection  # doctest: +SKIP
    >>> batch.add(conn.flush_cork)  # at the end of data_received  # doctest: +SKIP

    Whoever adds a flush must run it itself before closing its transport (a close
    cannot wait for the batch); a flush whose output went already does nothing.
    """

    __slots__ = ("_loop", "_pending")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._pending: list[Callable[[], None]] = []

    def add(self, flush: Callable[[], None]) -> None:
        """Run ``flush()`` once the callbacks the loop is running now are done."""
        pending = self._pending
        if not pending:
            self._loop.call_soon(self._run)
        pending.append(flush)

    def _run(self) -> None:
        pending = self._pending
        self._pending = []
        for flush in pending:
            try:
                flush()
            except Exception:  # one connection's trouble must not hold back the rest
                gen_log.exception("Error writing corked output")


_BATCHES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, WriteBatch] = (
    weakref.WeakKeyDictionary()
)


def write_batch(loop: asyncio.AbstractEventLoop) -> WriteBatch:
    """The :class:`WriteBatch` of ``loop`` (made on first use, gone with the loop)."""
    batch = _BATCHES.get(loop)
    if batch is None:
        batch = _BATCHES[loop] = WriteBatch(loop)
    return batch
