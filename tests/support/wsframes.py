"""WebSocket frames as a client writes them, for the sans-IO session tests."""

from __future__ import annotations

import struct


def client_frame(
    opcode: int, payload: bytes, *, fin: bool = True, rsv1: bool = False, key: bytes = b"\0" * 4
) -> bytes:
    """One masked client frame (RFC 6455 §5.2) with mask ``key`` (zero: the payload is
    sent as it is)."""
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    n = len(payload)
    if n < 126:
        length = bytes([0x80 | n])
    elif n < 1 << 16:
        length = bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        length = bytes([0x80 | 127]) + struct.pack("!Q", n)
    if key == b"\0" * 4:
        return bytes([first]) + length + key + payload
    return bytes([first]) + length + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))
