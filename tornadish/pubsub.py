"""Publish/subscribe across processes and machines: :class:`Broadcast`.

A chat room or a live feed served by several processes (``tornadish.run(app,
workers=4)``, or several machines behind a load balancer) needs each message to reach
the subscribers in *every* process. A :class:`Broadcast` carries them — ``memory://``
within one process, ``redis://`` through a Redis server (``pip install
'tornadish[redis]'``):

.. code-block:: python

    from tornadish.pubsub import Broadcast

    broadcast = Broadcast("redis://localhost:6379/0")
    await broadcast.connect()

    await broadcast.publish("news", {"headline": "..."})   # from any process

    async with broadcast.subscribe("news") as sub:        # in every process
        async for message in sub:
            print(message.id, message.data)

Semantics:

- **Live delivery is at most once.** A subscriber receives each message published
  while it is subscribed, in publishing order, once; a subscriber that falls
  ``max_queue`` messages behind loses the oldest (``overflow="drop_oldest"``, then
  reads a gap marker) or is dropped (``overflow="close"``, then its iteration raises
  :class:`SlowSubscriberError`). Memory stays bounded either way.
- **Resume is at least once.** The last ``history`` messages of each channel are kept
  (on Redis, in a Stream trimmed with ``MAXLEN``); ``subscribe(channel, after=id)``
  replays those after ``id``, then goes live with nothing missed in between and nothing
  twice. An ``id`` no longer kept gives a gap marker, then the whole history kept.
- **Faults.** When Redis goes away, subscribers keep waiting while the broadcast
  reconnects with backoff; once back, every channel is caught up from its Stream, and a
  gap marker (``gap="reconnect"``) marks the place where messages may be missing (Redis
  restarted without its data, or trimmed past them). ``publish`` raises
  :class:`PublishError` while Redis is unreachable: nothing was sent.
- A gap marker is a :class:`Message` whose ``gap`` is set (``data`` and ``id`` None):
  the application resynchronises there (reloads the state, tells its client).

Server-sent events resume in any process: a ``message.id`` is a valid SSE ``id``, and
the browser's ``Last-Event-ID`` is a valid ``after``:

.. code-block:: python

    class Feed(EventSourceHandler):
        async def stream(self):
            async with broadcast.subscribe("news", after=self.last_event_id) as sub:
                async for m in sub:
                    if m.gap:
                        await self.send({"reason": m.gap}, event="resync")
                    else:
                        await self.send(m.data, id=m.id)
"""

from __future__ import annotations

from tornadish._pubsub.broadcast import Broadcast
from tornadish._pubsub.message import (
    GAP_OVERFLOW,
    GAP_RECONNECT,
    GAP_TRIMMED,
    Message,
    PublishError,
    PubSubError,
    SlowSubscriberError,
)
from tornadish._pubsub.queue import Overflow
from tornadish._pubsub.subscription import FROM_OLDEST, Subscription

__all__ = [
    "FROM_OLDEST",
    "GAP_OVERFLOW",
    "GAP_RECONNECT",
    "GAP_TRIMMED",
    "Broadcast",
    "Message",
    "Overflow",
    "PubSubError",
    "PublishError",
    "SlowSubscriberError",
    "Subscription",
]
