"""The connection contract: all that the web layer, WebSocket and ASGI see of a connection.

Rules of this module:

1. Every kind of connection — tornadish's own HTTP/1.1 server connection, the ASGI
   adapter's, later HTTP/2 streams — implements :class:`HTTPConnection` completely; code
   above never probes a connection with ``getattr``/``hasattr`` or reads its private
   attributes, and never sees a protocol object, a transport or an engine.
2. Pure: interfaces and one exception, no I/O.

A request's life on a connection, as the connection drives it: the server calls
``HTTPServerConnectionDelegate.start_request`` for an :class:`HTTPMessageDelegate`, then
its ``headers_received``, ``data_received`` (an awaitable return pauses reading),
``finish`` and, if the peer goes first, ``on_connection_close``. The answer goes back
through ``send_response``/``send_body`` (``finish=True`` ends it) and ``drain`` (flow
control); a WebSocket answer through :meth:`HTTPConnection.accept_websocket`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from tornadish._http.headers import HTTPHeaders
from tornadish._http.parse import RequestStartLine, ResponseStartLine
from tornadish._http.websocket import DeflateAgreement
from tornadish.log import gen_log


class StreamClosedError(OSError):
    """The connection closed before the operation could complete.

    Raised by ``await handler.flush()`` (and ``await conn.drain()``) once the client has
    gone away; ``real_error`` holds the underlying exception, if any.
    """

    def __init__(self, real_error: BaseException | None = None) -> None:
        super().__init__("Stream is closed")
        self.real_error = real_error


class WebSocketNotSupportedError(NotImplementedError):
    """This connection cannot carry a WebSocket (a plain HTTP request that arrived
    through an ASGI server's ``http`` scope, say): what
    :meth:`HTTPConnection.accept_websocket` raises on a connection that does not
    override it. ``WebSocketHandler`` answers it with a 400, as Tornado would answer a
    handshake it cannot complete."""


class UpgradedProtocol(asyncio.Protocol):
    """A protocol that takes a transport over after ``101 Switching Protocols`` (the
    WebSocket connection); server connections hand their transport to one."""

    __slots__ = ()

    def take_over(
        self,
        transport: asyncio.Transport,
        data: bytes,
        writing_paused: bool,
        on_lost: Callable[[], None],
    ) -> None:
        """Start on ``transport``: ``data`` was already read past the HTTP request, the
        transport is above its high-water mark if ``writing_paused``; call ``on_lost``
        once the connection is gone."""
        raise NotImplementedError

    def shutdown(self) -> None:
        """The server is closing: end the connection promptly."""
        raise NotImplementedError


class ConnectionStream(Protocol):
    """The byte stream under a connection, as Tornado handlers reach it through
    ``self.request.connection.stream`` (an ``IOStream`` in Tornado): mostly to ask
    whether the client is still there during a long poll."""

    def closed(self) -> bool:
        """True once the connection has closed (the client went away, or we closed it)."""
        ...

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        """Call ``callback()`` once the connection closes."""
        ...

    def write(self, data: bytes) -> Awaitable[None]:
        """Write raw bytes; resolves once the output buffer has drained."""
        ...

    def close(self) -> None:
        """Close the connection."""
        ...


class WebSocketSink(Protocol):
    """What a WebSocket channel reports to: a ``WebSocketHandler``, a client connection,
    a mounted ASGI app's bridge. An awaitable from ``_ws_message`` holds the next message
    (and reading) until it completes."""

    def _ws_message(self, message: str | bytes) -> Awaitable[None] | None: ...

    def _ws_ping(self, data: bytes) -> None: ...

    def _ws_pong(self, data: bytes) -> None: ...

    def _ws_closed(self, code: int | None, reason: str | None) -> None: ...


class WebSocketChannel(Protocol):
    """An accepted WebSocket as the handler drives it (``handler.ws_connection``):
    tornadish's wsproto connection, or an ASGI server's socket."""

    @property
    def closed(self) -> bool:
        """True once a close frame was sent or the connection is gone."""
        ...

    @property
    def close_received(self) -> bool:
        """True once the peer's close frame arrived."""
        ...

    @property
    def buffered_amount(self) -> int:
        """Bytes written but not yet handed to the peer."""
        ...

    def send_message(self, message: str | bytes, binary: bool = False) -> asyncio.Future[None]:
        """Send one message; resolves once the output buffer has room again."""
        ...

    def ping(self, data: bytes = b"") -> None:
        """Send a ping (a no-op where the server owns pings, as under ASGI)."""
        ...

    def drain(self) -> asyncio.Future[None]:
        """Resolves once the output buffer is below its high-water mark."""
        ...

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Start the closing handshake."""
        ...

    def shutdown(self) -> None:
        """The server is going away: close with 1001 promptly."""
        ...

    def hold(self, awaitable: Awaitable[Any]) -> None:
        """Deliver no message until ``awaitable`` completes (``open()`` running)."""
        ...


class WebSocketOffer:
    """What a handler accepts a WebSocket with (the handshake already validated).

    ``key`` is the client's ``Sec-WebSocket-Key`` (a connection that writes the 101
    itself derives ``Sec-WebSocket-Accept`` from it); ``headers`` are the handler's
    extra response headers (cookies, say); ``subprotocol`` the one chosen; ``deflate``
    the ``permessage-deflate`` agreement with the client (None: no compression), from
    :func:`~tornadish._http.websocket.negotiate_deflate`: the parameters and the
    response header value together, since a connection that writes the 101 needs the
    header and the header cannot be rebuilt from the parameters alone; the rest are
    limits. A connection whose server frames the messages itself (ASGI) uses only the
    subprotocol, the headers and the message size limit.
    """

    __slots__ = (
        "deflate",
        "headers",
        "key",
        "max_message_size",
        "ping_interval",
        "ping_timeout",
        "subprotocol",
    )

    def __init__(
        self,
        key: str,
        headers: list[tuple[bytes, bytes]],
        subprotocol: str | None = None,
        deflate: DeflateAgreement | None = None,
        max_message_size: int | None = None,
        ping_interval: float | None = None,
        ping_timeout: float | None = None,
    ) -> None:
        self.key = key
        self.headers = headers
        self.subprotocol = subprotocol
        self.deflate = deflate
        self.max_message_size = max_message_size
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout


class HTTPConnection:
    """What a request handler writes its response through (one per connection).

    Tornado's interface (``write_headers``, ``write``, ``finish``), kept so code that
    talks to ``request.connection`` directly keeps working, is written on tornadish's
    own (``send_response``, ``send_body``, ``drain``), which the web layer uses. Each
    connection type implements every method below that raises ``NotImplementedError``.
    """

    #: The client's address (after trusted proxy headers, with ``xheaders``).
    remote_ip: str | None = None
    #: ``"http"`` or ``"https"`` (after trusted proxy headers).
    scheme: str = "http"

    # -- Tornado's interface ------------------------------------------------------------

    def write_headers(
        self,
        start_line: RequestStartLine | ResponseStartLine,
        headers: HTTPHeaders,
        chunk: bytes | None = None,
    ) -> Awaitable[None]:
        """Send the status line and headers, optionally with a first body chunk."""
        assert isinstance(start_line, ResponseStartLine)
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.get_all()]
        self.send_response(start_line.code, start_line.reason, raw, chunk or b"", False)
        return self.drain()

    def write(self, chunk: bytes) -> Awaitable[None]:
        """Send a body chunk; the result resolves once the write buffer has drained."""
        self.send_body(chunk, False)
        return self.drain()

    def finish(self) -> None:
        """End the response."""
        self.send_body(b"", True)

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        """Call ``callback()`` (once) if the connection closes before the response ends."""
        raise NotImplementedError()

    def set_max_body_size(self, max_body_size: int) -> None:
        """Change the body limit for the request being read (a streaming handler's
        ``prepare`` may); a larger body is answered 400."""
        raise NotImplementedError()

    def set_body_timeout(self, timeout: float) -> None:
        """Change the body inactivity timeout for the request being read."""
        raise NotImplementedError()

    def limit_body(self, max_body_size: int, status: int = 413) -> None:
        """Set a body limit of the application's own (a route's ``max_body_size``) for
        the request being read: a larger body is refused with ``status``, ``413 Content
        Too Large`` (RFC 9110 §15.5.14), where :meth:`set_max_body_size`, Tornado's API,
        keeps Tornado's 400. Checked where that limit is: a declared ``Content-Length``
        before any of the body is read, and the body (decompressed, if it is) as it
        arrives. This default, for connections with no status of their own to give,
        is :meth:`set_max_body_size`."""
        self.set_max_body_size(max_body_size)

    # -- tornadish's own ------------------------------------------------------------------

    @property
    def max_body_size(self) -> int:
        """The body limit for the request being read (decompression checks it too)."""
        raise NotImplementedError()

    def send_response(
        self,
        status: int,
        reason: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        finish: bool,
    ) -> None:
        """Send the response head with a first body part; ``finish`` ends the response."""
        raise NotImplementedError()

    def send_body(self, chunk: bytes, finish: bool) -> None:
        """Send more of the body; ``finish`` ends the response."""
        raise NotImplementedError()

    def drain(self) -> Awaitable[None]:
        """Resolves once the output buffer is below its high-water mark; fails with
        :class:`StreamClosedError` once the connection is gone."""
        raise NotImplementedError()

    @property
    def closed(self) -> bool:
        """True once the connection has closed or is closing."""
        raise NotImplementedError()

    def close(self) -> None:
        """Close the connection now (what is buffered is still sent)."""
        raise NotImplementedError()

    def abort(self) -> None:
        """Drop the connection now, discarding what is buffered: for a client that takes
        nothing of what we send. Where a connection cannot tell the two apart (under an
        ASGI server, whose close already drops), the same as :meth:`close`."""
        self.close()

    @property
    def stream(self) -> ConnectionStream:
        """The byte stream under this connection (Tornado's ``connection.stream``)."""
        raise NotImplementedError()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """Transport details, as ``asyncio.BaseTransport.get_extra_info`` names them
        (``"peername"``, ``"sockname"``, ``"ssl_object"``, ``"socket"``); ``default``
        where the connection has no such thing."""
        return default

    def detach(self) -> ConnectionStream:
        """Take the connection out of HTTP: the rest of it is raw bytes, through the
        ``IOStream`` returned (Tornado's ``HTTP1Connection.detach``; only HTTP/1.x on
        tornadish's own server can). Nothing more is read or written as HTTP; the bytes
        the client sent past the request are the stream's first."""
        raise NotImplementedError("this connection cannot be detached (HTTP/1.x only)")

    def accept_websocket(self, sink: WebSocketSink, offer: WebSocketOffer) -> WebSocketChannel:
        """Answer the request being handled by accepting its WebSocket handshake (a
        ``101`` on a socket; ``websocket.accept`` under ASGI), then deliver the messages
        to ``sink``. Raises :class:`StreamClosedError` if the client has gone,
        ``HTTPOutputError`` if the response has already started, and (this default)
        :class:`WebSocketNotSupportedError` where the connection cannot upgrade."""
        raise WebSocketNotSupportedError("WebSocket upgrade not supported on this connection")

    # -- graceful drain -------------------------------------------------------------------

    def shutting_down(self) -> asyncio.Future[None]:
        """A new future that completes when the server serving this connection starts a
        graceful shutdown (done already if it has). The server keeps only a weak
        reference to it: keep it while you wait. This default never completes (a
        connection with no server to stop: WSGI, a test's)."""
        return asyncio.get_running_loop().create_future()

    def track_task(self, task: asyncio.Future[Any]) -> None:
        """``task`` works for this connection's request (a coroutine handler, its
        ``on_finish``): a graceful shutdown waits for it while its grace period lasts,
        then cancels it and waits briefly for it to unwind. This default does nothing."""


class HTTPMessageDelegate:
    """Receives one request as it is parsed: head, body chunks, end (or a close)."""

    def headers_received(
        self, start_line: RequestStartLine | ResponseStartLine, headers: HTTPHeaders
    ) -> Awaitable[None] | None:
        """The request line and headers arrived. Returning an awaitable pauses reading."""
        return None

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        """A body chunk arrived. Returning an awaitable pauses reading until it is done."""
        return None

    def finish(self) -> None:
        """The whole request has been received."""

    def on_connection_close(self) -> None:
        """The connection closed before the request was complete or answered."""


class HTTPServerConnectionDelegate:
    """Something that can serve requests: an ``Application`` or your own router."""

    #: When set, told of each connection a server accepts (+1) and closes (-1): an
    #: application's metrics (its ``metrics`` setting). Read once, when the server is made.
    connection_watch: Callable[[int], None] | None = None

    def start_request(
        self, server_conn: object, request_conn: HTTPConnection
    ) -> HTTPMessageDelegate:
        """Return the delegate that will receive the next request on ``request_conn``."""
        raise NotImplementedError()

    def on_close(self, server_conn: object) -> None:
        """A connection that carried requests to this delegate has closed."""


def notify_close(callback: Callable[[], None] | None, delegate: HTTPMessageDelegate | None) -> None:
    """Tell a request that its connection is gone, the same way on every connection:
    ``callback()`` (the one
    ``set_close_callback`` gave), then ``delegate.on_connection_close()``. The caller
    forgets both first, so each runs once."""
    if callback is not None:
        try:
            callback()
        except Exception:
            gen_log.exception("Exception in connection close callback")
    if delegate is not None:
        try:
            delegate.on_connection_close()
        except Exception:
            gen_log.exception("Exception in on_connection_close")


class CloseCallbackView:
    """What Tornado code reaching ``request.connection.stream`` sets a close callback
    on: the callback, run once when the connection (or stream) goes (an exception
    from it is logged, never raised)."""

    __slots__ = ("_close_callback",)

    def __init__(self) -> None:
        self._close_callback: Callable[[], None] | None = None

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        """Call ``callback()`` once the connection closes."""
        self._close_callback = callback

    def _run_close_callback(self) -> None:
        callback, self._close_callback = self._close_callback, None
        if callback is not None:
            try:
                callback()
            except Exception:
                gen_log.exception("Exception in stream close callback")
