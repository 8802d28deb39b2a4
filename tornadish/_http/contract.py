"""The connection contract: what the web layer, WebSocket and ASGI see of a connection.

placeholder docstring
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from tornadish._http.headers import HTTPHeaders
from tornadish._http.parse import RequestStartLine, ResponseStartLine


class StreamClosedError(OSError):
    """The connection closed before the operation could complete.

    Raised by ``await handler.flush()`` (and ``await conn.drain()``) once the client has
    gone away; ``real_error`` holds the underlying exception, if any.
    """

    def __init__(self, real_error: BaseException | None = None) -> None:
        super().__init__("Stream is closed")
        self.real_error = real_error


class UpgradedProtocol(asyncio.Protocol):
    """A protocol that takes a connection over after ``101 Switching Protocols``
    (WebSocket); see :meth:`HTTP1ServerProtocol.upgrade`."""

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


class HTTPConnection:
    """What a request handler writes its response through (one per connection).

    Tornado's interface (``write_headers``, ``write``, ``finish``), kept so code that
    talks to ``request.connection`` directly keeps working, written on tornadish's own
    (``send_response``, ``send_body``, ``drain``), which the web layer uses and each
    connection type implements.
    """

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
        raise NotImplementedError()

    def set_close_callback(self, callback: Any) -> None:
        """Call ``callback()`` (once) if the connection closes before the response ends."""
        raise NotImplementedError()

    # tornadish's own interface, which the methods above are written on.

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
        """Resolves once the output buffer is below its high-water mark."""
        raise NotImplementedError()


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

    def start_request(
        self, server_conn: object, request_conn: HTTPConnection
    ) -> HTTPMessageDelegate:
        """Return the delegate that will receive the next request on ``request_conn``."""
        raise NotImplementedError()

    def on_close(self, server_conn: object) -> None:
        """A connection that carried requests to this delegate has closed."""
