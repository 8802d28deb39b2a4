"""``EventLog``: a bounded, in-memory replay buffer of events, for resuming event streams.

Rules of this module:

1. Bounded: the log keeps the last ``maxlen`` events and nothing else. A follower holds
   a cursor (the last id it delivered), not a queue, so ten thousand followers cost ten
   thousand integers and, while they wait, one future each; a follower slower than
   ``maxlen`` appends skips what fell out of the log instead of growing memory.
2. The interface is small on purpose — ``append``, ``since``, ``follow``, ``last_id`` —
   because another log (one on a Redis Stream, for several processes) is to offer the
   same; an ``EventSourceHandler`` needs only ``follow``.
3. One event loop: ``append`` is called on the loop the followers wait on (it wakes
   them by resolving their futures).

Ids are integers that only grow: ``append`` gives each event the next one (or checks the
one it is given). A client's ``Last-Event-ID`` arrives as text, so ``since`` and
``follow`` accept text, an int, or None.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from typing import Any, NamedTuple

from tornadish._http.sse import encode_event

__all__ = ["Event", "EventLog"]


class Event(NamedTuple):
    """One event of an :class:`EventLog`: its id, its type (None: the default,
    ``"message"``) and its data (str, bytes, or a JSON-able dict or list)."""

    id: int
    event: str | None
    data: Any


class EventLog:
    """The last ``maxlen`` events, with the ids a reconnecting client resumes after.

    The browser's ``EventSource`` sends the id of the last event it received in the
    ``Last-Event-ID`` header when it reconnects; ``follow`` replays what came after it,
    then waits for new events:

    .. code-block:: python

        log = EventLog(maxlen=500)

        class Feed(EventSourceHandler):
            async def stream(self):
                async for ev in log.follow(self.last_event_id):
                    await self.send(ev.data, event=ev.event, id=ev.id)

        log.append({"title": "Hello"}, event="post")  # from any handler on the loop

    An id the log cannot place — None, not a number, or greater than any id it has
    given (a client that saw a log from before a restart) — resumes from the oldest
    event kept: the client may see an event twice, but misses none that the log still
    has. An id older than the oldest kept resumes there too: what fell out of the log
    is gone. Compare an event's id with the one the client sent to tell the cases apart.
    """

    __slots__ = ("_events", "_last_id", "_waiters")

    def __init__(self, maxlen: int = 1000) -> None:
        if maxlen < 1:
            raise ValueError("maxlen must be at least 1")
        self._events: deque[Event] = deque(maxlen=maxlen)
        self._last_id = 0
        self._waiters: set[asyncio.Future[None]] = set()

    @property
    def maxlen(self) -> int:
        """How many events are kept."""
        maxlen = self._events.maxlen
        assert maxlen is not None
        return maxlen

    @property
    def last_id(self) -> int:
        """The id of the newest event (0 before the first). ``follow(log.last_id)``
        delivers only events appended from now on."""
        return self._last_id

    def __len__(self) -> int:
        return len(self._events)

    def append(self, data: Any, *, event: str | None = None, id: int | None = None) -> Event:
        """Add an event and wake every follower; returns it with its id.

        ``id`` defaults to the last id plus one; one given must be greater than the last
        (ids only grow, or resuming could not work). ``event`` must not contain CR or LF
        (:class:`ValueError`), as it could not be sent.
        """
        if id is None:
            id = self._last_id + 1
        elif isinstance(id, bool) or not isinstance(id, int) or id <= self._last_id:
            raise ValueError(f"event ids must grow: {id!r} after {self._last_id}")
        if event is not None:
            encode_event(None, event=event)  # refused now, not when a follower sends it
        item = Event(id, event, data)
        self._events.append(item)
        self._last_id = id
        waiters, self._waiters = self._waiters, set()
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)
        return item

    def since(self, last_event_id: str | int | None) -> list[Event]:
        """The events after ``last_event_id``, oldest first (all those kept when the id
        is unknown; see the class's description)."""
        return self._after(self._cursor(last_event_id))

    async def follow(self, last_event_id: str | int | None = None) -> AsyncIterator[Event]:
        """Replay the events after ``last_event_id``, then wait for new ones, forever
        (end it by leaving the ``async for``, or by cancelling the task).

        Many followers may wait at once; each holds only its position in the log.
        """
        cursor = self._cursor(last_event_id)
        loop = asyncio.get_running_loop()
        while True:
            events = self._after(cursor)
            if not events:
                fut: asyncio.Future[None] = loop.create_future()
                self._waiters.add(fut)
                try:
                    await fut
                finally:
                    # (Cancelled while waiting: leave no waiter behind.)
                    self._waiters.discard(fut)
                continue
            for ev in events:
                cursor = ev.id
                yield ev

    def _cursor(self, last_event_id: str | int | None) -> int:
        """The id after which to deliver."""
        n: int | None
        if isinstance(last_event_id, int) and not isinstance(last_event_id, bool):
            n = last_event_id
        elif isinstance(last_event_id, str) and _is_id(last_event_id.strip()):
            n = int(last_event_id)
        else:
            n = None
        if n is None or n > self._last_id:
            events = self._events
            return events[0].id - 1 if events else self._last_id
        return n

    def _after(self, cursor: int) -> list[Event]:
        events = self._events
        # Binary search on the ids, which grow (deque indexing is cheap near the ends,
        # where a follower's cursor nearly always is).
        lo, hi = 0, len(events)
        while lo < hi:
            mid = (lo + hi) // 2
            if events[mid].id <= cursor:
                lo = mid + 1
            else:
                hi = mid
        return [events[i] for i in range(lo, len(events))]


def _is_id(text: str) -> bool:
    # ASCII digits only, and not absurdly long (int() refuses over 4,300 digits).
    return 0 < len(text) <= 30 and text.isascii() and text.isdigit()
