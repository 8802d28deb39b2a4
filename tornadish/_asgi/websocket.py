"""WebSockets across the ASGI boundary, both ways (the WebSocket half of :mod:`.asgi`).

Outward — a :class:`~tornadish.websocket.WebSocketHandler` served by an ASGI server
(uvicorn, hypercorn, ...). The server has done the handshake and frames the messages, so
there is no wsproto here: :class:`ASGIWebSocketConnection` is the handler's connection
during the handshake (an ``accept`` replaces the 101; an HTTP answer such as a 403 or a
404 becomes a ``websocket.http.response`` where the server offers that extension, else a
refusal), and :class:`ASGIWebSocket` then stands where the wsproto-driven
:class:`~tornadish._io.websocket.WebSocketProtocol` would: the handler's ``ws_connection``. It
keeps the same rules: messages in order, one at a time, none before ``open()`` has
returned, the next one only once an ``async on_message`` has; ``write_message`` resolves
once the ASGI server has taken the message (its backpressure); ``close(code, reason)``
reaches the client; ``on_close`` sees the code and reason the client sent. What ASGI
cannot carry: pings (the server sends and answers them itself, so ``ping()`` sends
nothing and ``on_ping``/``on_pong`` are not called), an empty close frame (``close()``
without a code sends 1000), and compression choices (the server's).

Inward — :class:`~tornadish.asgi.ASGIHandler` mounting an ASGI app forwards WebSocket
requests to it: :class:`~tornadish._web.asgi_mount.MountedWebSocket` (the web core's,
since it drives a handler) plays the ASGI server for the app, over
tornadish's own WebSocket protocol (or, when the tornadish application is itself served
through ASGI, over :class:`ASGIWebSocket`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from tornadish._asgi.connection import (
    ASGIConnection,
    Message,
    Receive,
    Scope,
    Send,
    _error_response,
    request_head,
)
from tornadish._http.contract import StreamClosedError, WebSocketOffer, WebSocketSink
from tornadish._http.headers import HTTPHeaders
from tornadish._http.websocket import (
    WebSocketClosedError,
    check_ping_payload,
    message_size,
    new_key,
    reported_close_code,
)
from tornadish._io.flow_control import WriteGate, failed_future
from tornadish.log import app_log

if TYPE_CHECKING:
    from tornadish._http.contract import HTTPServerConnectionDelegate
    from tornadish._io.drain import Drain

__all__ = [
    "ASGIWebSocket",
    "ASGIWebSocketConnection",
    "serve_websocket",
]

# How long after sending a close message the client's answer is awaited.
_CLOSE_TIMEOUT = 5.0
# Messages a mounted app may leave unread before reading from the client pauses.
_READ_AHEAD = 16
# Response headers the ASGI server writes itself on a 101 (it adds its own Date and
# Server); passing ours along would duplicate them.
_SERVER_OWNED = frozenset((b"date", b"server", b"content-length", b"content-type"))


def _fail(fut: asyncio.Future[None] | None) -> None:
    if fut is not None and not fut.done():
        fut.set_exception(WebSocketClosedError())
        fut.exception()


# -- outward: a WebSocketHandler served by an ASGI server --------------------------------


async def serve_websocket(
    application: HTTPServerConnectionDelegate,
    scope: Scope,
    receive: Receive,
    send: Send,
    drain: Drain | None = None,
) -> None:
    """Serve one ASGI ``websocket`` scope with ``application`` (what
    :class:`~tornadish.asgi.ASGIAdapter` runs for it)."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return  # the client left before the application was asked
    conn = ASGIWebSocketConnection(scope, receive, send, drain)
    start_line, headers = request_head(scope, "GET")
    _complete_handshake_headers(headers, scope)
    delegate = application.start_request(conn, conn)
    conn.delegate = delegate
    try:
        pending = delegate.headers_received(start_line, headers)
        if pending is not None:
            await pending
        delegate.finish()
    except Exception:
        app_log.error("Uncaught exception handling an ASGI WebSocket request", exc_info=True)
        _error_response(conn, 500, delegate)
    await conn.run()


