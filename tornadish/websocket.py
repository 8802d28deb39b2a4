"""WebSockets: :class:`WebSocketHandler` on the server, :func:`websocket_connect` as client.

The face is Tornado's ``tornado.websocket``; the handshake rules are
:mod:`tornadish._http.websocket`'s, the frames parsed by wsproto or the ``websockets``
library (``ws=``/``TORNADISH_WS``), driven by :mod:`tornadish._io.websocket` (the
client's handshake by :mod:`tornadish._client.websocket`).
A WebSocket route is an ordinary route: routing, ``prepare``, cookies and
``current_user`` run before the upgrade, which then happens on the same connection
through its ``accept_websocket`` (on tornadish's server h11 sends the 101 and the
transport is handed to the WebSocket protocol; under an ASGI server, the server's
socket carries the messages).

.. code-block:: python

    class EchoWebSocket(WebSocketHandler):
        def open(self):
            print("WebSocket opened")

        def on_message(self, message):
            self.write_message("You said: " + message)

        def on_close(self):
            print("WebSocket closed")

    async def client():
        conn = await websocket_connect("ws://localhost:8888/echo")
        await conn.write_message("hello")
        print(await conn.read_message())
        conn.close()
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from tornadish import escape
from tornadish._client.websocket import connect_websocket
from tornadish._http.contract import (
    StreamClosedError,
    WebSocketChannel,
    WebSocketNotSupportedError,
    WebSocketOffer,
)
from tornadish._http.headers import HTTPHeaders
from tornadish._http.permessage_deflate import (
    DecompressTooLargeError,
    PerMessageDeflateCompressor,
    PerMessageDeflateDecompressor,
)
from tornadish._http.websocket import (
    DEFAULT_MAX_MESSAGE_SIZE,
    HandshakeRefusal,
    WebSocketClosedError,
    WebSocketError,
    negotiate_deflate,
    offered_subprotocols,
    upgrade_refusal,
    version_refusal,
)
from tornadish._io.websocket import WebSocketProtocol, WebSocketStream
from tornadish._web.handler import RequestHandler
from tornadish.log import app_log, gen_log

if TYPE_CHECKING:
    from tornadish.httpclient import HTTPRequest

__all__ = [
    "WebSocketClientConnection",
    "WebSocketClosedError",
    "WebSocketError",
    "WebSocketHandler",
    "WebSocketProtocol",
    "WebSocketProtocol13",
    "websocket_connect",
]

_NOT_SUPPORTED = HandshakeRefusal(400, "WebSocket upgrade not supported on this connection")

#: Tornado's name for its RFC 6455 connection: tornadish's one (on either engine).
WebSocketProtocol13 = WebSocketProtocol
# Tornado's private names for the permessage-deflate codec, which code written for
# Tornado imports; tornadish's connections compress and inflate with these classes.
_PerMessageDeflateCompressor = PerMessageDeflateCompressor
_PerMessageDeflateDecompressor = PerMessageDeflateDecompressor
_DecompressTooLargeError = DecompressTooLargeError


class WebSocketHandler(RequestHandler):
    """Subclass to handle a WebSocket route; override :meth:`open`, :meth:`on_message`
    and :meth:`on_close`, send with :meth:`write_message`.

    The route's path groups reach :meth:`open`. Messages arrive in order, one at a
    time: an ``async def on_message`` delays the next message (and stops reading from
    the socket) until it returns.

    Application settings: ``websocket_ping_interval`` (seconds; pings off by default),
    ``websocket_ping_timeout`` (default and maximum: the interval) and
    ``websocket_max_message_size`` (10 MiB; larger messages close the socket with
    1009).
    """

    def __init__(self, application: Any, request: Any, **kwargs: Any) -> None:
        self.ws_connection: WebSocketChannel | None = None
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self.open_args: tuple[Any, ...] = ()
        self.open_kwargs: dict[str, Any] = {}
        self._selected_subprotocol: str | None = None
        self._ws_opened = False
        self._on_close_called = False
        super().__init__(application, request, **kwargs)

    # -- the upgrade --------------------------------------------------------------

    def get(self, *args: Any, **kwargs: Any) -> None:
        """Validate the handshake and upgrade (not meant to be overridden)."""
        self.open_args = args
        self.open_kwargs = kwargs
        headers = self.request.headers
        refusal = upgrade_refusal(headers)
        if refusal is not None:
            self._refuse(refusal)
            return
        # Browsers do not apply the same-origin policy to WebSockets, so the
        # cross-origin check always applies here (after prepare(), which check_origin
        # may rely on), whatever the cross_origin_protection setting says.
        error = self._cross_origin_error(self.check_origin)
        if error is not None:
            gen_log.debug("Cross origin websocket refused: %s", error)
            self._refuse(HandshakeRefusal(403, "Cross origin websockets not allowed"))
            return
        refusal = version_refusal(headers)
        if refusal is not None:
            self._refuse(refusal)
            return
        self._accept(headers["Sec-WebSocket-Key"])

    def _refuse(self, refusal: HandshakeRefusal) -> None:
        self.set_status(refusal.status)
        for name, value in refusal.headers:
            self.set_header(name, value)
        self.finish(refusal.body or None)
        if refusal.body:
            gen_log.debug(refusal.body)

    def _accept(self, key: str) -> None:
        headers = self.request.headers
        offered = offered_subprotocols(headers)
        selected = self.select_subprotocol(offered)
        if selected is not None:
            if selected not in offered:
                raise ValueError(f"select_subprotocol returned {selected!r}, not offered")
            self._selected_subprotocol = selected
        deflate = negotiate_deflate(
            self.get_compression_options(), headers.get("Sec-WebSocket-Extensions", "")
        )
        conn = self.request.connection
        if conn is None:
            self._refuse(_NOT_SUPPORTED)
            return
        self.set_status(101)
        offer = WebSocketOffer(
            key,
            # The 101 has no body to describe.
            [(k, v) for k, v in self.take_over_response() if k.lower() != b"content-type"],
            self._selected_subprotocol,
            deflate,
            self.max_message_size,
            self.ping_interval,
            self.ping_timeout,
        )
        try:
            channel = conn.accept_websocket(self, offer)
        except WebSocketNotSupportedError:
            # A connection that cannot upgrade (a plain request through an ASGI
            # server's http scope): refused as a handshake we cannot complete.
            self.give_back_response()
            self._refuse(_NOT_SUPPORTED)
            return
        except StreamClosedError:
            self.clear_header("Content-Type")
            self._run_on_finish()  # the client left during prepare: nothing to open
            return
        self.clear_header("Content-Type")
        self._opened(channel)

    def _opened(self, channel: WebSocketChannel) -> None:
        self.ws_connection = channel
        self.request.mark_finished()
        self.application.log_request(self)
        self._ws_opened = True
        try:
            result = self.open(*self.open_args, **self.open_kwargs)
        except Exception:
            app_log.error(
                "Uncaught exception in open of %s", self._request_summary(), exc_info=True
            )
            channel.close(1011, "internal error")
            return
        if result is not None:
            # Messages wait until an async open() has returned.
            channel.hold(result)

    # -- the application's side ---------------------------------------------------

    def open(self, *args: Any, **kwargs: Any) -> Awaitable[None] | None:
        """Called when the WebSocket is open, with the route's path arguments; may be
        ``async`` (no message is delivered before it returns)."""
        return None

    def on_message(self, message: str | bytes) -> Awaitable[None] | None:
        """Handle one incoming message (``str`` for text, ``bytes`` for binary); may be
        ``async``: the next message waits until it returns."""
        raise NotImplementedError

    def on_ping(self, data: bytes) -> None:
        """Called when a ping arrives (the pong is sent for you)."""

    def on_pong(self, data: bytes) -> None:
        """Called when a pong arrives."""

    def on_close(self) -> None:
        """Called once the WebSocket is closed; :attr:`close_code` and
        :attr:`close_reason` hold what the peer sent, if anything."""

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        """Pick one of the client's ``Sec-WebSocket-Protocol`` offers (or ``None``).

        Called for every handshake, with an empty list when the client offered none
        (as in Tornado); the default accepts none.
        """
        return None

    @property
    def selected_subprotocol(self) -> str | None:
        """The subprotocol chosen by :meth:`select_subprotocol`, if any."""
        return self._selected_subprotocol

    def get_compression_options(self) -> dict[str, Any] | None:
        """Return a dict (``{}`` for the defaults) to offer ``permessage-deflate``;
        ``None`` (the default) disables compression.

        Keys understood: ``client_no_context_takeover``, ``server_no_context_takeover``,
        ``client_max_window_bits``, ``server_max_window_bits``.
        """
        return None

    def check_origin(self, origin: str) -> bool:
        """Accept the handshake from a browser page at ``origin``, another site?

        Called only for handshakes that look cross-origin: same-origin ones (by
        ``Sec-Fetch-Site``, or an ``Origin`` whose host is the request's ``Host``) and
        non-browser clients (neither header) are accepted before it is asked, as in
        Tornado 6.6. The default defers to :meth:`check_trusted_origin` (the
        ``trusted_origins`` setting). Override to allow others; this protects
        cookie-authenticated sockets from other sites:

        >>> def check_origin(self, origin):
        ...     return urlsplit(origin).netloc.endswith(".example.com")
        """
        return self.check_trusted_origin(origin)

    @property
    def ping_interval(self) -> float | None:
        """Seconds between keep-alive pings (``websocket_ping_interval``)."""
        value = self.settings.get("websocket_ping_interval")
        return float(value) if value else None

    @property
    def ping_timeout(self) -> float | None:
        """Seconds to wait for a pong before closing (``websocket_ping_timeout``)."""
        value = self.settings.get("websocket_ping_timeout")
        return float(value) if value is not None else None

    @property
    def max_message_size(self) -> int:
        """The largest message accepted (``websocket_max_message_size``, 10 MiB)."""
        value: int = self.settings.get("websocket_max_message_size", DEFAULT_MAX_MESSAGE_SIZE)
        return value

    def write_message(
        self, message: str | bytes | dict[str, Any], binary: bool = False
    ) -> asyncio.Future[None]:
        """Send a message (a ``dict`` is sent as JSON). Await the result to wait until
        the client has kept up; raises :class:`WebSocketClosedError` once closed."""
        protocol = self.ws_connection
        if protocol is None:
            raise WebSocketClosedError()
        if isinstance(message, dict):
            message = escape.json_encode(message)
        return protocol.send_message(message, binary)

    def ping(self, data: str | bytes = b"") -> None:
        """Send a ping (``on_pong`` gets the answer); a ``str`` goes as UTF-8."""
        protocol = self.ws_connection
        if protocol is None:
            raise WebSocketClosedError()
        protocol.ping(data.encode("utf-8") if isinstance(data, str) else data)

    # -- what an upgraded request no longer does -------------------------------------
    # Once the WebSocket is open the HTTP response is over: these fail the way
    # Tornado's do, instead of silently changing a response nobody will see.

    def _check_not_upgraded(self) -> None:
        if self._ws_opened:
            raise RuntimeError("Method not supported for Web Sockets")

    def write(self, chunk: str | bytes | dict[str, Any]) -> None:
        """Not supported once the WebSocket is open (``RuntimeError``)."""
        self._check_not_upgraded()
        super().write(chunk)

    def redirect(self, url: str, permanent: bool = False, status: int | None = None) -> None:
        """Not supported once the WebSocket is open (``RuntimeError``)."""
        self._check_not_upgraded()
        super().redirect(url, permanent, status)

    def set_header(self, name: str, value: Any) -> None:
        """Not supported once the WebSocket is open (``RuntimeError``)."""
        self._check_not_upgraded()
        super().set_header(name, value)

    def set_cookie(self, name: str, value: str | bytes, *args: Any, **kwargs: Any) -> None:
        """Not supported once the WebSocket is open (``RuntimeError``)."""
        self._check_not_upgraded()
        super().set_cookie(name, value, *args, **kwargs)

    def set_status(self, status_code: int, reason: str | None = None) -> None:
        """Not supported once the WebSocket is open (``RuntimeError``)."""
        self._check_not_upgraded()
        super().set_status(status_code, reason)

    def flush(self, include_footers: bool = False) -> Awaitable[None]:
        """Not supported once the WebSocket is open (``RuntimeError``)."""
        self._check_not_upgraded()
        return super().flush(include_footers)

    def finish(self, chunk: str | bytes | dict[str, Any] | None = None) -> Awaitable[None]:
        """Not supported once the WebSocket is open (``RuntimeError``)."""
        self._check_not_upgraded()
        return super().finish(chunk)

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Start the closing handshake; ``on_close`` runs once the socket is closed."""
        protocol = self.ws_connection
        if protocol is not None:
            protocol.close(code, reason)

    def set_nodelay(self, value: bool) -> None:
        """Set ``TCP_NODELAY`` (on by default in tornadish)."""
        conn = self.request.connection
        if self.ws_connection is None or conn is None:
            return
        sock = conn.get_extra_info("socket")  # None where an ASGI server owns the socket
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, int(value))

    def on_connection_close(self) -> None:
        """Called when the connection is gone; calls :meth:`on_close` once (only for a
        socket that was opened)."""
        if self._ws_opened and not self._on_close_called:
            self._on_close_called = True
            self.on_close()

    # -- the protocol's sink --------------------------------------------------------

    def _ws_message(self, message: str | bytes) -> Awaitable[None] | None:
        return self.on_message(message)

    def _ws_ping(self, data: bytes) -> None:
        self.on_ping(data)

    def _ws_pong(self, data: bytes) -> None:
        self.on_pong(data)

    def _ws_closed(self, code: int | None, reason: str | None) -> None:
        self.close_code = code
        self.close_reason = reason
        self.ws_connection = None
        try:
            self.on_connection_close()
        finally:
            self._run_on_finish()


