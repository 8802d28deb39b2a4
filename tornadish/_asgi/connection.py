"""The ASGI side of the connection contract: :class:`ASGIConnection` plays a request's
``connection`` under an ASGI server (its sends queue ASGI messages)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from tornadish._http.contract import HTTPConnection, StreamClosedError
from tornadish._http.headers import HTTPHeaders
from tornadish._http.parse import RequestStartLine, responses
from tornadish.log import gen_log

if TYPE_CHECKING:
    pass

__all__ = ["ASGIApp", "ASGIConnection", "Message", "Receive", "Scope", "Send", "request_head"]

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
