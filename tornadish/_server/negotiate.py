"""Which protocol serves a connection, on a server that speaks HTTP/2 as well as 1.1.

Rules of this module:

1. Over TLS, ALPN decides (RFC 9113 §3.2): the server offers ``h2`` and ``http/1.1``
   (:func:`offer_alpn`), and the protocol the handshake selected serves the connection
   from its first byte; no ALPN is HTTP/1.1.
2. Over cleartext, the first bytes decide (prior knowledge, RFC 9113 §3.3): the
   connection preface is HTTP/2, anything else HTTP/1.1. Bytes are held only while they
   could still be the 24-byte preface, so an HTTP/1.1 request is not delayed beyond
   its first segment.
3. The chosen protocol takes the transport as if it had been accepted with it
   (``connection_made``, then the bytes read so far). Until it is chosen, this object
   stands in the server's registry, so a shutdown closes an undecided connection too.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import Any

# The connection preface of a client speaking HTTP/2 with prior knowledge (RFC 9113 §3.4).
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

__all__ = ["ProtocolSelector", "offer_alpn"]


def offer_alpn(context: ssl.SSLContext) -> None:
    """Offer ``h2`` then ``http/1.1`` by ALPN on a server's TLS context."""
    context.set_alpn_protocols(["h2", "http/1.1"])


class ProtocolSelector(asyncio.Protocol):
    """Stands for a connection until its protocol is known (see the module's rules)."""

    __slots__ = ("_buffer", "_make_h1", "_make_h2", "_registry", "transport")

    def __init__(
        self,
        make_h1: Callable[[], asyncio.Protocol],
        make_h2: Callable[[], asyncio.Protocol],
        registry: set[Any],
    ) -> None:
        self._make_h1 = make_h1
        self._make_h2 = make_h2
        self._registry = registry
        self._buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            chosen = ssl_object.selected_alpn_protocol()
            self._hand_over(self._make_h2 if chosen == "h2" else self._make_h1)
            return
        self._registry.add(self)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer = self._buffer + data
        if buffer[:24] == PREFACE[: len(buffer[:24])] and len(buffer) < len(PREFACE):
            return  # could still be the preface: wait for the rest
        self._hand_over(self._make_h2 if buffer.startswith(PREFACE) else self._make_h1)

    def eof_received(self) -> bool:
        # Let HTTP/1.1 answer what was sent (or see a clean close).
        self._hand_over(self._make_h1, eof=True)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._registry.discard(self)
        self.transport = None

    def _hand_over(self, make: Callable[[], asyncio.Protocol], eof: bool = False) -> None:
        transport = self.transport
        if transport is None:
            return
        self._registry.discard(self)
        self.transport = None
        data, self._buffer = self._buffer, b""
        protocol = make()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        if data and not transport.is_closing():
            protocol.data_received(data)
        if eof and not transport.is_closing() and not protocol.eof_received():
            transport.close()

    # -- what the server's shutdown asks of a connection --------------------------------

    @property
    def idle(self) -> bool:
        """Nothing has been asked yet."""
        return True

    def close_when_idle(self) -> None:
        """Graceful drain: nothing was asked yet, close now."""
        self.close()

    def close(self) -> None:
        """Close the connection."""
        transport = self.transport
        if transport is not None:
            transport.close()

    def abort(self) -> None:
        """Drop the connection."""
        transport = self.transport
        if transport is not None:
            transport.abort()
