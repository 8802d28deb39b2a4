"""The WebSocket seam on the ``websockets`` library's sans-IO protocol (C unmasking;
``pip install 'tornadish[speed]'``).

Rules of this module:

1. It is the only module that drives a ``websockets.protocol.Protocol``; it speaks
   :mod:`.ws_events` to the glue above, through the library's public API: the
   documented ``Protocol`` methods, ``Frame`` and ``Close`` values, the ``Extension``
   interface, and the ``extensions`` list a handshake fills (filled here from the
   agreement :mod:`tornadish._http.websocket` made). ``tests/http/test_engine_contract.py``
   pins each of them.
2. The library parses; tornadish writes. ``Protocol`` queues pongs and close frames of
   its own as it parses; they are dropped (``data_to_send``), because the glue writes
   every frame itself, when the event that calls for it is delivered — in order with
   the messages, and only the latest pong while the peer is not reading.
3. ``Protocol`` parses all it is given at once; the events wait here, in order, for the
   glue to take them (it stops taking, and reading, while the application is busy).
4. The message size limit is ``Protocol``'s ``max_size``: a frame longer than the room
   left is refused from its header, before its payload is read. Inflating is bounded
   by :class:`BoundedInflate`, tornadish's decompressor behind the library's
   ``Extension`` interface. Text is decoded (and so checked) here; the library does not.

What the engines cannot make alike (both fail the connection with a code RFC 6455
allows, and tests/stress/test_fuzz_websocket.py holds both to that):

- A message over the size limit is failed (close 1009, then the TCP close) as soon as
  its frame header is read; under wsproto, whose frames arrive in pieces, the glue
  counts the pieces and closes politely (1009, waiting for the peer's close frame).
- A close frame between the fragments of a message is a protocol error here (1002);
  wsproto takes it as the close it is (RFC 6455 §5.4 allows control frames there).
- A close code of 1014 (registered after RFC 6455), and a payload length written in a
  longer form than needed (RFC 6455 §5.2 asks for the shortest), are accepted here, and
  refused with 1002 by wsproto.
"""

from __future__ import annotations

import codecs
import logging
import os
import zlib
from collections.abc import Iterator
from typing import Any

from websockets.exceptions import PayloadTooBig, ProtocolError
from websockets.extensions import Extension
from websockets.frames import BINARY, CONT, PING, PONG, TEXT, Close, Frame, Opcode
from websockets.protocol import OPEN, Protocol, Side
from websockets.typing import ExtensionName

from tornadish._http import ws_events as ev
from tornadish._http.permessage_deflate import (
    DecompressTooLargeError,
    PerMessageDeflateDecompressor,
    agreed_window,
)
from tornadish._http.websocket import DeflateAgreement, close_payload, frame_header, mask_payload

__all__ = ["BoundedInflate", "WebsocketsSession"]

_CLOSE_OPCODE = 0x8
# The library's own log lines: its INFO "connection closed" for every connection is
# noise beside tornadish's (and Tornado's tests count unexpected log lines), so its
# logger starts at WARNING; "parser failed" (ERROR) still shows. Lower the level of
# "tornadish.websocket.frames" to see its frame-by-frame DEBUG output.
_LOGGER = logging.getLogger("tornadish.websocket.frames")
if _LOGGER.level == logging.NOTSET:
    _LOGGER.setLevel(logging.WARNING)
_utf8_decoder = codecs.getincrementaldecoder("utf-8")
# No limit at all is a limit no message reaches.
_NO_LIMIT = 1 << 62


class _InvalidDeflateData(ProtocolError):
    """Compressed data that does not inflate: the payload is invalid (1007), where the
    library would say 1002 for any protocol error."""


class BoundedInflate(Extension):
    """``permessage-deflate`` inbound (RFC 7692), for the library's ``Extension``
    interface: inflates with tornadish's
    :class:`~tornadish._http.permessage_deflate.PerMessageDeflateDecompressor`, so no
    message inflates past the size limit (the library's ``PayloadTooBig``, 1009) and
    data that is not deflate fails with 1007, as under wsproto. Outgoing messages are
    compressed by the glue; :meth:`encode` only lets the library's own control frames
    through."""

    name = ExtensionName("permessage-deflate")

    def __init__(self, decompressor: PerMessageDeflateDecompressor) -> None:
        self._decompressor = decompressor
        # The message being read was sent compressed (RSV1 on its first frame).
        self._compressed = False

    def decode(self, frame: Frame, *, max_size: int | None = None) -> Frame:
        """Inflate a data frame of a compressed message; others pass as they are (a
        control frame keeps its RSV1, which the library then refuses)."""
        opcode = frame.opcode
        if opcode is CONT:
            if not self._compressed:
                return frame
            if frame.rsv1:
                # RFC 7692 §6.1: RSV1 marks the first frame of a message only.
                raise ProtocolError("RSV1 set on a continuation frame")
        elif opcode is TEXT or opcode is BINARY:
            if not frame.rsv1:
                return frame
            self._compressed = True
        else:
            return frame
        decompressor = self._decompressor
        try:
            data = decompressor.feed(frame.data)  # type: ignore[arg-type]
            if frame.fin:
                self._compressed = False
                tail = decompressor.end()
                if tail:
                    data += tail
        except DecompressTooLargeError:
            raise PayloadTooBig(None, max_size if max_size is not None else 0) from None
        except zlib.error as e:
            raise _InvalidDeflateData(f"invalid compressed data: {e}") from None
        return Frame(opcode, data, frame.fin, False, frame.rsv2, frame.rsv3)

    def encode(self, frame: Frame) -> Frame:
        """Control frames pass (the library serializes pongs and close frames of its
        own, which are dropped); data frames are compressed by the glue, never here."""
        if frame.opcode is TEXT or frame.opcode is BINARY or frame.opcode is CONT:
            raise NotImplementedError("tornadish compresses outgoing messages itself")
        return frame


