"""WebSockets across the ASGI boundary, both ways (the WebSocket half of :mod:`.asgi`).

Outward — a :class:`~tornadish.websocket.WebSocketHandler` served by an ASGI server
(uvicorn, hypercorn, ...). The server has done the handshake and frames the messages, so
there is no wsproto here: :class:`ASGIWebSocketConnection` is the handler's connection
during the handshake (an ``accept`` replaces the 101; an HTTP answer such as a 403 or a
404 becomes a ``websocket.http.response`` where the server offers that extension, else a
refusal), and :class:`ASGIWebSocket` then stands where the wsproto-driven
:class:`~._ws_protocol.WebSocketProtocol` would: the handler's ``ws_connection``. It
keeps the same rules: messages in order, one at a time, none before ``open()`` has
returned, the next one only once an ``async on_message`` has; ``write_message`` resolves
once the ASGI server has taken the message (its backpressure); ``close(code, reason)``
reaches the client; ``on_close`` sees the code and reason the client sent. What ASGI
cannot carry: pings (the server sends and answers them itself, so ``ping()`` sends
nothing and ``on_ping``/``on_pong`` are not called), an empty close frame (``close()``
without a code sends 1000), and compression choices (the server's).

Inward — :class:`~tornadish.asgi.ASGIHandler` mounting an ASGI app forwards WebSocket
requests to it: :class:`MountedWebSocket` plays the ASGI server for the app, over
tornadish's own WebSocket protocol (or, when the tornadish application is itself served
through ASGI, over :class:`ASGIWebSocket`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from wsproto.utilities import generate_accept_token

from ._headers import HTTPHeaders
from ._server_protocol import StreamClosedError
from ._ws_protocol import (
    DEFAULT_MAX_MESSAGE_SIZE,
    MessageSink,
    WebSocketClosedError,
    WebSocketProtocol,
)
from .asgi import ASGIConnection, Message, Receive, Scope, Send, _error_response, request_head
from .log import app_log

if TYPE_CHECKING:
    from ._handler import RequestHandler
    from .httputil import HTTPServerConnectionDelegate

__all__ = [
    "ASGIWebSocket",
    "ASGIWebSocketConnection",
    "MountedWebSocket",
    "serve_websocket",
    "websocket_scope",
]

# How long after sending a close message the client's answer is awaited.
_CLOSE_TIMEOUT = 5.0
# Messages a mounted app may leave unread before reading from the client pauses.
_READ_AHEAD = 16
# Response headers the ASGI server writes itself on a 101 (it adds its own Date and
# Server); passing ours along would duplicate them.
_SERVER_OWNED = frozenset((b"date", b"server", b"content-length", b"content-type"))


def _retrieved_closed() -> asyncio.Future[None]:
    fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    fut.set_exception(WebSocketClosedError())
    fut.exception()  # retrieved: an un-awaited write must not log noise
    return fut


def _fail(fut: asyncio.Future[None] | None) -> None:
    if fut is not None and not fut.done():
        fut.set_exception(WebSocketClosedError())
        fut.exception()


def _byte_size(data: str | bytes) -> int:
    if isinstance(data, str) and not data.isascii():
        return len(data.encode("utf-8"))
    return len(data)


# -- outward: a WebSocketHandler served by an ASGI server --------------------------------


async def serve_websocket(
    application: HTTPServerConnectionDelegate, scope: Scope, receive: Receive, send: Send
) -> None:
    """Serve one ASGI ``websocket`` scope with ``application`` (what
    :class:`~tornadish.asgi.ASGIAdapter` runs for it)."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return  # the client left before the application was asked
    conn = ASGIWebSocketConnection(scope, receive, send)
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
        headers["Sec-WebSocket-Key"] = base64.b64encode(os.urandom(16)).decode("ascii")


