"""``Subscription``: one subscriber's stream of a channel — the history after an id
(a resume), then the live messages — read with ``async for``.

Rules of this module:

1. Live first, then history: the queue is attached before the history is read, so a
   message published while the replay runs is queued, not missed; the replay reads the
   history a page at a time (never all of it at once), and the live messages it already
   delivered are skipped by id. Delivered in order, each message once — except that a
   resume whose id is unknown starts at the oldest message kept, after a gap marker.
2. The subscription is an async context manager because it holds a place in the
   backend; leaving the ``async with`` (or the task being cancelled) gives it back.
"""

from __future__ import annotations

from collections import deque
from types import TracebackType

from tornadish._pubsub.backend import Backend
from tornadish._pubsub.message import GAP_OVERFLOW, GAP_TRIMMED, Message
from tornadish._pubsub.queue import Entry, Key, Overflow, SubscriberQueue

__all__ = ["FROM_OLDEST", "Subscription"]

#: ``subscribe(channel, after=FROM_OLDEST)``: replay every message the history keeps.
FROM_OLDEST = "0"
# Messages read from the history at a time.
_PAGE = 100


class Subscription:
    """What :meth:`Broadcast.subscribe <tornadish.pubsub.Broadcast.subscribe>` returns:

    .. code-block:: python

        async with broadcast.subscribe("room:1", after=last_id) as sub:
            async for message in sub:
                if message.gap:
                    ...  # messages may be missing here: resynchronise
                else:
                    handle(message.data, message.id)

    The iteration ends when the broadcast disconnects; with ``overflow="close"`` it
    raises :class:`~tornadish.pubsub.SlowSubscriberError` once the subscriber has fallen
    ``max_queue`` messages behind.
    """

    __slots__ = (
        "_after",
        "_backend",
        "_channel",
        "_cursor",
        "_pending",
        "_queue",
        "_replaying",
        "_settings",
        "_skip",
    )

    def __init__(
        self,
        backend: Backend,
        channel: str,
        *,
        after: str | None,
        max_queue: int,
        overflow: Overflow,
    ) -> None:
        self._backend = backend
        self._channel = channel
        self._after = after
        self._settings = (max_queue, overflow)
        SubscriberQueue(channel, max_queue, overflow)  # bad settings fail here, not later
        self._queue: SubscriberQueue | None = None
        self._replaying = False
        self._cursor: str | None = None  # the id the next history page follows
        self._skip: Key | None = None  # live messages up to this key were replayed
        self._pending: deque[Message] = deque()

    @property
    def channel(self) -> str:
        """The channel's name."""
        return self._channel

    @property
    def queued(self) -> int:
        """Live messages received and not yet read (at most ``max_queue``, plus a gap
        marker)."""
        return 0 if self._queue is None else len(self._queue)

    @property
    def dropped(self) -> int:
        """Messages this subscriber lost to its overflow policy."""
        return 0 if self._queue is None else self._queue.dropped

    async def __aenter__(self) -> Subscription:
        if self._queue is not None:
            raise RuntimeError("a subscription is entered once")
        max_queue, overflow = self._settings
        queue = SubscriberQueue(self._channel, max_queue, overflow)
        try:
            await self._backend.attach(self._channel, queue)
        except BaseException:
            # Cancelled while waiting (the client left before the channel was live):
            # no ``__aexit__`` will come, so give the place back here.
            queue.close()
            await self._backend.detach(self._channel, queue)
            raise
        self._queue = queue
        after = self._after
        if after is not None:
            self._replaying = True
            if after.strip() != FROM_OLDEST:
                self._cursor = after.strip()
                self._skip = self._backend.key(self._cursor)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        queue = self._queue
        if queue is not None:
            queue.close()
            await self._backend.detach(self._channel, queue)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Message:
        queue = self._queue
        if queue is None:
            raise RuntimeError("use the subscription in 'async with broadcast.subscribe(...)'")
        while True:
            if self._pending:
                return self._pending.popleft()
            if self._replaying:
                await self._read_history()
                continue
            entry = await queue.get()
            if entry is None:
                raise StopAsyncIteration
            message = self._after_replay(entry)
            if message is not None:
                return message

    async def _read_history(self) -> None:
        page = await self._backend.replay(self._channel, self._cursor, _PAGE)
        if page.missing:
            self._pending.append(Message(self._channel, None, None, gap=GAP_TRIMMED))
            # The id asked for means nothing here (trimmed, or from another life of
            # the broker): what is replayed decides what to skip.
            self._skip = None
        for key, message in page.entries:
            self._pending.append(message)
            self._cursor = message.id
            if key is not None:
                self._skip = key
        if len(page.entries) < _PAGE:
            self._replaying = False

    def _after_replay(self, entry: Entry) -> Message | None:
        """The live entry to deliver, or None for one the replay already delivered."""
        key, message = entry
        skip = self._skip
        if skip is None:
            return message
        if key is not None and key <= skip:
            if message.gap is None or message.gap == GAP_OVERFLOW:
                return None  # replayed already; or lost from the queue but replayed
        self._skip = None  # past the replay: from here on the live order is the order
        return message
