"""The WebSocket seam on wsproto (pure Python; always installed).

Rules of this module:

1. It is the only WebSocket module that drives a ``wsproto.Connection``; it speaks
   :mod:`.ws_events` to the glue above, through wsproto's public API only.
2. wsproto parses lazily, as :meth:`WsprotoSession.events` is iterated: what the glue
   does not take yet stays unparsed in wsproto's buffer.
3. Close frames are sent through wsproto, whose state must know of them (it reports the
   peer's answer to ours as the end of the handshake); data, pings and pongs are written
   by the glue itself.
4. Compression is :class:`~tornadish._http.permessage_deflate.BoundedDeflate`, built from
   the agreement :mod:`tornadish._http.websocket` made, so inflating is bounded by the
   message size limit.

wsproto delivers a frame's payload as it arrives (a large frame in several pieces), and
reports a frame it cannot parse as a ``CloseConnection`` while its state is still OPEN:
that is a :class:`~.ws_events.Failure` here, with wsproto's code.
"""

from __future__ import annotations

from collections.abc import Iterator

from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage
from wsproto.extensions import Extension
from wsproto.frame_protocol import CloseReason
from wsproto.utilities import LocalProtocolError

from tornadish._http import ws_events as ev
from tornadish._http.permessage_deflate import BoundedDeflate, deflate_extension
from tornadish._http.websocket import DeflateAgreement, message_size

__all__ = ["WsprotoSession", "agreed_extension"]

_OPEN = ConnectionState.OPEN
_CLOSED = ConnectionState.CLOSED


def agreed_extension(agreement: DeflateAgreement, max_message_size: int | None) -> BoundedDeflate:
    """wsproto's ``permessage-deflate`` extension for ``agreement``, inflating no message
    past ``max_message_size``."""
    extension = deflate_extension(agreement.parameters, max_message_size, agreement.options)
    # Built with the agreed parameters; finalizing with the response that states them
    # switches it on (wsproto's public way), changing none of them.
    extension.finalize(agreement.response)
    return extension


class WsprotoSession:
    """One WebSocket connection's frames, parsed by wsproto (either role)."""

    __slots__ = ("_conn", "_failed")

    def __init__(
        self, client: bool, max_message_size: int | None, deflate: DeflateAgreement | None
    ) -> None:
        # wsproto has no size limit: the glue counts the data events as they come.
        extensions: list[Extension] = []
        if deflate is not None:
            extensions.append(agreed_extension(deflate, max_message_size))
        role = ConnectionType.CLIENT if client else ConnectionType.SERVER
        self._conn = Connection(role, extensions)
        self._failed = False

    def receive_data(self, data: bytes) -> None:
        """Take bytes from the peer (dropped once both close frames have passed, or the
        peer broke the protocol)."""
        if not self._failed and self._conn.state is not _CLOSED:
            self._conn.receive_data(data)

    def events(self) -> Iterator[ev.WebSocketEvent]:
        """What the bytes so far make, parsed as they are taken."""
        if self._failed:
            return
        conn = self._conn
        for event in conn.events():
            t = type(event)
            if t is TextMessage or t is BytesMessage:
                data = event.data  # type: ignore[attr-defined]
                yield ev.Data(data, event.message_finished, message_size(data))  # type: ignore[attr-defined]
            elif t is Ping:
                yield ev.Ping(bytes(event.payload))  # type: ignore[attr-defined]
            elif t is Pong:
                yield ev.Pong(bytes(event.payload))  # type: ignore[attr-defined]
            elif t is CloseConnection:
                assert isinstance(event, CloseConnection)
                if conn.state is _OPEN:
                    # A frame wsproto could not parse: its parser is done.
                    self._failed = True
                    yield ev.Failure(int(event.code), event.reason or "")
                else:
                    yield ev.Close(int(event.code), event.reason or "")
                return

    def send_close(self, code: int, reason: str | None = None) -> bytes:
        """The close frame for ``code`` and ``reason``, through wsproto's state."""
        # wsproto knows "no code" (1005) by identity, as its enum member.
        close_code: int = CloseReason.NO_STATUS_RCVD if code == ev.NO_STATUS_RCVD else code
        try:
            return self._conn.send(CloseConnection(code=close_code, reason=reason))
        except LocalProtocolError:
            return b""  # one was sent already, or both have passed
