"""The h11 engine of the client seam (:mod:`.client_session`): one exchange at a time on
an ``h11.Connection(h11.CLIENT)``.

Rules of the house: no I/O; h11 through its public API only; its errors leave as
:class:`~.client_session.LocalError` (a request we may not send) and
:class:`~.client_session.ResponseError` (in Tornado's words, :mod:`.wording`).
It is also the httptools engine's judge: a response head llhttp refuses, or accepts
where h11 would not, is parsed again here.
"""

from __future__ import annotations

import h11

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


class H11ClientSession:
    """One HTTP/1.1 client connection's protocol state on h11."""

    __slots__ = ("_conn", "_last_data", "_max_head")

    def __init__(self, max_header_size: int) -> None:
        self._conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=max_header_size)
        self._max_head = max_header_size
        # The last bytes received: the values an error message about them quotes.
        self._last_data = b""

    def request_head(self, method: str, target: str, headers: list[tuple[bytes, bytes]]) -> bytes:
        """The request's head; ``LocalError`` for one HTTP/1.1 does not allow."""
        try:
            request = h11.Request(method=method, target=target, headers=headers)
        except h11.LocalProtocolError as e:
            raise LocalError(str(e)) from None
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
        self._last_data = data or self._last_data
        try:
            self._conn.receive_data(data)
        except RuntimeError:
            raise ResponseError("data after end of stream", after_close=True) from None

    def next_event(self) -> ClientEvent:
        """The next thing the server said; raises :class:`ResponseError`."""
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
            return self._head(event)  # type: ignore[arg-type]
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

    def next_cycle(self) -> bool:
        """After ``END``: True (and ready for the next exchange) when the connection
        may carry another one."""
        conn = self._conn
        if (
            conn.our_state is not h11.DONE
            or conn.their_state is not h11.DONE
            or conn.trailing_data[0]
        ):
            return False
        conn.start_next_cycle()
        return True
