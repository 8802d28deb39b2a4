"""WebSockets: :class:`WebSocketHandler` on the server, :func:`websocket_connect` as client.

The face is Tornado's ``tornado.websocket``; the protocol work is wsproto's, driven by
:mod:`._ws_protocol`. A WebSocket route is an ordinary route: routing, ``prepare``,
cookies and ``current_user`` run before the upgrade, which then happens on the same
connection (h11 sends the 101; the transport is handed to the WebSocket protocol).

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
import base64
import binascii
import os
import socket
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import h11
from wsproto.extensions import Extension
from wsproto.utilities import generate_accept_token

from tornadish import escape
from tornadish._http.contract import StreamClosedError
from tornadish._http.headers import HTTPHeaders
from tornadish._io.websocket import (
    DEFAULT_MAX_MESSAGE_SIZE,
    BoundedDeflate,
    WebSocketClosedError,
    WebSocketError,
    WebSocketProtocol,
)
from tornadish._web.handler import RequestHandler
from tornadish.log import app_log, gen_log

if TYPE_CHECKING:
    from tornadish._asgi.websocket import ASGIWebSocket
    from tornadish.httpclient import HTTPRequest

__all__ = [
    "WebSocketClientConnection",
    "WebSocketClosedError",
    "WebSocketError",
    "WebSocketHandler",
    "websocket_connect",
]

_DEFLATE = "permessage-deflate"
# wsproto's PerMessageDeflate parameters that compression_options may carry; Tornado's
# compression_level and mem_level have no equivalent there and are ignored.
_DEFLATE_OPTIONS = (
    "client_no_context_takeover",
    "client_max_window_bits",
    "server_no_context_takeover",
    "server_max_window_bits",
)


def _deflate(options: dict[str, Any], max_message_size: int | None) -> BoundedDeflate:
    kwargs = {k: options[k] for k in _DEFLATE_OPTIONS if k in options}
    limit = max_message_size if max_message_size is not None else 1 << 62
    return BoundedDeflate(limit, **kwargs)


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


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
        self.ws_connection: WebSocketProtocol | ASGIWebSocket | None = None
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
        if headers.get("Upgrade", "").lower() != "websocket":
            self._refuse(400, 'Can "Upgrade" only to "WebSocket".')
            return
        if "upgrade" not in {t.lower() for t in _split(headers.get("Connection", ""))}:
            self._refuse(400, '"Connection" must be "Upgrade".')
            return
        # Browsers do not apply the same-origin policy to WebSockets, so the
        # cross-origin check always applies here (after prepare(), which check_origin
        # may rely on), whatever the cross_origin_protection setting says.
        error = self._cross_origin_error(self.check_origin)
        if error is not None:
            gen_log.debug("Cross origin websocket refused: %s", error)
            self._refuse(403, "Cross origin websockets not allowed")
            return
        if headers.get("Sec-WebSocket-Version") != "13":
            self.set_status(426, "Upgrade Required")
            self.set_header("Sec-WebSocket-Version", "13")
            self.finish()
            return
        key = headers.get("Sec-WebSocket-Key", "")
        try:
            valid = len(base64.b64decode(key, validate=True)) == 16
        except (binascii.Error, ValueError):
            valid = False
        if not valid:
            self._refuse(400, "Missing/Invalid WebSocket headers")
            return
        self._accept(key.encode("ascii"))

    def _refuse(self, status: int, message: str) -> None:
        self.set_status(status)
        self.finish(message)
        gen_log.debug(message)

    def _accept(self, key: bytes) -> None:
        headers = self.request.headers
        extra: list[tuple[bytes, bytes]] = []
        offered = _split(headers.get("Sec-WebSocket-Protocol", ""))
        if offered:
            selected = self.select_subprotocol(offered)
            if selected is not None:
                if selected not in offered:
                    raise ValueError(f"select_subprotocol returned {selected!r}, not offered")
                self._selected_subprotocol = selected
                extra.append((b"Sec-WebSocket-Protocol", selected.encode("ascii")))
        conn: Any = self.request.connection
        accept_asgi = getattr(conn, "accept_websocket", None)
        if accept_asgi is not None:
            # Served by an ASGI server (tornadish.asgi), which has done the handshake
            # and frames the messages (compression included); the handler cannot tell.
            self.set_status(101)
            self.clear_header("Content-Type")
            self._headers_written = True
            self._finished = True
            try:
                bridged = accept_asgi(
                    self, self._selected_subprotocol, self._header_list(), self.max_message_size
                )
            except StreamClosedError:
                self._run_on_finish()  # the client left during prepare: nothing to open
                return
            self._opened(bridged)
            return
        extensions: list[Extension] = []
        options = self.get_compression_options()
        if options is not None:
            for offer in _split(headers.get("Sec-WebSocket-Extensions", "")):
                if offer.split(";", 1)[0].strip() != _DEFLATE:
                    continue
                ext = _deflate(options, self.max_message_size)
                params = ext.accept(offer)
                if params is None:
                    continue  # parameters we cannot honour: try the client's next offer
                value = _DEFLATE if params in (True, "") else f"{_DEFLATE}; {params}"
                extra.append((b"Sec-WebSocket-Extensions", value.encode("ascii")))
                extensions.append(ext)
                break
        if conn is None or not hasattr(conn, "upgrade"):
            self._refuse(400, "WebSocket upgrade not supported on this connection")
            return
        self.set_status(101)
        self.clear_header("Content-Type")
        response = self._header_list()
        response += [
            (b"Upgrade", b"websocket"),
            (b"Connection", b"Upgrade"),
            (b"Sec-WebSocket-Accept", generate_accept_token(key)),
        ]
        response += extra
        protocol = WebSocketProtocol(
            self,
            client=False,
            extensions=extensions,
            max_message_size=self.max_message_size,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
        )
        self._headers_written = True
        self._finished = True
        try:
            conn.upgrade(response, protocol)
        except StreamClosedError:
            self._run_on_finish()  # the client left during prepare: nothing to open
            return
        self._opened(protocol)

    def _opened(self, protocol: WebSocketProtocol | ASGIWebSocket) -> None:
        self.ws_connection = protocol
        self.request._finish_time = time.time()
        self.application.log_request(self)
        self._ws_opened = True
        try:
            result = self.open(*self.open_args, **self.open_kwargs)
        except Exception:
            app_log.error(
                "Uncaught exception in open of %s", self._request_summary(), exc_info=True
            )
            protocol.close(1011, "internal error")
            return
        if result is not None:
            # Messages wait until an async open() has returned.
            protocol.hold(result)

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

        Called only when the client offered some; the default accepts none.
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
        """Send a ping (``on_pong`` gets the answer)."""
        protocol = self.ws_connection
        if protocol is None:
            raise WebSocketClosedError()
        protocol.ping(data.encode("utf-8") if isinstance(data, str) else data)

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Start the closing handshake; ``on_close`` runs once the socket is closed."""
        protocol = self.ws_connection
        if protocol is not None:
            protocol.close(code, reason)

    def set_nodelay(self, value: bool) -> None:
        """Set ``TCP_NODELAY`` (on by default in tornadish)."""
        protocol = self.ws_connection
        transport = protocol.transport if protocol is not None else None
        sock = transport.get_extra_info("socket") if transport is not None else None
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

    def ping(self, data: bytes = b"") -> None:
        """Send a ping."""
        protocol = self.protocol
        if protocol is None or self._closed:
            raise WebSocketClosedError()
        protocol.ping(data)

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


