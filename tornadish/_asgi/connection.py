"""The ASGI side of the connection contract: :class:`ASGIConnection` plays a request's
``connection`` under an ASGI server (its sends queue ASGI messages).

Rules of this module:

1. The web layer's writes are synchronous, ASGI's ``send`` is a coroutine: messages are
   queued and one pump task sends them in order. ``drain()`` waits on the connection's
   :class:`~tornadish._io.flow_control.WriteGate` while the queue is not empty, which
   carries the ASGI server's backpressure back to ``await flush()``.
2. The ASGI server owns the socket: what the contract asks of a socket (``stream``,
   ``get_extra_info``) is answered from the scope, or refused with a clear error.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import quote

from tornadish._http.contract import CloseCallbackView, HTTPConnection
from tornadish._http.headers import HTTPHeaders
from tornadish._http.parse import RequestStartLine
from tornadish._io.drain import Drain
from tornadish._io.flow_control import WriteGate, failed_future
from tornadish.log import gen_log

__all__ = [
    "ASGIApp",
    "ASGIConnection",
    "ASGIStream",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "request_head",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_DEFAULT_MAX_BODY = 100 * 1024 * 1024


# -- outward: tornadish application as an ASGI app -----------------------------------


class ASGIConnection(HTTPConnection):
    """The ``connection`` of a request that arrived through ASGI.

    It implements what the web layer calls on tornadish's own HTTP/1 connection
    (``send_response``, ``send_body``, ``drain``, ``set_close_callback``, ...). The web
    layer's writes are synchronous while ASGI's ``send`` is a coroutine, so messages are
    queued and sent in order by one pump task; ``drain()`` resolves once the queue is
    empty, which carries the ASGI server's backpressure back to ``await flush()``.
    """

    def __init__(self, scope: Scope, send: Send, drain: Drain | None = None) -> None:
        self._send = send
        # The adapter's graceful drain (started by the lifespan's shutdown), if any.
        self._drain = drain
        self._loop = asyncio.get_running_loop()
        self._queue: deque[Message] = deque()
        self._wakeup: asyncio.Future[None] | None = None
        self._gate = WriteGate(self._loop)
        self._close_callback: Callable[[], None] | None = None
        self._stream: ASGIStream | None = None
        self._head_only = scope.get("method") == "HEAD"
        self.response_started = False
        self.response_finished = False
        self.aborted = False
        self._closed = False
        self._max_body_size = _DEFAULT_MAX_BODY
        #: What a body over the limit is answered: Tornado's 400, a route's 413.
        self.too_large_status = 400
        client = scope.get("client")
        server = scope.get("server")
        self.remote_ip: str | None = client[0] if client else None
        self.scheme: str = scope.get("scheme", "http")
        self.address: Any = tuple(client) if client else None
        self._sockname: Any = tuple(server) if server else None
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
            return failed_future(self._loop)
        gate = self._gate
        return gate.waiter() if self._queue else gate.ready()

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        """``callback()`` runs if the client disconnects before the response is done."""
        self._close_callback = callback

    @property
    def max_body_size(self) -> int:
        """The body limit for this request (the adapter answers 400 past it)."""
        return self._max_body_size

    def set_max_body_size(self, max_body_size: int) -> None:
        """Change the body limit for this request (from a streaming handler's prepare)."""
        self._max_body_size = max_body_size
        self.too_large_status = 400

    def limit_body(self, max_body_size: int, status: int = 413) -> None:
        """Set a route's body limit for this request, refused with ``status``."""
        self._max_body_size = max_body_size
        self.too_large_status = status

    def shutting_down(self) -> asyncio.Future[None]:
        """A new future that completes when the ASGI lifespan's shutdown arrives (see
        the contract); never, without a lifespan."""
        if self._drain is None:
            return self._loop.create_future()
        return self._drain.future()

    def track_task(self, task: asyncio.Future[Any]) -> None:
        """The lifespan's shutdown waits for ``task``, then cancels it (see the
        contract)."""
        if self._drain is not None:
            self._drain.hold(task)

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
            self._stream_closed()

    @property
    def stream(self) -> ASGIStream:
        """A stand-in for Tornado's ``connection.stream`` (the ASGI server owns the
        socket): it tells whether the client is still there, and nothing is written
        through it."""
        stream = self._stream
        if stream is None:
            stream = self._stream = ASGIStream(self)
        return stream

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """``"peername"`` and ``"sockname"`` from the ASGI scope's ``client`` and
        ``server``; ``default`` for the rest (the ASGI server owns the socket)."""
        if name == "peername":
            value = self.address
        elif name == "sockname":
            value = self._sockname
        else:
            value = None
        return default if value is None else value

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
        self._gate.lost()
        if not self.finished.done():
            self.finished.set_result(None)
        self._stream_closed()

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
        self._stream_closed()

    def send_error(self, status: int) -> None:
        """Send a bare error response, with no body (after :meth:`refuse`)."""
        headers = [(b"content-length", b"0")]
        self._put({"type": "http.response.start", "status": status, "headers": headers})
        self._put({"type": "http.response.body", "body": b"", "more_body": False})
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
        self._gate.resume()

    def _stream_closed(self) -> None:
        stream = self._stream
        if stream is not None:
            stream._run_close_callback()

    async def wait_sent(self) -> None:
        """Wait until the whole response has been sent (or abandoned)."""
        await self.finished
        if not self._pump_task.done():
            self._wake()
            await self._pump_task


class ASGIStream(CloseCallbackView):
    """``request.connection.stream`` under ASGI: whether the client is still there, and
    a close callback for when it leaves; raw writes are refused, since the ASGI server
    frames every byte of the response itself."""

    __slots__ = ("_conn",)

    def __init__(self, conn: ASGIConnection) -> None:
        super().__init__()
        self._conn = conn

    def closed(self) -> bool:
        """True once the client has gone or the response was abandoned."""
        return self._conn.closed

    def write(self, data: bytes) -> Awaitable[None]:
        """Not possible under ASGI: raises ``NotImplementedError`` (write the response
        through the handler, or ``connection.write``, instead)."""
        raise NotImplementedError(
            "connection.stream.write() is not available under ASGI: the ASGI server "
            "frames the response; write through the handler or connection.write()"
        )

    def close(self) -> None:
        """Abandon the response (the ASGI server then drops the connection)."""
        self._conn.close()


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
    # No body, as tornadish's own server (and Tornado's) answer a refused request.
    conn.send_error(status)
