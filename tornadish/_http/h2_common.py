"""What the two HTTP/2 sessions on h2 share: the server's (:mod:`.h2_session`) and the
client's (:mod:`.h2_client`).

Rules of this module:

1. Sans-IO, as both sessions are: nothing here reads a clock or touches a socket.
2. The events both sides report in the same words live here (body data, the end of a
   message, a reset, a window that opened, the peer's GOAWAY), and so does turning h2's
   events into them (:func:`common_event`); each session adds the ones only its side
   has (a request head, a response head, a PING answer...).
3. :class:`H2SessionBase` is the sending half both sides drive the same way: body data
   as the peer's windows allow, acknowledgements, resets, GOAWAY. A stream the peer
   closed meanwhile is not an error here: the peer's RST_STREAM, already on its way,
   says so as an event. Its :meth:`~H2SessionBase._receive` is the receiving half's
   first step on both sides: h2's events for the peer's bytes, or the side's
   :class:`H2Error` once h2 has queued its GOAWAY.
4. Receive windows, the same on both sides. Each stream has its own window (our
   ``SETTINGS_INITIAL_WINDOW_SIZE``, S), and what arrives is acknowledged only once
   consumed (:meth:`H2SessionBase.ack`), so a stream whose consumer stalls holds at
   most S. The connection's window is opened at once, after the preface, to
   :func:`connection_window` of the N streams the peer may have open: otherwise it is
   the RFC's 65,535 bytes, one stream's worth, and one stalled stream shuts it for
   every other (head-of-line blocking across streams, which HTTP/2 exists to avoid).
   It is no memory reservation: the connection's credit too comes back only as data
   is consumed, so a peer can make us hold at most min(N x S, the connection window)
   of unconsumed data (N x S = 6.25 MiB with the server's defaults, 100 x 64 KiB).
   Data on a stream that is gone is acknowledged at once (h2 does it for a closed
   stream; the glue for one it dropped), so nothing leaks the connection's window.
"""

from __future__ import annotations

from collections import deque
from typing import ClassVar

import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings

__all__ = [
    "CANCEL",
    "CONNECTION_HEADERS",
    "CONNECTION_WINDOW_CAP",
    "DEFAULT_WINDOW",
    "ENHANCE_YOUR_CALM",
    "NO_ERROR",
    "PROTOCOL_ERROR",
    "REFUSED_STREAM",
    "CommonEvent",
    "Data",
    "End",
    "GoneAway",
    "H2Error",
    "H2SessionBase",
    "Reset",
    "WindowOpen",
    "common_event",
    "connection_window",
    "take",
]

NO_ERROR = int(h2.errors.ErrorCodes.NO_ERROR)
PROTOCOL_ERROR = int(h2.errors.ErrorCodes.PROTOCOL_ERROR)
CANCEL = int(h2.errors.ErrorCodes.CANCEL)
REFUSED_STREAM = int(h2.errors.ErrorCodes.REFUSED_STREAM)
ENHANCE_YOUR_CALM = int(h2.errors.ErrorCodes.ENHANCE_YOUR_CALM)

