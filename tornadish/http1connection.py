"""Tornado's ``tornado.http1connection``: HTTP/1.x over an :class:`~tornadish.iostream.IOStream`.

tornadish's own server and client speak HTTP/1.1 through asyncio protocols of their
own (faster, and what ``HTTPServer`` and ``AsyncHTTPClient`` use). This module is for
code that drives HTTP/1.x over a stream it holds itself, as Tornado allows:

- a client: ``HTTP1Connection(stream, is_client=True)``, then ``write_headers`` /
  ``write`` / ``finish`` a request and ``await read_response(delegate)``; or read a
  response straight off a raw stream;
- a server: ``HTTP1ServerConnection(stream).start_serving(delegate)`` inside your own
  ``TCPServer.handle_stream``, with an ``Application`` (or any
  ``HTTPServerConnectionDelegate``) as the delegate.

The framing (Content-Length, chunked, read-until-close, HEAD, 1xx, 204 and 304) is
h11's, through :mod:`tornadish._http.h11_exchange`; this module is the asyncio glue:
reads, writes, timeouts, the delegate's callbacks and Tornado's error handling (a
delegate that raises is logged as ``Uncaught exception`` and told the connection
closed; a malformed message is logged as ``Malformed HTTP message from ...`` and closes
the connection, a server answering ``400`` first).

Differences from Tornado's, both where h11 is stricter: an HTTP/1.0 request is never
kept alive on this server path (tornadish's ``HTTPServer`` keeps it), and a client body
on a method other than POST, PUT or PATCH needs a ``Content-Length``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import types
from collections.abc import Awaitable, Callable
from typing import Any, cast

from tornadish._http.body import BodyDecoder
from tornadish._http.h11_exchange import (
    END,
    MAX_1XX_RESPONSES,
    NEED_DATA,
    Exchange,
    Head,
    head_refusal,
)
from tornadish.httputil import (
    HTTPConnection,
    HTTPHeaders,
    HTTPInputError,
    HTTPMessageDelegate,
    HTTPServerConnectionDelegate,
    RequestStartLine,
    ResponseStartLine,
)
from tornadish.iostream import IOStream, SSLIOStream, StreamClosedError, UnsatisfiableReadError
from tornadish.log import app_log, gen_log

__all__ = [
    "HTTP1Connection",
    "HTTP1ConnectionParameters",
    "HTTP1ServerConnection",
    "is_transfer_encoding_chunked",
    "parse_hex_int",
    "parse_int",
]

#: How many informational (1xx) responses may precede a response.
_MAX_1XX_RESPONSES = MAX_1XX_RESPONSES

# A body already buffered is parsed without waiting on the network; after this many
# parser events, let the loop run the other connections.
_YIELD_EVERY = 256


class _QuietException(Exception):
    """A delegate raised; it was logged and the delegate was told the connection closed."""


class _ExceptionLoggingContext:
    """Around a delegate's callback: log what it raises as ``Uncaught exception`` and
    turn it into :class:`_QuietException` (an ``HTTPInputError`` passes through: the
    message was bad, not the delegate)."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        if value is not None and typ is not None and not isinstance(value, HTTPInputError):
            self.logger.error("Uncaught exception", exc_info=(typ, value, tb))
            raise _QuietException


class HTTP1ConnectionParameters:
    """Parameters for :class:`HTTP1Connection` and :class:`HTTP1ServerConnection`.

    ``no_keep_alive``: close after one request. ``chunk_size``: how much to read (and
    hand a delegate) at once (64 KiB). ``max_header_size``: the limit on a message head
    (64 KiB). ``header_timeout`` / ``body_timeout``: seconds to wait for the head / the
    whole body. ``max_body_size``: the limit on a body (the stream's
    ``max_buffer_size`` by default). ``decompress``: decode ``Content-Encoding: gzip``.
    """

    def __init__(
        self,
        no_keep_alive: bool = False,
        chunk_size: int | None = None,
        max_header_size: int | None = None,
        header_timeout: float | None = None,
        max_body_size: int | None = None,
        body_timeout: float | None = None,
        decompress: bool = False,
    ) -> None:
        self.no_keep_alive = no_keep_alive
        self.chunk_size = chunk_size or 65536
        self.max_header_size = max_header_size or 65536
        self.header_timeout = header_timeout
        self.max_body_size = max_body_size
        self.body_timeout = body_timeout
        self.decompress = decompress


