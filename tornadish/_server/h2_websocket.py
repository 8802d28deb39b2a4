"""WebSockets over HTTP/2 (RFC 8441): an extended CONNECT with ``:protocol websocket``
made into the request a ``WebSocketHandler`` knows, and a stream made into the
transport a WebSocket connection runs on.

Rules of this module:

1. The handler does not change: an extended CONNECT reaches it as the ``GET`` with
   ``Upgrade: websocket`` it validates on HTTP/1.1 (:func:`websocket_head` adds the
   headers HTTP/2 leaves out, a ``Sec-WebSocket-Key`` among them: nothing is derived
   from it over HTTP/2, RFC 8441 §5). Accepting answers ``200`` on the stream, not
   ``101``, without the HTTP/1.1 handshake's ``Upgrade``, ``Connection`` and
   ``Sec-WebSocket-Accept``.
2. The WebSocket connection (:class:`~tornadish._io.websocket.WebSocketProtocol`, the
   same as on HTTP/1.1) runs on :class:`H2StreamTransport`: its writes are the
   stream's DATA, sent as the windows allow; its ``close`` ends the stream; its
   ``pause_reading`` stops acknowledging the stream's data, so a busy handler holds
   the client to its window; the stream's reset or the connection's end is its
   ``connection_lost``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from tornadish._http.h2_session import Head
from tornadish._http.websocket import new_key

if TYPE_CHECKING:
    from tornadish._server.h2_stream import H2Stream

__all__ = ["H2StreamTransport", "websocket_head", "websocket_response_headers"]

# The HTTP/1.1 handshake's own headers, which an HTTP/2 acceptance does not carry.
_HANDSHAKE_ONLY = frozenset((b"upgrade", b"connection", b"sec-websocket-accept"))


def websocket_head(head: Head) -> Head:
    """The HTTP/1.1 form of an extended CONNECT for a WebSocket (rule 1)."""
    headers = list(head.headers)
    headers.append((b"upgrade", b"websocket"))
    headers.append((b"connection", b"Upgrade"))
    if not any(name == b"sec-websocket-key" for name, _ in headers):
        headers.append((b"sec-websocket-key", new_key().encode("ascii")))
    return Head(
        head.stream_id, "GET", head.target, head.authority, head.scheme, headers, head.ended
    )


def websocket_response_headers(
    headers: list[tuple[bytes, bytes]],
) -> list[tuple[bytes, bytes]]:
    """An acceptance's headers less those of the HTTP/1.1 handshake (rule 1)."""
    return [(name, value) for name, value in headers if name.lower() not in _HANDSHAKE_ONLY]


class H2StreamTransport(asyncio.Transport):
    """One HTTP/2 stream as the transport of the WebSocket connection on it (rule 2)."""

    __slots__ = ("_protocol", "_stream")

    def __init__(self, stream: H2Stream, protocol: asyncio.BaseProtocol) -> None:
        super().__init__()
        self._stream = stream
        self._protocol = protocol

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Send ``data`` as the stream's DATA (as the windows allow)."""
        self._stream._tunnel_write(bytes(data))

    def writelines(self, list_of_data: Any) -> None:
        """Send each piece, in order."""
        self._stream._tunnel_write(b"".join(list_of_data))

    def close(self) -> None:
        """End the stream once what was written has been sent."""
        self._stream._tunnel_end()

    def abort(self) -> None:
        """Reset the stream now."""
        self._stream.close()

    def is_closing(self) -> bool:
        """True once the stream has ended (or is ending)."""
        return self._stream._tunnel_closing

    def can_write_eof(self) -> bool:
        """No: ending the stream is :meth:`close`."""
        return False

    def get_write_buffer_size(self) -> int:
        """Bytes written but still waiting for a window."""
        return self._stream._out_bytes

    def pause_reading(self) -> None:
        """Stop delivering (and acknowledging) the stream's data."""
        self._stream._tunnel_pause(True)

    def resume_reading(self) -> None:
        """Deliver the stream's data again."""
        self._stream._tunnel_pause(False)

    def is_reading(self) -> bool:
        """False while reading is paused."""
        return not self._stream._tunnel_paused

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        """(What asyncio transports allow; the stream keeps its WebSocket.)"""
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        """The WebSocket connection on this stream."""
        return self._protocol

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """The HTTP/2 connection's transport details (``"peername"``...)."""
        return self._stream.get_extra_info(name, default)
