"""The vocabulary of the HTTP/1.1 client seam, shared by its engines.

A client session carries one exchange at a time: the request goes out as bytes
(:meth:`~ClientSessionType.request_head`, ``request_data``, ``request_end``), the
response comes in as events (:meth:`~ClientSessionType.next_event`): a
:class:`ResponseHead` (informational ones too: ``code < 200``), body ``bytes``,
``END``, ``NEED_DATA`` or ``CLOSED``. ``tornadish._client.connection`` drives it and
never knows which engine parses (:mod:`.h11_client` or :mod:`.httptools_client`).

Rules of this module: plain values and the errors; no I/O, no engine.
"""

from __future__ import annotations

from typing import Protocol

from tornadish._http.session import CLOSED, END, NEED_DATA, LocalError, _Marker

__all__ = [
    "CLOSED",
    "END",
    "NEED_DATA",
    "ClientSessionType",
    "LocalError",
    "ResponseError",
    "ResponseHead",
]


class ResponseHead:
    """A response's status line and headers, as plain values (1xx ones too)."""

    __slots__ = ("code", "headers", "reason", "version")

    def __init__(
        self, code: int, reason: str, version: str, headers: list[tuple[bytes, bytes]]
    ) -> None:
        self.code = code
        self.reason = reason
        self.version = version
        #: (lower-case name, value) pairs in arrival order.
        self.headers = headers


class ResponseError(Exception):
    """The server sent something HTTP/1.1 does not allow (Tornado's words in
    ``message``); ``too_large``: a head over ``max_header_size`` (Tornado's
    ``UnsatisfiableReadError``); ``after_close``: bytes after the server's close."""

    def __init__(self, message: str, too_large: bool = False, after_close: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.too_large = too_large
        self.after_close = after_close


ClientEvent = ResponseHead | bytes | _Marker


class ClientSessionType(Protocol):
    """What the client connection needs of an engine's session (both have it all)."""

    def __init__(self, max_header_size: int) -> None: ...
    def request_head(self, method: str, target: str, headers: list[tuple[bytes, bytes]]) -> bytes:
        """The request's head; ``LocalError`` for one HTTP/1.1 does not allow."""
        ...

    def request_data(self, data: bytes) -> bytes:
        """One piece of the request body, framed."""
        ...

    def request_end(self) -> bytes:
        """The end of the request (the last chunk, when chunked)."""
        ...

    def receive_data(self, data: bytes) -> None:
        """Bytes from the server; ``b""`` when it closed its side."""
        ...

    def next_event(self) -> ClientEvent:
        """The next thing the server said; raises :class:`ResponseError`."""
        ...

    def next_cycle(self) -> bool:
        """After ``END``: True (and ready for the next exchange) when the connection
        may carry another one: both sides done, keep-alive, nothing more received."""
        ...