class WebsocketsSession:
    """One WebSocket connection's frames, parsed by the ``websockets`` library (either
    role)."""

    __slots__ = (
        "_client",
        "_close_sent",
        "_decoder",
        "_done",
        "_events",
        "_next",
        "_protocol",
        "_text",
    )

    def __init__(
        self, client: bool, max_message_size: int | None, deflate: DeflateAgreement | None
    ) -> None:
        protocol = Protocol(
            Side.CLIENT if client else Side.SERVER, max_size=max_message_size, logger=_LOGGER
        )
        if deflate is not None:
            # What the peer sends, with the window and context takeover it agreed to.
            persistent, wbits = agreed_window(deflate.parameters, client_sends=not client)
            limit = max_message_size if max_message_size is not None else _NO_LIMIT
            inflate = BoundedInflate(PerMessageDeflateDecompressor(persistent, wbits, limit))
            # What the library's own handshake does once it has agreed on extensions.
            protocol.extensions = [inflate]
        self._protocol = protocol
        self._client = client
        # Events not yet taken: _events[_next:].
        self._events: list[ev.WebSocketEvent] = []
        self._next = 0
        # The message being read is text; its decoder, while it comes in fragments.
        self._text = False
        self._decoder: codecs.IncrementalDecoder | None = None
        # A close frame or a failure was reported: nothing more will be.
        self._done = False
        self._close_sent = False

    def receive_data(self, data: bytes) -> None:
        """Parse bytes from the peer (dropped once the session has ended)."""
        if self._done:
            return
        protocol = self._protocol
        protocol.receive_data(data)
        frames = protocol.events_received()
        protocol.data_to_send()  # its pongs and close frames: the glue writes its own
        for frame in frames:
            # Only frames: a bare Protocol has no handshake to report.
            if not self._translate(frame):  # type: ignore[arg-type]
                return
        if protocol.state is not OPEN:
            # No close frame arrived, yet the protocol left OPEN: it failed the
            # connection (a malformed frame, a message too big).
            self._engine_failed()

    def events(self) -> Iterator[ev.WebSocketEvent]:
        """The events parsed so far, in order; the rest stays for the next call."""
        events = self._events
        while self._next < len(events):
            event = events[self._next]
            self._next += 1
            yield event
        events.clear()
        self._next = 0

    def send_close(self, code: int, reason: str | None = None) -> bytes:
        """The close frame for ``code`` and ``reason``, masked by a client; b"" after
        the first (the library only parses: tornadish writes every frame)."""
        if self._close_sent:
            return b""
        self._close_sent = True
        payload = close_payload(code, reason)
        header = frame_header(True, _CLOSE_OPCODE, len(payload), 0, self._client)
        if self._client:
            key = os.urandom(4)
            return header + key + mask_payload(key, payload)
        return header + payload

    # -- from the library's frames to events ---------------------------------------

    def _translate(self, frame: Frame) -> bool:
        # Appends the event ``frame`` makes; False once nothing more may follow.
        opcode = frame.opcode
        data: Any = frame.data
        append = self._events.append
        if opcode is BINARY or opcode is TEXT or opcode is CONT:
            fin = frame.fin
            size = len(data)
            if opcode is not CONT:
                self._text = opcode is TEXT
            if not self._text:
                append(ev.Data(data, fin, size))
                return True
            decoder = self._decoder
            try:
                if decoder is None and fin:
                    text = data.decode()  # a whole message in one frame
                else:
                    if decoder is None:
                        decoder = self._decoder = _utf8_decoder()
                    text = decoder.decode(data, fin)
                    if fin:
                        self._decoder = None
            except UnicodeDecodeError as e:
                self._fail(ev.INVALID_DATA, f"invalid UTF-8 at position {e.start}: {e.reason}")
                return False
            append(ev.Data(text, fin, size))
        elif opcode is PING:
            append(ev.Ping(bytes(data)))
        elif opcode is PONG:
            append(ev.Pong(bytes(data)))
        else:
            assert opcode is Opcode.CLOSE
            # The library checked it (code, UTF-8 reason) before reporting it.
            close = Close.parse(data)
            self._done = True
            append(ev.Close(int(close.code), close.reason))
            return False
        return True

    def _fail(self, code: int, reason: str) -> None:
        self._done = True
        self._events.append(ev.Failure(code, reason))

    def _engine_failed(self) -> None:
        # The library said why in the close frame it queued; its documented way to
        # tell is the exception it raises once closed, so close it (we are about to).
        protocol = self._protocol
        protocol.receive_eof()
        protocol.data_to_send()
        closed = protocol.close_exc
        sent = closed.sent
        code = int(sent.code) if sent is not None else ev.PROTOCOL_ERROR
        reason = sent.reason if sent is not None else str(closed)
        if isinstance(closed.__cause__, _InvalidDeflateData):
            code = ev.INVALID_DATA
        self._fail(code, reason)
