"""The client side of HTTP/1.1: the asyncio glue over the client seam, one connection at a
time.

A :class:`ClientConnection` is an ``asyncio.Protocol`` driving an engine's client session
(:mod:`tornadish._http.client_session`: h11's or httptools'); it never sees the engine.
It carries one exchange (a request out, its response in) at a time, and the session
alone decides whether it may carry another. What a response becomes (headers, a decoded
and bounded body, the user's callbacks) is the :class:`ResponseReader`'s business; which
connection to use is the pool's (:mod:`.pool`).

Rules of the house:
- Timeouts and flow control live here, made of :mod:`tornadish._io.flow_control`'s
  parts. A request's deadline is the connection's one lazily re-armed ``Deadline``, which
  fails the exchange and aborts the transport; a ``body_producer``'s ``write()`` waits on
  the connection's ``WriteGate``: only while the transport's buffer is above its
  high-water mark.
- A connection is reusable only when both sides finished the exchange cleanly, keep-alive
  holds and the server sent nothing after the response. Anything the server says while
  the connection is idle (bytes or EOF) retires it.
- Failures are typed for the public face to translate: :class:`RequestTimeout`, and
  :class:`StreamClosed`, which records whether any response byte had arrived (that
  decides whether a request may safely be retried on a fresh connection).
"""

from __future__ import annotations

import asyncio
import inspect
import zlib
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any

from tornadish._http import client_session as seam
from tornadish._http.engines import client_session_class, resolve_http
from tornadish._http.h11_exchange import head_refusal, informational_refusal
from tornadish._http.headers import HTTPHeaders
from tornadish._io.flow_control import Deadline, WriteGate
from tornadish._io.sockopt import set_nodelay
from tornadish._io.stream_base import UnsatisfiableReadError
from tornadish.log import app_log, gen_log
from tornadish.util import GzipDecompressor

__all__ = [
    "BodyProducer",
    "ClientConnection",
    "RequestTimeout",
    "ResponseReader",
    "StreamClosed",
    "StreamRefused",
]

BodyProducer = Callable[[Callable[[bytes], Awaitable[None]]], Awaitable[None] | None]
"""``async def producer(write)``: sends a request body by calling ``await write(chunk)``
(or a plain function that calls ``write`` and returns ``None``, as Tornado allows)."""

REDIRECT_CODES = frozenset([301, 302, 303, 307, 308])

# Output of one decompression step: bounds what a small gzip body can inflate to at once.
_DECOMPRESS_CHUNK = 65536


class RequestTimeout(Exception):
    """A deadline passed (``message`` says which: connecting, queued, during the request)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StreamClosed(Exception):
    """The exchange ended early: the peer closed, reset, or broke the protocol.

    ``real_error`` is the transport's exception, if any; ``response_started`` tells
    whether any byte of the response had arrived.
    """

    def __init__(
        self, message: str, real_error: BaseException | None = None, response_started: bool = True
    ) -> None:
        super().__init__(message)
        self.message = message
        self.real_error = real_error
        self.response_started = response_started


class StreamRefused(StreamClosed):
    """The server took none of the request: an HTTP/2 stream it refused
    (``REFUSED_STREAM``) or left above its GOAWAY's last stream, or a connection that
    was retired while the request waited for a stream. RFC 9113 §8.7: safe to retry
    on another connection, whatever the method."""

    def __init__(self, message: str) -> None:
        super().__init__(message, None, False)


class MalformedResponse(StreamClosed):
    """The response broke HTTP's rules or the client's limits (``message`` in Tornado's
    words, logged as ``Malformed HTTP message``); the fetch fails as a closed stream."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


class CallbackFailed(StreamClosed):
    """A user callback (``header_callback``, ``streaming_callback``) raised; it was
    logged as ``Uncaught exception`` and the fetch fails as a closed stream."""

    def __init__(self) -> None:
        super().__init__("Stream closed")


def _call_user(callback: Callable[[Any], Any], arg: Any) -> Any:
    try:
        return callback(arg)
    except Exception:
        app_log.error("Uncaught exception", exc_info=True)
        raise CallbackFailed() from None


