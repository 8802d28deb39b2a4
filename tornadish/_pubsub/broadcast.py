"""``Broadcast``: a URL made into a backend, and the calls an application makes.

Rules of this module:

1. The URL chooses the backend — ``memory://`` (this process) or ``redis://`` /
   ``rediss://`` (redis-py, imported only then) — and nothing else differs for the
   caller: the same calls, the same data types, the same ids and gap markers.
2. Data is encoded here, once per ``publish`` (:mod:`tornadish._pubsub.message`), so a
   value JSON cannot carry is refused in the publisher, whatever the backend.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from tornadish._pubsub.backend import Backend
from tornadish._pubsub.memory import MemoryBackend
from tornadish._pubsub.message import PubSubError, encode
from tornadish._pubsub.queue import OVERFLOW_POLICIES, Overflow
from tornadish._pubsub.subscription import Subscription

__all__ = ["Broadcast"]


class Broadcast:
    """Channels that every process connected to the same broker shares.

    .. code-block:: python

        broadcast = Broadcast("redis://localhost:6379/0")  # or "memory://"
        await broadcast.connect()

        await broadcast.publish("room:1", {"user": "ann", "text": "hi"})

        async with broadcast.subscribe("room:1") as sub:
            async for message in sub:
                print(message.id, message.data)

    ``url``: ``memory://`` (one process: development, tests) or
    ``redis://[[user]:password@]host[:port][/db]`` (``rediss://`` for TLS; needs
    ``pip install 'tornadish[redis]'``, Redis 6.2 or later).

    ``history``: how many recent messages of each channel are kept to resume from
    (``subscribe(channel, after=id)``); on Redis each channel's Stream is trimmed to
    that length (``MAXLEN``). ``0`` keeps none: pure pub/sub, no resume.

    ``max_queue`` and ``overflow``: the default bound of each subscriber's queue and
    what happens when a subscriber lets it fill — ``"drop_oldest"`` (it skips ahead and
    reads a gap marker) or ``"close"`` (its iteration raises
    :class:`~tornadish.pubsub.SlowSubscriberError`); ``subscribe`` may override both.

    Redis only: ``prefix`` is put before every channel name, for the Stream's key and
    the pub/sub channel (pub/sub ignores the database number, so two applications on
    one Redis need different prefixes); ``ping_interval`` is how long the subscribing
    connection may stay silent before a ``PING`` checks it (and twice that, unanswered,
    counts as a lost connection); ``connect_timeout`` bounds each connection attempt;
    ``redis_options`` go to ``redis.asyncio.Redis.from_url`` (TLS certificates,
    ``client_name``, ...).
    """

    def __init__(
        self,
        url: str,
        *,
        history: int = 1000,
        max_queue: int = 1000,
        overflow: Overflow = "drop_oldest",
        prefix: str = "tornadish:",
        ping_interval: float = 10.0,
        connect_timeout: float = 5.0,
        redis_options: dict[str, Any] | None = None,
    ) -> None:
        if history < 0:
            raise ValueError("history must be 0 or more")
        if max_queue < 1:
            raise ValueError("max_queue must be at least 1")
        if overflow not in OVERFLOW_POLICIES:
            raise ValueError(f"overflow must be one of {OVERFLOW_POLICIES}, not {overflow!r}")
        self._url = url
        self._max_queue = max_queue
        self._overflow: Overflow = overflow
        self._connected = False
        scheme = urlsplit(url).scheme.lower()
        self._backend: Backend
        if scheme == "memory":
            self._backend = MemoryBackend(history)
        elif scheme in ("redis", "rediss"):
            from tornadish._pubsub.redis_backend import RedisBackend

            self._backend = RedisBackend(
                url,
                history=history,
                prefix=prefix,
                ping_interval=ping_interval,
                connect_timeout=connect_timeout,
                options=dict(redis_options or {}),
            )
        else:
            raise ValueError(
                f"unsupported broadcast URL {url!r}: use memory:// or redis://host:port/db"
            )

    def __repr__(self) -> str:
        parts = urlsplit(self._url)
        return f"<Broadcast {parts.scheme}://{parts.hostname or ''}{parts.path}>"

    @property
    def connected(self) -> bool:
        """True between :meth:`connect` and :meth:`disconnect`."""
        return self._connected

    async def connect(self) -> None:
        """Connect to the broker (for Redis: check that it answers, and start the task
        that holds the subscribing connection). Raises
        :class:`~tornadish.pubsub.PubSubError` when Redis cannot be reached."""
        if self._connected:
            return
        await self._backend.connect()
        self._connected = True

    async def disconnect(self) -> None:
        """Close the connections; every subscription's iteration ends."""
        if not self._connected:
            return
        self._connected = False
        await self._backend.disconnect()

    async def __aenter__(self) -> Broadcast:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.disconnect()

    async def publish(self, channel: str, data: Any) -> str:
        """Send ``data`` (``str``, ``bytes``, or a JSON-able value) to every subscriber
        of ``channel``, in every process; returns the message's id.

        Raises :class:`TypeError` for data JSON cannot represent, and
        :class:`~tornadish.pubsub.PublishError` when the broker cannot take the message
        (Redis is down: nothing was published).
        """
        if not self._connected:
            raise PubSubError(f"{self!r} is not connected: await broadcast.connect() first")
        _check_channel(channel)
        kind, payload = encode(data)
        return await self._backend.publish(channel, kind, payload)

    def subscribe(
        self,
        channel: str,
        *,
        after: str | None = None,
        max_queue: int | None = None,
        overflow: Overflow | None = None,
    ) -> Subscription:
        """The messages of ``channel``, for ``async with ... as sub: async for m in sub``.

        Without ``after``, the messages published from now on. With ``after`` (a
        message's id, an SSE client's ``Last-Event-ID``), first those of the history
        that came after it, then the live ones, each once; ``after="0"`` replays the
        whole history kept. When ``after`` is no longer kept (older than the history,
        or unknown), a gap marker (``gap="trimmed"``) comes first and the replay starts
        at the oldest message kept.

        ``max_queue`` and ``overflow`` override the broadcast's defaults for this
        subscriber.
        """
        if not self._connected:
            raise PubSubError(f"{self!r} is not connected: await broadcast.connect() first")
        _check_channel(channel)
        return Subscription(
            self._backend,
            channel,
            after=after,
            max_queue=self._max_queue if max_queue is None else max_queue,
            overflow=self._overflow if overflow is None else overflow,
        )


def _check_channel(channel: str) -> None:
    if not isinstance(channel, str) or not channel:
        raise ValueError(f"a channel is a non-empty str, not {channel!r}")