def _complete_handshake_headers(headers: HTTPHeaders, scope: Scope) -> None:
    # The ASGI server validated the handshake already. Some servers pass the request's
    # headers whole; others leave out those their WebSocket library consumed (uvicorn
    # over wsproto), and a WebSocket over HTTP/2 (RFC 8441) has none of them: the
    # handler's checks must not refuse what the server accepted, and
    # select_subprotocol must see the offers.
    offered = scope.get("subprotocols") or ()
    if offered and "Sec-WebSocket-Protocol" not in headers:
        headers["Sec-WebSocket-Protocol"] = ", ".join(offered)
    if "Upgrade" not in headers:
        headers["Upgrade"] = "websocket"
    if "upgrade" not in headers.get("Connection", "").lower():
        headers["Connection"] = "Upgrade"
    if "Sec-WebSocket-Version" not in headers:
        headers["Sec-WebSocket-Version"] = "13"
    if "Sec-WebSocket-Key" not in headers:
        headers["Sec-WebSocket-Key"] = new_key()


class ASGIWebSocketConnection(ASGIConnection):
    """The ``connection`` of a WebSocket request that arrived through ASGI.

    Until the handler accepts, it is an :class:`~tornadish.asgi.ASGIConnection` whose
    HTTP answer (a refusal) goes out as ``websocket.http.response.*`` messages, or as a
    ``websocket.close`` (the server then answers 403) where the server lacks that
    extension. :meth:`accept_websocket` is what ``WebSocketHandler`` calls instead of
    ``upgrade``. One task reads from the server throughout, so a client that leaves
    during an async ``prepare`` is noticed.
    """

    def __init__(
        self, scope: Scope, receive: Receive, send: Send, drain: Drain | None = None
    ) -> None:
        self._ws_send = send
        self._receive = receive
        self._can_respond = "websocket.http.response" in (scope.get("extensions") or {})
        self.socket: ASGIWebSocket | None = None
        self.delegate: Any = None
        super().__init__(scope, self._send_refusal, drain)
        self.scheme = "https" if scope.get("scheme") == "wss" else "http"
        self._reader = self._loop.create_task(self._read())

    async def _send_refusal(self, message: Message) -> None:
        kind = message["type"]
        if self._can_respond:
            # http.response.start/body become websocket.http.response.start/body.
            await self._ws_send({**message, "type": "websocket." + kind})
        elif kind == "http.response.start":
            await self._ws_send({"type": "websocket.close", "code": 1000})

    def accept_websocket(self, sink: WebSocketSink, offer: WebSocketOffer) -> ASGIWebSocket:
        """Accept the WebSocket with the offer's subprotocol and extra response headers
        (cookies, for one); messages then go to ``sink``, none larger than the offer's
        limit. The server frames the messages: it negotiates compression and sends
        the pings itself, so the offer's ``deflate`` and ping settings are not used.
        Raises :class:`StreamClosedError` if the client has gone or an answer has
        started."""
        if self._closed or self.response_started:
            raise StreamClosedError()
        # The HTTP exchange is over: nothing more goes through the response pump.
        self._closed = True
        self._close_callback = None
        self._wake()
        accept: Message = {
            "type": "websocket.accept",
            "subprotocol": offer.subprotocol,
            "headers": [(k.lower(), v) for k, v in offer.headers if k.lower() not in _SERVER_OWNED],
        }
        socket = ASGIWebSocket(
            sink, self._ws_send, accept, offer.max_message_size, self._socket_done
        )
        self.socket = socket
        return socket

    def _socket_done(self) -> None:
        if not self.finished.done():
            self.finished.set_result(None)

    async def _read(self) -> None:
        receive = self._receive
        while True:
            message = await receive()
            kind = message["type"]
            socket = self.socket
            if kind == "websocket.disconnect":
                if socket is not None:
                    socket._lost(message.get("code"), message.get("reason"))
                elif not self._closed:
                    self.lost()
                    delegate = self.delegate
                    if delegate is not None:
                        delegate.on_connection_close()
                return
            if kind == "websocket.receive" and socket is not None:
                await socket._deliver(message)

    async def run(self) -> None:
        """Wait until the exchange is over: the refusal sent, or the socket closed."""
        try:
            await self.finished
            socket = self.socket
            if socket is not None:
                await socket.wait_closed()
            else:
                await self.wait_sent()
        finally:
            self._reader.cancel()
        if self.aborted and self.response_started:
            raise StreamClosedError()


