"""The WebSocket glue: one ``asyncio.Protocol`` per WebSocket connection, either role,
on either engine.

Server and client share it. A server connection accepts a WebSocket with
:func:`accept_server_websocket`, which answers ``101 Switching Protocols`` through the
connection's ``upgrade`` and takes its transport over; the client's handshake protocol
(:mod:`tornadish._client.websocket`) does the same after reading the 101. What the
handshakes agree (headers, subprotocol, compression) is decided by
:mod:`tornadish._http.websocket`. From then on bytes go into the engine's sans-IO
session — wsproto's (:mod:`tornadish._http.ws_wsproto`) or the ``websockets``
library's (:mod:`tornadish._http.ws_websockets`), as ``ws=``/``TORNADISH_WS`` chose
(:mod:`tornadish._http.ws_engines`) — whose events (:mod:`tornadish._http.ws_events`:
message data, ping, pong, close, failure) become calls on a *sink* (the
``WebSocketHandler``, the ``WebSocketClientConnection``, a mounted ASGI app's bridge).
Nothing here knows which engine parses. Everything about flow control, limits, pings
and the closing handshake lives here:

- Messages are delivered in order, one at a time. When the sink returns an awaitable
  (an ``async def on_message``), delivery stops and reading pauses until it completes;
  the frames already read wait in the session (parsed lazily by wsproto; parsed, as
  events, by websockets).
- Writes go to the transport, in order. Those made while frames that arrived together
  are being delivered (an echo, an answer from ``on_message``) are corked and leave
  together once the loop's round of I/O callbacks is over (the flow-control module's
  rule 3): one system call and one wake-up of the peer for a burst, not one a message.
  The awaitable a write returns resolves once the
  transport is below its high-water mark (the connection's ``WriteGate``, from
  :mod:`tornadish._io.flow_control`), so a writer that awaits it keeps memory bounded
  when the peer stops reading. Data frames, pings and pongs are written by
  :meth:`~WebSocketProtocol._write_frame` (header, mask — in C where ``websockets`` is
  installed —, payload; no copy of it), not by an engine (wsproto's serializer copies a
  payload three times); close frames are made by the session (wsproto's state must know
  of them). An engine's own answers (websockets queues pongs and close frames as it
  parses) are never written: each frame goes out when the event that calls for it is
  delivered.
- While a pong waits for room in the transport, only the most recent ping is answered
  (RFC 6455 §5.5.3): a peer that pings without reading cannot make us buffer pongs.
- Message size is checked as the frames arrive (and while inflating compressed ones),
  so an oversized message is refused with 1009 before it is buffered whole: here, as
  wsproto's pieces of a frame come in (a polite close), or by the websockets session
  from the frame's header (a failed connection).
- Frames that arrived together are delivered a slice at a time: after about 256 KiB
  (a frame counting as 1 KiB) the loop runs other work before the rest, so a flood of
  small frames cannot monopolize it.
- A frame the engine cannot parse (unmasked, reserved bits, bad opcode, bad UTF-8 —
  1007, bad compressed data — 1007) arrives as a failure: a close frame with the
  session's code, then the TCP close.
- One timer closes a connection whose closing handshake is not answered, another sends
  the periodic pings and checks their pongs.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Any

from tornadish._http import ws_events as ev
from tornadish._http.contract import (
    StreamClosedError,
    UpgradedProtocol,
    WebSocketOffer,
    WebSocketSink,
)
from tornadish._http.permessage_deflate import PerMessageDeflateCompressor, agreed_window
from tornadish._http.websocket import (
    DEFAULT_MAX_MESSAGE_SIZE,
    DeflateAgreement,
    WebSocketClosedError,
    WebSocketError,
    accept_headers,
    check_ping_payload,
    frame_header,
    mask_payload,
    reported_close_code,
)
from tornadish._http.ws_engines import resolve_ws, ws_session_class
from tornadish._io.flow_control import WriteGate, failed_future, write_batch
from tornadish.log import app_log, gen_log

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "WebSocketClosedError",
    "WebSocketError",
    "WebSocketProtocol",
    "WebSocketStream",
    "accept_server_websocket",
]

_CLOSE_TIMEOUT = 5.0
# Opcodes (RFC 6455 §5.2), and the RSV1 bit that marks a compressed message (RFC 7692).
_TEXT, _BINARY, _PING, _PONG = 0x1, 0x2, 0x9, 0xA
_RSV1 = 0x40
# Frames delivered in one go before the loop gets a turn: bytes of payload, each frame
# counting as _FRAME_COST more (with small frames the per-frame work dominates).
_YIELD_AFTER = 256 * 1024
_FRAME_COST = 1024
# Payloads up to this size are written joined to their header (one write, one copy);
# larger ones with it, uncopied (``writelines``: one writev under uvloop).
_JOIN_LIMIT = 16 * 1024
# Corked output past this size goes at once (so the transport's flow control sees it).
_CORK_MAX = 64 * 1024


class WebSocketProtocol(UpgradedProtocol):
    """One WebSocket connection, either role; created by the handshake code.

    ``deflate`` is the ``permessage-deflate`` agreement (None: no compression);
    ``engine`` parses the frames: ``"wsproto"``, ``"websockets"``, or ``None`` for what
    :func:`~tornadish._http.ws_engines.resolve_ws` picks (``TORNADISH_WS``, else
    ``"auto"``).

    Tornado's ``WebSocketProtocol13`` (``tornado.websocket`` names it so): its
    counters ``_message_bytes_in``/``_out`` (payload bytes, text as UTF-8, before
    compression) and ``_wire_bytes_in``/``_out`` (bytes on the socket), and its
    per-connection hooks ``_handle_message`` and ``_write_frame``, which code may
    wrap on one connection, are here with the same meaning.
    """

    __slots__ = (
        # Room for per-connection overrides of the hooks, as Tornado code makes them.
        "__dict__",
        "_busy",
        "_client",
        "_close_received",
        "_close_timeout",
        "_closed",
        "_closing",
        "_compressor",
        "_cork",
        "_corked",
        "_discard",
        "_gate",
        "_in_pump",
        "_loop",
        "_max_size",
        "_message_bytes_in",
        "_message_bytes_out",
        "_on_lost",
        "_parts",
        "_pending_pong",
        "_ping_handle",
        "_ping_interval",
        "_ping_sent",
        "_ping_timeout",
        "_pong_future",
        "_pong_pending",
        "_reading_paused",
        "_session",
        "_sink",
        "_size",
        "_stream",
        "_timer",
        "_wire_bytes_in",
        "_wire_bytes_out",
        "close_code",
        "close_reason",
        "transport",
    )

    def __init__(
        self,
        sink: WebSocketSink,
        *,
        client: bool,
        deflate: DeflateAgreement | None = None,
        max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
        ping_interval: float | None = None,
        ping_timeout: float | None = None,
        close_timeout: float = _CLOSE_TIMEOUT,
        engine: str | None = None,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        session_class = ws_session_class(resolve_ws(engine))
        self._session = session_class(client, max_message_size, deflate)
        self._client = client
        self._compressor: PerMessageDeflateCompressor | None = None
        if deflate is not None:
            # What we send, with the window and context takeover agreed for our side.
            self._compressor = PerMessageDeflateCompressor(
                *agreed_window(deflate.parameters, client_sends=client), deflate.options
            )
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
        self._cork: list[bytes] | None = None  # frames written during a delivery round
        self._corked = 0
        self._discard = False
        self._reading_paused = False
        self._gate = WriteGate(self._loop)
        # A close frame was sent (or the connection is failing); the peer's arrived.
        self._closing = False
        self._close_received = False
        self._closed = False
        self._timer: asyncio.TimerHandle | None = None
        self._ping_handle: asyncio.TimerHandle | None = None
        self._ping_sent = 0.0
        self._pong_pending = False
        # The write of our latest pong while it waits for room, and the payload of
        # the most recent ping that came meanwhile (see _send_pong).
        self._pong_future: asyncio.Future[None] | None = None
        self._pending_pong: bytes | None = None
        self._on_lost: Callable[[], None] | None = None
        self._stream: WebSocketStream | None = None
        # Payload bytes of whole messages, and bytes on the socket (Tornado's counters).
        self._message_bytes_in = 0
        self._message_bytes_out = 0
        self._wire_bytes_in = 0
        self._wire_bytes_out = 0
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
            self._wire_bytes_in += len(data)
            # Parsed on the next tick, once the caller has finished setting up (a
            # handler's open() runs before any message is delivered).
            self._session.receive_data(data)
            self._loop.call_soon(self._pump)

    def hold(self, awaitable: Awaitable[Any]) -> None:
        """Deliver no message until ``awaitable`` completes (an ``async def open``)."""
        self._wait(awaitable)

    # -- properties ---------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once a close frame was sent or received, or the connection is gone."""
        return self._closing or self._closed

    @property
    def buffered_amount(self) -> int:
        """Bytes written but not yet accepted by the kernel (a browser's
        ``bufferedAmount``); fan-out code uses it to spot slow readers."""
        transport = self.transport
        if transport is None:
            return 0
        return transport.get_write_buffer_size() + (self._corked if self._cork else 0)

    @property
    def close_received(self) -> bool:
        """True once the peer's close frame has arrived (not when the connection just
        dropped): what tells an ASGI app 1005 from 1006."""
        return self._close_received

    @property
    def stream(self) -> WebSocketStream:
        """The byte stream under the WebSocket (Tornado's ``stream``): closing it drops
        the connection without the closing handshake."""
        stream = self._stream
        if stream is None:
            stream = self._stream = WebSocketStream(self)
        return stream

    # -- asyncio.Protocol ---------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._closed:
            return
        self._wire_bytes_in += len(data)
        self._session.receive_data(data)
        self._pump()

    def eof_received(self) -> bool | None:
        return None  # a half-closed WebSocket is a closed one: let the transport close

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self.transport = None
        self._cork = None
        for handle in (self._timer, self._ping_handle):
            if handle is not None:
                handle.cancel()
        self._timer = self._ping_handle = None
        self._gate.lost(error=WebSocketClosedError)
        on_lost = self._on_lost
        self._on_lost = None
        if on_lost is not None:
            on_lost()
        if self._stream is not None:
            self._stream._lost()
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
        work = 0
        try:
            for event in self._session.events():
                t = type(event)
                if t is ev.Data:
                    work += event.size  # type: ignore[union-attr]
                    self._on_data(event)  # type: ignore[arg-type]
                elif t is ev.Ping or t is ev.Pong:
                    payload = event.payload  # type: ignore[union-attr]
                    self._handle_message(_PING if t is ev.Ping else _PONG, payload)
                elif t is ev.Close:
                    self._on_close_frame(event)  # type: ignore[arg-type]
                else:
                    # The peer broke the protocol; the session reports nothing more.
                    self._fail(event.code, event.reason)  # type: ignore[union-attr]
                # Stopping in the middle leaves the rest in the session for later.
                if self._must_stop():
                    break
                work += _FRAME_COST
                if work >= _YIELD_AFTER:
                    # Let the loop run other work before the next slice.
                    self._hold_reading()
                    self._loop.call_soon(self._resume_pump)
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

    def _hold_reading(self) -> None:
        # Deliver nothing more, and read nothing more, until _pump runs again.
        self._busy = True
        if not self._reading_paused:
            self._reading_paused = True
            transport = self.transport
            if transport is not None:
                transport.pause_reading()

    def _resume_pump(self) -> None:
        self._busy = False
        if not self._closed:
            self._pump()

    def _on_data(self, event: ev.Data) -> None:
        if self._discard:
            return  # closing after an error of ours: the rest is not delivered
        data = event.data
        size = self._size + event.size
        if size > self._max_size:
            # (The websockets engine refuses such a message itself, from its header.)
            self._parts = []
            self._size = 0
            self._abandon(ev.MESSAGE_TOO_BIG, "message too big")
            return
        if not event.fin:
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
        self._message_bytes_in += size
        result = self._handle_message(_TEXT if type(message) is str else _BINARY, message)
        if result is not None:
            self._wait(result)

    def _handle_message(self, opcode: int, data: str | bytes) -> Awaitable[None] | None:
        """Act on one message or control frame received: ``opcode`` 0x1 (text, ``data``
        a ``str``), 0x2 (binary), 0x9 (ping) or 0xA (pong); close frames are not
        routed here. Returns what ``on_message`` returned (delivery waits for it).

        Tornado's hook: code that wraps it on one connection (to count or drop
        pongs, say) sees every such frame go by.
        """
        sink = self._sink
        if opcode == _PONG:
            self._pong_pending = False
            try:
                sink._ws_pong(data)  # type: ignore[arg-type]
            except Exception:
                app_log.error("Exception in WebSocket on_pong", exc_info=True)
            return None
        if opcode == _PING:
            try:
                sink._ws_ping(data)  # type: ignore[arg-type]
            except Exception:
                app_log.error("Exception in WebSocket on_ping", exc_info=True)
            if not self._closing:
                self._send_pong(data)  # type: ignore[arg-type]
            return None
        try:
            return sink._ws_message(data)
        except (Exception, asyncio.CancelledError):
            # Cancelled too: on_message raised it, nobody cancelled us.
            app_log.error("Uncaught exception in WebSocket on_message", exc_info=True)
            self._abandon(ev.INTERNAL_ERROR, "internal error")
            return None

    def _on_close_frame(self, event: ev.Close) -> None:
        self.close_code = reported_close_code(event.code)
        self.close_reason = event.reason or None
        self._close_received = True
        if not self._closing:
            # The peer started the closing handshake: echo its code, then hang up.
            self._write(self._session.send_close(event.code))
        self._closing = True
        self._hang_up()

    def _wait(self, awaitable: Awaitable[Any]) -> None:
        fut = asyncio.ensure_future(awaitable)
        if fut.done():
            self._waited(fut)
            return
        self._hold_reading()
        fut.add_done_callback(self._waited)

    def _waited(self, fut: asyncio.Future[Any]) -> None:
        self._busy = False
        exc: BaseException | None
        if fut.cancelled():
            # An awaitable of the application's was cancelled (by itself, or by
            # code it called): an error like any other, unless we are gone anyway.
            exc = None if self._closed else asyncio.CancelledError()
        else:
            exc = fut.exception()
        if exc is not None and not (self._closed and isinstance(exc, (WebSocketError, OSError))):
            app_log.error("Uncaught exception in WebSocket callback", exc_info=exc)
            self._abandon(ev.INTERNAL_ERROR, "internal error")
        if not self._closed:
            self._pump()

    # -- writing ------------------------------------------------------------------

    def _write(self, data: bytes | bytearray) -> None:
        transport = self.transport
        if transport is not None and not self._closed:
            self._wire_bytes_out += len(data)
            self._send(transport, bytes(data))

    def _send(self, transport: asyncio.Transport, data: bytes) -> None:
        """Write ``data`` after everything written before it: into the cork while one
        is open or frames are being delivered, else to the transport."""
        cork = self._cork
        if cork is not None:
            cork.append(data)
            self._corked += len(data)
            if self._corked >= _CORK_MAX:
                self._flush_cork()
        elif self._in_pump and len(data) < _CORK_MAX:
            self._cork = [data]
            self._corked = len(data)
            write_batch(self._loop).add(self._flush_cork)
        else:
            transport.write(data)

    def _flush_cork(self) -> None:
        """Hand the corked frames to the transport (a no-op once they went)."""
        cork = self._cork
        if cork is None:
            return
        self._cork = None
        transport = self.transport
        if transport is not None and not self._closed:
            transport.write(cork[0] if len(cork) == 1 else b"".join(cork))

    def _write_frame(
        self, fin: bool, opcode: int, data: bytes, flags: int = 0
    ) -> asyncio.Future[None]:
        """Write one frame (RFC 6455 §5.2), masked when we are the client; ``flags``
        holds the RSV bits (``0x40``: the payload is compressed). Resolves like
        :meth:`drain`.

        Tornado's hook: every data frame, ping and pong is written through it (close
        frames are written as the engine's session makes them).
        """
        transport = self.transport
        if transport is not None and not self._closed:
            n = len(data)
            header = frame_header(fin, opcode, n, flags, self._client)
            if self._client:
                # RFC 6455 §5.3: a fresh, unpredictable key for every frame.
                key = os.urandom(4)
                header += key
                data = mask_payload(key, data)
            self._wire_bytes_out += len(header) + n
            if n <= _JOIN_LIMIT:
                self._send(transport, header + data)
            else:
                if self._cork is not None:
                    self._flush_cork()
                transport.writelines((header, data))
        return self.drain()

    def send_message(self, message: str | bytes, binary: bool = False) -> asyncio.Future[None]:
        """Send one message; the result resolves when the transport has room again.

        ``str`` is sent as a text message and ``bytes`` as binary when ``binary``;
        otherwise text (UTF-8 encoded bytes are sent as text, as Tornado does).
        Raises :class:`WebSocketClosedError` once the socket is closing.
        """
        if self._closing or self._closed:
            raise WebSocketClosedError()
        if isinstance(message, str):
            payload = message.encode("utf-8")
        else:
            payload = message
            if not binary:
                # A text frame must carry UTF-8 (RFC 6455 §5.6): refuse here, not at
                # the peer, which would fail the connection with 1007.
                payload.decode("utf-8")
        self._message_bytes_out += len(payload)
        flags = 0
        compressor = self._compressor
        if compressor is not None:
            payload = compressor.compress(payload)
            flags = _RSV1
        return self._write_frame(True, _BINARY if binary else _TEXT, payload, flags)

    def ping(self, data: str | bytes = b"") -> None:
        """Send a ping frame (at most 125 bytes of ``data``; a ``str`` goes as UTF-8)."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        check_ping_payload(data)
        if self._closing or self._closed:
            raise WebSocketClosedError()
        self._write_frame(True, _PING, data)

    def _send_pong(self, data: bytes) -> None:
        # While a pong waits for room (the peer is not reading), answer only the most
        # recent of the pings that come meanwhile, once it is written (§5.5.3).
        waiting = self._pong_future
        if waiting is not None and not waiting.done():
            self._pending_pong = data
            return
        self._pending_pong = None
        written = self._write_frame(True, _PONG, data)
        if written.done():
            self._pong_future = None
            return
        self._pong_future = written
        written.add_done_callback(self._pong_written)

    def _pong_written(self, written: asyncio.Future[None]) -> None:
        if self._pong_future is written:
            self._pong_future = None
        if written.cancelled() or written.exception() is not None:
            self._pending_pong = None  # the connection is gone
            return
        data = self._pending_pong
        if data is not None and not self._closing:
            self._send_pong(data)

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
        if self._closing or self._closed:
            return
        if code is None and reason:
            code = ev.NORMAL_CLOSURE
        if code is None or code == ev.NO_STATUS_RCVD:
            code, reason = ev.NO_STATUS_RCVD, None  # an empty close frame
        self._closing = True
        self._write(self._session.send_close(code, reason))
        self._arm_close_timer()

    def shutdown(self) -> None:
        """The server is going away: close with 1001, dropping the connection if the
        peer does not answer."""
        if not self._closing:
            self.close(ev.GOING_AWAY, "server shutting down")
        if not self._closing:  # the peer's close is pending on a busy handler
            self._hang_up()
        self._arm_close_timer()

    def _abandon(self, code: int, reason: str) -> None:
        # An error on our side (or an oversized message): close politely, deliver
        # nothing more, and let the close timer end it if the peer stays silent.
        self._discard = True
        if not self._closing:
            self.close(code, reason)
        else:
            self._hang_up()

    def _fail(self, code: int, reason: str) -> None:
        # "Fail the WebSocket connection" (RFC 6455 §7.1.7): send a close frame if we
        # still may, then close TCP without waiting for an answer.
        self._discard = True
        too_big = code == ev.MESSAGE_TOO_BIG
        if too_big:
            # In the words the polite refusal (_on_data) uses, whichever engine found it.
            reason = "message too big"
        if not self._closing:
            self._closing = True
            self._write(self._session.send_close(code, reason[:120]))
        if not too_big:
            # A message over the limit (found while inflating it, or from its frame
            # header) is the peer's choice, not a protocol error: refused quietly.
            gen_log.info("WebSocket protocol error (%d): %s", code, reason)
        self._hang_up()

    def _hang_up(self) -> None:
        # Close after the buffered output is flushed; abort if the peer stops reading.
        transport = self.transport
        if transport is not None and not self._closed:
            self._flush_cork()  # what was written first still goes first
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
        self._write_frame(True, _PING, b"")
        if self._ping_timeout > 0:
            self._ping_handle = self._loop.call_later(self._ping_timeout, self._check_pong)
        else:
            self._ping_handle = self._loop.call_later(self._ping_interval, self._send_ping)

    def _check_pong(self) -> None:
        self._ping_handle = None
        if self.closed:
            return
        if self._pong_pending:
            # Quietly, as in Tornado: the close frame says why.
            gen_log.debug("WebSocket ping timed out; closing")
            self.close(ev.NORMAL_CLOSURE, "ping timed out")
            return
        delay = self.ping_sleep_time(
            last_ping_time=self._ping_sent, interval=self._ping_interval, now=self._loop.time()
        )
        self._ping_handle = self._loop.call_later(delay, self._send_ping)

    @staticmethod
    def ping_sleep_time(*, last_ping_time: float, interval: float, now: float) -> float:
        """Seconds until the next keep-alive ping: ``interval`` after the last one was
        sent, or none if that time has passed (Tornado's calculation).

        >>> WebSocketProtocol.ping_sleep_time(last_ping_time=54.0, interval=10, now=60.0)
        4.0
        """
        return max(0.0, last_ping_time + interval - now)


# -- accepting on a server connection ----------------------------------------------------


def accept_server_websocket(
    upgrade: Callable[[list[tuple[bytes, bytes]], UpgradedProtocol], None],
    sink: WebSocketSink,
    offer: WebSocketOffer,
    engine: str | None = None,
) -> WebSocketProtocol:
    """Accept a WebSocket on a server connection: answer ``101`` through its
    ``upgrade(headers, protocol)`` (the offer's headers, then the acceptance
    :func:`~tornadish._http.websocket.accept_headers` makes) and return the
    :class:`WebSocketProtocol` that has taken the transport over, reporting to
    ``sink``. ``upgrade``'s errors (``StreamClosedError`` once the client has gone)
    pass through. ``engine`` parses the frames (``None``: ``TORNADISH_WS``, else
    ``"auto"``; see :func:`~tornadish._http.ws_engines.resolve_ws`).
    """
    deflate = offer.deflate
    protocol = WebSocketProtocol(
        sink,
        client=False,
        deflate=deflate,
        max_message_size=offer.max_message_size,
        ping_interval=offer.ping_interval,
        ping_timeout=offer.ping_timeout,
        engine=engine,
    )
    upgrade(offer.headers + accept_headers(offer.key, offer.subprotocol, deflate), protocol)
    return protocol


class WebSocketStream:
    """The byte stream under one WebSocket, as Tornado code reaches it through
    ``WebSocketClientConnection.stream`` (an ``IOStream`` there).

    A view of the connection's transport, made the first time it is asked for.
    Closing it drops the connection without the closing handshake (the peer sees
    1006); writing to it writes raw bytes past the WebSocket framing.
    """

    __slots__ = ("_close_callback", "_protocol")

    def __init__(self, protocol: WebSocketProtocol) -> None:
        self._protocol = protocol
        self._close_callback: Callable[[], None] | None = None

    def closed(self) -> bool:
        """True once the connection has closed or is closing."""
        protocol = self._protocol
        return protocol.transport is None or protocol.transport.is_closing()

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        """Call ``callback()`` once the connection is gone."""
        self._close_callback = callback

    def write(self, data: bytes) -> Awaitable[None]:
        """Write ``data`` as it is; resolves once the output buffer has room, fails
        with :class:`StreamClosedError` once the connection is closed."""
        protocol = self._protocol
        if self.closed():
            return failed_future(protocol._loop, StreamClosedError())
        protocol._write(data)
        return protocol.drain()

    def close(self) -> None:
        """Close the connection now, with no close frame (what is buffered still goes)."""
        self._protocol._hang_up()

    def _lost(self) -> None:
        callback, self._close_callback = self._close_callback, None
        if callback is not None:
            try:
                callback()
            except Exception:
                app_log.error("Exception in stream close callback", exc_info=True)