class HTTP1Connection(HTTPConnection):
    """One HTTP/1.x message exchange over ``stream``: a request and its response.

    As a client, write the request (``write_headers``, ``write``, ``finish``) and read
    the response with :meth:`read_response`; as a server (through
    :class:`HTTP1ServerConnection`) it reads the request and the delegate writes the
    response. ``context`` is yours (``connection.context``); a server's gives the
    request its ``remote_ip`` and ``protocol`` where it has them.
    """

    def __init__(
        self,
        stream: IOStream,
        is_client: bool,
        params: HTTP1ConnectionParameters | None = None,
        context: object | None = None,
    ) -> None:
        self.is_client = is_client
        self._stream: IOStream | None = stream
        self.params = params if params is not None else HTTP1ConnectionParameters()
        self.context = context
        self.no_keep_alive = self.params.no_keep_alive
        self._max_body_size = (
            self.params.max_body_size
            if self.params.max_body_size is not None
            else stream.max_buffer_size
        )
        self._body_timeout = self.params.body_timeout
        self._exchange = Exchange(is_client, self.params.max_header_size)
        self._leftover_returned = False
        self._write_finished = False
        self._read_finished = False
        self._finish_future: asyncio.Future[None] = asyncio.get_event_loop().create_future()
        self._disconnect_on_finish = False
        self._close_callback: Callable[[], None] | None = None
        self._pending_write: asyncio.Future[None] | None = None
        self._write_future: asyncio.Future[None] | None = None
        self._request_start_line: RequestStartLine | None = None
        self._request_headers: HTTPHeaders | None = None
        self._response_start_line: ResponseStartLine | None = None
        self.remote_ip = getattr(context, "remote_ip", None) or _peer_ip(stream)
        self.scheme = getattr(context, "protocol", None) or (
            "https" if isinstance(stream, SSLIOStream) else "http"
        )

    @property
    def stream(self) -> IOStream:
        """The stream under this connection; ``None`` once :meth:`detach` took it (as in
        Tornado, whose type says ``IOStream`` all the same)."""
        return cast(IOStream, self._stream)

    # -- reading ---------------------------------------------------------------------

    def read_response(self, delegate: HTTPMessageDelegate) -> Awaitable[bool]:
        """Read one message (a response as a client, a request as a server) into
        ``delegate``; the result is True if the stream is still open afterwards.

        As a server, it resolves only once the response has been written.
        """
        if self.params.decompress:
            delegate = BodyDecoder(delegate, self.params.chunk_size, self, gzip=True)
        return self._read_message(delegate)

    async def _read_message(self, delegate: HTTPMessageDelegate) -> bool:
        try:
            return await self._read_message_inner(delegate)
        except _QuietException:
            self.close()
            return False

    async def _read_message_inner(self, delegate: HTTPMessageDelegate) -> bool:
        need_delegate_close = False
        try:
            head = await self._with_timeout(self._read_head(), self.params.header_timeout)
            if head is None:
                self.close()
                return False
            while True:
                if not self.is_client:
                    assert isinstance(head.start_line, RequestStartLine)
                    self._request_start_line = head.start_line
                    self._request_headers = head.headers
                    self._disconnect_on_finish = self.no_keep_alive
                need_delegate_close = True
                with _ExceptionLoggingContext(app_log):
                    received = delegate.headers_received(head.start_line, head.headers)
                    if received is not None:
                        await received
                if self._detached():
                    need_delegate_close = False
                    return False
                if not head.informational:
                    break
                # The response proper follows (Tornado tells the delegate each 1xx).
                need_delegate_close = False
                head = await self._read_head()
            reading = self.stream
            if self._exchange.expecting_continue and not self._write_finished:
                reading.write(self._exchange.send_continue())
            code = None if isinstance(head.start_line, RequestStartLine) else head.start_line.code
            refusal = head_refusal(code, head.headers, self._max_body_size)
            if refusal is not None:
                raise HTTPInputError(refusal)
            body = self._read_body(delegate)
            if await self._with_timeout(body, self._body_timeout) is None:
                gen_log.info("Timeout reading body from %s", self.context)
                reading.close()
                return False
            self._read_finished = True
            if not self._write_finished or self.is_client:
                with _ExceptionLoggingContext(app_log):
                    delegate.finish()
            need_delegate_close = False
            current = self._stream
            if not self._finish_future.done() and current is not None and not current.closed():
                # Waiting for the application's response: only now can a close that
                # nobody is reading notice go to the connection's close callback.
                current.set_close_callback(self._on_connection_close)
                await self._finish_future
            if self._detached():
                return False
        except HTTPInputError as e:
            gen_log.info("Malformed HTTP message from %s: %s", self.context, e)
            failed = self._stream
            if not self.is_client and failed is not None and not failed.closed():
                await failed.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            elif self.is_client:
                # A client's delegate is told even before its headers: it waits on it.
                need_delegate_close = True
            self.close()
            return False
        finally:
            if need_delegate_close:
                with _ExceptionLoggingContext(app_log):
                    delegate.on_connection_close()
            self._clear_callbacks()
        return True

    def _detached(self) -> bool:
        # A method, not an inline test: the delegate's callbacks may detach meanwhile.
        return self._stream is None

    async def _with_timeout(self, work: Awaitable[Any], timeout: float | None) -> Any:
        """``await work``, or ``None`` once ``timeout`` seconds have passed."""
        if timeout is None:
            return await work
        try:
            return await asyncio.wait_for(work, timeout)
        except asyncio.TimeoutError:
            return None

    async def _read_head(self) -> Head:
        exchange = self._exchange
        while True:
            try:
                event = exchange.next_event()
            except EOFError:
                raise StreamClosedError() from None
            if isinstance(event, Head):
                return event
            assert event is NEED_DATA
            stream = self._stream
            assert stream is not None
            try:
                data = await stream.read_bytes(self.params.chunk_size, partial=True)
            except StreamClosedError:
                # Tornado's: a stream that ends before (or inside) a head is closed,
                # not malformed.
                self._return_leftover()
                raise
            exchange.receive(data)

    async def _read_body(self, delegate: HTTPMessageDelegate) -> bool:
        exchange = self._exchange
        chunk_size = self.params.chunk_size
        limit = self._max_body_size
        pending = bytearray()
        total = events = 0
        ended = False
        while True:
            try:
                event = exchange.next_event()
            except HTTPInputError:
                if ended:
                    raise StreamClosedError() from None  # cut short, as Tornado reports it
                raise
            if event is END:
                self._return_leftover()
                if pending:
                    await self._deliver(delegate, bytes(pending))
                return True
            if isinstance(event, bytes):
                total += len(event)
                if total > limit:
                    raise HTTPInputError("Body too long")
                if not pending and len(event) >= chunk_size:
                    await self._deliver(delegate, event)  # full-sized: no copy
                else:
                    pending += event
                    while len(pending) >= chunk_size:
                        data = bytes(pending[:chunk_size])
                        del pending[:chunk_size]
                        await self._deliver(delegate, data)
                events += 1
                if events % _YIELD_EVERY == 0:
                    await asyncio.sleep(0)
                continue
            assert event is NEED_DATA
            stream = self._stream
            assert stream is not None
            read = stream.read_bytes(chunk_size, partial=True)
            if pending and not read.done():
                # About to wait for the network: hand over what we have first.
                data = bytes(pending)
                pending.clear()
                await self._deliver(delegate, data)
            try:
                exchange.receive(await read)
            except StreamClosedError:
                exchange.receive(b"")
                ended = True

    async def _deliver(self, delegate: HTTPMessageDelegate, data: bytes) -> None:
        # A server that already answered reads the rest of the body only to discard it.
        if not self._write_finished or self.is_client:
            with _ExceptionLoggingContext(app_log):
                received = delegate.data_received(data)
                if received is not None:
                    await received

    def _return_leftover(self) -> None:
        """Give the stream back the bytes read past this message (once)."""
        if not self._leftover_returned and self._stream is not None:
            self._leftover_returned = True
            self._stream._unread(self._exchange.leftover())

    # -- the connection's life -------------------------------------------------------

    def _clear_callbacks(self) -> None:
        """Drop the callbacks (so a handler is freed early, as Tornado does)."""
        self._write_future = None
        self._close_callback = None
        if self._stream is not None:
            self._stream.set_close_callback(None)

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        """Call ``callback()`` if the connection closes while the response is being
        produced (the delegate's ``on_connection_close`` covers the reading)."""
        self._close_callback = callback

    def _on_connection_close(self) -> None:
        if self._close_callback is not None:
            callback = self._close_callback
            self._close_callback = None
            callback()
        if not self._finish_future.done():
            self._finish_future.set_result(None)
        self._clear_callbacks()

    def close(self) -> None:
        """Close the stream and end the exchange."""
        if self._stream is not None:
            self._stream.close()
        self._clear_callbacks()
        if not self._finish_future.done():
            self._finish_future.set_result(None)

    def detach(self) -> IOStream:
        """Take the stream out of HTTP (during ``headers_received``, or once the message
        was read): no more HTTP is read or written, and the bytes that followed the
        message are the stream's next."""
        self._clear_callbacks()
        self._return_leftover()
        stream = self._stream
        assert stream is not None, "already detached"
        self._stream = None
        if not self._finish_future.done():
            self._finish_future.set_result(None)
        return stream

    def set_body_timeout(self, timeout: float) -> None:
        """The body timeout for this message (overrides the parameters')."""
        self._body_timeout = timeout

    def set_max_body_size(self, max_body_size: int) -> None:
        """The body limit for this message (overrides the parameters')."""
        self._max_body_size = max_body_size

    @property
    def max_body_size(self) -> int:
        """The body limit for the message being read."""
        return self._max_body_size

    @property
    def closed(self) -> bool:
        """True once the stream is closed or detached."""
        return self._stream is None or self._stream.closed()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """``"socket"``, ``"peername"`` and ``"sockname"`` from the stream's socket."""
        sock = getattr(self._stream, "socket", None)
        if sock is None:
            return default
        if name == "socket":
            return sock
        try:
            if name == "peername":
                return sock.getpeername()
            if name == "sockname":
                return sock.getsockname()
        except OSError:
            pass
        return default

    # -- writing ---------------------------------------------------------------------

    def write_headers(
        self,
        start_line: RequestStartLine | ResponseStartLine,
        headers: HTTPHeaders,
        chunk: bytes | None = None,
    ) -> asyncio.Future[None]:
        """Send a request head (client) or response head (server), with a first body
        chunk if given; the result resolves once they are written."""
        if isinstance(start_line, RequestStartLine):
            self._request_start_line = start_line
        else:
            self._response_start_line = start_line
            request = self._request_start_line
            if self._disconnect_on_finish and request is not None and request.version == "HTTP/1.1":
                headers["Connection"] = "close"
        stream = self._stream
        assert stream is not None, "detached"
        try:
            data = self._exchange.send_head(start_line, headers)
            if chunk:
                data += self._exchange.send_data(chunk)
        except Exception:
            stream.close()
            raise
        return self._write_bytes(data)

    def write(self, chunk: bytes) -> asyncio.Future[None]:
        """Send a body chunk; the result resolves once it is written."""
        stream = self._stream
        assert stream is not None, "detached"
        if stream.closed():
            return self._write_bytes(b"")
        try:
            data = self._exchange.send_data(chunk)
        except Exception:
            stream.close()  # stop the framing error from going further
            raise
        return self._write_bytes(data)

    def _write_bytes(self, data: bytes) -> asyncio.Future[None]:
        stream = self._stream
        assert stream is not None
        future: asyncio.Future[None] = asyncio.get_event_loop().create_future()
        self._write_future = future
        if stream.closed():
            future.set_exception(StreamClosedError())
            future.exception()  # retrieved: nobody has to await a write to a closed stream
            return future
        self._pending_write = stream.write(data)
        self._pending_write.add_done_callback(self._on_write_complete)
        return future

    def finish(self) -> None:
        """End our message. A server that answered before the request's body was read
        closes the connection afterwards (the only way not to read that body)."""
        stream = self._stream
        assert stream is not None, "detached"
        if not stream.closed():
            try:
                data = self._exchange.send_end()
            except Exception:
                stream.close()
                raise
            if data:
                self._pending_write = stream.write(data)
                self._pending_write.add_done_callback(self._on_write_complete)
        self._write_finished = True
        if not self._read_finished:
            self._disconnect_on_finish = True
        if isinstance(stream, IOStream):
            stream.set_nodelay(True)  # nothing more is coming: send what is buffered now
        if self._pending_write is None:
            self._finish_request(None)
        else:
            self._pending_write.add_done_callback(self._finish_request)

    def _on_write_complete(self, future: asyncio.Future[None]) -> None:
        if not future.cancelled():
            exc = future.exception()
            if exc is not None and not isinstance(exc, StreamClosedError):
                future.result()
        if self._write_future is not None:
            waiter = self._write_future
            self._write_future = None
            if not waiter.done():
                waiter.set_result(None)

    def _finish_request(self, future: asyncio.Future[None] | None) -> None:
        self._clear_callbacks()
        stream = self._stream
        if stream is None:
            return
        if not self.is_client and (self._disconnect_on_finish or not self._exchange.reusable):
            self.close()
            return
        if isinstance(stream, IOStream) and not stream.closed():
            stream.set_nodelay(False)
        if not self._finish_future.done():
            self._finish_future.set_result(None)

    # -- tornadish's connection contract (what the web layer writes through) ---------

    def send_response(
        self,
        status: int,
        reason: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        finish: bool,
    ) -> None:
        """The web layer's response head (and first body part)."""
        start_line = ResponseStartLine("HTTP/1.1", status, reason)
        self.write_headers(start_line, HTTPHeaders.from_raw(headers), body or None)
        if finish:
            self.finish()

    def send_body(self, chunk: bytes, finish: bool) -> None:
        """The web layer's next body part."""
        if chunk:
            self.write(chunk)
        if finish:
            self.finish()

    def drain(self) -> Awaitable[None]:
        """Resolves once what was written has gone out; fails once the stream closed."""
        future: asyncio.Future[None] = asyncio.get_event_loop().create_future()
        if self.closed:
            future.set_exception(StreamClosedError())
            return future
        pending = self._write_future
        if pending is None or pending.done():
            future.set_result(None)
            return future
        return pending


