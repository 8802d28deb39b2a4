"""A server's graceful drain, as its connections and handlers see it.

One :class:`Drain` per server (``HTTPServer``'s, on its ``ServerParams``; an
``ASGIAdapter``'s): the signal that a graceful shutdown has started, and the tasks it
waits for. Rules of this module:

1. The signal is handed out as futures the caller owns (:meth:`Drain.future`), held
   here only weakly: a long-lived server that handed one to each of millions of
   requests keeps nothing of those that are over. They are completed, never cancelled,
   by :meth:`Drain.start`; one made after it is done already.
2. A held task (:meth:`Drain.hold`: a coroutine handler's task, an ``on_finish``
   coroutine) is the server's to wait for while its grace period lasts, and, once it
   is over, to cancel and wait for again, briefly, so that the task's ``finally`` blocks
   and ``on_finish`` run before the process exits: a task left pending when its loop
   closes is destroyed without unwinding.
3. No I/O, no timers but the waits of :meth:`Drain.wait` and :meth:`Drain.cancel`.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

__all__ = ["Drain"]


class Drain:
    """The graceful-shutdown state one server shares with its connections (see the
    module's rules)."""

    __slots__ = ("_futures", "_tasks", "started")

    def __init__(self) -> None:
        #: True once the graceful shutdown has started.
        self.started = False
        self._futures: weakref.WeakSet[asyncio.Future[None]] = weakref.WeakSet()
        self._tasks: set[asyncio.Future[Any]] = set()

    def future(self) -> asyncio.Future[None]:
        """A new future that completes when the drain starts (done already if it has).
        Only a weak reference is kept here: keep the future while you wait on it."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.started:
            fut.set_result(None)
        else:
            self._futures.add(fut)
        return fut

    def start(self) -> None:
        """The graceful shutdown has started: complete every future handed out."""
        if self.started:
            return
        self.started = True
        futures = list(self._futures)
        self._futures = weakref.WeakSet()
        for fut in futures:
            if not fut.done():
                fut.set_result(None)

    def hold(self, task: asyncio.Future[Any]) -> None:
        """Wait for ``task`` on shutdown, and cancel it when the grace period is over."""
        if not task.done():
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @property
    def held(self) -> int:
        """How many held tasks are still running."""
        return len(self._tasks)

    async def wait(self, timeout: float) -> bool:
        """Wait until no held task is running (tasks held meanwhile included); False if
        ``timeout`` seconds passed first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._tasks:
            left = deadline - loop.time()
            if left <= 0:
                return False
            await asyncio.wait(set(self._tasks), timeout=left)
        return True

    async def cancel(self, timeout: float) -> int:
        """Cancel the held tasks and wait up to ``timeout`` seconds for them to unwind,
        and for the tasks held while they do (an ``on_finish`` coroutine), which are
        awaited, not cancelled, unless the time runs out. Returns how many tasks were
        still running at the end (0: all unwound)."""
        for task in list(self._tasks):
            task.cancel()
        if await self.wait(timeout):
            return 0
        # Out of time: what is left (cleanup that hangs) is cancelled too; a last short
        # wait lets it unwind.
        for task in list(self._tasks):
            task.cancel()
        await self.wait(min(timeout, 0.5))
        return len(self._tasks)
