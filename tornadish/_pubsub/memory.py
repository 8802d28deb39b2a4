"""The ``memory://`` backend: one process, for development and tests.

Rules of this module:

1. Same semantics as ``redis://``: the same codec, ids that grow, a history of the last
   ``history`` messages of each channel to resume from, gap markers where a resume
   cannot be served. So code written against it runs unchanged on Redis.
2. Delivery is a plain loop over the channel's queues, in ``publish``'s call: no task,
   no await, and a slow subscriber costs others nothing (its queue's policy decides).
3. One event loop: the backend is used from the loop it was connected on.
"""

from __future__ import annotations

import bisect
import itertools
from collections import deque
from dataclasses import dataclass, field

from tornadish._pubsub.backend import Backend, Replay
from tornadish._pubsub.message import Message, PubSubError, decode
from tornadish._pubsub.queue import Entry, Key, SubscriberQueue

__all__ = ["MemoryBackend"]


@dataclass
class _Channel:
    history: deque[Entry]
    queues: set[SubscriberQueue] = field(default_factory=set)


class MemoryBackend(Backend):
    """Channels, their subscribers and their recent history, in this process."""

    def __init__(self, history: int) -> None:
        self._history = history
        self._channels: dict[str, _Channel] = {}
        self._last = 0  # the last id given, for every channel (ids never repeat)
        self._connected = False

    async def connect(self) -> None:
        self._connected = True

    async def disconnect(self) -> None:
        self._connected = False
        for channel in self._channels.values():
            for queue in channel.queues:
                queue.close()
        self._channels.clear()

    async def publish(self, channel: str, kind: str, payload: bytes) -> str:
        if not self._connected:
            raise PubSubError("the memory:// broadcast is disconnected")
        self._last += 1
        message_id = str(self._last)
        entry: Entry = ((self._last, 0), Message(channel, decode(kind, payload), message_id))
        state = self._channels.get(channel)
        if state is None:
            if not self._history:
                return message_id  # nobody listens, nothing is kept
            state = self._channels[channel] = _Channel(deque(maxlen=self._history))
        if self._history:
            state.history.append(entry)
        gone = [queue for queue in state.queues if not queue.put(*entry)]
        state.queues.difference_update(gone)
        return message_id

    async def attach(self, channel: str, queue: SubscriberQueue) -> None:
        if not self._connected:
            raise PubSubError("the memory:// broadcast is disconnected")
        state = self._channels.get(channel)
        if state is None:
            state = self._channels[channel] = _Channel(deque(maxlen=self._history))
        state.queues.add(queue)

    async def detach(self, channel: str, queue: SubscriberQueue) -> None:
        state = self._channels.get(channel)
        if state is not None:
            state.queues.discard(queue)
            if not state.queues and not state.history:
                del self._channels[channel]

    async def replay(self, channel: str, after: str | None, count: int) -> Replay:
        state = self._channels.get(channel)
        history: deque[Entry] = state.history if state is not None else deque()
        start, missing = 0, False
        if after is not None:
            key = self.key(after)
            i = bisect.bisect_left(history, key, key=_entry_key) if key is not None else 0
            if key is not None and i < len(history) and history[i][0] == key:
                start = i + 1
            else:
                missing = True
        return Replay(list(itertools.islice(history, start, start + count)), missing)

    def key(self, message_id: str) -> Key | None:
        text = message_id.strip()
        if 0 < len(text) <= 19 and text.isascii() and text.isdigit():
            return (int(text), 0)
        return None


def _entry_key(entry: Entry) -> Key:
    key = entry[0]
    assert key is not None  # every entry of the history has its id's key
    return key