def _peer_ip(stream: IOStream) -> str | None:
    try:
        address = stream.socket.getpeername()
    except (AttributeError, OSError):
        return None
    return address[0] if isinstance(address, tuple) else None


class HTTP1ServerConnection:
    """Serve HTTP/1.x requests on ``stream``, one after another, to a delegate."""

    def __init__(
        self,
        stream: IOStream,
        params: HTTP1ConnectionParameters | None = None,
        context: object | None = None,
    ) -> None:
        self.stream = stream
        self.params = params if params is not None else HTTP1ConnectionParameters()
        self.context = context
        self._serving_future: asyncio.Future[None] | None = None

    async def close(self) -> None:
        """Close the stream; resolves once the serving loop has ended."""
        self.stream.close()
        assert self._serving_future is not None
        try:
            await self._serving_future
        except Exception:
            pass  # start_serving logs them

    def start_serving(self, delegate: HTTPServerConnectionDelegate) -> None:
        """Start serving requests to ``delegate`` (an ``Application``, a router...)."""
        assert isinstance(delegate, HTTPServerConnectionDelegate)
        self._serving_future = asyncio.ensure_future(self._server_request_loop(delegate))
        self._serving_future.add_done_callback(_log_failure)

    async def _server_request_loop(self, delegate: HTTPServerConnectionDelegate) -> None:
        try:
            while True:
                conn = HTTP1Connection(self.stream, False, self.params, self.context)
                request_delegate = delegate.start_request(self, conn)
                try:
                    keep_going = await conn.read_response(request_delegate)
                except (StreamClosedError, UnsatisfiableReadError, asyncio.CancelledError):
                    return
                except Exception:
                    gen_log.error("Uncaught exception", exc_info=True)
                    conn.close()
                    return
                if not keep_going:
                    return
                await asyncio.sleep(0)
        finally:
            delegate.on_close(self)