# -- the client --------------------------------------------------------------------

# Messages a client connection reads ahead of read_message() before it stops reading.
_READ_AHEAD = 16


class WebSocketClientConnection:
    """A client WebSocket, from :func:`websocket_connect`.

    Read with ``await conn.read_message()`` (``None`` once closed) or
    ``async for message in conn``; send with :meth:`write_message`.
    """

    def __init__(self, on_message_callback: Callable[[str | bytes | None], None] | None) -> None:
        self._loop = asyncio.get_running_loop()
        self._callback = on_message_callback
        self._queue: deque[str | bytes] = deque()
        self._waiters: deque[asyncio.Future[str | bytes | None]] = deque()
        self._room: asyncio.Future[None] | None = None
        self._closed = False
        self.protocol: WebSocketProtocol | None = None
        #: The headers of the server's 101 response.
        self.headers = HTTPHeaders()
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self.selected_subprotocol: str | None = None

    def write_message(
        self, message: str | bytes | dict[str, Any], binary: bool = False
    ) -> asyncio.Future[None]:
        """Send a message; the result resolves once the transport has room."""
        protocol = self.protocol
        if protocol is None or self._closed:
            raise WebSocketClosedError()
        if isinstance(message, dict):
            message = escape.json_encode(message)
        return protocol.send_message(message, binary)

    def read_message(
        self, callback: Callable[[asyncio.Future[str | bytes | None]], None] | None = None
    ) -> asyncio.Future[str | bytes | None]:
        """The next message; resolves to ``None`` once the connection is closed."""
        if self._callback is not None:
            raise RuntimeError("read_message() cannot be used with on_message_callback")
        fut: asyncio.Future[str | bytes | None] = self._loop.create_future()
        if callback is not None:
            fut.add_done_callback(callback)
        if self._queue:
            fut.set_result(self._queue.popleft())
            room = self._room
            if room is not None and len(self._queue) < _READ_AHEAD:
                self._room = None
                if not room.done():
                    room.set_result(None)
        elif self._closed:
            fut.set_result(None)
        else:
            self._waiters.append(fut)
        return fut

    def __aiter__(self) -> AsyncIterator[str | bytes]:
        return self

    async def __anext__(self) -> str | bytes:
        message = await self.read_message()
        if message is None:
            raise StopAsyncIteration
        return message

    def ping(self, data: str | bytes = b"") -> None:
        """Send a ping (at most 125 bytes; a ``str`` goes as UTF-8)."""
        protocol = self.protocol
        if protocol is None or self._closed:
            raise WebSocketClosedError()
        protocol.ping(data)

    @property
    def stream(self) -> WebSocketStream | None:
        """The byte stream under the connection (Tornado's ``IOStream`` there):
        ``ws.stream.close()`` drops the connection without the closing handshake."""
        protocol = self.protocol
        return protocol.stream if protocol is not None else None

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Start the closing handshake; ``read_message`` returns ``None`` after it."""
        protocol = self.protocol
        if protocol is not None:
            protocol.close(code, reason)

    def on_ping(self, data: bytes) -> None:
        """Called when the server pings (the pong is sent for you)."""

    def on_pong(self, data: bytes) -> None:
        """Called when a pong arrives."""

    # -- the protocol's sink --------------------------------------------------------

    def _opened(
        self, protocol: WebSocketProtocol, headers: HTTPHeaders, subprotocol: str | None
    ) -> None:
        # The handshake is accepted; no frame has been delivered yet.
        self.headers = headers
        self.selected_subprotocol = subprotocol
        self.protocol = protocol

    def _ws_message(self, message: str | bytes) -> Awaitable[None] | None:
        if self._callback is not None:
            self._callback(message)
            return None
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(message)
                return None
        self._queue.append(message)
        if len(self._queue) >= _READ_AHEAD:
            # Backpressure: stop reading until the application catches up.
            self._room = self._loop.create_future()
            return self._room
        return None

    def _ws_ping(self, data: bytes) -> None:
        self.on_ping(data)

    def _ws_pong(self, data: bytes) -> None:
        self.on_pong(data)

    def _ws_closed(self, code: int | None, reason: str | None) -> None:
        self._closed = True
        self.close_code = code
        self.close_reason = reason
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
        room = self._room
        self._room = None
        if room is not None and not room.done():
            room.set_result(None)
        if self._callback is not None:
            self._callback(None)


def _http_error(code: int, reason: bytes) -> Exception:
    if code >= 300:
        from tornadish.httpclient import HTTPClientError

        return HTTPClientError(code, reason.decode("latin-1") or None)
    return WebSocketError("Non-websocket response")


def websocket_connect(
    url: str | HTTPRequest,
    callback: Callable[[asyncio.Future[WebSocketClientConnection]], None] | None = None,
    connect_timeout: float | None = None,
    on_message_callback: Callable[[str | bytes | None], None] | None = None,
    compression_options: dict[str, Any] | None = None,
    ping_interval: float | None = None,
    ping_timeout: float | None = None,
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    subprotocols: list[str] | None = None,
    resolver: Any = None,
    *,
    ws: str | None = None,
) -> asyncio.Future[WebSocketClientConnection]:
    """Open a client WebSocket to ``url`` (``ws://`` or ``wss://``, or an
    :class:`~tornadish.httpclient.HTTPRequest` carrying headers such as ``Cookie`` and
    TLS options such as ``validate_cert``).

    Returns a future of :class:`WebSocketClientConnection`; a refused handshake
    raises :class:`~tornadish.httpclient.HTTPClientError` (for a 3xx-5xx answer) or
    :class:`WebSocketError`. ``compression_options`` (a dict, ``{}`` for defaults)
    offers ``permessage-deflate``; ``subprotocols`` are offered in order. ``ws`` picks
    the engine that parses frames: ``"auto"`` (the ``websockets`` library when installed,
    else wsproto; the default, or what ``TORNADISH_WS`` says), ``"wsproto"`` or
    ``"websockets"``.

    >>> conn = await websocket_connect("ws://localhost:8888/chat")  # doctest: +SKIP
    """
    future = asyncio.ensure_future(
        _connect(
            url,
            connect_timeout,
            on_message_callback,
            compression_options,
            ping_interval,
            ping_timeout,
            max_message_size,
            subprotocols or [],
            resolver,
            ws,
        )
    )
    if callback is not None:
        future.add_done_callback(callback)
    return future


async def _connect(
    url: Any,
    connect_timeout: float | None,
    on_message_callback: Callable[[str | bytes | None], None] | None,
    compression_options: dict[str, Any] | None,
    ping_interval: float | None,
    ping_timeout: float | None,
    max_message_size: int,
    subprotocols: list[str],
    resolver: Any,
    ws: str | None,
) -> WebSocketClientConnection:
    connection = WebSocketClientConnection(on_message_callback)
    await connect_websocket(
        url,
        connection,
        connection._opened,
        _http_error,
        connect_timeout=connect_timeout,
        compression_options=compression_options,
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        max_message_size=max_message_size,
        subprotocols=subprotocols,
        resolver=resolver,
        ws=ws,
    )
    return connection
