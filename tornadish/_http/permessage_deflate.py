"""``permessage-deflate`` (RFC 7692): compressing and inflating WebSocket messages.

Rules of this module:

1. Pure: bytes in, bytes out, with zlib; no I/O. The negotiation is
   :mod:`tornadish._http.websocket`'s (wsproto's ``PerMessageDeflate`` does it); what is
   agreed arrives here as a window size and a context-takeover flag per direction.
2. One compressor and one decompressor class, used both by the WebSocket connection
   (through :class:`BoundedDeflate`, the wsproto extension) and by anyone who imports
   them under Tornado's names (``tornado.websocket._PerMessageDeflateCompressor`` and
   ``_PerMessageDeflateDecompressor``, same constructors).
3. Inflating is bounded: a message never inflates past the connection's message size
   limit, so a small compressed frame cannot become gigabytes in memory (a compression
   bomb); zlib is asked for one byte more than the room left, never for everything.

A compressed message is the deflate stream of its payload, sync-flushed, without the
final ``00 00 ff ff`` (§7.2.1); the receiver puts those four bytes back (§7.2.2). Without
"context takeover" each message starts from an empty window.
"""

from __future__ import annotations

import zlib
from typing import Any

from wsproto.extensions import PerMessageDeflate
from wsproto.frame_protocol import CloseReason, FrameDecoder, FrameProtocol, Opcode, RsvBits

__all__ = [
    "BoundedDeflate",
    "DecompressTooLargeError",
    "PerMessageDeflateCompressor",
    "PerMessageDeflateDecompressor",
    "agreed_window",
]

# RFC 7692 §7.2.1: the empty stored block a sync flush ends with, dropped on the wire.
_TAIL = b"\x00\x00\xff\xff"
# Tornado's defaults for compression_level (its GZIP_LEVEL) and mem_level: zlib's own.
_LEVEL = 6
_MEM_LEVEL = 8


class DecompressTooLargeError(Exception):
    """A compressed message inflates past the message size limit (close code 1009)."""


def _window_bits(max_wbits: int | None) -> int:
    bits = zlib.MAX_WBITS if max_wbits is None else max_wbits
    # zlib names no constant for the smallest window; RFC 7692 allows 8 to 15.
    if not 8 <= bits <= zlib.MAX_WBITS:
        raise ValueError(f"Invalid max_wbits value {bits!r}; allowed range 8-{zlib.MAX_WBITS}")
    return bits


class PerMessageDeflateCompressor:
    """Compresses outgoing messages (Tornado's ``_PerMessageDeflateCompressor``).

    ``persistent`` keeps the window from message to message (context takeover);
    ``max_wbits`` is the agreed window (None: 15); ``compression_options`` may set
    ``compression_level`` and ``mem_level`` (zlib's, default 6 and 8).

    >>> PerMessageDeflateCompressor(False, None).compress(b"aaaa")
    b'JLLL\\x04\\x00'
    """

    __slots__ = ("_compressor", "_level", "_mem_level", "_persistent", "_wbits")

    def __init__(
        self,
        persistent: bool,
        max_wbits: int | None,
        compression_options: dict[str, Any] | None = None,
    ) -> None:
        self._wbits = _window_bits(max_wbits)
        options = compression_options or {}
        self._level: int = options.get("compression_level", _LEVEL)
        self._mem_level: int = options.get("mem_level", _MEM_LEVEL)
        self._persistent = persistent
        self._compressor: zlib._Compress | None = None

    def compress(self, data: bytes) -> bytes:
        """One whole message's payload, compressed (§7.2.1)."""
        compressor = self._compressor
        if compressor is None:
            compressor = zlib.compressobj(self._level, zlib.DEFLATED, -self._wbits, self._mem_level)
            if self._persistent:
                self._compressor = compressor
        out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
        return out[:-4]


class PerMessageDeflateDecompressor:
    """Inflates incoming messages, none past ``max_message_size`` bytes (Tornado's
    ``_PerMessageDeflateDecompressor``).

    :meth:`decompress` takes a whole message; :meth:`feed` and :meth:`end` the same in
    pieces, as frames arrive. A message that would inflate past the limit raises
    :class:`DecompressTooLargeError` once a byte past it is produced; data that is not
    deflate raises ``zlib.error``.
    """

    __slots__ = ("_inflater", "_max_size", "_persistent", "_size", "_wbits")

    def __init__(
        self,
        persistent: bool,
        max_wbits: int | None,
        max_message_size: int,
        compression_options: dict[str, Any] | None = None,
    ) -> None:
        self._wbits = _window_bits(max_wbits)
        self._max_size = max_message_size
        self._persistent = persistent
        self._inflater: zlib._Decompress | None = None
        # What the message being read has inflated to so far.
        self._size = 0

    def decompress(self, data: bytes) -> bytes:
        """One whole message's payload, inflated."""
        head = self.feed(data)
        tail = self.end()
        return head + tail if tail else head

    def feed(self, data: bytes) -> bytes:
        """Inflate the next piece of the message being read."""
        inflater = self._inflater
        if inflater is None:
            inflater = self._inflater = zlib.decompressobj(-self._wbits)
        # One byte more than the room left tells a message at the limit from one over.
        room = self._max_size - self._size + 1
        try:
            out = inflater.decompress(data, room)
        except zlib.error:
            self._reset()
            raise
        self._size += len(out)
        if inflater.unconsumed_tail or self._size > self._max_size:
            self._reset()
            raise DecompressTooLargeError()
        return out

    def end(self) -> bytes:
        """End the message being read; returns the rest of its output."""
        # §7.2.2: put back the sync-flush tail the sender dropped. With all input
        # consumed and room to spare, zlib has nothing more pending.
        out = self.feed(_TAIL)
        self._size = 0
        if not self._persistent:
            self._inflater = None
        return out

    def _reset(self) -> None:
        # A failed message leaves the window unusable: the next one starts afresh.
        self._inflater = None
        self._size = 0


