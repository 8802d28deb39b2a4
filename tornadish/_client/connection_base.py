"""What both client connections share, HTTP/1.1's (:mod:`.connection`) and HTTP/2's
(:mod:`.h2_connection`): the exchange's vocabulary, and the part of a connection that
the pool and the fetch see.

Rules of this module:

1. An exchange is the same whatever carries it: :meth:`ClientConnectionBase.exchange`
   states its arguments, its answer and its failures once; a :class:`ResponseReader`
   makes the response (headers, a decoded and bounded body, the user's callbacks); the
   failures are typed for the public face to translate (:class:`RequestTimeout`, and
   :class:`StreamClosed`, which records whether any response byte had arrived: that
   decides whether a request may safely be retried on a fresh connection).
2. :class:`ClientConnectionBase` holds what the pool and the fetch read of a connection
   (``key``, ``multiplexed``, ``usable``, ``exchanges``, ``idle_since``, ``idled_for``)
   and the ``asyncio.Protocol`` parts both protocols answer alike: ``TCP_NODELAY`` once
   connected, the transport's write pauses in one ``WriteGate``, close and abort, and a
   lost connection failing what was in flight before the pool hears of it.
3. A ``body_producer`` runs beside the response (:func:`run_producer`): a timeout, a
   reset or an early final answer does not wait for it to notice.
"""

from __future__ import annotations

import asyncio
import inspect
import zlib
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator
from typing import Any, ClassVar, NamedTuple

from tornadish._http.h11_exchange import head_refusal
from tornadish._http.headers import HTTPHeaders
from tornadish._io.flow_control import WriteGate
from tornadish._io.sockopt import set_nodelay
from tornadish.log import app_log
from tornadish.util import GzipDecompressor

__all__ = [
    "BodyProducer",
    "CallbackFailed",
    "ClientConnectionBase",
    "MalformedResponse",
    "Outgoing",
    "RequestTimeout",
    "ResponseReader",
    "StreamClosed",
    "StreamRefused",
    "run_producer",
    "stream_closed",
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


class Outgoing(NamedTuple):
    """What an exchange sends: the request line's parts, the headers (``(name, value)``
    byte pairs), and a body (``body``, or a ``producer`` that writes it)."""

    method: str
    target: str
    headers: list[tuple[bytes, bytes]]
    body: bytes | None
    producer: BodyProducer | None
    #: Send the body only after the server's ``100 Continue``.
    expect_continue: bool


class ClientConnectionBase(asyncio.Protocol):
    """What the pool and the fetch see of a client connection, whichever protocol it
    speaks (rule 2); the subclass runs the exchange (``_exchange``) and says what
    a lost connection fails (``_lost``)."""

    #: True: many exchanges at once, the pool shares the connection; False: one at a
    #: time, the pool checks it out and back in.
    multiplexed: ClassVar[bool]

    __slots__ = (
        "_closing",
        "_gate",
        "_loop",
        "_on_lost",
        "exchanges",
        "idle_since",
        "idled_for",
        "key",
        "transport",
    )

    def __init__(self, key: Any, on_lost: Callable[[Any], None] | None) -> None:
        loop = self._loop = asyncio.get_running_loop()
        #: The pool's key for this connection (its origin and TLS settings).
        self.key = key
        self._on_lost = on_lost
        self.transport: asyncio.Transport | None = None
        # Closed, closing, or (HTTP/2) GOAWAY sent or received: no new exchange.
        self._closing = False
        self._gate = WriteGate(loop)
        #: Exchanges completed on this connection (more than 0: it was reused).
        self.exchanges = 0
        #: Loop time at which the connection last went idle (kept by the pool).
        self.idle_since = 0.0
        #: How long it had sat idle in the pool when last taken out (0: never pooled).
        self.idled_for = 0.0

    # -- state --------------------------------------------------------------------

    @property
    def usable(self) -> bool:
        """Open, and it takes new exchanges."""
        transport = self.transport
        return transport is not None and not self._closing and not transport.is_closing()

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

    # -- the exchange ---------------------------------------------------------------

    def exchange(
        self,
        method: str,
        target: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes | None,
        body_producer: BodyProducer | None,
        expect_continue: bool,
        reader: ResponseReader,
        deadline: float | None,
    ) -> Coroutine[Any, Any, bool]:
        """Send a request and read its response into ``reader``; awaited, True when
        the connection may carry another request.

        Raises :class:`RequestTimeout` past ``deadline`` (loop time),
        :class:`StreamClosed` (:class:`StreamRefused` when the server never processed
        it), ``ValueError`` for a request the protocol does not allow, or whatever a
        user callback or the ``body_producer`` raised. An HTTP/1.1 connection is then
        aborted; on HTTP/2 only the exchange's stream is reset.
        """
        request = Outgoing(method, target, headers, body, body_producer, expect_continue)
        return self._exchange(request, reader, deadline)

    async def _exchange(
        self, request: Outgoing, reader: ResponseReader, deadline: float | None
    ) -> bool:
        """Run :meth:`exchange` (the protocol's part)."""
        raise NotImplementedError

    # -- asyncio.Protocol ---------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        set_nodelay(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        self.transport = None
        self._lost(StreamClosed("Stream closed" if exc is None else str(exc), exc))
        # A producer may have stopped listening: the gate marks the errors retrieved.
        self._gate.lost(error=stream_closed)
        on_lost = self._on_lost
        self._on_lost = None
        if on_lost is not None:
            on_lost(self)

    def _lost(self, error: StreamClosed) -> None:
        """The connection is gone (``error`` says how; each exchange in flight fails
        with its message, its own ``response_started``): stop the timers."""
        raise NotImplementedError

    def pause_writing(self) -> None:
        self._gate.pause()

    def resume_writing(self) -> None:
        self._gate.resume()


async def run_producer(
    producer: BodyProducer,
    write: Callable[[bytes], Awaitable[None]],
    done: asyncio.Future[None],
) -> bool:
    """Run a ``body_producer`` with ``write`` beside the response (rule 3): True once
    it has written everything, False if ``done`` (the exchange: answered, timed out or
    failed) was decided first. Raises what the producer raised, unless the exchange was
    decided: its failure would then only hide why."""
    produced = producer(write)
    # Tornado also takes a plain function (it wrote everything when it returns).
    task = asyncio.ensure_future(produced if produced is not None else _nothing())
    try:
        await asyncio.wait((task, done), return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not task.done():
            task.cancel()
    if done.done():
        if not task.cancelled():
            task.exception()  # retrieved
        return False
    task.result()
    return True


async def _nothing() -> None:
    return None


def stream_closed() -> StreamClosed:
    """The error a body producer's pending ``write()`` fails with once the exchange is
    over (the ``error`` of a ``WriteGate.lost``)."""
    return StreamClosed("Stream closed", None)
