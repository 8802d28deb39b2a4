"""Buffering whole request bodies within a memory budget.

A handler that does not stream its body (no ``@stream_request_body``) gets it whole, as
``request.body`` (bytes, as in Tornado). ``max_body_size`` bounds each body; this module
bounds their sum, which otherwise grows with the number of clients (200 clients posting
50 MiB each would hold 10 GiB before any handler runs). Rules of this module:

1. One :class:`BodyBudget` per application (the ``body_memory_budget`` setting, 256 MiB by
   default) counts the bytes of request bodies held in memory, from their first byte
   until their request is done.
2. A :class:`BufferedBody` keeps a body in memory while it is small (under
   ``spool_threshold``, the ``upload_spool_threshold`` setting, 1 MiB) and the budget
   allows; past either, what it has goes to an anonymous temporary file and the rest
   follows it there, so a body arriving costs memory only while it is small.
3. A body is read back from its file when its handler is about to run, which takes its
   whole size from the budget first: past the budget, the request waits (FIFO) for
   earlier ones to finish. A body larger than the whole budget waits until nothing else
   is held, then goes alone. Memory thus stays near the budget whatever the number of
   clients; their bodies wait on disk, and their sockets are not read faster than the
   disk takes them.
"""

from __future__ import annotations

import asyncio
import collections
import tempfile
from typing import IO

__all__ = ["DEFAULT_BODY_MEMORY_BUDGET", "BodyBudget", "BufferedBody"]

DEFAULT_BODY_MEMORY_BUDGET = 256 * 1024 * 1024


class BodyBudget:
    """Bytes of request bodies in memory, against a ``limit`` (see the module's rules)."""

    __slots__ = ("_waiters", "limit", "used")

    def __init__(self, limit: int) -> None:
        if limit <= 0:
            raise ValueError("body_memory_budget must be positive")
        self.limit = limit
        self.used = 0
        self._waiters: collections.deque[tuple[int, asyncio.Future[None]]] = collections.deque()

    def try_take(self, n: int) -> bool:
        """Take ``n`` bytes if they fit now (and nobody is waiting ahead)."""
        if self._waiters or self.used + n > self.limit:
            return False
        self.used += n
        return True

    async def take(self, n: int) -> None:
        """Take ``n`` bytes, waiting in line until they fit (alone, if ``n`` is more
        than the whole budget)."""
        if self.try_take(n) or (not self._waiters and self.used == 0):
            if self.used == 0 and n > self.limit:
                self.used = n  # the one oversized body, alone
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((n, fut))
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.give(n)  # granted just as we were cancelled: hand it on
            else:
                try:
                    self._waiters.remove((n, fut))
                except ValueError:
                    pass  # already dropped from the line as done
                self._wake()
            raise

    def give(self, n: int) -> None:
        """Return ``n`` bytes taken before, and let waiters in."""
        self.used -= n
        self._wake()

    def _wake(self) -> None:
        while self._waiters:
            n, fut = self._waiters[0]
            if fut.done():
                self._waiters.popleft()
                continue
            if self.used + n > self.limit and self.used != 0:
                return
            self._waiters.popleft()
            self.used += n
            fut.set_result(None)


class BufferedBody:
    """One request body as it arrives: in memory, or in a temporary file (see the
    module's rules). :meth:`add` each chunk, then :meth:`load` it back whole;
    :meth:`release` when the request is done (or abandoned)."""

    __slots__ = ("_budget", "_file", "_held", "_parts", "_size", "_threshold", "_tmp_dir")

    def __init__(self, budget: BodyBudget, spool_threshold: int, tmp_dir: str | None) -> None:
        self._budget = budget
        self._threshold = spool_threshold
        self._tmp_dir = tmp_dir
        self._parts: list[bytes] = []
        self._file: IO[bytes] | None = None
        self._held = 0  # bytes taken from the budget
        self._size = 0

    @property
    def spilled(self) -> bool:
        """Whether the body went to a file."""
        return self._file is not None

    def add(self, chunk: bytes) -> None:
        """Keep ``chunk``: in memory if it fits the threshold and the budget, else on
        disk (with what came before)."""
        self._size += len(chunk)
        if self._file is None:
            if self._size <= self._threshold and self._budget.try_take(len(chunk)):
                self._held += len(chunk)
                self._parts.append(chunk)
                return
            self._spill()
        assert self._file is not None
        self._file.write(chunk)

    def _spill(self) -> None:
        # Closed by load() or release(): it outlives this call.
        file = tempfile.TemporaryFile(dir=self._tmp_dir)  # noqa: SIM115
        for part in self._parts:
            file.write(part)
        self._parts = []
        self._file = file
        self._budget.give(self._held)
        self._held = 0

    def memory(self) -> bytes | None:
        """The body, if it is all in memory (no waiting needed); else None."""
        if self._file is not None:
            return None
        parts = self._parts
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def load(self) -> bytes:
        """The whole body, read back from its file once the budget has room for it."""
        file = self._file
        if file is None:
            return self.memory() or b""
        await self._budget.take(self._size)
        if self._file is not file:
            # Released while it waited (the client left): nothing to read.
            self._budget.give(self._size)
            return b""
        self._held = self._size
        file.seek(0)
        # A large read off the event loop: the disk may be slow.
        loop = asyncio.get_running_loop()
        data = await loop.run_in_executor(None, file.read)
        file.close()
        self._file = None
        self._parts = [data]
        return data

    def release(self) -> None:
        """The request is done: return its share of the budget, drop any file."""
        if self._held:
            self._budget.give(self._held)
            self._held = 0
        if self._file is not None:
            self._file.close()
            self._file = None
        self._parts = []
