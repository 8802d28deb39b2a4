"""The server connection's state, and the rules that bound it: pausing reading,
deadlines, closing.

A server connection is three classes deep, one concern each: :class:`ConnectionBase`
(here) holds the state and the limits, :class:`~.reading.ConnectionReader` reads
requests, :class:`~.protocol.HTTP1ServerProtocol` answers them. Rules of this module:

1. All of the connection's state is declared here, in one ``__slots__``: an idle
   keep-alive connection must stay a few KiB.
2. Reading is blocked (``pause_reading``) for three independent reasons, kept as bits:
   the delegate asked us to wait (a streaming body consumer returned an awaitable), the
   peer is not reading our output (the transport's buffer is above its high-water mark),
   or the peer pipelined another request while we are still answering this one.
3. One :class:`~tornadish._io.flow_control.Deadline` per connection, re-armed lazily:
   moving it is a float assignment. Idle keep-alive, header read, body inactivity,
   blocked-write and flush-on-close deadlines all share it; ``_timeout_kind`` says which
   is running. A peer that reads nothing is dropped after the idle timeout, whether or
   not the response was finished.
4. Protocol errors get the status the session chose, a log line, a ``Connection:
   close`` response and a lingering close, so the peer can read the answer even while
   it is still sending.
5. Every write goes through :meth:`ConnectionBase._write`. While the read loop runs, small
   writes are corked, and the cork is sent as one write with the loop's other corks once
   the round of I/O callbacks that read them is over (``WriteBatch``, the rule of
   :mod:`~tornadish._io.flow_control`): pipelined requests read together get one write,
   and a busy server's writes leave in a burst. A large write, a close, a linger, an
   upgrade, a detach or an EOF from the peer sends the cork first, so the order of
   bytes and the transport's flow control hold.
6. A graceful drain closes an idle keep-alive connection only once it has been quiet for
   a moment (``_DRAIN_QUIET``) and no byte waits unread in its socket: a client that has
   just been answered is likely sending its next request at that very moment, and a
   close under that request resets it. Such a request is answered instead (``Connection:
   close``), and the connection closes after it.
"""

from __future__ import annotations

import asyncio
import struct
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tornadish._http.answers import reason_phrase
from tornadish._http.contract import (
    HTTPMessageDelegate,
    HTTPServerConnectionDelegate,
    UpgradedProtocol,
    notify_close,
)
from tornadish._io.flow_control import Deadline, WriteGate, write_batch
from tornadish._server.contract_base import ServerContract
from tornadish.log import gen_log

if sys.platform != "win32":
    import fcntl
    import termios

if TYPE_CHECKING:
    from tornadish._io.iostream import IOStream
    from tornadish._server.params import ServerParams
    from tornadish._server.protocol import ServerStream

__all__ = ["ConnectionBase"]


# Connection states.
IDLE = 0  # waiting for (the rest of) a request head
BODY = 1  # reading a request body
HANDLING = 2  # request complete, response not yet finished
CLOSING = 3  # answer sent, waiting for the peer to go away (lingering close)
CLOSED = 4

# Reasons reading is paused.
BLOCK_FLOW = 1
BLOCK_WRITE = 2
BLOCK_PIPELINE = 4

# Deadline kinds.
T_NONE = 0
T_IDLE = 1
T_HEADER = 2
T_BODY = 3
T_WRITE = 4
T_LINGER = 5
T_FLUSH = 6  # closed with output still queued: abort if the peer never takes it
T_DRAIN = 7  # graceful drain: close this idle connection once it is quiet (rule 6)

_LINGER_SECONDS = 2.0
# The server's own error answers use RFC 9110's reason phrases where Python's table
# still has the older ones (the phrases carry no meaning, but clients print them).
_CORK_MAX = 16384  # bytes: a write this large is not held back to be batched
# Rule 6: how long an idle connection must have been quiet before a drain closes it, and
# how soon to look again when bytes wait unread in its socket.
_DRAIN_QUIET = 0.25
_DRAIN_RECHECK = 0.02


