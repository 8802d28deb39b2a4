"""A transport for driving a protocol object without a socket."""

from __future__ import annotations

import asyncio
from typing import Any


class RecordingTransport(asyncio.Transport):
    """Keeps what is written (all of it in ``out``, each write in ``writes``); reading
    never pauses and writing never blocks. ``close()``/``abort()`` mark it closed and,
    once ``protocol`` is set, report the connection lost on the next tick; a write after
    that is a bug of the protocol under test."""

    def __init__(self, peer: Any = ("127.0.0.1", 40000)) -> None:
        super().__init__()
        self.out = bytearray()
        self.writes: list[bytes] = []
        self.closed = False
        self.protocol: asyncio.BaseProtocol | None = None
        self._peer = peer

    def write(self, data: Any) -> None:
        assert not self.closed, "write after close"
        self.out += data
        self.writes.append(bytes(data))

    def _lose(self) -> None:
        if not self.closed:
            self.closed = True
            protocol = self.protocol
            if protocol is not None:
                asyncio.get_running_loop().call_soon(protocol.connection_lost, None)

    def close(self) -> None:
        self._lose()

    def abort(self) -> None:
        self._lose()

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._peer if name == "peername" else default
