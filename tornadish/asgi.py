"""ASGI both ways: serve a tornadish ``Application`` from an ASGI server, and mount an
ASGI application inside a tornadish one.

Outward — any ASGI 3 server (uvicorn, hypercorn, daphne) runs the application::

    # myapp.py                         then:  uvicorn myapp:asgi_app
    app = Application([(r"/", MainHandler)])
    asgi_app = app.asgi                # an ASGIAdapter, made once per application

The request goes through the same dispatcher as with tornadish's own server: the adapter
plays the part of the connection (:class:`ASGIConnection`), so handlers, streaming
bodies, ``flush()`` and ``on_connection_close`` behave the same. Lifespan events run the
adapter's ``on_startup``/``on_shutdown`` hooks.

Inward — :class:`ASGIHandler` serves any ASGI app (Starlette, FastAPI, ...) under a
route::

    Application([(r"/api/.*", ASGIHandler, {"asgi_app": starlette_app,
                                             "root_path": "/api"})])

WebSockets cross in both directions too (:mod:`._asgi_ws`): a ``WebSocketHandler``
served by an ASGI server sees the same ``open``/``on_message``/``write_message``/``close``
as under tornadish's own server, and ``ASGIHandler`` forwards WebSocket requests to the
mounted app's ``websocket`` scope.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from ._handler import RequestHandler, stream_request_body
from ._headers import HTTPHeaders, HTTPInputError
from ._httpparse import RequestStartLine, responses
from ._server_protocol import StreamClosedError
from .httputil import HTTPConnection, HTTPServerConnectionDelegate
from .log import app_log, gen_log

if TYPE_CHECKING:
    from ._asgi_ws import MountedWebSocket

__all__ = [
    "ASGIAdapter",
    "ASGIApp",
    "ASGIConnection",
    "ASGIHandler",
    "Message",
    "Receive",
    "Scope",
    "Send",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_DEFAULT_MAX_BODY = 100 * 1024 * 1024


def _done() -> asyncio.Future[None]:
    fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    fut.set_result(None)
    return fut


def _closed_future() -> asyncio.Future[None]:
    fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    fut.set_exception(StreamClosedError())
    fut.exception()  # retrieved: an un-awaited flush must not log noise
    return fut


# -- outward: tornadish application as an ASGI app -----------------------------------


class ASGIConnection(HTTPConnection):
    """The ``connection`` of a request that arrived through ASGI.

    It implements what the web layer calls on tornadish's own HTTP/1 connection
    (``send_response``, ``send_body``, ``drain``, ``set_close_callback``, ...). The web
    layer's writes are synchronous while ASGI's ``send`` is a coroutine, so messages are
    queued and sent in order by one pump task; ``drain()`` resolves once the queue is
    empty, which carries the ASGI server's backpressure back to ``await flush()``.
    """

    def __init__(self, scope: Scope, send: Send) -> None:
        self._send = send
        self._loop = asyncio.get_running_loop()
        self._queue: deque[Message] = deque()
        self._wakeup: asyncio.Future[None] | None = None
        self._drain_waiters: list[asyncio.Future[None]] = []
        self._close_callback: Callable[[], None] | None = None
        self._head_only = scope.get("method") == "HEAD"
        self.response_started = False
        self.response_finished = False
        self.aborted = False
        self._closed = False
        self.max_body_size = _DEFAULT_MAX_BODY
        client = scope.get("client")
        self.remote_ip: str | None = client[0] if client else None
        self.scheme: str = scope.get("scheme", "http")
        self.address: Any = tuple(client) if client else None
        self.finished: asyncio.Future[None] = self._loop.create_future()
        self._pump_task = self._loop.create_task(self._pump())

    # -- what the web layer calls ---------------------------------------------------

    def send_response(
        self,
        status: int,
        reason: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        finish: bool,
    ) -> None:
        """Queue the response head with a first body part; ``finish`` ends it."""
        if self._closed:
            if finish:
                self._request_done()
            return
        self.response_started = True
        # The ASGI server frames the message itself; hop-by-hop headers are its business.
        out = [
            (k.lower(), v)
            for k, v in headers
            if k.lower() not in (b"connection", b"transfer-encoding", b"keep-alive")
        ]
        self._put({"type": "http.response.start", "status": status, "headers": out})
        self.send_body(body, finish)

    def send_body(self, chunk: bytes, finish: bool) -> None:
        """Queue more of the body; ``finish`` ends the response."""
        if self._closed:
            if finish:
                self._request_done()
            return
        if self._head_only:
            chunk = b""
        if chunk or finish:
            self._put({"type": "http.response.body", "body": chunk, "more_body": not finish})
        if finish:
            self.response_finished = True

    def drain(self) -> Awaitable[None]:
        """Resolves once everything queued has been handed to the ASGI server."""
        if self._closed and not self.response_finished:
            return _closed_future()
        if not self._queue:
            return _done()
        fut = self._loop.create_future()
        self._drain_waiters.append(fut)
        return fut

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        """``callback()`` runs if the client disconnects before the response is done."""
        self._close_callback = callback

    def set_max_body_size(self, max_body_size: int) -> None:
        """Change the body limit for this request (from a streaming handler's prepare)."""
        self.max_body_size = max_body_size

    def set_body_timeout(self, timeout: float) -> None:
        """Accepted for compatibility; body timeouts are the ASGI server's."""

    @property
    def closed(self) -> bool:
        """True once the client has gone or the response was abandoned."""
        return self._closed

    def close(self) -> None:
        """Abandon the response (the ASGI server then drops the connection)."""
        if not self._closed:
            self.aborted = not self.response_finished
            self._closed = True
            self._wake()
            if not self.finished.done():
                self.finished.set_result(None)

    # Tornado's HTTPConnection interface (write_headers, write: inherited).
    def finish(self) -> None:
        self.send_body(b"", True)

    # -- the adapter's side ---------------------------------------------------------

    def lost(self) -> None:
        """The client disconnected (``http.disconnect``)."""
        if self._closed:
            return
        self._closed = True
        callback, self._close_callback = self._close_callback, None
        if callback is not None and not self.response_finished:
            try:
                callback()
            except Exception:
                gen_log.exception("Exception in connection close callback")
        self._wake()
        for w in self._drain_waiters:
            if not w.done():
                w.set_exception(StreamClosedError())
                w.exception()
        self._drain_waiters = []
        if not self.finished.done():
            self.finished.set_result(None)

    def refuse(self) -> None:
        """The request failed below the application (body too large, bad encoding):
        tell the handler its connection is gone and drop whatever it writes later."""
        callback, self._close_callback = self._close_callback, None
        self._closed = True
        self.aborted = self.response_started and not self.response_finished
        if callback is not None:
            try:
                callback()
            except Exception:
                gen_log.exception("Exception in connection close callback")
        if self.aborted:
            self._wake()
            if not self.finished.done():
                self.finished.set_result(None)

    def send_error(self, status: int, body: bytes) -> None:
        """Send a plain-text error response (after :meth:`refuse`)."""
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
        ]
        self._put({"type": "http.response.start", "status": status, "headers": headers})
        self._put({"type": "http.response.body", "body": body, "more_body": False})
        self.response_started = self.response_finished = True

    def _put(self, message: Message) -> None:
        self._queue.append(message)
        self._wake()

    def _wake(self) -> None:
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    def _request_done(self) -> None:
        if not self.finished.done():
            self.finished.set_result(None)

    async def _pump(self) -> None:
        queue = self._queue
        while True:
            while queue:
                message = queue[0]
                try:
                    await self._send(message)
                except OSError:  # the client went away mid-send (server-specific type)
                    self.lost()
                    return
                queue.popleft()
                if message["type"] == "http.response.body" and not message["more_body"]:
                    self._request_done()
                    self._resolve_drains()
                    return
            self._resolve_drains()
            if self._closed:
                return
            self._wakeup = self._loop.create_future()
            await self._wakeup
            self._wakeup = None

    def _resolve_drains(self) -> None:
        waiters, self._drain_waiters = self._drain_waiters, []
        for w in waiters:
            if not w.done():
                w.set_result(None)

    async def wait_sent(self) -> None:
        """Wait until the whole response has been sent (or abandoned)."""
        await self.finished
        if not self._pump_task.done():
            self._wake()
            await self._pump_task


