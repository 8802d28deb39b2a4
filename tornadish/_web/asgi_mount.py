"""Inward ASGI: an ASGI application (Starlette, FastAPI, ...) mounted under a route.

:class:`ASGIHandler` is a streaming ``RequestHandler`` that runs the mounted app with the
request as its ``http`` scope; a WebSocket request runs the app's ``websocket`` scope
through :class:`MountedWebSocket`, which plays the ASGI server's part over tornadish's
own WebSocket protocol.

The mounted app's lifespan (:class:`_Lifespan`) runs once per app and event loop: its
startup before the first request the app is given (the web layer never sees the server
start, so the first request is the first moment it can), its shutdown when the server
that served that request shuts down gracefully (``HTTPServer.shutdown``, which
``tornadish.run`` calls on SIGTERM, or an outer ASGI server's lifespan shutdown), once
the app's requests in progress are over. The server's drain is reached only through the
connection contract (``shutting_down``, ``track_task``), so the drain waits for the
app's shutdown. A failed startup is logged and the app is never given a request: each
is answered 503. An app that does not speak the lifespan protocol (it raises on the
``lifespan`` scope, or returns at once) is served without one, as uvicorn's
``lifespan="auto"`` does.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import Awaitable
from typing import Any
from urllib.parse import unquote

from tornadish._asgi.connection import ASGIApp, Message, Scope
from tornadish._http.contract import (
    HTTPConnection,
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
from tornadish._web.errors import HTTPError
from tornadish._web.handler import RequestHandler, stream_request_body
from tornadish.log import app_log, gen_log

__all__ = ["ASGIHandler", "MountedWebSocket", "websocket_scope"]

# Messages a mounted app may leave unread before reading from the client pauses.
_READ_AHEAD = 16


# -- the mounted app's lifespan ---------------------------------------------------------


class _Lifespan:
    """One mounted app's ASGI lifespan on one event loop (see the module's docstring).

    ``mode`` is ``"auto"`` (an app that does not speak the protocol is served without
    it) or ``"on"`` (an app that raises on the lifespan scope fails to start).
    """

    def __init__(self, app: ASGIApp, mode: str) -> None:
        self.app = app
        self.mode = mode
        #: The lifespan scope's ``state``; each request's scope gets a shallow copy.
        self.state: dict[str, Any] = {}
        #: Why the app cannot serve (its startup failed), or None.
        self.failure: str | None = None
        self.ready = False
        self._startup_sent = False
        self._started: asyncio.Future[None] | None = None
        self._startup_reply: asyncio.Future[str] | None = None
        self._shutdown_reply: asyncio.Future[str] | None = None
        self._shutdown_asked: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._watching = False
        self._in_flight = 0
        self._idle: asyncio.Event | None = None

    def start(self) -> asyncio.Future[None]:
        """Run the app's startup once; the future completes when it is over, whether it
        succeeded (``ready``) or not (``failure``)."""
        if self._started is None:
            loop = asyncio.get_running_loop()
            self._started = loop.create_future()
            self._startup_reply = loop.create_future()
            self._shutdown_reply = loop.create_future()
            self._shutdown_asked = loop.create_future()
            self._task = loop.create_task(self._main())
            self._task.add_done_callback(self._started_after)
            self._startup_reply.add_done_callback(self._started_after)
        return self._started

    def _started_after(self, _: object) -> None:
        started = self._started
        assert started is not None and self._startup_reply is not None
        if started.done():
            return
        # Complete, or not spoken at all (it raised, or returned without a word): serve.
        if self._startup_reply.done() and self._startup_reply.result() != "failed":
            self.ready = True
        started.set_result(None)

    async def _main(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}
        scope["state"] = self.state
        startup = self._startup_reply
        assert startup is not None
        try:
            await self.app(scope, self._receive, self._send)
        except Exception as e:
            if not startup.done():
                if self.mode == "on":
                    self._fail(f"{type(e).__name__}: {e}", exc=e)
                    startup.set_result("failed")
                else:
                    # ASGI: an app that raises on the lifespan scope does not support it.
                    gen_log.info("ASGI 'lifespan' protocol appears unsupported by %r", self.app)
                    gen_log.debug("The lifespan scope raised", exc_info=e)
                    startup.set_result("unsupported")
            elif self.failure is None:
                app_log.error("ASGI application %r failed in its lifespan", self.app, exc_info=e)
        finally:
            for reply in (startup, self._shutdown_reply):
                if reply is not None and not reply.done():
                    reply.set_result("returned")

    async def _receive(self) -> Message:
        if not self._startup_sent:
            self._startup_sent = True
            return {"type": "lifespan.startup"}
        assert self._shutdown_asked is not None
        await self._shutdown_asked
        return {"type": "lifespan.shutdown"}

    async def _send(self, message: Message) -> None:
        kind = message["type"]
        startup, shutdown = self._startup_reply, self._shutdown_reply
        assert startup is not None and shutdown is not None
        if kind == "lifespan.startup.complete" and not startup.done():
            startup.set_result("complete")
        elif kind == "lifespan.startup.failed" and not startup.done():
            self._fail(message.get("message") or "lifespan.startup.failed")
            startup.set_result("failed")
        elif kind == "lifespan.shutdown.failed" and not shutdown.done():
            asked = self._shutdown_asked
            if asked is not None and asked.done():
                # (Not when its lifespan task was merely cancelled: the loop is closing.)
                app_log.error(
                    "ASGI application %r failed to shut down: %s", self.app, message.get("message")
                )
            shutdown.set_result("failed")
        elif kind == "lifespan.shutdown.complete" and not shutdown.done():
            shutdown.set_result("complete")
        elif not kind.startswith("lifespan."):
            # An app that took the lifespan scope for another kind: refused, as uvicorn
            # does, so that in "auto" mode it counts as an app without lifespan support.
            raise RuntimeError(f"unexpected ASGI message {kind!r} in the lifespan scope")

    def _fail(self, why: str, exc: BaseException | None = None) -> None:
        self.failure = why
        app_log.error(
            "ASGI application %r failed to start, so its requests are answered 503: %s",
            self.app,
            why,
            exc_info=exc,
        )

    def request_started(self, conn: HTTPConnection | None) -> None:
        """The app is given a request; the first one ties the app's shutdown to the
        graceful shutdown of the server it came through."""
        self._in_flight += 1
        if not self._watching and conn is not None:
            self._watching = True
            watcher = asyncio.ensure_future(self._shut_down_with(conn.shutting_down()))
            conn.track_task(watcher)  # the server's drain waits for the app's shutdown

    def request_finished(self) -> None:
        """The app is done with a request (its coroutine returned)."""
        self._in_flight -= 1
        if self._in_flight == 0 and self._idle is not None:
            self._idle.set()

    async def _shut_down_with(self, server_stopping: Awaitable[None]) -> None:
        await server_stopping
        # Requests the app is still serving finish first (the drain lets them).
        while self._in_flight:
            self._idle = asyncio.Event()
            await self._idle.wait()
        await self.shutdown()

    async def shutdown(self) -> None:
        """Send the app its lifespan shutdown and wait for its answer; requests that
        arrive meanwhile are answered 503, and those after it start the app afresh."""
        asked, reply = self._shutdown_asked, self._shutdown_reply
        if not self.ready or asked is None or reply is None or self._task is None:
            _forget(self)
            return
        self.ready = False
        try:
            if not asked.done():
                asked.set_result(None)
            await reply
            await asyncio.wait({self._task}, timeout=1.0)  # it returns after answering
        finally:
            _forget(self)


# One lifespan per mounted app and event loop (the loop its resources live on). Module
# state, as a mount has nothing of its own that outlives a request; held weakly by loop.
_LIFESPANS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, _Lifespan]] = (
    weakref.WeakKeyDictionary()
)


def _lifespan_of(app: ASGIApp, mode: str) -> _Lifespan:
    """The lifespan of ``app`` on the running loop (made on first use)."""
    apps = _LIFESPANS.setdefault(asyncio.get_running_loop(), {})
    lifespan = apps.get(id(app))
    if lifespan is None:
        # (The lifespan holds the app, so its id stays the app's while it is here.)
        lifespan = apps[id(app)] = _Lifespan(app, mode)
    return lifespan


def _forget(lifespan: _Lifespan) -> None:
    # Shut down: a later request on this loop starts the app afresh.
    apps = _LIFESPANS.get(asyncio.get_running_loop(), {})
    if apps.get(id(lifespan.app)) is lifespan:
        del apps[id(lifespan.app)]


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

    ``lifespan`` (uvicorn's choices): ``"auto"`` runs the app's lifespan startup before
    the first request it is given and its shutdown when that request's server shuts
    down gracefully, serving an app that does not speak the protocol without one;
    ``"on"`` counts such an app as failed; ``"off"`` runs no lifespan. An app whose
    startup failed gets no request: each is answered 503 (the failure is logged once).
    Each request's scope carries a copy of the lifespan's ``state``.
    """

    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "DELETE", "PATCH", "PUT", "OPTIONS")

    def initialize(self, asgi_app: ASGIApp, root_path: str = "", lifespan: str = "auto") -> None:
        if lifespan not in ("auto", "on", "off"):
            raise ValueError(f"lifespan must be 'auto', 'on' or 'off', not {lifespan!r}")
        self.asgi_app = asgi_app
        self.root_path = root_path.rstrip("/")
        self._lifespan_mode = lifespan
        self._lifespan: _Lifespan | None = None
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

    def prepare(self) -> Awaitable[None] | None:
        if self._lifespan_mode != "off":
            lifespan = _lifespan_of(self.asgi_app, self._lifespan_mode)
            if not lifespan.ready:
                return self._after_startup(lifespan)
            self._lifespan = lifespan
        self._begin()
        return None

    async def _after_startup(self, lifespan: _Lifespan) -> None:
        # Shielded: a client that goes away must not cancel the app's startup.
        await asyncio.shield(lifespan.start())
        if not lifespan.ready:
            # (Why it failed was logged once, when it did.)
            why = "its startup failed" if lifespan.failure is not None else "it is shutting down"
            raise HTTPError(503, "mounted ASGI application %r: %s", self.asgi_app, why)
        self._lifespan = lifespan
        self._begin()

    def _begin(self) -> None:
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
            "state": dict(self._lifespan.state) if self._lifespan is not None else {},
        }

    async def _run_app(self) -> None:
        lifespan = self._lifespan
        if lifespan is not None:
            lifespan.request_started(self.request.connection)
        try:
            await self.asgi_app(self._scope(), self._channel.receive, self._asgi_send)
        finally:
            self._channel.disconnect()
            if lifespan is not None:
                lifespan.request_finished()

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
                # Answered before the end of the body was read (a quick GET after an
                # awaited startup, an early 4xx): the server reads no more of this
                # request, so nothing else ends the handler's wait for it.
                body = self._body_future
                if body is not None and not body.done():
                    body.set_result(None)

    async def _serve(self) -> None:
        if self._websocket is not None:
            lifespan = self._lifespan
            if lifespan is not None:
                lifespan.request_started(self.request.connection)
            try:
                await self._websocket.run(self.asgi_app)
            finally:
                if lifespan is not None:
                    lifespan.request_finished()
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
