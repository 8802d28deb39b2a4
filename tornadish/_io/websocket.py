"""The WebSocket glue: one ``asyncio.Protocol`` per WebSocket connection, driving wsproto.

Server and client share it. A server connection accepts a WebSocket with
:func:`accept_server_websocket`, which answers ``101 Switching Protocols`` through the
connection's ``upgrade`` and takes its transport over; the client's handshake protocol
(:mod:`tornadish._client.websocket`) does the same after reading the 101. What the
handshakes agree (headers, subprotocol, compression) is decided by
:mod:`tornadish._http.websocket`. From then on bytes go into a ``wsproto`` connection and
its events become calls on a *sink* (the ``WebSocketHandler``, the
``WebSocketClientConnection``, a mounted ASGI app's bridge). Everything about flow
control, limits, pings and the closing handshake lives here:

- Messages are delivered in order, one at a time. When the sink returns an awaitable
  (an ``async def on_message``), delivery stops and reading pauses until it completes;
  the frames already read wait, parsed lazily, in wsproto's buffer.
- Writes go straight to the transport; the awaitable they return resolves once the
  transport is below its high-water mark (the connection's ``WriteGate``, from
  :mod:`tornadish._io.flow_control`), so a writer that awaits it keeps memory bounded
  when the peer stops reading.
- Message size is checked as the frames arrive (and while inflating compressed ones),
  so an oversized message is refused with 1009 before it is buffered whole.
- A frame wsproto cannot parse (unmasked, reserved bits, bad opcode, bad UTF-8) fails
  the connection: a close frame with wsproto's code, then the TCP close.
- One timer closes a connection whose closing handshake is not answered, another sends
  the periodic pings and checks their pongs.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage
from wsproto.extensions import Extension, PerMessageDeflate
from wsproto.frame_protocol import CloseReason, FrameDecoder, FrameProtocol, Opcode, RsvBits
from wsproto.utilities import LocalProtocolError

from tornadish._http.contract import (
    UpgradedProtocol,
    WebSocketOffer,
    WebSocketSink,
)
from tornadish._http.websocket import (
    DEFAULT_MAX_MESSAGE_SIZE,
    DeflateAgreement,
    WebSocketClosedError,
    WebSocketError,
    accept_headers,
    check_ping_payload,
    message_size,
    reported_close_code,
)
from tornadish._io.flow_control import WriteGate, failed_future
from tornadish.log import app_log, gen_log

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "BoundedDeflate",
    "WebSocketClosedError",
    "WebSocketError",
    "WebSocketProtocol",
    "accept_server_websocket",
    "deflate_extension",
]

_CLOSE_TIMEOUT = 5.0
_OPEN = ConnectionState.OPEN


class BoundedDeflate(PerMessageDeflate):
    """``permessage-deflate`` (RFC 7692) that stops inflating at the message size limit.

    wsproto inflates whatever arrives, so a small compressed frame could become
    gigabytes in memory; here inflation is capped and an over-long message fails with
    1009 (wsproto turns a returned ``CloseReason`` into a parse failure). The inbound
    side is ours, written against wsproto's public extension interface
    (``frame_inbound_header``/``_payload_data``/``_complete``) with our own state; the
    negotiation and the outbound side stay wsproto's.
    """

    def __init__(self, max_message_size: int, **options: Any) -> None:
        super().__init__(**options)
        self.max_message_size = max_message_size
        self._inflated = 0
        # The message being read was sent compressed (RSV1 on its first frame); None
        # between messages.
        self._compressed: bool | None = None
        # The frame being read is a data frame (control frames are never compressed and
        # may arrive between the fragments of a message).
        self._data_frame = False
        # Kept across messages unless the peer gives up its context takeover.
        self._inflater: zlib._Decompress | None = None

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
            if rsv.rsv1 and self._inflater is None:
                # The window the peer compresses with, as negotiated.
                bits = self.server_max_window_bits if proto.client else self.client_max_window_bits
                self._inflater = zlib.decompressobj(-bits)
        return RsvBits(True, False, False)

    def frame_inbound_payload_data(
        self, proto: FrameDecoder | FrameProtocol, data: bytes
    ) -> bytes | CloseReason:
        if not self._data_frame or not self._compressed:
            return data
        return self._inflate(data)

    def frame_inbound_complete(
        self, proto: FrameDecoder | FrameProtocol, fin: bool
    ) -> bytes | CloseReason | None:
        if not fin or not self._data_frame:
            return None
        compressed = self._compressed
        self._compressed = None
        if not compressed:
            self._inflated = 0
            return None
        # RFC 7692 §7.2.2: the sender dropped the empty stored block that ends the
        # message; put it back to get the rest of the output.
        result = self._inflate(b"\x00\x00\xff\xff")
        self._inflated = 0
        if isinstance(result, CloseReason):
            return result
        assert self._inflater is not None
        try:
            result += self._inflater.flush()
        except zlib.error:
            return CloseReason.INVALID_FRAME_PAYLOAD_DATA
        no_context_takeover = (
            self.server_no_context_takeover if proto.client else self.client_no_context_takeover
        )
        if no_context_takeover:
            self._inflater = None
        return result

    def _inflate(self, data: bytes) -> bytes | CloseReason:
        inflater = self._inflater
        assert inflater is not None  # made by frame_inbound_header for a compressed message
        # One byte more than the room left is enough to know the message is too big.
        room = self.max_message_size - self._inflated + 1
        try:
            out = inflater.decompress(data, room)
        except zlib.error:
            return CloseReason.INVALID_FRAME_PAYLOAD_DATA
        self._inflated += len(out)
        if inflater.unconsumed_tail or self._inflated > self.max_message_size:
            return CloseReason.MESSAGE_TOO_BIG
        return out


class WebSocketProtocol(UpgradedProtocol):
    """One WebSocket connection, either role; created by the handshake code."""

    __slots__ = (
        "_busy",
        "_client",
        "_close_timeout",
        "_closed",
        "_closing",
        "_conn",
        "_discard",
        "_gate",
        "_in_pump",
        "_loop",
        "_max_size",
        "_on_lost",
        "_parts",
        "_ping_handle",
        "_ping_interval",
        "_ping_sent",
        "_ping_timeout",
        "_pong_pending",
        "_reading_paused",
        "_sink",
        "_size",
        "_timer",
        "close_code",
        "close_reason",
        "transport",
    )

    def __init__(
        self,
        sink: WebSocketSink,
        *,
        client: bool,
        extensions: list[Extension] | None = None,
        max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
        ping_interval: float | None = None,
        ping_timeout: float | None = None,
        close_timeout: float = _CLOSE_TIMEOUT,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        role = ConnectionType.CLIENT if client else ConnectionType.SERVER
        self._conn = Connection(role, extensions)
        self._client = client
        self._sink = sink
        self._max_size = max_message_size if max_message_size is not None else 1 << 62
        self._ping_interval = ping_interval or 0.0
        # Like Tornado: the pong timeout defaults to, and is capped at, the interval.
        timeout = self._ping_interval if ping_timeout is None else ping_timeout
        self._ping_timeout = min(timeout, self._ping_interval)
        self._close_timeout = close_timeout
        self._parts: list[Any] = []
        self._size = 0
        self._busy = False
        self._in_pump = False
        self._discard = False
        self._reading_paused = False
        self._gate = WriteGate(self._loop)
        self._closing = False
        self._closed = False
        self._timer: asyncio.TimerHandle | None = None
        self._ping_handle: asyncio.TimerHandle | None = None
        self._ping_sent = 0.0
        self._pong_pending = False
        self._on_lost: Callable[[], None] | None = None
        self.transport: asyncio.Transport | None = None
        #: The code and reason of the close frame the peer sent (``None`` if none).
        self.close_code: int | None = None
        self.close_reason: str | None = None

    # -- starting ---------------------------------------------------------------

    def take_over(
        self,
        transport: asyncio.Transport,
        data: bytes,
        writing_paused: bool,
        on_lost: Callable[[], None] | None = None,
    ) -> None:
        self.transport = transport
        if writing_paused:
            self._gate.pause()
        self._on_lost = on_lost
        if self._ping_interval > 0:
            self._ping_handle = self._loop.call_later(self._ping_interval, self._send_ping)
        if data:
            # Parsed on the next tick, once the caller has finished setting up (a
            # handler's open() runs before any message is delivered).
            self._conn.receive_data(data)
            self._loop.call_soon(self._pump)

    def hold(self, awaitable: Awaitable[Any]) -> None:
        """Deliver no message until ``awaitable`` completes (an ``async def open``)."""
        self._wait(awaitable)

    # -- properties ---------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once a close frame was sent or received, or the connection is gone."""
        return self._closing or self._closed or self._conn.state is not _OPEN

    @property
    def buffered_amount(self) -> int:
        """Bytes written but not yet accepted by the kernel (a browser's
        ``bufferedAmount``); fan-out code uses it to spot slow readers."""
        transport = self.transport
        return transport.get_write_buffer_size() if transport is not None else 0

    @property
    def close_received(self) -> bool:
        """True once the peer's close frame has arrived (not when the connection just
        dropped): what tells an ASGI app 1005 from 1006."""
        return self._conn.state in (ConnectionState.REMOTE_CLOSING, ConnectionState.CLOSED)

    # -- asyncio.Protocol ---------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._closed or self._conn.state is ConnectionState.CLOSED:
            return
        self._conn.receive_data(data)
        self._pump()

    def eof_received(self) -> bool | None:
        return None  # a half-closed WebSocket is a closed one: let the transport close

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self.transport = None
        for handle in (self._timer, self._ping_handle):
            if handle is not None:
                handle.cancel()
        self._timer = self._ping_handle = None
        self._gate.lost(error=WebSocketClosedError)
        on_lost = self._on_lost
        self._on_lost = None
        if on_lost is not None:
            on_lost()
        try:
            self._sink._ws_closed(self.close_code, self.close_reason)
        except Exception:
            app_log.error("Exception in WebSocket on_close", exc_info=True)

    def pause_writing(self) -> None:
        self._gate.pause()

    def resume_writing(self) -> None:
        self._gate.resume()

    # -- reading ------------------------------------------------------------------

    def _pump(self) -> None:
        """Turn buffered frames into sink calls until one of them has to wait."""
        if self._busy or self._in_pump or self._closed:
            return
        self._in_pump = True
        try:
            for event in self._conn.events():
                t = type(event)
                if t is TextMessage or t is BytesMessage:
                    self._on_data(event)  # type: ignore[arg-type]
                elif t is Ping:
                    self._on_ping(event)  # type: ignore[arg-type]
                elif t is Pong:
                    self._pong_pending = False
                    try:
                        self._sink._ws_pong(bytes(event.payload))  # type: ignore[attr-defined]
                    except Exception:
                        app_log.error("Exception in WebSocket on_pong", exc_info=True)
                elif t is CloseConnection:
                    self._on_close_frame(event)  # type: ignore[arg-type]
                # Stopping in the middle leaves the rest in wsproto's buffer for later.
                if self._must_stop():
                    break
        finally:
            self._in_pump = False
        if not self._busy and self._reading_paused:
            self._reading_paused = False
            transport = self.transport
            if transport is not None:
                transport.resume_reading()

    def _must_stop(self) -> bool:
        return self._busy or self._closed

    def _on_data(self, event: TextMessage | BytesMessage) -> None:
        if self._discard:
            return  # closing after an error of ours: the rest is not delivered
        data = event.data
        size = self._size + message_size(data)
        if size > self._max_size:
            self._parts = []
            self._size = 0
            self._abandon(CloseReason.MESSAGE_TOO_BIG, "message too big")
            return
        if not event.message_finished:
            self._parts.append(data)
            self._size = size
            return
        message: str | bytes
        if self._parts:
            parts = self._parts
            parts.append(data)
            self._parts = []
            message = "".join(parts) if type(data) is str else b"".join(parts)
        else:
            # bytes(b) of a bytes object is that object: no copy.
            message = data if isinstance(data, str) else bytes(data)
        self._size = 0
        try:
            result = self._sink._ws_message(message)
        except Exception:
            app_log.error("Uncaught exception in WebSocket on_message", exc_info=True)
            self._abandon(CloseReason.INTERNAL_ERROR, "internal error")
            return
        if result is not None:
            self._wait(result)

    def _on_ping(self, event: Ping) -> None:
        try:
            self._sink._ws_ping(bytes(event.payload))
        except Exception:
            app_log.error("Exception in WebSocket on_ping", exc_info=True)
        if self._conn.state is _OPEN and not self._closing:
            self._write(self._conn.send(event.response()))

    def _on_close_frame(self, event: CloseConnection) -> None:
        conn = self._conn
        state = conn.state
        if state is _OPEN:
            # wsproto reports a frame it could not parse as a CloseConnection carrying
            # the code to fail with, without changing state: the peer broke the
            # protocol. Its parser is done; answer and drop the connection.
            self._fail(event.code, event.reason or "")
            return
        code = int(event.code)
        self.close_code = reported_close_code(code)
        self.close_reason = event.reason or None
        if state is ConnectionState.REMOTE_CLOSING:
            # The peer started the closing handshake: echo its code, then hang up.
            self._write(conn.send(CloseConnection(code=event.code)))
        self._closing = True
        self._hang_up()

    def _wait(self, awaitable: Awaitable[Any]) -> None:
        fut = asyncio.ensure_future(awaitable)
        if fut.done():
            self._waited(fut)
            return
        self._busy = True
        if not self._reading_paused:
            self._reading_paused = True
            transport = self.transport
            if transport is not None:
                transport.pause_reading()
        fut.add_done_callback(self._waited)

    def _waited(self, fut: asyncio.Future[Any]) -> None:
        self._busy = False
        if fut.cancelled():
            exc: BaseException | None = None
        else:
            exc = fut.exception()
        if exc is not None and not (self._closed and isinstance(exc, (WebSocketError, OSError))):
            app_log.error("Uncaught exception in WebSocket callback", exc_info=exc)
            self._abandon(CloseReason.INTERNAL_ERROR, "internal error")
        if not self._closed:
            self._pump()

    # -- writing ------------------------------------------------------------------

    def _write(self, data: bytes | bytearray) -> None:
        transport = self.transport
        if transport is not None and not self._closed:
            transport.write(data)

    def send_message(self, message: str | bytes, binary: bool = False) -> asyncio.Future[None]:
        """Send one message; the result resolves when the transport has room again.

        ``str`` is sent as a text message and ``bytes`` as binary when ``binary``;
        otherwise text (UTF-8 encoded bytes are sent as text, as Tornado does).
        Raises :class:`WebSocketClosedError` once the socket is closing.
        """
        if self._closing or self._closed or self._conn.state is not _OPEN:
            raise WebSocketClosedError()
        event: TextMessage | BytesMessage
        if binary:
            if isinstance(message, str):
                message = message.encode("utf-8")
            event = BytesMessage(data=message)
        else:
            if not isinstance(message, str):
                message = message.decode("utf-8")
            event = TextMessage(data=message)
        self._write(self._conn.send(event))
        return self.drain()

    def ping(self, data: bytes = b"") -> None:
        """Send a ping frame (at most 125 bytes of ``data``)."""
        check_ping_payload(data)
        if self._closing or self._closed or self._conn.state is not _OPEN:
            raise WebSocketClosedError()
        self._write(self._conn.send(Ping(payload=data)))

    def drain(self) -> asyncio.Future[None]:
        """Resolves once the transport's buffer is below its high-water mark."""
        if self._closed:
            return failed_future(self._loop, WebSocketClosedError())
        return self._gate.wait()

    # -- closing ------------------------------------------------------------------

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Start the closing handshake (a no-op once closing).

        Without ``code`` the close frame is empty (the peer sees 1005) unless a
        ``reason`` is given, which implies 1000. The connection is dropped if the
        peer does not answer within the close timeout.
        """
        if self._closing or self._closed or self._conn.state is not _OPEN:
            return
        if code is None and reason:
            code = CloseReason.NORMAL_CLOSURE
        wire_code = CloseReason.NO_STATUS_RCVD if code is None else code
        self._closing = True
        self._write(self._conn.send(CloseConnection(code=wire_code, reason=reason)))
        self._arm_close_timer()

    def shutdown(self) -> None:
        """The server is going away: close with 1001, dropping the connection if the
        peer does not answer."""
        if not self._closing:
            self.close(CloseReason.GOING_AWAY, "server shutting down")
        if not self._closing:  # the peer's close is pending on a busy handler
            self._hang_up()
        self._arm_close_timer()

    def _abandon(self, code: int, reason: str) -> None:
        # An error on our side (or an oversized message): close politely, deliver
        # nothing more, and let the close timer end it if the peer stays silent.
        self._discard = True
        if self._conn.state is _OPEN and not self._closing:
            self.close(code, reason)
        else:
            self._hang_up()

    def _fail(self, code: int, reason: str) -> None:
        # "Fail the WebSocket connection" (RFC 6455 §7.1.7): send a close frame if we
        # still may, then close TCP without waiting for an answer.
        self._discard = True
        if not self._closing:
            self._closing = True
            try:
                self._write(self._conn.send(CloseConnection(code=code, reason=reason[:120])))
            except LocalProtocolError:
                pass
        gen_log.info("WebSocket protocol error (%d): %s", code, reason)
        self._hang_up()

    def _hang_up(self) -> None:
        # Close after the buffered output is flushed; abort if the peer stops reading.
        transport = self.transport
        if transport is not None and not self._closed:
            transport.close()
            self._arm_close_timer()

    def _arm_close_timer(self) -> None:
        if self._timer is None and not self._closed:
            self._timer = self._loop.call_later(self._close_timeout, self._abort)

    def _abort(self) -> None:
        self._timer = None
        transport = self.transport
        if transport is not None:
            transport.abort()

    # -- keep-alive pings ---------------------------------------------------------

    def _send_ping(self) -> None:
        self._ping_handle = None
        if self.closed:
            return
        self._pong_pending = True
        self._ping_sent = self._loop.time()
        self._write(self._conn.send(Ping(payload=b"")))
        if self._ping_timeout > 0:
            self._ping_handle = self._loop.call_later(self._ping_timeout, self._check_pong)
        else:
            self._ping_handle = self._loop.call_later(self._ping_interval, self._send_ping)

    def _check_pong(self) -> None:
        self._ping_handle = None
        if self.closed:
            return
        if self._pong_pending:
            gen_log.info("WebSocket ping timed out; closing")
            self.close(CloseReason.NORMAL_CLOSURE, "ping timed out")
            return
        delay = max(0.0, self._ping_sent + self._ping_interval - self._loop.time())
        self._ping_handle = self._loop.call_later(delay, self._send_ping)


# -- accepting on a server connection ----------------------------------------------------


def deflate_extension(parameters: dict[str, Any], max_message_size: int | None) -> BoundedDeflate:
    """The ``permessage-deflate`` extension for ``parameters`` (wsproto's keywords),
    inflating no message past ``max_message_size`` (None: no limit)."""
    limit = max_message_size if max_message_size is not None else 1 << 62
    return BoundedDeflate(limit, **parameters)


def _agreed_deflate(agreement: DeflateAgreement, max_message_size: int | None) -> BoundedDeflate:
    extension = deflate_extension(agreement.parameters, max_message_size)
    # Built with the agreed parameters; finalizing with the response that states them
    # switches it on (wsproto's public way), changing none of them.
    extension.finalize(agreement.response)
    return extension


def accept_server_websocket(
    upgrade: Callable[[list[tuple[bytes, bytes]], UpgradedProtocol], None],
    sink: WebSocketSink,
    offer: WebSocketOffer,
) -> WebSocketProtocol:
    """Accept a WebSocket on a server connection: answer ``101`` through its
    ``upgrade(headers, protocol)`` (the offer's headers, then the acceptance
    :func:`~tornadish._http.websocket.accept_headers` makes) and return the
    :class:`WebSocketProtocol` that has taken the transport over, reporting to
    ``sink``. ``upgrade``'s errors (``StreamClosedError`` once the client has gone)
    pass through.
    """
    deflate = offer.deflate
    protocol = WebSocketProtocol(
        sink,
        client=False,
        extensions=[] if deflate is None else [_agreed_deflate(deflate, offer.max_message_size)],
        max_message_size=offer.max_message_size,
        ping_interval=offer.ping_interval,
        ping_timeout=offer.ping_timeout,
    )
    upgrade(offer.headers + accept_headers(offer.key, offer.subprotocol, deflate), protocol)
    return protocol