class ASGIAdapter:
    """An ASGI 3 application serving a tornadish ``Application`` (or any
    ``HTTPServerConnectionDelegate``).

    >>> adapter = ASGIAdapter(Application([(r"/", MainHandler)]))   # doctest: +SKIP
    >>> adapter.on_startup.append(open_database)                      # doctest: +SKIP
    >>> uvicorn.run(adapter)                                          # doctest: +SKIP

    ``Application.asgi`` returns one made for you. ``on_startup``/``on_shutdown`` hold
    callables (plain or ``async``) run on the lifespan startup and shutdown events.
    """

    def __init__(self, application: HTTPServerConnectionDelegate) -> None:
        self.application = application
        self.on_startup: list[Callable[[], object]] = []
        self.on_shutdown: list[Callable[[], object]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            from ._asgi_ws import serve_websocket

            await serve_websocket(self.application, scope, receive, send)
        else:
            raise ValueError(f"unsupported ASGI scope type {kind!r}")

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await _run_all(self.on_startup)
                except Exception as e:
                    app_log.exception("Error in ASGI startup hook")
                    await send({"type": "lifespan.startup.failed", "message": str(e)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    await _run_all(self.on_shutdown)
                except Exception as e:
                    app_log.exception("Error in ASGI shutdown hook")
                    await send({"type": "lifespan.shutdown.failed", "message": str(e)})
                    return
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        conn = ASGIConnection(scope, send)
        start_line, headers = request_head(scope, scope["method"])
        delegate = self.application.start_request(conn, conn)
        try:
            pending = delegate.headers_received(start_line, headers)
            if pending is not None:
                await pending
            received = 0
            more = True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    conn.lost()
                    delegate.on_connection_close()
                    return
                chunk = message.get("body", b"")
                more = message.get("more_body", False)
                if not chunk or conn.response_finished:
                    continue  # answered early: read and drop the rest
                received += len(chunk)
                if received > conn.max_body_size:
                    raise _TooLarge()
                pending = delegate.data_received(chunk)
                if pending is not None:
                    await pending
            if not conn.response_finished:
                delegate.finish()
        except _TooLarge:
            _error_response(conn, 413, delegate)
        except HTTPInputError as e:
            gen_log.info("Bad request body from %s: %s", conn.remote_ip, e)
            _error_response(conn, 400, delegate)
        except Exception:
            app_log.error("Uncaught exception handling an ASGI request", exc_info=True)
            _error_response(conn, 500, delegate)
        # Wait for the response, noticing a client that goes away meanwhile (long polls).
        watcher = asyncio.ensure_future(_watch_disconnect(receive, conn, delegate))
        try:
            await conn.wait_sent()
        finally:
            watcher.cancel()
        if conn.aborted and conn.response_started:
            # The response cannot be completed; only failing the call makes the server
            # drop the connection instead of ending the body cleanly.
            raise StreamClosedError()


def request_head(scope: Scope, method: str) -> tuple[RequestStartLine, HTTPHeaders]:
    """The request line and headers an ASGI ``http`` or ``websocket`` scope describes."""
    headers = HTTPHeaders()
    for name, value in scope.get("headers", ()):
        headers.add(name.decode("latin-1"), value.decode("latin-1"))
    raw_path = scope.get("raw_path")
    target = raw_path.decode("latin-1") if raw_path else quote(scope["path"])
    query = scope.get("query_string", b"")
    if query:
        target += "?" + query.decode("latin-1")
    return RequestStartLine(method, target, "HTTP/" + scope.get("http_version", "1.1")), headers


class _TooLarge(Exception):
    pass


def _error_response(conn: ASGIConnection, status: int, delegate: Any) -> None:
    # As tornadish's own connection does on a protocol error: the request's handler
    # hears that its connection is gone (a streaming body will never complete), then
    # the error goes out unless a response had already started.
    started = conn.response_started
    conn.refuse()
    try:
        delegate.on_connection_close()
    except Exception:
        gen_log.exception("Exception in on_connection_close")
    if started:
        return
    reason = responses.get(status, "Error")
    body = f"{status} {reason}\n".encode()
    conn.send_error(status, body)


async def _watch_disconnect(receive: Receive, conn: ASGIConnection, delegate: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            if not conn.response_finished:
                conn.lost()
                delegate.on_connection_close()
            return


async def _run_all(hooks: list[Callable[[], object]]) -> None:
    for hook in hooks:
        result = hook()
        if inspect.isawaitable(result):
            await result


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
    over tornadish's WebSocket protocol (see :class:`._asgi_ws.MountedWebSocket`).
    """

    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "DELETE", "PATCH", "PUT", "OPTIONS")

    def initialize(self, asgi_app: ASGIApp, root_path: str = "") -> None:  # type: ignore[override]
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
        if request.method == "GET" and request.headers.get("Upgrade", "").lower() == "websocket":
            from ._asgi_ws import MountedWebSocket, websocket_scope

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
