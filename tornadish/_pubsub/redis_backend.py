"""The ``redis://`` backend: Redis pub/sub carries messages live, a Redis Stream per
channel keeps the recent ones to resume from.

Rules of this module:

1. One write per message, atomic: a Lua script ``XADD``\\ s the message to the channel's
   Stream (trimmed to ``history`` entries with ``MAXLEN``) and ``PUBLISH``\\ es it with
   the Stream id it got, so the live order and the Stream's order are one order and a
   message seen live can be found again by its id.
2. One pub/sub connection per broadcast, read by one task; the subscribers of a channel
   in this process share one ``SUBSCRIBE``, and each message is decoded once. Commands
   (publish, the history) use a separate connection pool.
3. The link is watched. When the pub/sub connection fails (or stays silent through a
   ``PING``), the reader reconnects with backoff (redis-py's jittered exponential one),
   subscribes again, and catches every channel up from its Stream after the last id it
   delivered. Only when that id is no longer in the Stream (trimmed while we were away,
   or Redis restarted without its data) do the subscribers get a gap marker. A channel
   subscribed afresh is caught up from the newest id at the moment of subscribing, so
   nothing published after ``subscribe`` began is missed either.
4. redis-py does the protocol, the pooling and the scripts (``EVALSHA``, reloaded after a
   restart); nothing here speaks RESP. Requires Redis 6.2 or later (exclusive ranges).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from tornadish._pubsub.backend import Backend, Replay
from tornadish._pubsub.message import (
    GAP_RECONNECT,
    GAP_TRIMMED,
    Message,
    PublishError,
    PubSubError,
    decode,
)
from tornadish._pubsub.queue import Entry, Key, SubscriberQueue
from tornadish.log import gen_log

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import PubSub

try:
    import redis.asyncio as aioredis
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import RedisError
    from redis.exceptions import TimeoutError as RedisTimeoutError
except ImportError:  # the ``redis`` extra is not installed: RedisBackend() says so
    aioredis = None  # type: ignore[assignment]

__all__ = ["RedisBackend"]

# XADD and PUBLISH in one step (rule 1). KEYS[1] names both the Stream and the pub/sub
# channel (separate namespaces in Redis); the live payload is "<id> <kind>\n<data>".
_PUBLISH_SCRIPT = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[1], '*', 'k', ARGV[2], 'd', ARGV[3])
redis.call('PUBLISH', KEYS[1], id .. ' ' .. ARGV[2] .. '\\n' .. ARGV[3])
return id
"""
_ID = re.compile(rb"\A([0-9]{1,20})-([0-9]{1,20})\Z")
# History pages read by the catch-up after a reconnect.
_PAGE = 500
# After a failure, the reader waits between 0 and min(cap, base * 2**n) seconds.
_BACKOFF_BASE = 0.1
_BACKOFF_CAP = 2.0


def _link_errors() -> tuple[type[BaseException], ...]:
    # What a lost or refused connection raises through redis-py.
    return (RedisConnectionError, RedisTimeoutError, OSError)


@dataclass(eq=False)
class _Channel:
    """One channel this process subscribes to, shared by its local subscribers."""

    channel: str  # the caller's name
    name: bytes  # the Redis key and pub/sub channel (prefix + name)
    ready: asyncio.Future[None]  # resolved by the first SUBSCRIBE confirmation
    queues: set[SubscriberQueue] = field(default_factory=set)
    #: The newest id delivered (or, before any, the newest id in the Stream when the
    #: channel was subscribed; "0-0" for an empty Stream): the catch-up starts after it.
    last: str | None = None
    last_key: Key | None = None
    #: The pub/sub connection the SUBSCRIBE went out on (compared by identity).
    sent_on: object = None
    #: It was live on an earlier connection: its catch-up may find a gap.
    relinked: bool = False