#: Headers that mean something only to one HTTP/1.1 connection (RFC 9113 §8.2.2): a
#: message must not carry them over HTTP/2 (lower case).
CONNECTION_HEADERS = frozenset(
    (b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade")
)


#: A window's size until SETTINGS or WINDOW_UPDATE say otherwise (RFC 9113 §6.9.2); a
#: connection's stays this until a WINDOW_UPDATE opens it.
DEFAULT_WINDOW = 65535
#: The most :func:`connection_window` opens a connection's receive window to: h2o's
#: connection window. Past N x S it also caps what one connection can make us hold
#: (rule 4), and it covers the bandwidth-delay product of 1 Gbit/s at 130 ms.
CONNECTION_WINDOW_CAP = 16 << 20


def connection_window(streams: int, stream_window: int) -> int:
    """The receive window for a connection whose peer may have ``streams`` streams open
    at once, each with a window of ``stream_window`` bytes (rule 4): twice what they can
    hold, within :data:`DEFAULT_WINDOW` and :data:`CONNECTION_WINDOW_CAP`.

    Twice, because h2 gives the connection's credit back only once half its window was
    consumed (or all of it): up to half can be consumed and not yet re-credited. With
    twice N x S, a stream that moves still finds a whole stream window open while all
    the others are stalled and full. (nginx and Apache open it to 2 GiB at once and
    bound memory by the streams' windows; Go's server leaves it at 1 MiB for up to 250
    streams of 1 MiB each, so one slow upload can stall the others.)"""
    return max(DEFAULT_WINDOW, min(2 * streams * stream_window, CONNECTION_WINDOW_CAP))


class Data:
    """A piece of a message body on ``stream_id``; ``flow_length`` (padding included)
    is what to :meth:`H2SessionBase.ack` once it is consumed."""

    __slots__ = ("data", "flow_length", "stream_id")

    def __init__(self, stream_id: int, data: bytes, flow_length: int) -> None:
        self.stream_id = stream_id
        self.data = data
        self.flow_length = flow_length


class End:
    """The message on ``stream_id`` is complete."""

    __slots__ = ("stream_id",)

    def __init__(self, stream_id: int) -> None:
        self.stream_id = stream_id


class Reset:
    """The peer reset ``stream_id`` (RST_STREAM) with ``code``."""

    __slots__ = ("code", "stream_id")

    def __init__(self, stream_id: int, code: int) -> None:
        self.stream_id = stream_id
        self.code = code


class WindowOpen:
    """The peer opened its window for ``stream_id`` (0: the connection's, or its
    initial window changed: every stream may send again)."""

    __slots__ = ("stream_id",)

    def __init__(self, stream_id: int) -> None:
        self.stream_id = stream_id


class GoneAway:
    """The peer sent GOAWAY with ``code`` (0: a graceful close): no stream of ours past
    ``last_stream_id`` was or will be processed (RFC 9113 §6.8)."""

    __slots__ = ("code", "last_stream_id")

    def __init__(self, code: int, last_stream_id: int) -> None:
        self.code = code
        self.last_stream_id = last_stream_id


#: The events both sides report (rule 2); each session's ``Event`` adds its own.
CommonEvent = Data | End | Reset | WindowOpen | GoneAway


class H2Error(Exception):
    """The connection is over (the peer broke the protocol, or abused it): a GOAWAY
    with ``code`` is queued (send it, then close)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def common_event(ev: h2.events.Event) -> End | Reset | WindowOpen | GoneAway | None:
    """What h2's ``ev`` says in the words both sides use (rule 2); None for an event a
    side reads for itself, or one that needs no word from us."""
    if isinstance(ev, h2.events.StreamEnded):
        assert ev.stream_id is not None
        return End(ev.stream_id)
    if isinstance(ev, h2.events.StreamReset):
        assert ev.stream_id is not None
        return Reset(ev.stream_id, int(ev.error_code or 0))
    if isinstance(ev, h2.events.WindowUpdated):
        return WindowOpen(ev.stream_id or 0)
    if isinstance(ev, h2.events.RemoteSettingsChanged):
        # A new initial window changes every stream's: each may send again.
        if h2.settings.SettingCodes.INITIAL_WINDOW_SIZE in ev.changed_settings:
            return WindowOpen(0)
        return None
    if isinstance(ev, h2.events.ConnectionTerminated):
        return GoneAway(int(ev.error_code or 0), ev.last_stream_id or 0)
    return None


class H2SessionBase:
    """The sending half of an HTTP/2 session on h2, and the first step of its receiving
    half (see the module's rules); ``_h2`` is the h2 connection, made by the subclass,
    ``_error`` the error its side raises."""

    __slots__ = ("_h2",)

    _h2: h2.connection.H2Connection
    _error: ClassVar[type[H2Error]]

    def _receive(self, data: bytes) -> list[h2.events.Event]:
        """h2's events for ``data`` from the peer. Raises ``_error`` on a connection
        error (h2 has queued its GOAWAY)."""
        try:
            return self._h2.receive_data(data)
        except h2.exceptions.ProtocolError as e:
            raise self._error(int(e.error_code), str(e) or type(e).__name__) from None

    def data_to_send(self) -> bytes:
        """The bytes to write to the peer now."""
        return self._h2.data_to_send()

    def open_connection_window(self, size: int) -> None:
        """Open the connection's receive window to ``size`` bytes (rule 4): a
        WINDOW_UPDATE on stream 0, queued after the preface (call it after h2's
        ``initiate_*``)."""
        increment = size - self._h2.inbound_flow_control_window
        if increment > 0:
            self._h2.increment_flow_control_window(increment)

    def sendable(self, stream_id: int) -> int:
        """How many body bytes the windows let us send on ``stream_id`` now."""
        try:
            return self._h2.local_flow_control_window(stream_id)
        except (h2.exceptions.ProtocolError, KeyError):
            return 0

    def send_body(self, stream_id: int, data: memoryview, end: bool) -> bool:
        """Queue ``data`` (no more than :meth:`sendable` allows) in frames of the peer's
        maximum size; ``end`` ends the stream. False if the stream is closed (the
        peer reset it meanwhile: its :class:`Reset` says so)."""
        conn = self._h2
        step = conn.max_outbound_frame_size
        size = len(data)
        pos = 0
        try:
            while pos < size:
                piece = data[pos : pos + step]
                pos += len(piece)
                conn.send_data(stream_id, piece, end_stream=end and pos >= size)
            if end and not size:
                conn.end_stream(stream_id)
        except h2.exceptions.ProtocolError:
            return False
        return True

    def ack(self, stream_id: int, length: int) -> None:
        """``length`` flow-controlled bytes of ``stream_id`` were consumed: let the peer
        send as much again (h2 sends WINDOW_UPDATE when it is worth a frame)."""
        if length:
            try:
                self._h2.acknowledge_received_data(length, stream_id)
            except h2.exceptions.ProtocolError:
                pass  # the stream closed meanwhile: h2 credits the connection's share

    def reset(self, stream_id: int, code: int = CANCEL) -> None:
        """Reset ``stream_id`` (RST_STREAM with ``code``), if it is not closed already."""
        try:
            self._h2.reset_stream(stream_id, code)
        except h2.exceptions.ProtocolError:
            pass  # closed on both sides already, or never opened

    def goaway(self, code: int = NO_ERROR) -> None:
        """Queue GOAWAY with ``code`` and the last stream the peer opened (RFC 9113
        §6.8); the connection is then done."""
        try:
            self._h2.close_connection(code)
        except h2.exceptions.ProtocolError:
            pass  # the connection is closed already


def take(out: deque[memoryview], room: int) -> memoryview:
    """The next piece of a queued body that fits in ``room`` bytes of window (``out``
    not empty, ``room`` > 0), taken off ``out``."""
    piece = out[0]
    if len(piece) > room:
        out[0] = piece[room:]
        return piece[:room]
    out.popleft()
    return piece