class ResponseReader:
    """One response as it arrives: its head, the body (decoded, bounded), the callbacks.

    ``redirect_ok`` says whether a redirect may be followed; a response that will be
    followed goes to neither callback and its body is discarded, as in Tornado.
    """

    __slots__ = (
        "_chunked",
        "_chunks",
        "_decoded",
        "_gunzip",
        "_header_callback",
        "_inflating",
        "_max_body_size",
        "_received",
        "_streaming_callback",
        "code",
        "decompress",
        "headers",
        "reason",
        "redirect",
        "redirect_ok",
    )

    def __init__(
        self,
        *,
        decompress: bool,
        max_body_size: int,
        header_callback: Callable[[str], None] | None,
        streaming_callback: Callable[[bytes], None] | None,
        redirect_ok: bool,
    ) -> None:
        self.decompress = decompress
        self.redirect_ok = redirect_ok
        self._max_body_size = max_body_size
        self._header_callback = header_callback
        self._streaming_callback = streaming_callback
        self._gunzip: GzipDecompressor | None = None
        self._chunks: list[bytes] = []
        # The decoding of the last piece (left off while a coroutine callback is busy).
        self._inflating: Iterator[bytes] = iter(())
        self._chunked = False
        self._received = 0
        self._decoded = 0
        self.code = 0
        self.reason = ""
        self.headers = HTTPHeaders()
        self.redirect = False

    def on_head(
        self, code: int, reason: str, version: str, raw: Iterable[tuple[bytes, bytes]]
    ) -> None:
        """The final response head arrived (``raw``: lower-case (name, value) byte pairs)."""
        headers = HTTPHeaders.from_raw(raw)
        self.code = code
        self.reason = reason
        self.headers = headers
        refusal = head_refusal(code, headers, self._max_body_size)
        if refusal is not None:
            raise MalformedResponse(refusal)
        self._chunked = "Transfer-Encoding" in headers
        if self.decompress and headers.joined.get("Content-Encoding") == "gzip":
            # Tornado's convention: the body is handed over decoded, and the header says
            # what was undone.
            headers["X-Consumed-Content-Encoding"] = headers.pop("Content-Encoding")
            self._gunzip = GzipDecompressor()
        self.redirect = self.redirect_ok and code in REDIRECT_CODES and "Location" in headers
        callback = self._header_callback
        if callback is not None and not self.redirect:
            _call_user(callback, f"{version} {code} {reason}\r\n")
            for name, value in headers.get_all():
                _call_user(callback, f"{name}: {value}\r\n")
            _call_user(callback, "\r\n")

    def on_data(self, data: bytes) -> Awaitable[Any] | None:
        """A piece of the body as framed on the wire; an awaitable while a coroutine
        ``streaming_callback`` holds the rest back (reading pauses until it is done)."""
        self._received += len(data)
        if self._received > self._max_body_size:
            raise MalformedResponse("chunked body too large" if self._chunked else "Body too long")
        if self.redirect:
            return None
        if self._gunzip is None:
            return self._deliver(data)
        self._inflating = self._gunzip.pieces(data, _DECOMPRESS_CHUNK)
        return self.flush()

    def _count(self, chunk: bytes) -> None:
        # Decoded bytes count too: a small gzip body must not inflate past the limit.
        self._decoded += len(chunk)
        if self._decoded > self._max_body_size:
            raise MalformedResponse(
                "decompressed body too large" if self._gunzip is not None else "Body too long"
            )

    def _deliver(self, chunk: bytes) -> Awaitable[Any] | None:
        self._count(chunk)
        callback = self._streaming_callback
        if callback is None:
            self._chunks.append(chunk)
            return None
        result = _call_user(callback, chunk)
        return result if result is not None and inspect.isawaitable(result) else None

    def flush(self) -> Awaitable[Any] | None:
        """Decode and hand over what is left of the last piece, a bounded step at a
        time (a gzip bomb never sits decoded in memory); an awaitable while a coroutine
        ``streaming_callback`` is busy with a step."""
        try:
            for out in self._inflating:
                busy = self._deliver(out)
                if busy is not None:
                    return busy
        except zlib.error as e:
            raise MalformedResponse(f"invalid gzip data: {e}") from None
        return None

    def on_end(self) -> None:
        """The body is complete."""
        if self._gunzip is not None and not self.redirect:
            try:
                self._gunzip.flush()
            except zlib.error as e:
                raise MalformedResponse(f"invalid gzip data: {e}") from None

    @property
    def body(self) -> bytes:
        """The body received so far (empty with a ``streaming_callback``)."""
        chunks = self._chunks
        if len(chunks) == 1:
            return chunks[0]
        return b"".join(chunks)