class ConnectionBase(asyncio.Protocol, ServerContract):
    """A server connection's state, limits, deadlines and closing (see the module's
    rules); :class:`~.protocol.HTTP1ServerProtocol` is the class to use."""

    __slots__ = (
        "_batch",
        "_body_bytes",
        "_body_sent",
        "_body_timeout",
        "_close_callback",
        "_cork",
        "_deadline",
        "_declared_length",
        "_delegate",
        "_detached",
        "_gate",
        "_head_only",
        "_in_process",
        "_keep_alive",
        "_loop",
        "_max_body_size",
        "_params",
        "_peer_closed",
        "_peer_ip",
        "_rate_bytes",
        "_rate_start",
        "_raw_output",
        "_read_block",
        "_registry",
        "_response_headers",
        "_response_started",
        "_server_delegate",
        "_session",
        "_state",
        "_stream",
        "_timeout_kind",
        "_too_large_status",
        "_upgraded",
        "address",
        "remote_ip",
        "scheme",
        "transport",
    )

    def __init__(
        self,
        params: ServerParams,
        delegate: HTTPServerConnectionDelegate,
        registry: set[Any],
    ) -> None:
        self._params = params
        self._server_delegate = delegate
        self._registry = registry
        loop = self._loop = asyncio.get_running_loop()
        self._session = params.session_class(params.max_header_size, params.max_url_size)
        self._state = IDLE
        self._delegate: HTTPMessageDelegate | None = None
        self._close_callback: Callable[[], None] | None = None
        self._read_block = 0
        self._gate = WriteGate(loop)
        self._deadline = Deadline(loop, self._on_deadline)
        self._timeout_kind = T_NONE
        self._in_process = False
        # Responses written while the read loop runs, sent in one write when it ends:
        # pipelined requests answered by one write (None: write straight through).
        self._cork: list[bytes] | None = None
        self._batch = write_batch(loop)
        self._keep_alive = True
        self._head_only = False
        self._response_started = False
        # The response's head and the body bytes sent after it: only for the wording
        # of a Content-Length mismatch (protocol._broken_response).
        self._response_headers: list[tuple[bytes, bytes]] = []
        self._body_sent = 0
        self._raw_output = False
        self._peer_closed = False
        self._body_bytes = 0
        self._max_body_size = params.max_body_size
        # What a body over _max_body_size is answered: Tornado's 400 for the server's
        # limit and set_max_body_size, a route's own status (413) through limit_body.
        self._too_large_status = 400
        self._body_timeout = params.body_timeout
        # The window over which a body's average rate is judged (min_body_rate).
        self._rate_start = 0.0
        self._rate_bytes = 0
        self._declared_length = 0
        self._upgraded: UpgradedProtocol | None = None
        self._stream: ServerStream | None = None
        # The IOStream the connection became (RequestHandler.detach()), if it did.
        self._detached: IOStream | None = None
        self.transport: asyncio.Transport | None = None
        self.address: Any = None
        self._peer_ip: str | None = None
        self.remote_ip: str | None = None
        self.scheme = params.scheme

    # -- pausing reading ----------------------------------------------------------

    def _block(self, reason: int) -> None:
        if not self._read_block:
            transport = self.transport
            if transport is not None and self._state != CLOSED:
                transport.pause_reading()
        self._read_block |= reason

    def _unblock(self, reason: int) -> None:
        if self._read_block & reason:
            self._read_block &= ~reason
            if not self._read_block:
                transport = self.transport
                if transport is not None and self._state != CLOSED:
                    transport.resume_reading()
                if self._state == BODY:
                    # Time spent not reading was ours, not the client's: judge the
                    # body's silence and rate afresh from here.
                    self._rate_start = self._loop.time()
                    self._rate_bytes = 0
                    if self._timeout_kind == T_BODY:
                        self._set_deadline(T_BODY, self._body_timeout)

    # -- timeouts ---------------------------------------------------------------

    def _set_deadline(self, kind: int, seconds: float | None) -> None:
        if seconds is None:
            self._timeout_kind = T_NONE
            self._deadline.clear()
            return
        self._timeout_kind = kind
        self._deadline.after(seconds)

    def _on_deadline(self) -> None:
        # Setting _timeout_kind to T_NONE alone (a plain assignment on the hot path)
        # leaves the timer armed: it lands here and finds nothing to do.
        kind = self._timeout_kind
        if not kind or (self._state == CLOSED and kind != T_FLUSH):
            return
        if kind == T_BODY and self._read_block & BLOCK_FLOW:
            # The silence is ours (the handler is still busy with the last chunk), not
            # the client's: look again later; reading resumes with a fresh deadline.
            self._set_deadline(T_BODY, self._body_timeout)
            return
        self._timeout_kind = T_NONE
        if kind == T_IDLE:
            self._close()
        elif kind == T_LINGER or kind == T_FLUSH:
            self._abort()
        elif kind == T_DRAIN:
            self._close_idle(quiet=True)
        elif kind == T_WRITE:
            gen_log.info("Closing connection to %s: client is not reading", self._peer_ip)
            self._notify_close()
            self._abort()
        else:
            self._protocol_error(408, "headers" if kind == T_HEADER else "body")

    # -- writing ----------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        """Write ``data`` to the transport, or to the cork while the read loop runs."""
        cork = self._cork
        if cork is None or len(data) >= _CORK_MAX:
            # A large answer goes at once, so the transport's flow control sees it.
            if cork:
                self._uncork()
                self._cork = []
            transport = self.transport
            if transport is not None:
                transport.write(data)
            return
        cork.append(data)
        if len(cork) >= 32:
            self._uncork()  # bounded: a long pipeline flushes as it goes
            self._cork = []

    def _uncork(self) -> None:
        """Send what the cork holds, in one write."""
        cork = self._cork
        if cork is not None:
            self._cork = None
            transport = self.transport
            if cork and transport is not None:
                transport.write(cork[0] if len(cork) == 1 else b"".join(cork))

    # -- closing ----------------------------------------------------------------

    def _notify_close(self) -> None:
        callback = self._close_callback
        delegate = self._delegate
        self._close_callback = None
        self._delegate = None
        notify_close(callback, delegate)

    def _stream_closed(self) -> None:
        # Tornado's ``connection.stream`` close callback: the connection is gone (or
        # the peer has said it will send nothing more), not merely this request.
        stream = self._stream
        if stream is not None:
            stream._run_close_callback()

    def _close(self) -> None:
        self._uncork()
        transport = self.transport
        if transport is not None and self._state != CLOSED:
            self._state = CLOSED
            transport.close()
            if transport.get_write_buffer_size():
                # close() waits for the queued output to be sent; a peer that never
                # reads would hold the connection (and its buffer) forever.
                self._set_deadline(T_FLUSH, self._params.idle_connection_timeout)

    def _abort(self) -> None:
        self._cork = None
        transport = self.transport
        if transport is not None:
            self._state = CLOSED
            transport.abort()

    def _protocol_error(self, status: int, message: str, incomplete: bool = False) -> None:
        # Tornado's log lines (its users filter on them); the status is the RFCs'.
        if status == 408:
            gen_log.info("Timeout reading %s from %s (408)", message, self._peer_ip)
        elif status == 431 or status == 414:
            # Tornado's words for a head that outgrows its buffer.
            gen_log.info("Unsatisfiable read, closing connection: %s (%d)", message, status)
        elif status == 413:
            gen_log.info("Request body too large from %s: %s (413)", self._peer_ip, message)
        elif incomplete:
            # The client closed mid-request: it left, rather than sent something wrong
            # (Tornado says nothing). It may still read the answer of a half-close.
            gen_log.debug("Incomplete request from %s: %s (%d)", self._peer_ip, message, status)
        elif status != 500:
            gen_log.info("Malformed HTTP message from %s: %s (%d)", self._peer_ip, message, status)
        if self._state == HANDLING or self._response_started:
            # The application already owns the response; only the connection can go.
            self._notify_close()
            self._close()
            return
        self._notify_close()
        data = self._session.error_response(status, reason_phrase(status))
        if self.transport is None:
            return
        if data:
            self._write(data)
        self._linger()

    def _close_idle(self, quiet: bool = False) -> None:
        """Graceful drain: close this connection if it is idle, has been quiet long
        enough (``quiet``: it has) and has nothing unread; else look again later (rule
        6). A request that arrives meanwhile makes it busy, and its response closes it."""
        if self._state != IDLE or self._session.has_buffered_data:
            return
        wait = 0.0 if quiet else _DRAIN_QUIET
        when = self._deadline.when
        if not quiet and self._timeout_kind == T_IDLE and when is not None:
            # Idle since the idle deadline was set: that deadline less the timeout.
            idle_since = when - self._params.idle_connection_timeout
            wait = idle_since + _DRAIN_QUIET - self._loop.time()
        if wait <= 0 and not _unread_bytes(self.transport):
            self._close()
            return
        self._set_deadline(T_DRAIN, max(wait, _DRAIN_RECHECK))

    def _linger(self) -> None:
        # Half-close and keep reading (discarding) briefly so the peer, which may still be
        # sending a body, reads our answer instead of a connection reset.
        self._uncork()
        transport = self.transport
        if transport is None or self._state == CLOSED:
            return
        if not transport.can_write_eof():
            self._close()
            return
        self._state = CLOSING
        transport.write_eof()
        self._read_block = 0
        transport.resume_reading()
        self._set_deadline(T_LINGER, _LINGER_SECONDS)


def _unread_bytes(transport: asyncio.Transport | None) -> int:
    """How many bytes have arrived on ``transport``'s socket and wait to be read (0 where
    that cannot be asked)."""
    if transport is None or sys.platform == "win32":
        return 0
    sock = transport.get_extra_info("socket")
    if sock is None:
        return 0
    try:
        raw = fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0")
    except (OSError, ValueError):
        return 0
    return int(struct.unpack("i", raw)[0])
