"""The client side of HTTP/2: the asyncio glue over
:class:`~tornadish._http.h2_client.H2ClientSession`, many exchanges on one connection.

An :class:`H2ClientConnection` is an ``asyncio.Protocol`` that carries every concurrent
fetch to one origin, each on its own stream, with the same :meth:`exchange` as the
HTTP/1.1 :class:`~tornadish._client.connection.ClientConnection` (both are made of
:mod:`.connection_base`): a response still becomes a
:class:`~tornadish._client.connection_base.ResponseReader`'s business, and the public
face cannot tell the two apart. It never sees h2: the session turns frames into
a few small events.

Rules of this module:

1. **Streams are slots.** At most as many exchanges run as the server's
   ``MAX_CONCURRENT_STREAMS`` allows (100 until its SETTINGS arrive); the others wait
   in arrival order and get a slot as a stream ends, or time out in the queue.
2. **Flow control both ways.** A request body goes out as the server's stream and
   connection windows allow, the rest waiting for its WINDOW_UPDATE (a
   ``body_producer``'s ``write()`` resolves once its chunk is handed over). Response
   data is acknowledged as it is consumed: at once when it is buffered, only after a
   coroutine ``streaming_callback`` is done with it otherwise, so a slow consumer holds
   the server to its stream's window while the other streams flow.
3. **One stream's trouble is that stream's.** A timeout, a body over the limit, a
   failing callback or a cancelled fetch resets its stream (RST_STREAM ``CANCEL``);
   the connection carries on. A protocol error from the server, or the connection
   lost, fails every exchange on it.
4. **GOAWAY retires the connection.** No new stream opens on it; streams above the
   server's ``last_stream_id`` fail with :class:`StreamRefused` (never processed,
   RFC 9113 §8.1.4: safe to retry on a new connection), as do exchanges still
   waiting for a slot and streams the server resets with ``REFUSED_STREAM``; the
   others finish, then it closes.
5. Bytes are written once per read (several streams' acknowledgements in one write),
   or at once when an exchange sends outside a read. Without a stream for
   ``idle_timeout`` seconds the connection says GOAWAY and closes.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable
from typing import Any

from tornadish._client.connection_base import (
    BodyProducer,
    CallbackFailed,
    ClientConnectionBase,
    MalformedResponse,
    Outgoing,
    RequestTimeout,
    ResponseReader,
    StreamClosed,
    StreamRefused,
    run_producer,
)
from tornadish._http import h2_client as h2s
from tornadish._http.h2_common import (
    CANCEL,
    NO_ERROR,
    REFUSED_STREAM,
    Data,
    End,
    GoneAway,
    Reset,
    WindowOpen,
    take,
)
from tornadish._http.h11_exchange import informational_refusal
from tornadish._http.headers import HTTPHeaders
from tornadish._http.parse import responses
from tornadish._io.flow_control import Deadline
from tornadish._io.h2_glue import H2Glue
from tornadish.log import app_log, gen_log

__all__ = ["H2ClientConnection"]

# The version a response's header_callback line names (curl's way of writing it).
_VERSION = "HTTP/2"


class _Stream:
    """One exchange in flight: its response reader and what is left to send."""

    __slots__ = (
        "busy",
        "done",
        "drained",
        "granted",
        "id",
        "inbox",
        "num_1xx",
        "out",
        "out_closed",
        "out_end",
        "reader",
        "remote_ended",
        "response_started",
        "timer",
    )

    def __init__(self, stream_id: int, reader: ResponseReader, done: asyncio.Future[None]) -> None:
        self.id = stream_id
        self.reader = reader
        self.done = done
        # Request body not yet sent (the windows were closed); out_end: end it after.
        self.out: collections.deque[memoryview] = collections.deque()
        self.out_end = False
        self.out_closed = False  # ended, or no longer wanted (reset, answered)
        self.drained: asyncio.Future[None] | None = None  # a producer waits for ``out``
        self.granted: asyncio.Future[bool] | None = None  # waiting for 100 Continue
        # Response data (and None for its end) held while a coroutine callback is busy.
        self.inbox: collections.deque[tuple[bytes, int] | None] = collections.deque()
        self.busy = False
        self.remote_ended = False
        self.response_started = False
        self.num_1xx = 0
        self.timer: asyncio.TimerHandle | None = None


class H2ClientConnection(H2Glue[h2s.H2ClientSession], ClientConnectionBase):
    """One HTTP/2 client connection; :meth:`exchange` runs a request on a new stream."""

    #: Many exchanges at once: the pool shares it rather than checking it out.
    multiplexed = True

    __slots__ = (
        "_idle",
        "_idle_timeout",
        "_in_read",
        "_reserved",
        "_scheme",
        "_session",
        "_streams",
        "_waiters",
    )

    def __init__(
        self,
        key: Any,
        max_header_size: int,
        on_lost: Callable[[H2ClientConnection], None] | None = None,
        idle_timeout: float = 15.0,
    ) -> None:
        # (``idle_since`` and ``idled_for`` stay 0: a refused stream, not the time it
        # sat idle, says when an exchange may be retried here.)
        super().__init__(key, on_lost)
        self._session = h2s.H2ClientSession(max_header_list_size=max_header_size)
        self._scheme: str = getattr(key, "scheme", "https")
        self._idle_timeout = idle_timeout
        self._streams: dict[int, _Stream] = {}
        # Exchanges waiting for a stream slot (rule 1), and slots handed to woken
        # waiters that have not opened their stream yet.
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._reserved = 0
        self._in_read = False
        self._idle = Deadline(self._loop, self._idle_out)

    # -- state --------------------------------------------------------------------

    @property
    def streams(self) -> int:
        """Exchanges in flight on this connection."""
        return len(self._streams)

    def close(self) -> None:
        """GOAWAY and close now; exchanges in flight fail."""
        self._closing = True
        self._session.goaway()
        self._flush()
        self._fail_all(StreamClosed("Stream closed", None))
        super().close()

    def close_when_idle(self) -> None:
        """No new stream; close once the exchanges in flight are done."""
        self._closing = True
        self._refuse_waiters()
        if not self._streams:
            self.close()

    # -- asyncio.Protocol ---------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._flush()  # our preface
        self._idle.after(self._idle_timeout)

    def data_received(self, data: bytes) -> None:
        self._in_read = True
        try:
            try:
                events = self._session.receive_data(data)
            except h2s.H2ClientError as e:
                gen_log.info("HTTP/2 connection error from the server: %s (%d)", e, e.code)
                self._closing = True
                self._in_read = False
                self._flush()
                self._fail_all(StreamClosed(f"HTTP/2 protocol error: {e}", None))
                if self.transport is not None:
                    self.transport.close()
                return
            streams = self._streams
            for ev in events:
                t = type(ev)
                if t is Data:
                    st = streams.get(ev.stream_id)  # type: ignore[union-attr]
                    if st is None or st.done.done():
                        self._session.ack(ev.stream_id, ev.flow_length)  # type: ignore[union-attr]
                    elif st.busy or st.inbox:
                        st.inbox.append((ev.data, ev.flow_length))  # type: ignore[union-attr]
                    else:
                        self._deliver(st, ev.data, ev.flow_length)  # type: ignore[union-attr]
                elif t is h2s.ResponseHead:
                    st = streams.get(ev.stream_id)  # type: ignore[union-attr]
                    if st is not None and not st.done.done():
                        self._on_head(st, ev)  # type: ignore[arg-type]
                elif t is End:
                    st = streams.get(ev.stream_id)  # type: ignore[union-attr]
                    if st is not None:
                        st.remote_ended = True
                        if st.done.done():
                            pass
                        elif st.busy or st.inbox:
                            st.inbox.append(None)
                        else:
                            self._finish(st)
                elif t is WindowOpen:
                    self._window_open(ev.stream_id)  # type: ignore[union-attr]
                elif t is Reset:
                    self._on_reset(ev)  # type: ignore[arg-type]
                elif t is h2s.Limit:
                    self._wake()
                elif t is GoneAway:
                    self._on_goaway(ev)  # type: ignore[arg-type]
        finally:
            self._in_read = False
        self._flush()

    def eof_received(self) -> bool:
        self._closing = True
        self._fail_all(StreamClosed("Stream closed", None))
        return False  # close our side too

    def _lost(self, error: StreamClosed) -> None:
        self._idle.cancel()
        self._fail_all(error)

    # -- slots (rule 1) -----------------------------------------------------------

    def _has_room(self) -> bool:
        return len(self._streams) + self._reserved < self._session.max_streams

    async def _take_slot(self, deadline: float | None) -> None:
        """Reserve a stream slot (FIFO); :class:`RequestTimeout` past ``deadline``,
        :class:`StreamRefused` if the connection is retired meanwhile."""
        if not self._waiters and self._has_room():
            self._reserved += 1
            return
        loop = self._loop
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
        timer = loop.call_at(deadline, _expire, waiter) if deadline is not None else None
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._reserved -= 1  # handed over just as we gave up: pass it on
                self._wake()
            else:
                self._forget_waiter(waiter)
            raise
        except BaseException:
            self._forget_waiter(waiter)
            raise
        finally:
            if timer is not None:
                timer.cancel()

    def _forget_waiter(self, waiter: asyncio.Future[None]) -> None:
        try:
            self._waiters.remove(waiter)
        except ValueError:
            pass

    def _wake(self) -> None:
        """Hand free slots to the first waiters."""
        waiters = self._waiters
        while waiters and self._has_room():
            waiter = waiters.popleft()
            if not waiter.done():
                self._reserved += 1
                waiter.set_result(None)

    def _refuse_waiters(self) -> None:
        waiters, self._waiters = self._waiters, collections.deque()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_exception(StreamRefused("the connection is closing"))

    # -- the exchange ---------------------------------------------------------------

    async def _exchange(
        self, request: Outgoing, reader: ResponseReader, deadline: float | None
    ) -> bool:
        # On a new stream; only this exchange's stream is reset when it fails.
        method, target, headers, body, body_producer, expect_continue = request
        if not self.usable:
            raise StreamRefused("the connection is closing")
        await self._take_slot(deadline)
        self._reserved -= 1
        if self._closing or self.transport is None:  # retired while this one waited
            self._wake()
            raise StreamRefused("the connection is closing")
        has_body = bool(body) or body_producer is not None
        try:
            stream_id = self._session.send_request(
                method, self._scheme, target, headers, end=not has_body
            )
        except h2s.H2ClientError as e:  # no stream id left: a new connection takes over
            self._retire()
            raise StreamRefused(str(e)) from None
        except ValueError as e:
            self._wake()
            raise ValueError(f"cannot send this request: {e}") from None
        loop = self._loop
        st = _Stream(stream_id, reader, loop.create_future())
        st.out_closed = not has_body
        self._streams[stream_id] = st
        self._idle.clear()
        if deadline is not None:
            st.timer = loop.call_at(deadline, self._timed_out, st)
        self._flush()
        try:
            if has_body and (not expect_continue or await self._continue_granted(st)):
                if body_producer is not None:
                    await self._produce(st, body_producer)
                else:
                    self._send(st, memoryview(body or b""), end=True)
            await st.done
        finally:
            self._forget(st)
        self.exchanges += 1
        return self.usable

    async def _continue_granted(self, st: _Stream) -> bool:
        """Wait for ``100 Continue``; False if the final response (or a failure) came
        first."""
        granted = st.granted = self._loop.create_future()
        await asyncio.wait((granted, st.done), return_when=asyncio.FIRST_COMPLETED)
        st.granted = None
        return granted.done() and granted.result()

    async def _produce(self, st: _Stream, producer: BodyProducer) -> None:
        if await run_producer(producer, lambda chunk: self._write(st, chunk), st.done):
            self._send(st, memoryview(b""), end=True)

    def _write(self, st: _Stream, chunk: bytes) -> asyncio.Future[None]:
        """The ``write`` a ``body_producer`` gets: resolves once ``chunk`` is handed to
        the connection (the windows allowing) and the transport takes more."""
        if st.out_closed or st.done.done():
            return self._gate.ready()  # the exchange is over; the bytes have nowhere to go
        self._send(st, memoryview(chunk), end=False)
        if st.out:
            drained = st.drained
            if drained is None:
                drained = st.drained = self._loop.create_future()
            return drained
        return self._gate.wait()

    def _send(self, st: _Stream, data: memoryview, end: bool) -> None:
        """Queue request body ``data`` (and its end) and send what the windows allow."""
        if st.out_closed:
            return
        if data:
            st.out.append(data)
        st.out_end = end
        self._pump(st)
        self._flush()

    def _pump(self, st: _Stream) -> None:
        """Send the queued request body as far as the windows allow (rule 2)."""
        session = self._session
        out = st.out
        while out:
            room = session.sendable(st.id)
            if room <= 0:
                return
            piece = take(out, room)
            if not session.send_body(st.id, piece, end=st.out_end and not out):
                out.clear()
                st.out_closed = True
                break
            if st.out_end and not out:
                st.out_closed = True
        if st.out_end and not st.out_closed:
            session.send_body(st.id, memoryview(b""), end=True)
            st.out_closed = True
        drained = st.drained
        if drained is not None:
            st.drained = None
            if not drained.done():
                drained.set_result(None)

    def _window_open(self, stream_id: int) -> None:
        if stream_id:
            st = self._streams.get(stream_id)
            if st is not None and st.out:
                self._pump(st)
            return
        for st in list(self._streams.values()):
            if st.out:
                self._pump(st)

    def _forget(self, st: _Stream) -> None:
        """The exchange is over, however it ended: free its stream and its slot."""
        if st.timer is not None:
            st.timer.cancel()
            st.timer = None
        done = st.done
        if not done.done():
            done.cancel()  # the fetch was cancelled, or the producer raised
        elif not done.cancelled():
            done.exception()  # (retrieved)
        if not (st.remote_ended and st.out_closed):
            # Still open on one side: a response not read to its end, or (RFC 9113
            # §8.1) a body the server no longer wants after its complete answer.
            self._session.reset(st.id, CANCEL)
        st.out.clear()
        st.out_closed = True
        self._resolve_continue(st, False)
        drained = st.drained
        if drained is not None and not drained.done():
            drained.set_result(None)
        if self._streams.pop(st.id, None) is not None:
            self._wake()
        self._flush()
        if not self._streams:
            if self._closing:
                if self.transport is not None and not self.transport.is_closing():
                    self.close()
            else:
                self._idle.after(self._idle_timeout)

    # -- reading ------------------------------------------------------------------------

    def _on_head(self, st: _Stream, head: h2s.ResponseHead) -> None:
        st.response_started = True
        try:
            if head.status < 200:
                if head.status == 100:
                    self._resolve_continue(st, True)
                headers = HTTPHeaders.from_raw(head.headers)
                refusal = informational_refusal(head.status, headers, st.num_1xx)
                if refusal is not None:
                    raise MalformedResponse(refusal)
                st.num_1xx += 1
                return
            # The final answer came: a body held back for "100 Continue" is not sent.
            self._resolve_continue(st, False)
            reason = responses.get(head.status, "Unknown")
            st.reader.on_head(head.status, reason, _VERSION, head.headers)
        except Exception as e:
            self._fail_reading(st, e)

    def _deliver(self, st: _Stream, data: bytes, flow_length: int) -> bool:
        """Hand ``data`` to the reader; False while a coroutine callback is busy with
        it (its flow-controlled length is acknowledged once it is done: rule 2)."""
        try:
            busy = st.reader.on_data(data)
        except Exception as e:
            self._session.ack(st.id, flow_length)
            self._fail_reading(st, e)
            return False
        if busy is not None:
            self._wait_for_callback(st, busy, flow_length)
            return False
        self._session.ack(st.id, flow_length)
        return True

    def _finish(self, st: _Stream) -> None:
        try:
            st.reader.on_end()
        except Exception as e:
            self._fail_reading(st, e)
            return
        if not st.done.done():
            st.done.set_result(None)

    def _wait_for_callback(self, st: _Stream, busy: Awaitable[Any], flow_length: int) -> None:
        st.busy = True
        task = asyncio.ensure_future(busy)
        task.add_done_callback(lambda t: self._callback_done(st, t, flow_length))

    def _callback_done(self, st: _Stream, task: asyncio.Future[Any], flow_length: int) -> None:
        st.busy = False
        if st.done.done():  # failed meanwhile (a timeout): only the connection's share
            self._session.ack(st.id, flow_length)
            self._flush()
            return
        try:
            if task.cancelled():
                raise asyncio.CancelledError()
            task.result()
            busy = st.reader.flush()
        except CallbackFailed as e:
            self._fail(st, e)
            return
        except MalformedResponse as e:
            self._fail_reading(st, e)
            return
        except BaseException:
            app_log.error("Uncaught exception", exc_info=True)
            self._fail(st, CallbackFailed())
            return
        if busy is not None:
            self._wait_for_callback(st, busy, flow_length)
            return
        self._session.ack(st.id, flow_length)
        inbox = st.inbox
        while inbox and not st.busy and not st.done.done():
            item = inbox.popleft()
            if item is None:
                self._finish(st)
            else:
                self._deliver(st, *item)
        self._flush()

    def _fail_reading(self, st: _Stream, error: Exception) -> None:
        if isinstance(error, MalformedResponse) and not isinstance(error, CallbackFailed):
            # Tornado's log line; its client has no peer context to name ("None").
            gen_log.info("Malformed HTTP message from %s: %s", None, error.message)
        self._fail(st, error)

    def _on_reset(self, ev: Reset) -> None:
        st = self._streams.get(ev.stream_id)
        if st is None:
            return
        st.out.clear()
        st.out_closed = True
        if st.remote_ended:
            # A complete answer, then RST_STREAM NO_ERROR: the server wants no more of
            # the body (RFC 9113 §8.1); the response stands.
            return
        st.remote_ended = True  # nothing more will come; no reset of ours is needed
        if ev.code == REFUSED_STREAM:
            self._fail(st, StreamRefused("the server refused the stream (REFUSED_STREAM)"))
        else:
            name = h2s.error_name(ev.code)
            message = f"Stream reset by the server ({name})"
            self._fail(st, StreamClosed(message, None, st.response_started))

    def _on_goaway(self, ev: GoneAway) -> None:
        self._retire()
        for st in list(self._streams.values()):
            if st.id > ev.last_stream_id:
                st.remote_ended = True  # never processed: there is nothing to reset
                st.out.clear()
                st.out_closed = True
                self._fail(st, StreamRefused("the server went away (GOAWAY) before it began"))
        if ev.code != NO_ERROR:
            gen_log.info("HTTP/2 server sent GOAWAY (%s)", h2s.error_name(ev.code))

    def _retire(self) -> None:
        """No new stream on this connection (rule 4); the pool forgets it."""
        self._closing = True
        self._refuse_waiters()
        if not self._streams and self.transport is not None:
            self._loop.call_soon(self.close)

    def _fail(self, st: _Stream, exc: BaseException) -> None:
        """The exchange on ``st`` fails with ``exc`` (its stream is reset when the
        exchange lets go of it)."""
        done = st.done
        if not done.done():
            done.set_exception(exc)
        st.out.clear()
        st.inbox.clear()
        self._resolve_continue(st, False)

    def _fail_all(self, exc: StreamClosed) -> None:
        self._refuse_waiters()
        for st in list(self._streams.values()):
            st.remote_ended = st.out_closed = True  # the connection is gone: no resets
            self._fail(st, StreamClosed(exc.message, exc.real_error, st.response_started))

    def _resolve_continue(self, st: _Stream, granted: bool) -> None:
        waiter = st.granted
        if waiter is not None and not waiter.done():
            waiter.set_result(granted)

    def _timed_out(self, st: _Stream) -> None:
        st.timer = None
        self._fail(st, RequestTimeout("Timeout during request"))

    # -- writing and closing ---------------------------------------------------------

    def _idle_out(self) -> None:
        if not self._streams and self.transport is not None:
            self.close()


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(RequestTimeout("Timeout in request queue"))
