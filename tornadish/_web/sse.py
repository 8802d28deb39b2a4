"""``EventSourceHandler``: a response that is a stream of server-sent events.

Rules of this module:

1. Two tasks per stream, one job each. The request's own task writes (the pump: queued
   events to the connection, heartbeats, the send deadline); a child task runs the
   user's ``stream()``, which only produces. Whatever ends the stream — ``stream()``
   returning, the client leaving, a client too slow, the server shutting down — ends
   both, and ``stream()``'s own clean-up (its ``finally``) has run before
   ``on_finish``.
2. Memory is bounded whatever the client does: ``send()`` waits while ``max_queue``
   events are queued, the pump waits for the connection to drain (its flow control),
   and a client that takes nothing for ``send_timeout`` seconds is dropped (the
   connection aborted, its unsent bytes discarded).
3. The bytes go out as they are sent: output transforms (``compress_response``'s gzip)
   do not run on an event stream, whose events must reach the browser one by one, and
   whose proxies must not buffer it (``X-Accel-Buffering: no``).
4. The event-stream format is :mod:`tornadish._http.sse`'s; nothing here writes a
   field itself.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from tornadish._http.contract import StreamClosedError
from tornadish._http.sse import EVENT_STREAM_CONTENT_TYPE, HEARTBEAT, encode_event, retry_hint
from tornadish._web.handler import RequestHandler
from tornadish.log import gen_log

__all__ = ["EventSourceHandler"]


class EventSourceHandler(RequestHandler):
    """A ``GET`` answered with a stream of server-sent events (``text/event-stream``),
    what a browser's ``EventSource`` reads.

    Override :meth:`stream` and :meth:`send` events from it; the response ends when it
    returns. Routing, ``prepare()``, cookies and ``current_user`` work as for any
    handler; path groups of the route are passed to ``stream``.

    .. code-block:: python

        class Clock(EventSourceHandler):
            heartbeat_interval = 10

            async def stream(self):
                while True:
                    await self.send({"now": time.time()}, event="tick")
                    await asyncio.sleep(1)

    The headers go out at once (``Content-Type: text/event-stream; charset=utf-8``,
    ``Cache-Control: no-store``, ``X-Accel-Buffering: no``), so the browser's
    ``EventSource`` opens before the first event. When the client goes away,
    ``stream()`` is cancelled at once (it sees :class:`asyncio.CancelledError` where
    it awaits) and ``on_finish`` runs; a subclass that overrides
    ``on_connection_close`` calls ``super().on_connection_close()``. When the server
    shuts down gracefully, ``stream()`` is cancelled too and the response ends with a
    ``retry:`` hint of :attr:`shutdown_retry` milliseconds, so browsers reconnect (to
    another instance) after that long. To resume after a reconnection, read
    :attr:`last_event_id`; :class:`~tornadish.sse.EventLog` keeps the events to replay.
    """

    heartbeat_interval: float | None = 15.0
    """Seconds of silence after which a comment line (``:``) is sent, so that proxies
    and the browser do not time the stream out; None or 0: never."""
    send_timeout: float | None = 30.0
    """Seconds the client may take nothing of what we send before it is dropped (the
    connection aborted, ``stream()`` cancelled); None: wait for it forever."""
    max_queue: int = 32
    """Events :meth:`send` may queue before it waits for the client to catch up."""
    shutdown_retry: int = 1000
    """The ``retry:`` hint (milliseconds) sent before a graceful server shutdown ends
    the stream."""

    # Per stream; class-level defaults so that on_connection_close (which may come
    # while prepare() runs) and queued work before get() starts.
    _queue: deque[bytes] | None = None
    _room: list[asyncio.Future[None]] | None = None  # send()s waiting for space
    _stream_task: asyncio.Future[None] | None = None
    _wakeup: asyncio.Future[None] | None = None  # the pump's, while it waits
    _gone = False  # the client left or was dropped
    _ended = False  # the stream is over: send() refuses
    _shutdown = False  # the server is shutting down gracefully
    _last_write = 0.0  # loop time of the last bytes written

    async def _stream_unimplemented(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("an EventSourceHandler overrides async def stream(self)")

    # Typed as any callable (as ``get`` is), so an override may take the route's path
    # groups as its own arguments.
    stream: Callable[..., Awaitable[None]] = _stream_unimplemented
    """``async def stream(self, *path_args)``: produce the events, with :meth:`send`;
    the response ends when it returns."""

    @property
    def last_event_id(self) -> str | None:
        """The id of the last event the client received: its ``Last-Event-ID`` header
        (sent by ``EventSource`` when it reconnects), else a ``lastEventId`` query
        argument (for the first connection of a page that remembers it), else None."""
        value = self.request.headers.get("Last-Event-ID")
        if value:
            return str(value)
        arg: str | None = self.get_query_argument("lastEventId", None)
        return arg or None

    @property
    def queued(self) -> int:
        """Events accepted by :meth:`send` and not yet handed to the connection (never
        more than :attr:`max_queue`)."""
        queue = self._queue
        return 0 if queue is None else len(queue)

    async def send(
        self,
        data: str | bytes | dict[str, Any] | list[Any] | None,
        *,
        event: str | None = None,
        id: str | int | None = None,
        retry: int | None = None,
    ) -> None:
        """Queue one event; waits while :attr:`max_queue` events are queued already.

        ``data`` is text (several lines become several ``data:`` lines; CR, LF and CRLF
        all end a line, and the browser joins them with LF), UTF-8 bytes, or a dict or
        list sent as JSON; None sends no data (an event that only sets ``id`` or
        ``retry``). ``event`` is the event type (``addEventListener(event, ...)`` in
        the browser), ``id`` the id the browser sends back as ``Last-Event-ID``,
        ``retry`` its reconnection delay in milliseconds. Raises :class:`ValueError`
        for an ``event`` or ``id`` containing a line break (or an ``id`` with NUL), and
        :class:`~tornadish.iostream.StreamClosedError` once the stream is over.
        """
        frame = encode_event(data, event=event, id=id, retry=retry)
        queue = self._queue
        if queue is None:
            raise RuntimeError("send() works while the stream runs (from stream())")
        while True:
            if self._ended or self._gone:
                raise StreamClosedError()
            if len(queue) < max(self.max_queue, 1):
                break
            room = self._room
            assert room is not None
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            room.append(fut)
            try:
                await fut
            finally:
                if not fut.done():  # cancelled while waiting
                    fut.cancel()
                    room.remove(fut)
        queue.append(frame)
        self._wake()

    def on_connection_close(self) -> None:
        """The client went away: :meth:`stream` is cancelled at once (overrides call
        ``super().on_connection_close()``)."""
        super().on_connection_close()
        self._client_gone()

    async def get(self, *args: Any, **kwargs: Any) -> None:
        """Answer with the event stream that :meth:`stream` produces."""
        work = self.stream(*args, **kwargs)
        if not inspect.isawaitable(work):
            raise TypeError("stream() must be a coroutine function (async def stream(self))")
        self._queue = deque()
        self._room = []
        self.set_header("Content-Type", EVENT_STREAM_CONTENT_TYPE)
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Accel-Buffering", "no")  # nginx: pass each event on at once
        self._transforms = []  # never compressed (the module's rule 3)
        # The head goes now, so the browser's EventSource opens before the first event.
        try:
            started = not self._gone and await self._deliver(None)
        except BaseException:
            _discard(work)  # a header the connection refused: answered with a 500
            raise
        if not started:
            _discard(work)  # the client left before the stream began
            return
        task = self._stream_task = asyncio.ensure_future(work)
        task.add_done_callback(self._wake)
        unwatch = self._watch_shutdown()
        try:
            await self._pump(task)
        finally:
            self._ended = True
            self._make_room()  # waiting send()s raise StreamClosedError
            if unwatch is not None:
                unwatch()
            if not task.done():
                task.cancel()
            # stream()'s finally runs before on_finish (which follows this method).
            await asyncio.wait({task})
        error = self._stream_error(task)
        if error is not None:
            raise error

    def _stream_error(self, task: asyncio.Future[None]) -> BaseException | None:
        """What ``stream()`` raised, to be answered as a handler's error: not its
        cancellation, nor the ``StreamClosedError`` of a send() (in a ``finally``, say)
        after the client left or the server began shutting down."""
        if task.cancelled():
            return None
        error = task.exception()
        if (self._gone or self._shutdown) and isinstance(error, StreamClosedError):
            return None
        return error

    # -- the pump -----------------------------------------------------------------------

    async def _pump(self, task: asyncio.Future[None]) -> None:
        """Write what is queued until the stream is over (see the module's rule 1)."""
        loop = asyncio.get_running_loop()
        queue = self._queue
        assert queue is not None
        # (A finish() called from stream() ends the response too: nothing more to write.)
        while not self._gone and not self._finished:
            if queue:
                # Everything queued in one write (one chunk): a burst of events costs
                # one trip through the connection, not one each.
                batch = b"".join(queue)
                queue.clear()
                self._make_room()
                if not await self._deliver(batch):
                    return
                continue
            if self._shutdown:
                self._ended = True
                await self._deliver(retry_hint(self.shutdown_retry))
                return
            if task.done():
                return
            interval = self.heartbeat_interval
            wait = None if not interval else self._last_write + interval - loop.time()
            if wait is not None and wait <= 0:
                if not await self._deliver(HEARTBEAT):
                    return
                continue
            fut = self._wakeup = loop.create_future()
            # asyncio.wait: a timeout leaves the future alone (a send() may still wake
            # the next turn's check); the loop above decides what is due.
            await asyncio.wait({fut}, timeout=wait)

    async def _deliver(self, data: bytes | None) -> bool:
        """Write ``data`` (None: only the head) and wait until the connection can take
        more; False once the stream cannot go on (the client left, or was too slow)."""
        if data:
            self.write(data)
        drained = asyncio.ensure_future(self.flush())
        try:
            timeout = self.send_timeout
            if timeout is None or drained.done():
                await drained
            else:
                await asyncio.wait_for(drained, timeout)
        except asyncio.TimeoutError:
            self._drop()
            return False
        except StreamClosedError:
            self._client_gone()
            return False
        self._last_write = asyncio.get_running_loop().time()
        return not self._gone

    def _wake(self, _: object = None) -> None:
        fut = self._wakeup
        if fut is not None and not fut.done():
            fut.set_result(None)

    def _make_room(self) -> None:
        room = self._room
        if room:
            self._room = []
            for fut in room:
                if not fut.done():
                    fut.set_result(None)

    # -- how a stream ends early ------------------------------------------------------------

    def _client_gone(self) -> None:
        self._gone = True
        task = self._stream_task
        if task is not None and not task.done():
            task.cancel()
        self._wake()
        self._make_room()

    def _drop(self) -> None:
        # The client has taken nothing for send_timeout seconds: waiting longer would
        # hold its unsent bytes (and a task) for as long as it likes.
        gen_log.info(
            "Event stream %s dropped: the client took nothing for %ss",
            self._request_summary(),
            self.send_timeout,
        )
        self._client_gone()
        conn = self.request.connection
        if conn is not None:
            conn.abort()

    def _watch_shutdown(self) -> Callable[[], None] | None:
        """Follow ``self.shutting_down`` (an awaitable that completes when the server
        starts a graceful shutdown), where this handler has one; returns what stops
        following it."""
        waiter = getattr(self, "shutting_down", None)
        if waiter is None:
            return None
        # Each read of shutting_down is a future of its own (a shield of the request's):
        # cancelling it once the stream is over leaves nothing waiting on the server.
        fut = asyncio.ensure_future(waiter)

        def fired(f: asyncio.Future[Any]) -> None:
            if f.cancelled() or f.exception() is not None:
                return
            self._shutdown = True
            task = self._stream_task
            if task is not None and not task.done():
                task.cancel()
            self._wake()

        fut.add_done_callback(fired)

        def unwatch() -> None:
            fut.remove_done_callback(fired)
            fut.cancel()

        return unwatch


def _discard(work: Awaitable[None]) -> None:
    # A coroutine that will never run: closed, so Python does not warn that it was
    # never awaited.
    close = getattr(work, "close", None)
    if close is not None:
        close()