class ASGIWebSocket:
    """The ``ws_connection`` of a ``WebSocketHandler`` served through ASGI (see the
    module docstring for what differs from a socket tornadish serves itself)."""

    __slots__ = (
        "_closed",
        "_closing",
        "_discard",
        "_gate",
        "_hold",
        "_loop",
        "_max_size",
        "_on_done",
        "_pump_task",
        "_queue",
        "_queued",
        "_send",
        "_sink",
        "_timer",
        "_wakeup",
        "close_code",
        "close_reason",
        "close_received",
        "done",
        "transport",
    )

    def __init__(
        self,
        sink: WebSocketSink,
        send: Send,
        accept: Message,
        max_message_size: int | None,
        on_done: Callable[[], None],
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._sink = sink
        self._send = send
        self._max_size = max_message_size if max_message_size is not None else 1 << 62
        self._on_done = on_done
        # (message, its size, the future of whoever waits for it to be sent)
        self._queue: deque[tuple[Message, int, asyncio.Future[None] | None]] = deque()
        self._queue.append((accept, 0, None))
        self._queued = 0
        self._gate = WriteGate(self._loop)
        self._wakeup: asyncio.Future[None] | None = None
        self._hold: asyncio.Future[Any] | None = None
        self._discard = False
        self._closing = False
        self._closed = False
        self._timer: asyncio.TimerHandle | None = None
        #: True once the client's close has arrived (False if the connection dropped).
        self.close_received = False
        #: Always ``None``: the ASGI server owns the socket.
        self.transport: asyncio.Transport | None = None
        #: The code and reason of the client's close (``None`` if it sent none).
        self.close_code: int | None = None
        self.close_reason: str | None = None
        #: Resolves once the socket is closed and ``on_close`` has run.
        self.done: asyncio.Future[None] = self._loop.create_future()
        self._pump_task = self._loop.create_task(self._pump())

    # -- what the handler calls (WebSocketProtocol's interface) ----------------------

    @property
    def closed(self) -> bool:
        """True once a close was sent or received, or the client is gone."""
        return self._closing or self._closed

    @property
    def buffered_amount(self) -> int:
        """Bytes of messages not yet taken by the ASGI server."""
        return self._queued

    def send_message(self, message: str | bytes, binary: bool = False) -> asyncio.Future[None]:
        """Send one message (``str`` as text unless ``binary``); the result resolves
        once the ASGI server has taken it. Raises :class:`WebSocketClosedError` once
        closing."""
        if self._closing or self._closed:
            raise WebSocketClosedError()
        out: Message
        if binary:
            data = message.encode("utf-8") if isinstance(message, str) else message
            out = {"type": "websocket.send", "bytes": data}
        else:
            text = message if isinstance(message, str) else message.decode("utf-8")
            out = {"type": "websocket.send", "text": text}
        fut = self._loop.create_future()
        self._put(out, len(message), fut)
        return fut

    def ping(self, data: bytes = b"") -> None:
        """ASGI has no ping message: the server pings (and answers pings) itself, so
        this sends nothing; the checks are those of a real ping."""
        check_ping_payload(data)
        if self._closing or self._closed:
            raise WebSocketClosedError()

    def drain(self) -> asyncio.Future[None]:
        """Resolves once every queued message has been taken by the ASGI server."""
        if self._closed:
            return failed_future(self._loop, WebSocketClosedError())
        gate = self._gate
        return gate.waiter() if self._queue else gate.ready()

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Send a close message (1000 without a ``code``: ASGI cannot send an empty
        close frame); ``on_close`` runs once the client has answered, or after a
        timeout."""
        if self._closing or self._closed:
            return
        self._closing = True
        message = {"type": "websocket.close", "code": 1000 if code is None else int(code)}
        message["reason"] = reason or ""
        self._put(message, 0, None)

    def shutdown(self) -> None:
        """The server is going away: close with 1001."""
        self.close(1001, "server shutting down")

    def hold(self, awaitable: Awaitable[Any]) -> None:
        """Deliver no message until ``awaitable`` completes (an ``async def open``)."""
        fut = asyncio.ensure_future(awaitable)
        self._hold = fut
        fut.add_done_callback(self._held)

    def _held(self, fut: asyncio.Future[Any]) -> None:
        if fut.cancelled():
            return
        exc = fut.exception()
        gone = self.done.done()
        if exc is not None and not (gone and isinstance(exc, (WebSocketClosedError, OSError))):
            app_log.error("Uncaught exception in WebSocket open", exc_info=exc)
            self._abandon(1011, "internal error")

    async def wait_closed(self) -> None:
        """Wait until the socket is closed and the last message (a close, often, which
        some servers send with the whole closing handshake) has been handed over."""
        await self.done
        pump = self._pump_task
        if not pump.done():
            await asyncio.wait((pump,), timeout=_CLOSE_TIMEOUT)
            pump.cancel()

    # -- sending ------------------------------------------------------------------------

    def _put(self, message: Message, size: int, fut: asyncio.Future[None] | None) -> None:
        self._queue.append((message, size, fut))
        self._queued += size
        wakeup = self._wakeup
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)

    async def _pump(self) -> None:
        queue = self._queue
        done = self.done  # resolved by _lost, which may run at any await
        while not done.done():
            while queue:
                message, size, fut = queue[0]
                try:
                    await self._send(message)
                except OSError:  # the client went away (the ASGI spec's exception)
                    self._lost(None, None)
                    return
                except Exception:
                    app_log.error("The ASGI server refused a WebSocket message", exc_info=True)
                    self._lost(None, None)
                    return
                queue.popleft()
                self._queued -= size
                if fut is not None and not fut.done():
                    fut.set_result(None)
                if message["type"] == "websocket.close" and self._timer is None:
                    self._timer = self._loop.call_later(_CLOSE_TIMEOUT, self._lost, None, None)
            self._gate.resume()
            if done.done():
                return
            self._wakeup = self._loop.create_future()
            await self._wakeup
            self._wakeup = None

    # -- receiving (called by the connection's reader task) -----------------------------

    async def _deliver(self, message: Message) -> None:
        hold, self._hold = self._hold, None
        if hold is not None and not hold.done():
            # Its outcome is handled by _held, which runs before this resumes.
            await asyncio.wait((hold,))
        if self._discard or self._closed:
            return
        text = message.get("text")
        data: str | bytes = text if text is not None else (message.get("bytes") or b"")
        if message_size(data) > self._max_size:
            self._abandon(1009, "message too big")
            return
        try:
            result = self._sink._ws_message(data)
        except Exception:
            app_log.error("Uncaught exception in WebSocket on_message", exc_info=True)
            self._abandon(1011, "internal error")
            return
        if result is None:
            return
        try:
            await result
        except Exception as e:
            gone = self.done.done()  # _lost may have run meanwhile
            if not (gone and isinstance(e, (WebSocketClosedError, OSError))):
                app_log.error("Uncaught exception in WebSocket callback", exc_info=True)
                self._abandon(1011, "internal error")

    def _abandon(self, code: int, reason: str) -> None:
        # An error on our side (or an oversized message): close, deliver nothing more.
        self._discard = True
        self.close(code, reason)

    def _lost(self, code: int | None, reason: str | None) -> None:
        """The socket is closed (the client's close arrived, or it is gone)."""
        if self._closed:
            return
        self._closed = True
        self.close_received = code is not None and code != 1006
        # 1005 (no code in the close frame) and 1006 (no close frame) are what a
        # tornadish-served socket reports as None.
        self.close_code = reported_close_code(code)
        self.close_reason = reason or None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for _, _, fut in self._queue:
            _fail(fut)
        self._queue.clear()
        self._queued = 0
        self._gate.lost(error=WebSocketClosedError)
        wakeup = self._wakeup
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)
        try:
            self._sink._ws_closed(self.close_code, self.close_reason)
        except Exception:
            app_log.error("Exception in WebSocket on_close", exc_info=True)
        finally:
            if not self.done.done():
                self.done.set_result(None)
            self._on_done()