class ASGIWebSocketConnection(ASGIConnection):
    """The ``connection`` of a WebSocket request that arrived through ASGI.

    Until the handler accepts, it is an :class:`~tornadish.asgi.ASGIConnection` whose
    HTTP answer (a refusal) goes out as ``websocket.http.response.*`` messages, or as a
    ``websocket.close`` (the server then answers 403) where the server lacks that
    extension. :meth:`accept_websocket` is what ``WebSocketHandler`` calls instead of
    ``upgrade``. One task reads from the server throughout, so a client that leaves
    during an async ``prepare`` is noticed.
    """

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._ws_send = send
        self._receive = receive
        self._can_respond = "websocket.http.response" in (scope.get("extensions") or {})
        self.socket: ASGIWebSocket | None = None
        self.delegate: Any = None
        super().__init__(scope, self._send_refusal)
        self.scheme = "https" if scope.get("scheme") == "wss" else "http"
        self._reader = self._loop.create_task(self._read())

    async def _send_refusal(self, message: Message) -> None:
        kind = message["type"]
        if self._can_respond:
            # http.response.start/body become websocket.http.response.start/body.
            await self._ws_send({**message, "type": "websocket." + kind})
        elif kind == "http.response.start":
            await self._ws_send({"type": "websocket.close", "code": 1000})

    def accept_websocket(
        self,
        sink: MessageSink,
        subprotocol: str | None,
        headers: list[tuple[bytes, bytes]],
        max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
    ) -> ASGIWebSocket:
        """Accept the WebSocket (with ``subprotocol`` and the handler's extra response
        ``headers``, cookies for one); messages then go to ``sink``. Raises
        :class:`StreamClosedError` if the client has gone or an answer has started."""
        if self._closed or self.response_started:
            raise StreamClosedError()
        # The HTTP exchange is over: nothing more goes through the response pump.
        self._closed = True
        self._close_callback = None
        self._wake()
        accept: Message = {
            "type": "websocket.accept",
            "subprotocol": subprotocol,
            "headers": [(k.lower(), v) for k, v in headers if k.lower() not in _SERVER_OWNED],
        }
        socket = ASGIWebSocket(sink, self._ws_send, accept, max_message_size, self._socket_done)
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
        "_drain_waiters",
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
        sink: MessageSink,
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
        self._drain_waiters: list[asyncio.Future[None]] = []
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
        if len(data) > 125:
            raise ValueError("ping data must be 125 bytes or less")
        if self._closing or self._closed:
            raise WebSocketClosedError()

    def drain(self) -> asyncio.Future[None]:
        """Resolves once every queued message has been taken by the ASGI server."""
        if self._closed:
            return _retrieved_closed()
        fut: asyncio.Future[None] = self._loop.create_future()
        if self._queue:
            self._drain_waiters.append(fut)
        else:
            fut.set_result(None)
        return fut

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
            waiters, self._drain_waiters = self._drain_waiters, []
            for w in waiters:
                if not w.done():
                    w.set_result(None)
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
        if _byte_size(data) > self._max_size:
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
        self.close_code = None if code is None or code in (1005, 1006) else int(code)
        self.close_reason = reason or None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for _, _, fut in self._queue:
            _fail(fut)
        self._queue.clear()
        self._queued = 0
        for w in self._drain_waiters:
            _fail(w)
        self._drain_waiters = []
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


# -- inward: an ASGI app's WebSocket endpoint under a tornadish route -------------------


def _handshake_problem(headers: HTTPHeaders) -> tuple[int, str] | None:
    """Why a WebSocket handshake request is invalid (status, message), or None."""
    tokens = {t.strip().lower() for t in headers.get("Connection", "").split(",")}
    if "upgrade" not in tokens:
        return 400, '"Connection" must be "Upgrade".'
    if headers.get("Sec-WebSocket-Version") != "13":
        return 426, "Upgrade Required"
    try:
        valid = len(base64.b64decode(headers.get("Sec-WebSocket-Key", ""), validate=True)) == 16
    except (binascii.Error, ValueError):
        valid = False
    if not valid:
        return 400, "Missing/Invalid WebSocket headers"
    return None


_CONNECTING, _ACCEPTED, _RESPONDING, _DONE = range(4)