class _ClientHandshake(asyncio.Protocol):
    """Sends the upgrade request with h11 and reads the answer; on a valid 101 switches
    the transport to a :class:`WebSocketProtocol` in the same call, so that no frame
    that follows the 101 can be missed."""

    def __init__(
        self,
        request: h11.Request,
        key: bytes,
        subprotocols: list[str],
        deflate: BoundedDeflate | None,
        make_protocol: Callable[[list[Extension]], WebSocketProtocol],
        connection: WebSocketClientConnection,
    ) -> None:
        self._h11 = h11.Connection(h11.CLIENT)
        self._request = request
        self._key = key
        self._subprotocols = subprotocols
        self._deflate = deflate
        self._make_protocol = make_protocol
        self._connection = connection
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        conn = self._h11
        transport.write(conn.send(self._request) + conn.send(h11.EndOfMessage()))  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        if self.done.done():
            return
        self._h11.receive_data(data)
        try:
            while True:
                event = self._h11.next_event()
                if event is h11.NEED_DATA:
                    return
                if isinstance(event, h11.InformationalResponse):
                    if event.status_code == 101:
                        self._switch(event)
                        return
                    continue  # 100 Continue and friends
                if isinstance(event, h11.Response):
                    self._fail(_http_error(event.status_code, event.reason))
                    return
                self._fail(WebSocketError(f"unexpected {type(event).__name__}"))
                return
        except h11.RemoteProtocolError as e:
            self._fail(WebSocketError(f"bad handshake response: {e}"))
        except WebSocketError as e:
            self._fail(e)

    def _switch(self, response: h11.InformationalResponse) -> None:
        headers = HTTPHeaders()
        for name, value in response.headers:
            headers.add(name.decode("latin-1"), value.decode("latin-1"))
        if headers.get("Upgrade", "").lower() != "websocket":
            raise WebSocketError("missing Upgrade: websocket")
        if headers.get("Sec-WebSocket-Accept", "").encode() != generate_accept_token(self._key):
            raise WebSocketError("bad Sec-WebSocket-Accept")
        selected = headers.get("Sec-WebSocket-Protocol")
        if selected is not None and selected not in self._subprotocols:
            raise WebSocketError(f"server selected unoffered subprotocol {selected!r}")
        extensions: list[Extension] = []
        for accepted in _split(headers.get("Sec-WebSocket-Extensions", "")):
            deflate = self._deflate
            if accepted.split(";", 1)[0].strip() != _DEFLATE or deflate is None or extensions:
                raise WebSocketError(f"server accepted unoffered extension {accepted!r}")
            deflate.finalize(accepted)
            extensions.append(deflate)
        conn = self._connection
        conn.headers = headers
        conn.selected_subprotocol = selected
        protocol = self._make_protocol(extensions)
        conn.protocol = protocol
        transport = self.transport
        assert transport is not None
        transport.set_protocol(protocol)
        self.done.set_result(None)
        protocol.take_over(transport, bytes(self._h11.trailing_data[0]), False)

    def _fail(self, exc: Exception) -> None:
        if not self.done.done():
            self.done.set_exception(exc)
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(StreamClosedError(exc))


