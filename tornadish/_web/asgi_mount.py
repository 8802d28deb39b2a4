"""Inward ASGI: an ASGI application (Starlette, FastAPI, ...) mounted under a route.

:class:`ASGIHandler` is a streaming ``RequestHandler`` that runs the mounted app with the
request as its ``http`` scope; a WebSocket request runs the app's ``websocket`` scope
through :class:`MountedWebSocket`, which plays the ASGI server's part over tornadish's
own WebSocket protocol.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable
from typing import Any
from urllib.parse import unquote

from tornadish._asgi.connection import ASGIApp, Message, Scope
from tornadish._http.contract import (
    StreamClosedError,
    WebSocketChannel,
    WebSocketNotSupportedError,
    WebSocketOffer,
)
from tornadish._http.websocket import (
    DEFAULT_MAX_MESSAGE_SIZE,
    WebSocketClosedError,
    disconnect_code,
    handshake_refusal,
    split_header,
    wants_websocket,
)
from tornadish._web.handler import RequestHandler, stream_request_body
from tornadish.log import app_log, gen_log

__all__ = ["ASGIHandler", "MountedWebSocket", "websocket_scope"]

# Messages a mounted app may leave unread before reading from the client pauses.
_READ_AHEAD = 16


# -- inward: an ASGI app under a tornadish route -------------------------------------


class _BodyChannel:
    """Request body chunks from ``data_received`` to the ASGI app's ``receive()``, with
    backpressure: the producer waits while more than ``limit`` bytes are unread."""

    def __init__(self, limit: int = 1 << 20) -> None:
        self.chunks: deque[bytes] = deque()
        self.size = 0
        self.limit = limit
        self.ended = False
        self.final_sent = False
        self.disconnected = False
        self._reader: asyncio.Future[None] | None = None
        self._writer: asyncio.Future[None] | None = None

    def put(self, chunk: bytes) -> Awaitable[None] | None:
        self.chunks.append(chunk)
        self.size += len(chunk)
        self._wake_reader()
        if self.size <= self.limit or self.disconnected:
            return None
        self._writer = asyncio.get_running_loop().create_future()
        return self._writer

    def end(self) -> None:
        self.ended = True
        self._wake_reader()

    def disconnect(self) -> None:
        """The client went away, or the app finished (nobody will read any more)."""
        self.disconnected = True
        self._wake_reader()
        self._wake_writer()

    async def receive(self) -> Message:
        while True:
            if self.chunks:
                chunk = self.chunks.popleft()
                self.size -= len(chunk)
                if self.size <= self.limit:
                    self._wake_writer()
                more = bool(self.chunks) or not self.ended
                self.final_sent = not more
                return {"type": "http.request", "body": chunk, "more_body": more}
            if self.disconnected:
                return {"type": "http.disconnect"}
            if self.ended and not self.final_sent:
                self.final_sent = True
                return {"type": "http.request", "body": b"", "more_body": False}
            # Nothing yet; after the whole body, this waits for the client to go away.
            self._reader = asyncio.get_running_loop().create_future()
            await self._reader

    def _wake_reader(self) -> None:
        if self._reader is not None and not self._reader.done():
            self._reader.set_result(None)

    def _wake_writer(self) -> None:
        if self._writer is not None and not self._writer.done():
            self._writer.set_result(None)


@stream_request_body
class ASGIHandler(RequestHandler):
    """Serves an ASGI 3 application under a route.

    >>> Application([
    ...     (r"/api/.*", ASGIHandler, {"asgi_app": api, "root_path": "/api"}),
    ... ])                                                       # doctest: +SKIP

    The request path is passed through whole; ``root_path`` tells the ASGI app which
    prefix is the mount point (Starlette and FastAPI route on what follows it). The
    request body streams into the app as it arrives, and each body part the app sends
    is flushed to the client as it comes (a streaming response). A WebSocket request
    (``GET`` with ``Upgrade: websocket``) runs the app's ``websocket`` scope instead,
    over tornadish's WebSocket protocol (see :class:`MountedWebSocket`).
    """

    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "DELETE", "PATCH", "PUT", "OPTIONS")

    def initialize(self, asgi_app: ASGIApp, root_path: str = "") -> None:
        self.asgi_app = asgi_app
        self.root_path = root_path.rstrip("/")
        self._channel = _BodyChannel()
        self._app_task: asyncio.Task[None] | None = None
        self._response_started = False
        self._websocket: MountedWebSocket | None = None

    def check_xsrf_cookie(self) -> None:
        # The mounted application enforces its own CSRF policy.
        pass

    def compute_etag(self) -> str | None:
        # The mounted application owns caching headers; do not add an Etag or a 304.
        return None

    def prepare(self) -> None:
        request = self.request
        if request.method == "GET" and wants_websocket(request.headers):
            self._websocket = MountedWebSocket(self, websocket_scope(self._scope()))
            return
        self._app_task = asyncio.get_running_loop().create_task(self._run_app())

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        return self._channel.put(chunk)

    def on_connection_close(self) -> None:
        super().on_connection_close()
        self._channel.disconnect()
        if self._websocket is not None:
            self._websocket.connection_lost()

    def _scope(self) -> Scope:
        request = self.request
        host, _, port = (request.host or "").rpartition(":")
        server: tuple[str, int] | None = None
        if host and port.isdigit():
            server = (host, int(port))
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": request.version.partition("/")[2] or "1.1",
            "method": request.method,
            "scheme": request.protocol,
            "path": unquote(request.path),
            "raw_path": request.path.encode("latin-1"),
            "query_string": request.query.encode("latin-1"),
            "root_path": self.root_path,
            "headers": [
                (name.lower().encode("latin-1"), value.encode("latin-1"))
                for name, value in request.headers.get_all()
            ],
            "client": (request.remote_ip, 0) if request.remote_ip else None,
            "server": server,
            "state": {},
        }

    async def _run_app(self) -> None:
        try:
            await self.asgi_app(self._scope(), self._channel.receive, self._asgi_send)
        finally:
            self._channel.disconnect()

    async def _asgi_send(self, message: Message) -> None:
        kind = message["type"]
        if self._finished:
            return
        if kind == "http.response.start":
            if self._response_started:
                raise RuntimeError("http.response.start sent twice")
            self._response_started = True
            self.set_status(message["status"])
            # The app's headers replace tornadish's defaults (its own Content-Type).
            self.clear_header("Content-Type")
            for name, value in message.get("headers", ()):
                self.add_header(name.decode("latin-1"), value.decode("latin-1"))
        elif kind == "http.response.body":
            if not self._response_started:
                raise RuntimeError("http.response.body before http.response.start")
            body = message.get("body", b"")
            if body:
                self.write(body)
            if message.get("more_body", False):
                await self.flush()
            else:
                self.finish()
                # The exchange is over: a later receive() reports the disconnect (ASGI
                # spec), so an app listening for it can return.
                self._channel.disconnect()

    async def _serve(self) -> None:
        if self._websocket is not None:
            await self._websocket.run(self.asgi_app)
            return
        self._channel.end()
        task = self._app_task
        assert task is not None
        try:
            await task
        except Exception:
            if self._response_started:
                app_log.error("ASGI application failed mid-response", exc_info=True)
                self._abandon()
                return
            raise
        if not self._finished:
            if not self._response_started:
                raise RuntimeError("the ASGI application returned without responding")
            self.finish()

    get = head = post = delete = patch = put = options = _serve


# -- inward: an ASGI app's WebSocket endpoint under a tornadish route -------------------


_CONNECTING, _ACCEPTED, _RESPONDING, _DONE = range(4)
_NOT_SUPPORTED = "WebSocket upgrade not supported on this connection"


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
        self.protocol: WebSocketChannel | None = None
        self._incoming: deque[Message] = deque([{"type": "websocket.connect"}])
        self._disconnect: Message | None = None
        self._reader: asyncio.Future[None] | None = None
        self._room: asyncio.Future[None] | None = None

    async def run(self, app: Any) -> None:
        """Run ``app`` on this WebSocket; returns when the app does."""
        handler = self.handler
        # The rules the native WebSocketHandler applies, refused with the same answers.
        refusal = handshake_refusal(handler.request.headers)
        if refusal is not None:
            handler.set_status(refusal.status)
            for name, value in refusal.headers:
                handler.set_header(name, value)
            handler.finish(refusal.body or None)
            if refusal.body:
                gen_log.debug(refusal.body)
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
        elif self.state == _RESPONDING:
            self.handler.abandon_response()
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
        settings = handler.settings
        interval = settings.get("websocket_ping_interval")
        timeout = settings.get("websocket_ping_timeout")
        offer = WebSocketOffer(
            request.headers["Sec-WebSocket-Key"],
            handler.take_over_response(),
            subprotocol,
            max_message_size=settings.get("websocket_max_message_size", DEFAULT_MAX_MESSAGE_SIZE),
            ping_interval=float(interval) if interval else None,
            ping_timeout=float(timeout) if timeout is not None else None,
        )
        conn = request.connection
        self.state = _ACCEPTED
        try:
            if conn is None:
                raise WebSocketNotSupportedError()
            self.protocol = conn.accept_websocket(self, offer)
        except WebSocketNotSupportedError:
            # Answered as WebSocketHandler answers it; the app's receive() then reports
            # the client gone.
            handler.give_back_response()
            self.state = _DONE
            handler.clear()
            handler.set_status(400)
            handler.finish(_NOT_SUPPORTED)
            gen_log.debug(_NOT_SUPPORTED)
            self.connection_lost()
            return
        except StreamClosedError:
            self.protocol = None
            self.state = _DONE
            self.connection_lost()
            handler.run_on_finish()
            raise
        request.mark_finished()
        handler.application.log_request(handler)

    def _response_start(self, message: Message) -> None:
        handler = self.handler
        self.state = _RESPONDING
        handler.set_status(message["status"])
        handler.clear_header("Content-Type")
        for name, value in message.get("headers") or ():
            handler.add_header(name.decode("latin-1"), value.decode("latin-1"))

    # -- the client's side (WebSocketSink, and the handler's close notification) ---------

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
            protocol = self.protocol
            received = protocol is not None and protocol.close_received
            self._push_disconnect(disconnect_code(code, received), reason or "")
        self.handler.run_on_finish()


def websocket_scope(http_scope: Scope) -> Scope:
    """The ``websocket`` scope for a request, from the ``http`` one
    :class:`~tornadish.asgi.ASGIHandler` would build."""
    headers: list[tuple[bytes, bytes]] = http_scope["headers"]
    offered: list[str] = []
    for name, value in headers:
        if name == b"sec-websocket-protocol":
            offered += split_header(value.decode("latin-1"))
    scope = dict(http_scope)
    scope.pop("method", None)
    scope["type"] = "websocket"
    scope["asgi"] = {"version": "3.0", "spec_version": "2.4"}
    scope["scheme"] = "wss" if http_scope["scheme"] == "https" else "ws"
    scope["subprotocols"] = offered
    scope["extensions"] = {"websocket.http.response": {}}
    return scope