class RedisBackend(Backend):
    """A broadcast on one Redis server (``redis://`` or ``rediss://`` URL)."""

    def __init__(
        self,
        url: str,
        *,
        history: int,
        prefix: str,
        ping_interval: float,
        connect_timeout: float,
        options: dict[str, Any],
    ) -> None:
        if aioredis is None:
            raise ImportError("redis:// broadcasts need redis-py: pip install 'tornadish[redis]'")
        self._url = url
        self._shown_url = _without_password(url)
        self._history = history
        self._prefix = prefix.encode("utf-8")
        self._ping_interval = ping_interval
        self._connect_timeout = connect_timeout
        self._options = options
        self._client: Redis | None = None
        self._listener: Redis | None = None
        self._script: Any = None
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._channels: dict[bytes, _Channel] = {}
        # SUBSCRIBE confirmations come back in the order the commands went out.
        self._confirming: dict[bytes, deque[_Channel]] = {}
        self._up: asyncio.Event | None = None
        self._closing = False
        self._run_id: str | None = None
        self._restarted = False

    # -- connecting ------------------------------------------------------------------

    async def connect(self) -> None:
        options = dict(self._options)
        options.update(
            decode_responses=False,
            socket_connect_timeout=self._connect_timeout,
        )
        options.setdefault("socket_timeout", max(self._connect_timeout, 5.0))
        # Commands: one quick retry, so a pooled connection that a Redis restart closed
        # is replaced at once, and a Redis that is down is reported without delay.
        client = aioredis.Redis.from_url(
            self._url, retry=Retry(ExponentialWithJitterBackoff(cap=0.2, base=0.05), 1), **options
        )
        try:
            self._run_id = await _run_id(client)
        except _link_errors() as e:
            await client.aclose()
            raise PubSubError(f"cannot reach Redis at {self._shown_url}: {e}") from e
        # The pub/sub connection: no retry inside redis-py, the reader retries itself
        # (so that it knows a reconnect happened, and catches up).
        # Its blocking reads pass their own timeout (the PING interval); socket_timeout
        # bounds the rest (the handshake, SUBSCRIBE) against a server that hangs. No
        # health_check_interval: its PING would be read by whoever sends next, racing
        # the reader (which sends its own).
        options.pop("health_check_interval", None)
        self._listener = aioredis.Redis.from_url(self._url, retry=Retry(NoBackoff(), 0), **options)
        self._client = client
        self._script = client.register_script(_PUBLISH_SCRIPT)
        self._up = asyncio.Event()
        self._closing = False
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def disconnect(self) -> None:
        self._closing = True
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        for channel in self._channels.values():
            for queue in channel.queues:
                queue.close()
            if not channel.ready.done():
                channel.ready.set_result(None)
        self._channels.clear()
        if self._up is not None:
            self._up.set()  # replays waiting for the link give up
        for client in (self._client, self._listener):
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.aclose()
        self._client = self._listener = None

    # -- publishing ------------------------------------------------------------------

    async def publish(self, channel: str, kind: str, payload: bytes) -> str:
        if self._client is None:
            raise PubSubError("the broadcast is not connected")
        name = self._prefix + channel.encode("utf-8")
        try:
            message_id = await self._script(keys=[name], args=[self._history, kind, payload])
        except _link_errors() as e:
            raise PublishError(
                f"could not publish to {channel!r}: Redis at {self._shown_url} is unreachable ({e})"
            ) from e
        except RedisError as e:  # Redis answered with an error (out of memory, ...)
            raise PublishError(f"could not publish to {channel!r}: {e}") from e
        return bytes(message_id).decode("ascii")

    # -- subscribing -----------------------------------------------------------------

    async def attach(self, channel: str, queue: SubscriberQueue) -> None:
        if self._client is None or self._closing:
            raise PubSubError("the broadcast is not connected")
        name = self._prefix + channel.encode("utf-8")
        state = self._channels.get(name)
        if state is None:
            ready = asyncio.get_running_loop().create_future()
            state = self._channels[name] = _Channel(channel, name, ready)
            state.queues.add(queue)
            if self._up is not None and self._up.is_set():
                try:
                    await self._send_subscribe(state)
                except _link_errors():
                    state.sent_on = None  # the reader subscribes it once it reconnects
        else:
            state.queues.add(queue)
        # Shielded: one subscriber giving up does not cancel the others' wait.
        await asyncio.shield(state.ready)

    async def detach(self, channel: str, queue: SubscriberQueue) -> None:
        name = self._prefix + channel.encode("utf-8")
        state = self._channels.get(name)
        if state is None:
            return
        state.queues.discard(queue)
        if state.queues:
            return
        del self._channels[name]
        if not state.ready.done():
            state.ready.set_result(None)  # nobody waits for it any more
        pubsub = self._pubsub
        if pubsub is not None and state.sent_on is pubsub:
            with contextlib.suppress(*_link_errors()):
                await pubsub.unsubscribe(name)

    async def _send_subscribe(self, state: _Channel) -> None:
        """SUBSCRIBE ``state`` on the current connection (once per connection)."""
        pubsub = self._pubsub
        if pubsub is None or state.sent_on is pubsub:
            return
        state.sent_on = pubsub
        if state.last is None:
            # Where "now" is: the catch-up after the confirmation starts here.
            state.last = await self._newest_id(state.name)
            state.last_key = _key(state.last.encode())
            if pubsub is not self._pubsub or self._channels.get(state.name) is not state:
                return  # the link changed meanwhile (the reader sends it again), or it left
        self._confirming.setdefault(state.name, deque()).append(state)
        await pubsub.subscribe(state.name)

    # -- the history -----------------------------------------------------------------

    async def replay(self, channel: str, after: str | None, count: int) -> Replay:
        name = self._prefix + channel.encode("utf-8")
        backoff = ExponentialWithJitterBackoff(cap=_BACKOFF_CAP, base=_BACKOFF_BASE)
        failures = 0
        while True:
            if self._client is None or self._closing:
                return Replay([], False)  # disconnected: the subscription's stream ends
            try:
                raw, kept = await self._range(name, after, count)
                break
            except _link_errors():
                # Redis is away: the subscriber waits for it, as the live flow does.
                failures += 1
                await asyncio.sleep(backoff.compute(failures))
        entries = [self._entry(channel, message_id, fields) for message_id, fields in raw]
        return Replay(entries, not kept)

    def key(self, message_id: str) -> Key | None:
        return _key(message_id.strip().encode("ascii", "replace"))

    async def _range(
        self, name: bytes, after: str | None, count: int
    ) -> tuple[list[tuple[bytes, dict[bytes, bytes]]], bool]:
        """Up to ``count`` entries after ``after``, and whether ``after`` is kept (when
        it is not, the entries start at the oldest kept)."""
        client = self._client
        assert client is not None
        key = None if after is None else _key(after.encode("ascii", "replace"))
        if key is None or key == (0, 0):
            oldest = await client.xrange(name, "-", "+", count=count)
            return _entries(oldest), after is None or key == (0, 0)
        exact = f"{key[0]}-{key[1]}"
        async with client.pipeline(transaction=True) as pipe:
            pipe.xrange(name, exact, exact)
            pipe.xrange(name, "(" + exact, "+", count=count)
            kept, newer = await pipe.execute()
        if kept:
            return _entries(newer), True
        return _entries(await client.xrange(name, "-", "+", count=count)), False

    async def _newest_id(self, name: bytes) -> str:
        client = self._client
        assert client is not None
        newest = _entries(await client.xrevrange(name, "+", "-", count=1))
        return newest[0][0].decode("ascii") if newest else "0-0"

    def _entry(self, channel: str, message_id: bytes, fields: dict[bytes, bytes]) -> Entry:
        kind = fields.get(b"k", b"b").decode("ascii", "replace")
        data = decode(kind, fields.get(b"d", b""))
        return _key(message_id), Message(channel, data, message_id.decode("ascii"))

    # -- the reader ------------------------------------------------------------------

    async def _read(self) -> None:
        """Hold the pub/sub connection, for the broadcast's life (rule 3)."""
        listener = self._listener
        up = self._up
        assert listener is not None and up is not None
        backoff = ExponentialWithJitterBackoff(cap=_BACKOFF_CAP, base=_BACKOFF_BASE)
        failures = 0
        while not self._closing:
            pubsub = listener.pubsub()
            try:
                await pubsub.connect()  # type: ignore[no-untyped-call]
                if failures:
                    run_id = await _run_id(self._client)
                    self._restarted = run_id != self._run_id
                    self._run_id = run_id
                    gen_log.info("pub/sub: reconnected to Redis at %s", self._shown_url)
                self._pubsub = pubsub
                self._confirming.clear()
                await self._subscribe_all()
                up.set()
                failures = 0
                await self._listen(pubsub)
            except Exception as e:  # disconnect() cancels: CancelledError is not caught
                failures += 1
                if not isinstance(e, _link_errors()):
                    # Not a lost link (a Redis too old for this, a bug): said loudly,
                    # then handled as one, so the reader never dies silently.
                    gen_log.error("pub/sub: reading from Redis failed", exc_info=True)
                elif failures == 1:
                    gen_log.warning(
                        "pub/sub: lost Redis at %s (%s); reconnecting", self._shown_url, e
                    )
                self._lost_link()
                await asyncio.sleep(backoff.compute(failures))
            finally:
                if self._pubsub is pubsub:
                    self._pubsub = None
                with contextlib.suppress(Exception):
                    await asyncio.shield(pubsub.aclose())

    def _lost_link(self) -> None:
        if self._up is not None:
            self._up.clear()
        self._pubsub = None
        for state in self._channels.values():
            state.sent_on = None
            if state.ready.done():
                state.relinked = True

    async def _subscribe_all(self) -> None:
        # Channels may be added while this awaits: loop until none is left unsent.
        while True:
            pubsub = self._pubsub
            unsent = [s for s in self._channels.values() if s.sent_on is not pubsub]
            if not unsent:
                return
            for state in unsent:
                await self._send_subscribe(state)

    async def _listen(self, pubsub: PubSub) -> None:
        waiting_pong = False
        while True:
            message = await pubsub.get_message(timeout=self._ping_interval)
            if message is None:
                if waiting_pong:
                    raise RedisConnectionError("Redis did not answer a PING in time")
                await pubsub.ping()
                waiting_pong = True
                continue
            waiting_pong = False
            kind = message["type"]  # redis-py gives the type as text
            if kind == "message":
                self._deliver_live(bytes(message["channel"]), bytes(message["data"]))
            elif kind == "subscribe":
                await self._confirmed(bytes(message["channel"]))

    async def _confirmed(self, name: bytes) -> None:
        """A SUBSCRIBE took effect: the channel is live; catch it up from its Stream."""
        sent = self._confirming.get(name)
        state = sent.popleft() if sent else None
        if state is None or self._channels.get(name) is not state:
            return  # it was left before the confirmation came
        await self._catch_up(state)
        if not state.ready.done():
            state.ready.set_result(None)

    async def _catch_up(self, state: _Channel) -> None:
        relinked, state.relinked = state.relinked, False
        after = state.last
        gap = False
        if relinked and self._restarted:
            # A new Redis: its ids may sort before ours, so its Stream alone orders
            # what follows; and an empty start ("0-0") cannot be checked against it.
            state.last_key = None
            gap = after in (None, "0-0")
        first = True
        while True:
            raw, kept = await self._range(state.name, after, _PAGE)
            if first:
                first = False
                if gap or not kept:
                    reason = GAP_RECONNECT if relinked else GAP_TRIMMED
                    for queue in state.queues:
                        queue.put_gap(reason)
            for message_id, fields in raw:
                self._deliver(state, *self._entry(state.channel, message_id, fields))
            if len(raw) < _PAGE:
                break
            after = raw[-1][0].decode("ascii")
        if state.last_key is None:
            state.last = "0-0"  # nothing delivered in this Redis's life yet

    def _deliver_live(self, name: bytes, payload: bytes) -> None:
        state = self._channels.get(name)
        if state is None:
            return
        head, _, data = payload.partition(b"\n")
        message_id, _, kind = head.partition(b" ")
        key = _key(message_id)
        if key is None or kind not in (b"s", b"b", b"j"):
            # Published by another program: delivered as it is, with no id.
            self._deliver(state, None, Message(state.channel, payload, None))
            return
        message = Message(state.channel, decode(kind.decode(), data), message_id.decode())
        self._deliver(state, key, message)

    def _deliver(self, state: _Channel, key: Key | None, message: Message) -> None:
        if key is not None:
            if state.last_key is not None and key <= state.last_key:
                return  # delivered already (a catch-up and the live flow overlap)
            state.last_key = key
            state.last = message.id
        gone = [queue for queue in state.queues if not queue.put(key, message)]
        state.queues.difference_update(gone)


async def _run_id(client: Redis | None) -> str | None:
    """The Redis server's run id: it changes when the server restarts."""
    assert client is not None
    info = await client.info("server")
    run_id = info.get("run_id")
    return None if run_id is None else str(run_id)


def _entries(raw: Any) -> list[tuple[bytes, dict[bytes, bytes]]]:
    """XRANGE's answer as ``[(id, fields)]`` (redis-py types it loosely)."""
    return [(bytes(message_id), dict(fields or {})) for message_id, fields in raw or ()]


def _key(message_id: bytes) -> Key | None:
    match = _ID.match(message_id)
    if match is None:
        if message_id.isdigit() and 0 < len(message_id) <= 20:
            return (int(message_id), 0)
        return None
    return (int(match[1]), int(match[2]))


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + host))