def _http_error(code: int, reason: bytes) -> Exception:
    if code >= 300:
        from tornadish.httpclient import HTTPClientError

        return HTTPClientError(code, reason.decode("latin-1") or None)
    return WebSocketError("Non-websocket response")


def _client_ssl_context(request: Any) -> ssl.SSLContext:
    options = getattr(request, "ssl_options", None)
    if isinstance(options, ssl.SSLContext):
        return options
    if isinstance(options, dict):
        from tornadish._client.request import make_ssl_context

        return make_ssl_context(request, options)
    context = ssl.create_default_context(cafile=getattr(request, "ca_certs", None))
    if getattr(request, "validate_cert", None) is False:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    client_cert = getattr(request, "client_cert", None)
    if client_cert is not None:
        context.load_cert_chain(client_cert, getattr(request, "client_key", None))
    return context


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
) -> asyncio.Future[WebSocketClientConnection]:
    """Open a client WebSocket to ``url`` (``ws://`` or ``wss://``, or an
    :class:`~tornadish.httpclient.HTTPRequest` carrying headers such as ``Cookie`` and
    TLS options such as ``validate_cert``).

    Returns a future of :class:`WebSocketClientConnection`; a refused handshake
    raises :class:`~tornadish.httpclient.HTTPClientError` (for a 3xx-5xx answer) or
    :class:`WebSocketError`. ``compression_options`` (a dict, ``{}`` for defaults)
    offers ``permessage-deflate``; ``subprotocols`` are offered in order.

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
) -> WebSocketClientConnection:
    request: Any = None if isinstance(url, str) else url
    url_str: str = url if request is None else request.url
    parts = urlsplit(url_str)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    if scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(f"Unsupported WebSocket URL {url_str!r}")
    secure = scheme == "wss"
    host = parts.hostname
    port = parts.port or (443 if secure else 80)
    target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
    default_port = parts.port is None or parts.port == (443 if secure else 80)
    netloc = host if ":" not in host else f"[{host}]"
    key = base64.b64encode(os.urandom(16))
    headers: list[tuple[str, str]] = [
        ("Host", netloc if default_port else f"{netloc}:{port}"),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", key.decode("ascii")),
        ("Sec-WebSocket-Version", "13"),
    ]
    if subprotocols:
        headers.append(("Sec-WebSocket-Protocol", ", ".join(subprotocols)))
    deflate = None
    if compression_options is not None:
        deflate = _deflate(compression_options, max_message_size)
        offer = deflate.offer()
        headers.append(("Sec-WebSocket-Extensions", f"{_DEFLATE}; {offer}" if offer else _DEFLATE))
    request_timeout: float | None = None
    if request is not None:
        reserved = {name.lower() for name, _ in headers}
        for name, value in request.headers.get_all():
            if name.lower() not in reserved:
                headers.append((name, value))
        if connect_timeout is None:
            connect_timeout = request.connect_timeout
        request_timeout = request.request_timeout
    h11_request = h11.Request(method="GET", target=target, headers=headers)

    connection = WebSocketClientConnection(on_message_callback)

    def make_protocol(extensions: list[Extension]) -> WebSocketProtocol:
        return WebSocketProtocol(
            connection,
            client=True,
            extensions=extensions,
            max_message_size=max_message_size,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
        )

    loop = asyncio.get_running_loop()
    address: Any = host
    if resolver is not None:
        addresses = await resolver.resolve(host, port)
        address, port = addresses[0][1][:2]
    handshake = _ClientHandshake(h11_request, key, subprotocols, deflate, make_protocol, connection)
    ssl_context = _client_ssl_context(request) if secure else None
    connect = loop.create_connection(
        lambda: handshake,
        address,
        port,
        ssl=ssl_context,
        server_hostname=host if secure else None,
    )
    try:
        transport, _ = await asyncio.wait_for(connect, connect_timeout or 20.0)
    except asyncio.TimeoutError:
        raise WebSocketError("Timeout while connecting") from None
    try:
        await asyncio.wait_for(asyncio.shield(handshake.done), request_timeout or 20.0)
    except asyncio.TimeoutError:
        transport.abort()
        raise WebSocketError("Timeout during the WebSocket handshake") from None
    except BaseException:
        transport.close()
        raise
    return connection