class ClientConnection(asyncio.Protocol):
    """One HTTP/1.1 client connection; :meth:`exchange` runs a request over it."""

    #: One exchange at a time: the pool checks it out and back in.
    multiplexed = False

    __slots__ = (
        "_closing",
        "_continue",
        "_deadline",
        "_done",
        "_eof",
        "_gate",
        "_loop",
        "_max_head",
        "_num_1xx",
        "_on_lost",
        "_reader",
        "_response_started",
        "_session",
        "_waiting",
        "exchanges",
        "idle_since",
        "idled_for",
        "key",
        "transport",
    )

    def __init__(
        self,
        key: Any,
        max_header_size: int,
        on_lost: Callable[[ClientConnection], None] | None = None,
        http: str | None = None,
    ) -> None:
        loop = self._loop = asyncio.get_running_loop()
        self._session = client_session_class(resolve_http(http))(max_header_size)
        self._max_head = max_header_size
        #: The pool's key for this connection (its origin and TLS settings).
        self.key = key
        self._on_lost = on_lost
        self.transport: asyncio.Transport | None = None
        self._reader: ResponseReader | None = None
        self._done: asyncio.Future[None] | None = None
        self._continue: asyncio.Future[bool] | None = None
        self._response_started = False
        self._closing = False
        self._eof = False
        self._num_1xx = 0
        # A coroutine streaming_callback is busy: reading waits for it.
        self._waiting = False
        self._gate = WriteGate(loop)
        self._deadline = Deadline(loop, self._timed_out)
        #: Exchanges completed on this connection (more than 0: it was reused).
        self.exchanges = 0
        #: Loop time at which the connection last went idle (kept by the pool).
        self.idle_since = 0.0
        #: How long it had sat idle in the pool when last taken out (0: never pooled).
        self.idled_for = 0.0

    # -- state --------------------------------------------------------------------

    @property
    def usable(self) -> bool:
        """Open, idle, and the server has not closed its side."""
        transport = self.transport
        return (
            transport is not None
            and not self._closing
            and not self._eof
            and self._done is None
            and not transport.is_closing()
        )

    def close(self) -> None:
        """Close gracefully (buffered output is still sent)."""
        self._closing = True
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        """Close at once, dropping buffered output."""
        self._closing = True
        if self.transport is not None:
            self.transport.abort()

    # -- asyncio.Protocol ---------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        set_nodelay(transport)

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

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        self.transport = None
        self._deadline.cancel()
        message = "Stream closed" if exc is None else str(exc)
        self._fail(StreamClosed(message, exc, self._response_started))
        on_lost = self._on_lost
        self._on_lost = None
        if on_lost is not None:
            on_lost(self)

    def pause_writing(self) -> None:
        self._gate.pause()

    def resume_writing(self) -> None:
        self._gate.resume()

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

    async def exchange(
        self,
        method: str,
        target: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes | None,
        body_producer: BodyProducer | None,
        expect_continue: bool,
        reader: ResponseReader,
        deadline: float | None,
    ) -> bool:
        """Send a request and read its response into ``reader``.

        Returns True when the connection may carry another request. Raises
        :class:`RequestTimeout` past ``deadline`` (loop time), :class:`StreamClosed`,
        ``ValueError`` for a request HTTP/1.1 does not allow, or whatever a user callback
        or the ``body_producer`` raised; the connection is then aborted.
        """
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
            # The producer runs beside the response: a timeout, a reset or an early final
            # answer must not wait for it to notice.
            produced = producer(self._write)
            # Tornado also takes a plain function (it wrote everything when it returns).
            task = asyncio.ensure_future(produced if produced is not None else _nothing())
            try:
                await asyncio.wait((task, done), return_when=asyncio.FIRST_COMPLETED)
            finally:
                if not task.done():
                    task.cancel()
            if done.done():
                # The exchange is decided (answered, timed out or failed); the producer's
                # own failure would only hide why.
                if not task.cancelled():
                    task.exception()
                return
            task.result()
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
        self._gate.lost(error=_stream_closed)

    # -- the deadline ---------------------------------------------------------------

    def _timed_out(self) -> None:
        if self._done is not None:
            self._fail(RequestTimeout("Timeout during request"))


async def _nothing() -> None:
    return None


def _stream_closed() -> StreamClosed:
    return StreamClosed("Stream closed", None)