def _log_failure(future: asyncio.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        app_log.error("Exception in HTTP1ServerConnection", exc_info=future.exception())


_DIGITS = re.compile(r"[0-9]+")
_HEXDIGITS = re.compile(r"[0-9a-fA-F]+")


def parse_int(s: str) -> int:
    """Parse a non-negative decimal integer (digits only: no sign, no spaces)."""
    if _DIGITS.fullmatch(s) is None:
        raise ValueError(f"not an integer: {s!r}")
    return int(s)


def parse_hex_int(s: str) -> int:
    """Parse a non-negative hexadecimal integer (hex digits only)."""
    if _HEXDIGITS.fullmatch(s) is None:
        raise ValueError(f"not a hexadecimal integer: {s!r}")
    return int(s, 16)


def is_transfer_encoding_chunked(headers: HTTPHeaders) -> bool:
    """True if ``headers`` say ``Transfer-Encoding: chunked``.

    Strict on purpose (request smuggling lives in the gaps): both Transfer-Encoding and
    Content-Length, or any transfer coding but ``chunked``, raise ``HTTPInputError``.
    """
    if "Transfer-Encoding" not in headers:
        return False
    if "Content-Length" in headers:
        raise HTTPInputError("Message with both Transfer-Encoding and Content-Length")
    if headers["Transfer-Encoding"].lower() == "chunked":
        return True
    raise HTTPInputError(f"Unsupported Transfer-Encoding {headers['Transfer-Encoding']}")
