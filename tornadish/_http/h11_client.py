"""The h11 engine of the client seam (:mod:`.client_session`): one exchange at a time on
an ``h11.Connection(h11.CLIENT)``.

Rules of the house: no I/O; h11 through its public API only; its errors leave as
:class:`~.client_session.LocalError` (a request we may not send) and
:class:`~.client_session.ResponseError` (in Tornado's words, :mod:`.wording`).
It is also the httptools engine's judge: a response head llhttp refuses, or accepts
where h11 would not, is parsed again here. A chunked response body is read by
:mod:`.chunked`, as the server reads a chunked request (h11's grammar for it is not
RFC 9112's); h11 keeps the exchange's state, and the next exchange starts on a fresh
connection.
"""

from __future__ import annotations

import h11

from tornadish._http.chunked import ChunkedReader
from tornadish._http.client_session import (
    CLOSED,
    END,
    NEED_DATA,
    ClientEvent,
    LocalError,
    ResponseError,
    ResponseHead,
)
from tornadish._http.wording import tornado_wording

__all__ = ["H11ClientSession"]

_EOM = h11.EndOfMessage()
_INCOMPLETE = "peer closed connection without sending complete message body"


def _chunked_body(method: str, response: h11.Response) -> bool:
    """``response`` (to a ``method`` request) has a chunked body, as h11 frames it."""
    code = response.status_code
    if code == 204 or code == 304 or method == "HEAD" or (method == "CONNECT" and code < 300):
        return False
    return any(name == b"transfer-encoding" for name, _ in response.headers)  # (chunked)


class H11ClientSession:
    """One HTTP/1.1 client connection's protocol state on h11."""

    __slots__ = ("_chunked", "_conn", "_events", "_last_data", "_max_head", "_method")

    def __init__(self, max_header_size: int) -> None:
        self._conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=max_header_size)
        self._max_head = max_header_size
        # The last bytes received: the values an error message about them quotes.
        self._last_data = b""
        self._method = ""
        # The reader of a chunked response body (until next_cycle), and what it read.
        self._chunked: ChunkedReader | None = None
        self._events: list[ClientEvent | ResponseError] = []

    def request_head(self, method: str, target: str, headers: list[tuple[bytes, bytes]]) -> bytes:
        """The request's head; ``LocalError`` for one HTTP/1.1 does not allow."""
        try:
            request = h11.Request(method=method, target=target, headers=headers)
        except h11.LocalProtocolError as e:
            raise LocalError(str(e)) from None
        self._method = method
        return self._send(request)

    def request_data(self, data: bytes) -> bytes:
        """One piece of the request body, framed."""
        return self._send(h11.Data(data=data)) if data else b""

    def request_end(self) -> bytes:
        """The end of the request (the last chunk, when chunked)."""
        return self._send(_EOM)

    def _send(self, event: h11.Event) -> bytes:
        try:
            return self._conn.send(event) or b""
        except h11.LocalProtocolError as e:
            raise LocalError(str(e)) from None

    def receive_data(self, data: bytes) -> None:
        """Bytes from the server; ``b""`` when it closed its side."""
        if self._chunked is not None:
            self._read_chunked(data)
            return
        self._last_data = data or self._last_data
        try:
            self._conn.receive_data(data)
        except RuntimeError:
            raise ResponseError("data after end of stream", after_close=True) from None

    def next_event(self) -> ClientEvent:
        """The next thing the server said; raises :class:`ResponseError`."""
        if self._chunked is not None:
            return self._chunked_event()
        try:
            event = self._conn.next_event()
        except h11.RemoteProtocolError as e:
            if e.error_status_hint == 431:
                raise ResponseError(str(e), too_large=True) from None
            raise ResponseError(tornado_wording(str(e), self._last_data)) from None
        t = type(event)
        if t is h11.Data:
            return bytes(event.data)  # type: ignore[union-attr]
        if t is h11.Response or t is h11.InformationalResponse:
            head = self._head(event)  # type: ignore[arg-type]
            if t is h11.Response and _chunked_body(self._method, event):  # type: ignore[arg-type]
                self._start_chunked()
            return head
        if t is h11.EndOfMessage:
            return END
        if event is h11.NEED_DATA:
            return NEED_DATA
        return CLOSED

    def _head(self, event: h11.Response | h11.InformationalResponse) -> ResponseHead:
        # h11 bounds only an incomplete head; one that arrived whole is measured here.
        headers = list(event.headers)
        size = len(event.reason) + 15
        for name, value in headers:
            size += len(name) + len(value) + 4
        if size > self._max_head:
            raise ResponseError(
                f"response head of {size} bytes is over max_header_size", too_large=True
            )
        version = "HTTP/" + event.http_version.decode("ascii")
        return ResponseHead(event.status_code, event.reason.decode("latin-1"), version, headers)

    def _start_chunked(self) -> None:
        """Read the response's body with :mod:`.chunked` from here on (h11 has the head)."""
        data, closed = self._conn.trailing_data
        self._chunked = ChunkedReader(self._max_head)
        if data:
            self._read_chunked(bytes(data))
        if closed:
            self._read_chunked(b"")

    def _read_chunked(self, data: bytes) -> None:
        reader = self._chunked
        assert reader is not None
        events = self._events
        if events and isinstance(events[-1], ResponseError):
            return  # refused (or cut short): nothing more is read
        if reader.done:
            reader.rest += data  # the server said more than its answer
        elif not data:
            events.append(ResponseError(_INCOMPLETE))
        else:
            self._feed_chunked(reader, data)

    def _feed_chunked(self, reader: ChunkedReader, data: bytes) -> None:
        events = self._events
        body = reader.feed(data)
        if body:
            events.append(body)
        error = reader.error
        if error is not None:
            events.append(ResponseError(error.message, too_large=error.status == 431))
        elif reader.done:
            events.append(END)

    def _chunked_event(self) -> ClientEvent:
        events = self._events
        if not events:
            return NEED_DATA
        event = events[0]
        if isinstance(event, ResponseError):
            raise event  # (it stays: the exchange is over)
        del events[0]
        return event

    def next_cycle(self) -> bool:
        """After ``END``: True (and ready for the next exchange) when the connection
        may carry another one."""
        reader = self._chunked
        if reader is not None:
            # h11 read the head (so its state says whether the connection is kept);
            # the body was read past it: the next exchange starts on a fresh h11.
            self._chunked = None
            self._events = []
            if not reader.done or reader.rest or self._conn.our_state is not h11.DONE:
                return False
            self._conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=self._max_head)
            return True
        conn = self._conn
        if (
            conn.our_state is not h11.DONE
            or conn.their_state is not h11.DONE
            or conn.trailing_data[0]
        ):
            return False
        conn.start_next_cycle()
        return True