def agreed_window(parameters: dict[str, Any], client_sends: bool) -> tuple[bool, int]:
    """``(persistent, max_wbits)`` of what the client (``client_sends``) or the server
    compresses, from the agreed parameters (wsproto's keywords, as a
    :class:`~tornadish._http.websocket.DeflateAgreement` holds them): the arguments of
    the compressor on that side and of the decompressor on the other.

    >>> agreed_window({"server_no_context_takeover": True}, client_sends=False)
    (False, 15)
    """
    side = "client" if client_sends else "server"
    persistent = not parameters.get(f"{side}_no_context_takeover", False)
    bits = parameters.get(f"{side}_max_window_bits")
    return persistent, zlib.MAX_WBITS if bits is None else int(bits)


class BoundedDeflate(PerMessageDeflate):
    """wsproto's ``permessage-deflate`` extension, inflating with
    :class:`PerMessageDeflateDecompressor` (so never past ``max_message_size``) and
    compressing with :class:`PerMessageDeflateCompressor`.

    The negotiation stays wsproto's (``offer``/``accept``/``finalize``); the inbound
    side is ours, written against its public extension interface
    (``frame_inbound_header``/``_payload_data``/``_complete``); an over-long message
    fails with 1009 and bad deflate data with 1007 (wsproto turns a returned
    ``CloseReason`` into a parse failure). The connection writes messages itself
    through :attr:`compressor`; ``frame_outbound`` is wsproto's, for anyone who sends
    through wsproto.
    """

    def __init__(
        self,
        max_message_size: int,
        compression_options: dict[str, Any] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.max_message_size = max_message_size
        self._tuning = compression_options
        self._outbound: PerMessageDeflateCompressor | None = None
        self._inbound: PerMessageDeflateDecompressor | None = None
        # The message being read was sent compressed (RSV1 on its first frame); None
        # between messages.
        self._compressed: bool | None = None
        # The frame being read is a data frame (control frames are never compressed and
        # may arrive between the fragments of a message).
        self._data_frame = False

    def _agreed(self, client_sends: bool) -> tuple[bool, int]:
        # Context takeover and window of what the client (or the server) sends.
        if client_sends:
            return not self.client_no_context_takeover, int(self.client_max_window_bits)
        return not self.server_no_context_takeover, int(self.server_max_window_bits)

    def compressor(self, client: bool) -> PerMessageDeflateCompressor:
        """The compressor for what this side (``client`` or server) sends, with the
        agreed window and context takeover; made once the agreement is final."""
        compressor = self._outbound
        if compressor is None:
            compressor = PerMessageDeflateCompressor(*self._agreed(client), self._tuning)
            self._outbound = compressor
        return compressor

    def _decompressor_for(self, client: bool) -> PerMessageDeflateDecompressor:
        decompressor = self._inbound
        if decompressor is None:
            # What the peer sends, with the window it compresses with.
            decompressor = PerMessageDeflateDecompressor(
                *self._agreed(not client), self.max_message_size
            )
            self._inbound = decompressor
        return decompressor

    def frame_inbound_header(
        self,
        proto: FrameDecoder | FrameProtocol,
        opcode: Opcode,
        rsv: RsvBits,
        payload_length: int,
    ) -> CloseReason | RsvBits:
        # RFC 7692 §6.1: RSV1 marks the first frame of a compressed message, never a
        # control frame or a continuation.
        if rsv.rsv1 and (opcode.iscontrol() or opcode is Opcode.CONTINUATION):
            return CloseReason.PROTOCOL_ERROR
        self._data_frame = not opcode.iscontrol()
        if self._data_frame and self._compressed is None:
            self._compressed = rsv.rsv1
        return RsvBits(True, False, False)

    def frame_inbound_payload_data(
        self, proto: FrameDecoder | FrameProtocol, data: bytes
    ) -> bytes | CloseReason:
        if not self._data_frame or not self._compressed:
            return data
        try:
            return self._decompressor_for(proto.client).feed(data)
        except DecompressTooLargeError:
            return CloseReason.MESSAGE_TOO_BIG
        except zlib.error:
            return CloseReason.INVALID_FRAME_PAYLOAD_DATA

    def frame_inbound_complete(
        self, proto: FrameDecoder | FrameProtocol, fin: bool
    ) -> bytes | CloseReason | None:
        if not fin or not self._data_frame:
            return None
        compressed = self._compressed
        self._compressed = None
        if not compressed:
            return None
        try:
            return self._decompressor_for(proto.client).end()
        except DecompressTooLargeError:
            return CloseReason.MESSAGE_TOO_BIG
        except zlib.error:
            return CloseReason.INVALID_FRAME_PAYLOAD_DATA


def deflate_extension(
    parameters: dict[str, Any],
    max_message_size: int | None,
    compression_options: dict[str, Any] | None = None,
) -> BoundedDeflate:
    """The ``permessage-deflate`` extension for ``parameters`` (wsproto's keywords),
    inflating no message past ``max_message_size`` (None: no limit) and compressing
    with ``compression_options``' ``compression_level`` and ``mem_level``."""
    limit = max_message_size if max_message_size is not None else 1 << 62
    return BoundedDeflate(limit, compression_options, **parameters)
