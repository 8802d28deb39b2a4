"""The vocabulary of the WebSocket seam, shared by its engines.

An engine's session (:mod:`.ws_wsproto` on wsproto, :mod:`.ws_websockets` on the
``websockets`` library) turns the bytes a peer sends into the events defined here; the
asyncio protocol above it (:mod:`tornadish._io.websocket`) speaks only this vocabulary,
so it never knows which engine parses. Rules of this module:

- No I/O and no engine: small immutable values and the close codes they carry.
- A session reports, in order, what arrived: message data (a whole message or a piece of
  one), pings, pongs, the peer's close frame, or a :class:`Failure` — the peer broke the
  protocol, and the connection must fail with the code RFC 6455 prescribes. After a
  :class:`Close` or a :class:`Failure` a session reports nothing more.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "GOING_AWAY",
    "INTERNAL_ERROR",
    "INVALID_DATA",
    "MESSAGE_TOO_BIG",
    "NORMAL_CLOSURE",
    "NO_STATUS_RCVD",
    "PROTOCOL_ERROR",
    "Close",
    "Data",
    "Failure",
    "Ping",
    "Pong",
    "WebSocketEvent",
]

# Close codes (RFC 6455 §7.4.1) the glue and the sessions name.
NORMAL_CLOSURE: Final = 1000
GOING_AWAY: Final = 1001
PROTOCOL_ERROR: Final = 1002
#: "No code in the close frame": an empty close frame reads as this, and is sent for it.
NO_STATUS_RCVD: Final = 1005
INVALID_DATA: Final = 1007
MESSAGE_TOO_BIG: Final = 1009
INTERNAL_ERROR: Final = 1011


class Data:
    """Message data: a whole message, or the next piece of one (``fin`` False until the
    last). ``data`` is a ``str`` for a text message (decoded, valid UTF-8 so far) and
    bytes-like for a binary one; ``size`` is its length in bytes as sent (after
    inflating, before decoding), what the size limit counts."""

    __slots__ = ("data", "fin", "size")

    def __init__(self, data: str | bytes | bytearray, fin: bool, size: int) -> None:
        self.data = data
        self.fin = fin
        self.size = size

    def __repr__(self) -> str:
        return f"Data({self.data[:20]!r}, fin={self.fin}, size={self.size})"


class Ping:
    """A ping frame with its payload (to be answered with a pong carrying it)."""

    __slots__ = ("payload",)

    def __init__(self, payload: bytes) -> None:
        self.payload = payload

    def __repr__(self) -> str:
        return f"Ping({self.payload!r})"


class Pong:
    """A pong frame with its payload."""

    __slots__ = ("payload",)

    def __init__(self, payload: bytes) -> None:
        self.payload = payload

    def __repr__(self) -> str:
        return f"Pong({self.payload!r})"


class Close:
    """The peer's close frame: its ``code`` (:data:`NO_STATUS_RCVD` when the frame had
    none) and ``reason`` (``""`` when none)."""

    __slots__ = ("code", "reason")

    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason

    def __repr__(self) -> str:
        return f"Close({self.code}, {self.reason!r})"


class Failure:
    """The peer broke the protocol: fail the connection (RFC 6455 §7.1.7) with ``code``
    (1002 for a malformed frame, 1007 for bad UTF-8 or bad compressed data, 1009 for a
    message over the size limit) and ``reason``, the engine's words."""

    __slots__ = ("code", "reason")

    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason

    def __repr__(self) -> str:
        return f"Failure({self.code}, {self.reason!r})"


WebSocketEvent = Data | Ping | Pong | Close | Failure
