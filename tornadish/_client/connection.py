"""The client side of HTTP/1.1: the asyncio glue over the client seam, one connection at a
time.

A :class:`ClientConnection` is an ``asyncio.Protocol`` driving an engine's client session
(:mod:`tornadish._http.client_session`: h11's or httptools'); it never sees the engine.
It carries one exchange (a request out, its response in) at a time, and the session
alone decides whether it may carry another. What a response becomes (headers, a decoded
and bounded body, the user's callbacks) is the :class:`ResponseReader`'s business, and
what every client connection is to the pool :mod:`.connection_base`'s; which connection
to use is the pool's (:mod:`.pool`).

Rules of the house:
- Timeouts and flow control live here, made of :mod:`tornadish._io.flow_control`'s
  parts. A request's deadline is the connection's one lazily re-armed ``Deadline``, which
  fails the exchange and aborts the transport; a ``body_producer``'s ``write()`` waits on
  the connection's ``WriteGate``: only while the transport's buffer is above its
  high-water mark.
- A connection is reusable only when both sides finished the exchange cleanly, keep-alive
  holds and the server sent nothing after the response. Anything the server says while
  the connection is idle (bytes or EOF) retires it.
- Failures are typed for the public face to translate (:mod:`.connection_base`, rule 1;
  the names the face imports from here are re-exported).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from tornadish._client.connection_base import BodyProducer as BodyProducer
from tornadish._client.connection_base import (
    CallbackFailed,
    ClientConnectionBase,
    MalformedResponse,
    Outgoing,
    run_producer,
    stream_closed,
)
from tornadish._client.connection_base import RequestTimeout as RequestTimeout
from tornadish._client.connection_base import ResponseReader as ResponseReader
from tornadish._client.connection_base import StreamClosed as StreamClosed
from tornadish._client.connection_base import StreamRefused as StreamRefused
from tornadish._http import client_session as seam
from tornadish._http.engines import client_session_class, resolve_http
from tornadish._http.h11_exchange import informational_refusal
from tornadish._http.headers import HTTPHeaders
from tornadish._io.flow_control import Deadline
from tornadish._io.stream_base import UnsatisfiableReadError
from tornadish.log import app_log, gen_log

# The exchange's vocabulary is re-exported: the public face (``httpclient``) takes it
# from here.
__all__ = [
    "BodyProducer",
    "ClientConnection",
    "RequestTimeout",
    "ResponseReader",
    "StreamClosed",
    "StreamRefused",
]


class ClientConnection(ClientConnectionBase):
    """One HTTP/1.1 client connection; :meth:`exchange` runs a request over it."""

    #: One exchange at a time: the pool checks it out and back in.
    multiplexed = False

    __slots__ = (
        "_continue",
        "_deadline",
        "_done",
        "_eof",
        "_max_head",
        "_num_1xx",
        "_reader",
        "_response_started",
        "_session",
        "_waiting",
    )

    def __init__(
        self,
        key: Any,
        max_header_size: int,
        on_lost: Callable[[ClientConnection], None] | None = None,
        http: str | None = None,
    ) -> None:
        super().__init__(key, on_lost)
        self._session = client_session_class(resolve_http(http))(max_header_size)
        self._max_head = max_header_size
        self._reader: ResponseReader | None = None
        self._done: asyncio.Future[None] | None = None
        self._continue: asyncio.Future[bool] | None = None
        self._response_started = False
        self._eof = False
        self._num_1xx = 0
        # A coroutine streaming_callback is busy: reading waits for it.
        self._waiting = False
        self._deadline = Deadline(self._loop, self._timed_out)

    @property
    def usable(self) -> bool:
        """Open, idle, and the server has not closed its side."""
        return not self._eof and self._done is None and super().usable

    # -- asyncio.Protocol ---------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        done = self._done
        if done is None or done.done():
            # Nothing was asked: a connection the server talks on out of turn cannot be
            # trusted with the next request.
            self.close()
            return
        self._response_started = True
        try:
            self._session.receive_data(data)
        except seam.ResponseError as e:  # data after the server's EOF
            self._fail(StreamClosed(e.message))
            return
        self._process()

    def eof_received(self) -> bool:
        self._eof = True
        done = self._done
        if done is not None and not done.done():
            if self._response_started:
                self._session.receive_data(b"")
                self._process()  # a close-delimited body ends here
            self._fail(StreamClosed("Stream closed", None, self._response_started))
        return False  # close our side too

    def _lost(self, error: StreamClosed) -> None:
        self._deadline.cancel()
        self._fail(StreamClosed(error.message, error.real_error, self._response_started))

    # -- reading --------------------------------------------------------------------

    def _process(self) -> None:
        session = self._session
        reader = self._reader
        while (
            reader is not None
            and self._done is not None
            and not self._done.done()
            and not self._waiting
        ):
            try:
                event = session.next_event()
                t = type(event)
                if t is bytes:
                    busy = reader.on_data(event)  # type: ignore[arg-type]
                    if busy is not None:
                        self._wait_for_callback(busy)
                        return
                elif t is seam.ResponseHead:
                    self._on_head(reader, event)  # type: ignore[arg-type]
                elif event is seam.END:
                    reader.on_end()
                    self._finish()
                    return
                elif event is seam.NEED_DATA:
                    return
                else:  # CLOSED before the response ended
                    self._fail(StreamClosed("Stream closed", None, self._response_started))
                    return
            except seam.ResponseError as e:
                if e.too_large:
                    # Tornado's words and error for a head that outgrows its buffer.
                    gen_log.info("Unsatisfiable read, closing connection: %s", e.message)
                    self._fail(UnsatisfiableReadError(e.message))
                else:
                    self._malformed(MalformedResponse(e.message))
                return
            except MalformedResponse as e:
                self._malformed(e)
                return
            except Exception as e:  # a user callback (logged), the request's own failures
                self._fail(e)
                return

    def _malformed(self, error: MalformedResponse) -> None:
        # Tornado's log line; its client has no peer context to name ("None").
        gen_log.info("Malformed HTTP message from %s: %s", None, error.message)
        self._fail(error)

    def _on_informational(self, head: seam.ResponseHead) -> None:
        if head.code == 100:
            self._resolve_continue(True)
        headers = HTTPHeaders.from_raw(head.headers)
        refusal = informational_refusal(head.code, headers, self._num_1xx)
        if refusal is not None:
            raise MalformedResponse(refusal)
        self._num_1xx += 1

    def _wait_for_callback(self, busy: Awaitable[Any]) -> None:
        """A coroutine ``streaming_callback`` is working: read nothing more until it is
        done (Tornado's flow control), then hand over what it held back and go on."""
        self._waiting = True
        transport = self.transport
        if transport is not None:
            transport.pause_reading()
        task = asyncio.ensure_future(busy)
        task.add_done_callback(self._callback_done)

    def _callback_done(self, task: asyncio.Future[Any]) -> None:
        self._waiting = False
        reader = self._reader
        try:
            if task.cancelled():
                raise asyncio.CancelledError()
            task.result()
            busy = reader.flush() if reader is not None else None
        except CallbackFailed as e:
            self._fail(e)
            return
        except BaseException:
            app_log.error("Uncaught exception", exc_info=True)
            self._fail(CallbackFailed())
            return
        if busy is not None:
            self._wait_for_callback(busy)
            return
        transport = self.transport
        if transport is not None:
            transport.resume_reading()
        self._process()

    def _on_head(self, reader: ResponseReader, head: seam.ResponseHead) -> None:
        if head.code < 200:
            self._on_informational(head)
            return
        # The final answer came: a body held back for "100 Continue" is not sent.
        self._resolve_continue(False)
        reader.on_head(head.code, head.reason, head.version, head.headers)

    def _finish(self) -> None:
        if self._session.next_cycle() and not self._closing:
            self.exchanges += 1
        else:
            # Closed on the next turn, not from inside data_received: asyncio's TLS
            # transport, closed while it delivers the data that came with the
            # server's close_notify, fails ("cannot switch state from UNWRAPPED").
            self._closing = True
            self._loop.call_soon(self.close)
        done = self._done
        if done is not None and not done.done():
            done.set_result(None)

    # -- the exchange ---------------------------------------------------------------

    async def _exchange(
        self, request: Outgoing, reader: ResponseReader, deadline: float | None
    ) -> bool:
        method, target, headers, body, body_producer, expect_continue = request
        session = self._session
        transport = self.transport
        if transport is None or self._done is not None:
            raise StreamClosed("Stream closed", None, False)
        done = self._done = self._loop.create_future()
        self._reader = reader
        self._response_started = False
        self._num_1xx = 0
        if deadline is not None:
            self._deadline.at(deadline)
        try:
            try:
                head = session.request_head(method, target, headers)
                if body_producer is None and not expect_continue:
                    if body:
                        head += session.request_data(body)
                    transport.write(head + session.request_end())
                else:
                    transport.write(head)
                    if not expect_continue or await self._continue_granted(done):
                        await self._send_body(body, body_producer, done)
            except seam.LocalError as e:
                raise ValueError(f"cannot send this request: {e}") from None
            await done
        except BaseException:
            self.abort()
            raise
        finally:
            self._done = None
            self._reader = None
            self._deadline.clear()
        return not self._closing

    async def _continue_granted(self, done: asyncio.Future[None]) -> bool:
        """Wait for ``100 Continue``; False if the final response (or a failure) came first."""
        granted = self._continue = self._loop.create_future()
        await asyncio.wait((granted, done), return_when=asyncio.FIRST_COMPLETED)
        self._continue = None
        return granted.done() and granted.result()

    def _resolve_continue(self, granted: bool) -> None:
        waiter = self._continue
        if waiter is not None and not waiter.done():
            waiter.set_result(granted)

    async def _send_body(
        self, body: bytes | None, producer: BodyProducer | None, done: asyncio.Future[None]
    ) -> None:
        session = self._session
        transport = self.transport
        if producer is not None:
            if not await run_producer(producer, self._write, done):
                return
        elif body:
            data = session.request_data(body)
            if transport is not None and data:
                transport.write(data)
        if not done.done() and transport is not None and not self._closing:
            transport.write(session.request_end())

    def _write(self, chunk: bytes) -> asyncio.Future[None]:
        """The ``write`` a ``body_producer`` gets: resolves when it may write more."""
        done = self._done
        transport = self.transport
        if done is None or done.done() or transport is None or self._closing:
            return self._gate.ready()  # the exchange is over; the bytes have nowhere to go
        try:
            data = self._session.request_data(chunk)
        except seam.LocalError as e:
            raise ValueError(f"cannot send this body chunk: {e}") from None
        if data:
            transport.write(data)
        return self._gate.wait()

    def _fail(self, exc: BaseException) -> None:
        done = self._done
        if done is not None and not done.done():
            done.set_exception(exc)
            self.abort()
        self._resolve_continue(False)
        # The producer may have stopped listening: the gate marks the errors retrieved.
        self._gate.lost(error=stream_closed)

    # -- the deadline ---------------------------------------------------------------

    def _timed_out(self) -> None:
        if self._done is not None:
            self._fail(RequestTimeout("Timeout during request"))