class MountedWebSocket:
    """Runs a mounted ASGI app's ``websocket`` scope for one request of
    :class:`~tornadish.asgi.ASGIHandler`, playing the ASGI server's part.

    ``websocket.accept`` upgrades the connection (tornadish's WebSocket protocol
    carries the frames); ``websocket.close`` before accepting answers 403, and the
    ``websocket.http.response`` extension lets the app answer with any HTTP response.
    Incoming messages queue for ``receive()``; once the app leaves
    :data:`_READ_AHEAD` of them unread, reading from the client pauses.
    """

    def __init__(self, handler: RequestHandler, scope: Scope) -> None:
        self.handler = handler
        self.scope = scope
        self.state = _CONNECTING
        self.protocol: WebSocketProtocol | ASGIWebSocket | None = None
        self._incoming: deque[Message] = deque([{"type": "websocket.connect"}])
        self._disconnect: Message | None = None
        self._reader: asyncio.Future[None] | None = None
        self._room: asyncio.Future[None] | None = None

    async def run(self, app: Any) -> None:
        """Run ``app`` on this WebSocket; returns when the app does."""
        handler = self.handler
        problem = _handshake_problem(handler.request.headers)
        if problem is not None:
            status, text = problem
            handler.set_status(status)
            if status == 426:
                handler.set_header("Sec-WebSocket-Version", "13")
            handler.finish(text)
            return
        try:
            await app(self.scope, self.receive, self.send)
        except Exception:
            if self.state == _CONNECTING:
                raise  # nothing sent yet: the handler answers 500
            app_log.error("ASGI application failed on a WebSocket", exc_info=True)
            self._close_after_app(1011)
            return
        if self.state == _CONNECTING:
            raise RuntimeError("the ASGI application returned without accepting the WebSocket")
        self._close_after_app(1000)

    def _close_after_app(self, code: int) -> None:
        # An app that returns ends its connection (ASGI): close the socket politely.
        if self.state == _ACCEPTED and self.protocol is not None:
            self.protocol.close(code, None if code == 1000 else "internal error")
        elif self.state == _RESPONDING and not self.handler._finished:
            self.handler._abandon()
        self.state = _DONE

    # -- the ASGI callables ---------------------------------------------------------------

    async def receive(self) -> Message:
        """The app's ``receive``: connect first, then messages, then the disconnect."""
        while True:
            if self._incoming:
                message = self._incoming.popleft()
                room = self._room
                if room is not None and len(self._incoming) < _READ_AHEAD:
                    self._room = None
                    if not room.done():
                        room.set_result(None)
                return message
            if self._disconnect is not None:
                return self._disconnect
            self._reader = asyncio.get_running_loop().create_future()
            await self._reader

    async def send(self, message: Message) -> None:
        """The app's ``send``."""
        kind = message["type"]
        state = self.state
        if state == _CONNECTING:
            if kind == "websocket.accept":
                self._accept(message)
            elif kind == "websocket.close":
                self.state = _DONE
                self.handler.set_status(403)
                self.handler.finish()
            elif kind == "websocket.http.response.start":
                self._response_start(message)
            else:
                raise RuntimeError(f"unexpected ASGI message {kind!r} before accept")
        elif state == _ACCEPTED:
            protocol = self.protocol
            assert protocol is not None
            if self._disconnect is not None or protocol.closed:
                raise StreamClosedError()  # OSError, as the ASGI spec asks
            if kind == "websocket.send":
                data = message.get("bytes")
                if data is not None:
                    sent = protocol.send_message(data, binary=True)
                else:
                    sent = protocol.send_message(message["text"])
                try:
                    await sent
                except WebSocketClosedError:
                    raise StreamClosedError() from None
            elif kind == "websocket.close":
                protocol.close(message.get("code") or 1000, message.get("reason") or None)
            else:
                raise RuntimeError(f"unexpected ASGI message {kind!r} on an open WebSocket")
        elif state == _RESPONDING and kind == "websocket.http.response.body":
            handler = self.handler
            body = message.get("body", b"")
            if body:
                handler.write(body)
            if message.get("more_body", False):
                await handler.flush()
            else:
                self.state = _DONE
                handler.finish()
        elif self._disconnect is not None:
            raise StreamClosedError()
        else:
            raise RuntimeError(f"unexpected ASGI message {kind!r}")

    # -- the handshake --------------------------------------------------------------------

    def _accept(self, message: Message) -> None:
        handler = self.handler
        request = handler.request
        if self._disconnect is not None:
            raise StreamClosedError()
        subprotocol: str | None = message.get("subprotocol")
        if subprotocol is not None and subprotocol not in self.scope["subprotocols"]:
            raise ValueError(f"the ASGI app accepted subprotocol {subprotocol!r}, not offered")
        handler.set_status(101)
        handler.clear_header("Content-Type")
        for name, value in message.get("headers") or ():
            handler.add_header(name.decode("latin-1"), value.decode("latin-1"))
        headers = handler._header_list()
        settings = handler.settings
        max_size: int = settings.get("websocket_max_message_size", DEFAULT_MAX_MESSAGE_SIZE)
        conn: Any = request.connection
        handler._headers_written = True
        handler._finished = True
        self.state = _ACCEPTED
        try:
            accept_asgi = getattr(conn, "accept_websocket", None)
            if accept_asgi is not None:  # this application is itself served through ASGI
                self.protocol = accept_asgi(self, subprotocol, headers, max_size)
            else:
                key = request.headers["Sec-WebSocket-Key"].encode("ascii")
                headers += [
                    (b"Upgrade", b"websocket"),
                    (b"Connection", b"Upgrade"),
                    (b"Sec-WebSocket-Accept", generate_accept_token(key)),
                ]
                if subprotocol is not None:
                    headers.append((b"Sec-WebSocket-Protocol", subprotocol.encode("ascii")))
                interval = settings.get("websocket_ping_interval")
                timeout = settings.get("websocket_ping_timeout")
                protocol = WebSocketProtocol(
                    self,
                    client=False,
                    max_message_size=max_size,
                    ping_interval=float(interval) if interval else None,
                    ping_timeout=float(timeout) if timeout is not None else None,
                )
                self.protocol = protocol
                conn.upgrade(headers, protocol)
        except StreamClosedError:
            self.protocol = None
            self.state = _DONE
            self.connection_lost()
            handler._run_on_finish()
            raise
        request._finish_time = time.time()
        handler.application.log_request(handler)

    def _response_start(self, message: Message) -> None:
        handler = self.handler
        self.state = _RESPONDING
        handler.set_status(message["status"])
        handler.clear_header("Content-Type")
        for name, value in message.get("headers") or ():
            handler.add_header(name.decode("latin-1"), value.decode("latin-1"))

    # -- the client's side (MessageSink, and the handler's close notification) -----------

    def connection_lost(self) -> None:
        """The client went away before the handshake finished."""
        if self._disconnect is None:
            self._push_disconnect(1006, "")

    def _push_disconnect(self, code: int, reason: str) -> None:
        self._disconnect = {"type": "websocket.disconnect", "code": code, "reason": reason}
        self._wake_reader()
        room, self._room = self._room, None
        if room is not None and not room.done():
            room.set_result(None)

    def _wake_reader(self) -> None:
        reader = self._reader
        if reader is not None and not reader.done():
            reader.set_result(None)

    def _ws_message(self, message: str | bytes) -> Awaitable[None] | None:
        if isinstance(message, str):
            self._incoming.append({"type": "websocket.receive", "text": message})
        else:
            self._incoming.append({"type": "websocket.receive", "bytes": message})
        self._wake_reader()
        if len(self._incoming) >= _READ_AHEAD:
            # Backpressure: read no more from the client until the app catches up.
            self._room = asyncio.get_running_loop().create_future()
            return self._room
        return None

    def _ws_ping(self, data: bytes) -> None:
        pass  # answered by the protocol; ASGI has no ping message

    def _ws_pong(self, data: bytes) -> None:
        pass

    def _ws_closed(self, code: int | None, reason: str | None) -> None:
        if self._disconnect is None:
            if code is None:
                # 1005: a close frame without a code; 1006: no close frame at all.
                protocol = self.protocol
                code = 1005 if protocol is not None and protocol.close_received else 1006
            self._push_disconnect(code, reason or "")
        self.handler._run_on_finish()


def websocket_scope(http_scope: Scope) -> Scope:
    """The ``websocket`` scope for a request, from the ``http`` one
    :class:`~tornadish.asgi.ASGIHandler` would build."""
    headers: list[tuple[bytes, bytes]] = http_scope["headers"]
    offered: list[str] = []
    for name, value in headers:
        if name == b"sec-websocket-protocol":
            offered += [t.strip() for t in value.decode("latin-1").split(",") if t.strip()]
    scope = dict(http_scope)
    scope.pop("method", None)
    scope["type"] = "websocket"
    scope["asgi"] = {"version": "3.0", "spec_version": "2.4"}
    scope["scheme"] = "wss" if http_scope["scheme"] == "https" else "ws"
    scope["subprotocols"] = offered
    scope["extensions"] = {"websocket.http.response": {}}
    return scope
