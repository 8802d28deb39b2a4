"""``SubscriberQueue``: one subscriber's bounded queue, with its overflow policy.

Rules of this module:

1. Never unbounded: at most ``maxsize`` messages wait, plus one gap marker at the front.
   A publisher never waits for a subscriber (fan-out must not let one slow reader hold
   up the others): when the queue is full, the overflow policy decides at once.
2. Two policies, chosen explicitly. ``"drop_oldest"``: the oldest message makes room,
   and a gap marker takes its place at the front (consecutive drops merge into one
   marker), so the subscriber reads the newest ``maxsize`` messages after learning that
   some are missing. ``"close"``: the queue is emptied (its memory freed at once) and
   the subscriber's next read raises :class:`SlowSubscriberError`.
3. Entries are ``(key, message)``: ``key`` orders message ids (the backend's reading of
   an id); on an overflow marker it is the key of the newest message dropped, so a
   subscription that is replaying history can tell a loss its replay already covered.
4. One reader: the subscription that owns the queue; the backends call :meth:`put`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Literal

from tornadish._pubsub.message import GAP_OVERFLOW, Message, PubSubError, SlowSubscriberError

__all__ = ["Entry", "Key", "Overflow", "SubscriberQueue"]

#: How message ids compare: ``(milliseconds, sequence)`` for Redis Stream ids,
#: ``(n, 0)`` for ``memory://``; None where an id cannot be read (nothing is skipped).
Key = tuple[int, int]
Entry = tuple["Key | None", Message]
#: The overflow policies (see the module's description).
Overflow = Literal["drop_oldest", "close"]
OVERFLOW_POLICIES: tuple[Overflow, ...] = ("drop_oldest", "close")


class SubscriberQueue:
    """The messages delivered to one subscriber and not yet read by it."""

    __slots__ = (
        "_closed",
        "_error",
        "_items",
        "_waiter",
        "channel",
        "dropped",
        "maxsize",
        "overflow",
    )

    def __init__(self, channel: str, maxsize: int, overflow: Overflow) -> None:
        if maxsize < 1:
            raise ValueError("max_queue must be at least 1")
        if overflow not in OVERFLOW_POLICIES:
            raise ValueError(f"overflow must be one of {OVERFLOW_POLICIES}, not {overflow!r}")
        self.channel = channel
        self.maxsize = maxsize
        self.overflow: Overflow = overflow
        #: Messages this subscriber lost to the overflow policy.
        self.dropped = 0
        self._items: deque[Entry] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self._error: PubSubError | None = None

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran or the overflow policy closed it."""
        return self._closed

    def put(self, key: Key | None, message: Message) -> bool:
        """Queue ``message`` (its id read as ``key``); False when the queue is (now)
        closed and its backend should forget it."""
        if self._closed:
            return False
        items = self._items
        waiting = len(items) - (1 if items and items[0][1].gap == GAP_OVERFLOW else 0)
        if waiting >= self.maxsize:
            if self.overflow == "close":
                self.dropped += waiting + 1
                self.close(
                    SlowSubscriberError(
                        f"subscriber of {self.channel!r} fell {self.maxsize} messages "
                        "behind (overflow='close')"
                    )
                )
                return False
            self._drop_oldest()
        items.append((key, message))
        self._wake()
        return True

    def put_gap(self, reason: str) -> None:
        """Queue a gap marker: messages may be missing from here on."""
        if not self._closed:
            self._items.append((None, Message(self.channel, None, None, gap=reason)))
            self._wake()

    def close(self, error: PubSubError | None = None) -> None:
        """End the subscriber's stream: what is queued is still read, then the stream
        ends; with ``error``, the queue is emptied and the next read raises it."""
        if self._closed:
            return
        self._closed = True
        if error is not None:
            self._error = error
            self._items.clear()
        self._wake()

    async def get(self) -> Entry | None:
        """The next entry, waiting for one; None once closed and read to the end."""
        while not self._items:
            if self._error is not None:
                raise self._error
            if self._closed:
                return None
            if self._waiter is not None:
                raise RuntimeError("a subscription is read by one task at a time")
            waiter = asyncio.get_running_loop().create_future()
            self._waiter = waiter
            try:
                await waiter
            finally:
                self._waiter = None
        if self._error is not None:
            raise self._error
        return self._items.popleft()

    def _drop_oldest(self) -> None:
        items = self._items
        front: Entry | None = items.popleft() if items[0][1].gap == GAP_OVERFLOW else None
        lost_key, lost = items.popleft()
        if lost.gap is None:
            self.dropped += 1
        if front is not None:
            lost_key = _newer(front[0], lost_key)
        items.appendleft((lost_key, Message(self.channel, None, None, gap=GAP_OVERFLOW)))

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


def _newer(a: Key | None, b: Key | None) -> Key | None:
    # A loss whose extent is unknown (None) stays unknown when merged.
    if a is None or b is None:
        return None
    return max(a, b)
