"""Socket options every connection sets, written once for the server and the client,
HTTP/1 and HTTP/2."""

from __future__ import annotations

import socket
from typing import Any

__all__ = ["set_nodelay"]


def set_nodelay(transport: Any) -> None:
    """Turn Nagle's algorithm off on ``transport``'s TCP socket (nothing for another
    kind of socket, or a transport without one): requests and responses are written
    in one piece, and waiting for an ACK before sending the next one only adds
    latency."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
