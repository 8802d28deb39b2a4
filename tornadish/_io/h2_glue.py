"""What the two HTTP/2 protocols share as asyncio glue: the server's
(:mod:`tornadish._server.h2_protocol`) and the client's
(:mod:`tornadish._client.h2_connection`).

Rules of this module:

1. What a session has queued is written once per read: while a read is being
   dispatched (``_in_read``), writes wait, so several streams' answers or
   acknowledgements read together leave in one write; outside a read they go at once.
   Nothing is written to a transport that is closing.
2. A TCP connection carrying HTTP/2 has ``TCP_NODELAY`` on: frames are small and
   latency matters more than packet count (as on every connection of ours).
"""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

from tornadish._http.h2_common import H2SessionBase

__all__ = ["H2Glue"]


_Session = TypeVar("_Session", bound=H2SessionBase)


class H2Glue(asyncio.Protocol, Generic[_Session]):
    """The writing rule both HTTP/2 protocols follow (rule 1); the subclass sets
    ``transport``, ``_session`` (its side's session) and ``_in_read``."""

    __slots__ = ()

    transport: asyncio.Transport | None
    _session: _Session
    _in_read: bool

    def _flush(self) -> None:
        """Write what the session has queued (once per read while one runs)."""
        if self._in_read:
            return
        transport = self.transport
        if transport is None or transport.is_closing():
            # Closed by us (what was due went first) or lost to an error not yet
            # reported: asyncio would drop the bytes, and warn about each write.
            return
        data = self._session.data_to_send()
        if data:
            transport.write(data)
