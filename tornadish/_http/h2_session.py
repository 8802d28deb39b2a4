"""The HTTP/2 server session on h2: frames in, a few small per-stream events out; answers
in, frames out.

Rules of this module:

1. Sans-IO: bytes go in (:meth:`H2Session.receive_data`), events come out, and what
   the session has to say is taken with :meth:`H2Session.data_to_send`. The clock is
   passed in, so the Rapid Reset rule is tested without waiting.
2. h2 does the protocol (framing, HPACK, stream states, flow-control accounting, header
   validation, the CONTINUATION backlog, SETTINGS and PING acknowledgements); nothing
   here parses a frame or touches h2's private state. A connection error h2 finds is
   raised as :class:`H2ConnectionError` once h2 has queued its GOAWAY.
3. The events are the server's vocabulary, as :mod:`tornadish._http.session` is for
   HTTP/1.1: a request head (pseudo-headers taken apart, cookies rejoined), body data
   with the flow-controlled length to acknowledge once consumed, the end of a request,
   a reset, a window that opened, the peer's GOAWAY.
4. Request data is acknowledged only when the glue says it was consumed
   (:meth:`H2Session.ack`): the peer's window is the backpressure on an upload.
"""

from __future__ import annotations

from collections import deque

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import hyperframe.frame

__all__ = [
    "ENHANCE_YOUR_CALM",
    "Body",
    "End",
    "GoneAway",
    "H2ConnectionError",
    "H2OutputError",
    "H2Session",
    "Head",
    "Reset",
    "WindowOpen",
]

NO_ERROR = int(h2.errors.ErrorCodes.NO_ERROR)
PROTOCOL_ERROR = int(h2.errors.ErrorCodes.PROTOCOL_ERROR)
CANCEL = int(h2.errors.ErrorCodes.CANCEL)
REFUSED_STREAM = int(h2.errors.ErrorCodes.REFUSED_STREAM)
ENHANCE_YOUR_CALM = int(h2.errors.ErrorCodes.ENHANCE_YOUR_CALM)

# Headers that mean something only to one HTTP/1.1 connection (RFC 9113 §8.2.2): a
# response must not carry them over HTTP/2.
_CONNECTION_HEADERS = frozenset(
    (b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade")
)


class Head:
    """A request's head: the pseudo-headers taken apart, the other headers as they came
    (``cookie`` crumbs rejoined, RFC 9113 §8.2.3); ``ended`` when it has no body."""

    __slots__ = ("authority", "ended", "headers", "method", "scheme", "stream_id", "target")

    def __init__(
        self,
        stream_id: int,
        method: str,
        target: str,
        authority: str | None,
        scheme: str | None,
        headers: list[tuple[bytes, bytes]],
        ended: bool,
    ) -> None:
        self.stream_id = stream_id
        self.method = method
        self.target = target
        self.authority = authority
        self.scheme = scheme
        self.headers = headers
        self.ended = ended


class Body:
    """A piece of a request body; ``flow_length`` (padding included) is what to
    :meth:`H2Session.ack` once it is consumed."""

    __slots__ = ("data", "flow_length", "stream_id")

    def __init__(self, stream_id: int, data: bytes, flow_length: int) -> None:
        self.stream_id = stream_id
        self.data = data
        self.flow_length = flow_length


class End:
    """The request on ``stream_id`` is complete."""

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
    """The peer sent GOAWAY: no stream past ``last_stream_id`` will be answered."""

    __slots__ = ("code", "last_stream_id")

    def __init__(self, code: int, last_stream_id: int) -> None:
        self.code = code
        self.last_stream_id = last_stream_id


Event = Head | Body | End | Reset | WindowOpen | GoneAway


class H2ConnectionError(Exception):
    """The connection is over: a GOAWAY with ``code`` is queued (send it, then close)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class H2OutputError(Exception):
    """h2 refused what we asked it to send (a header it does not allow, a closed
    stream): nothing of it was queued."""


class H2Session:
    """One server-side HTTP/2 connection (see the module's rules).

    ``max_concurrent_streams`` and ``max_header_list_size`` are advertised in our
    SETTINGS (h2 enforces them: a stream over the limit, or a header block that decodes
    larger, is a connection error). Rapid Reset (CVE-2023-44487): a peer that resets
    more than ``max_resets`` streams within ``reset_window`` seconds is sent GOAWAY
    ``ENHANCE_YOUR_CALM``.
    """

    __slots__ = (
        "_going_away",
        "_h2",
        "_max_resets",
        "_pending",
        "_refused",
        "_reset_window",
        "_resets",
    )

    def __init__(
        self,
        *,
        max_concurrent_streams: int = 100,
        max_header_list_size: int = 65536,
        initial_window_size: int = 65535,
        max_resets: int = 200,
        reset_window: float = 10.0,
    ) -> None:
        config = h2.config.H2Configuration(client_side=False, header_encoding=None)
        self._h2 = conn = h2.connection.H2Connection(config=config)
        conn.local_settings = h2.settings.Settings(
            client=False,
            initial_values={
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: max_concurrent_streams,
                h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: max_header_list_size,
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: initial_window_size,
                h2.settings.SettingCodes.ENABLE_PUSH: 0,
            },
        )
        self._max_resets = max_resets
        self._reset_window = reset_window
        self._resets: deque[float] = deque()
        # Streams refused after our graceful GOAWAY: their events are dropped.
        self._refused: set[int] = set()
        # The last stream our graceful GOAWAY named (None: not sent), and bytes of ours
        # queued before h2's next output.
        self._going_away: int | None = None
        self._pending = b""

    def initiate(self, upgrade_settings: bytes | None = None) -> None:
        """Queue our preface (SETTINGS); ``upgrade_settings`` is the client's
        ``HTTP2-Settings`` header after ``Upgrade: h2c`` (stream 1 is then its request)."""
        if upgrade_settings is None:
            self._h2.initiate_connection()
        else:
            self._h2.initiate_upgrade_connection(upgrade_settings)

    def receive_data(self, data: bytes, now: float) -> list[Event]:
        """Feed bytes from the peer; returns the events they complete. Raises
        :class:`H2ConnectionError` on a connection error (a GOAWAY is queued)."""
        try:
            raw = self._h2.receive_data(data)
        except h2.exceptions.ProtocolError as e:
            return self._fail(int(e.error_code), str(e) or type(e).__name__)
        events: list[Event] = []
        refused = self._refused
        for ev in raw:
            sid = getattr(ev, "stream_id", None)
            if refused and sid in refused:
                if isinstance(ev, h2.events.DataReceived):
                    self.ack(sid, ev.flow_controlled_length or 0)  # the connection's share
                continue
            if isinstance(ev, h2.events.DataReceived):
                assert ev.stream_id is not None and ev.data is not None
                events.append(Body(ev.stream_id, ev.data, ev.flow_controlled_length or 0))
            elif isinstance(ev, h2.events.RequestReceived):
                assert ev.stream_id is not None
                if self._going_away is not None and ev.stream_id > self._going_away:
                    # Past our GOAWAY (RFC 9113 §6.8): refused, the client may retry it.
                    refused.add(ev.stream_id)
                    self.reset(ev.stream_id, REFUSED_STREAM)
                    continue
                head = self._head(ev)
                if head is not None:
                    events.append(head)
            elif isinstance(ev, h2.events.StreamEnded):
                assert ev.stream_id is not None
                events.append(End(ev.stream_id))
            elif isinstance(ev, h2.events.StreamReset):
                assert ev.stream_id is not None
                if ev.remote_reset:
                    self._count_reset(now)
                events.append(Reset(ev.stream_id, int(ev.error_code or 0)))
            elif isinstance(ev, h2.events.WindowUpdated):
                events.append(WindowOpen(ev.stream_id or 0))
            elif isinstance(ev, h2.events.RemoteSettingsChanged):
                if h2.settings.SettingCodes.INITIAL_WINDOW_SIZE in ev.changed_settings:
                    events.append(WindowOpen(0))
            elif isinstance(ev, h2.events.ConnectionTerminated):
                events.append(GoneAway(int(ev.error_code or 0), ev.last_stream_id or 0))
        return events

    def _head(self, ev: h2.events.RequestReceived) -> Head | None:
        stream_id = ev.stream_id
        assert stream_id is not None
        method = target = authority = scheme = None
        headers: list[tuple[bytes, bytes]] = []
        cookies: list[bytes] = []
        for name, value in ev.headers or ():
            name, value = bytes(name), bytes(value)
            if name[:1] == b":":
                if name == b":method":
                    method = value.decode("latin-1")
                elif name == b":path":
                    target = value.decode("latin-1")
                elif name == b":authority":
                    authority = value.decode("latin-1")
                elif name == b":scheme":
                    scheme = value.decode("latin-1")
            elif name == b"cookie":
                cookies.append(value)
            else:
                headers.append((name, value))
        if cookies:
            headers.append((b"cookie", b"; ".join(cookies)))
        if method is None or target is None:
            # CONNECT (no :path) is not served: a stream error, not a connection one.
            self.reset(stream_id, PROTOCOL_ERROR)
            return None
        ended = ev.stream_ended is not None
        return Head(stream_id, method, target, authority, scheme, headers, ended)

    def _count_reset(self, now: float) -> None:
        resets = self._resets
        resets.append(now)
        horizon = now - self._reset_window
        while resets and resets[0] < horizon:
            resets.popleft()
        if len(resets) > self._max_resets:
            self.goaway(ENHANCE_YOUR_CALM)
            raise H2ConnectionError(ENHANCE_YOUR_CALM, "too many streams reset (Rapid Reset)")

    def _fail(self, code: int, message: str) -> list[Event]:
        raise H2ConnectionError(code, message)

    # -- sending -------------------------------------------------------------------

    def data_to_send(self) -> bytes:
        """The bytes to write to the peer now."""
        pending = self._pending
        if pending:
            self._pending = b""
            return pending + self._h2.data_to_send()
        return self._h2.data_to_send()

    def send_head(
        self, stream_id: int, status: int, headers: list[tuple[bytes, bytes]], end: bool
    ) -> None:
        """Queue a response head; connection-specific headers are dropped and names
        lowercased (RFC 9113 §8.2)."""
        block = [(b":status", str(status).encode())]
        for name, value in headers:
            name = name.lower()
            if name not in _CONNECTION_HEADERS:
                block.append((name, value))
        try:
            self._h2.send_headers(stream_id, block, end_stream=end)
        except (h2.exceptions.ProtocolError, ValueError, TypeError) as e:
            raise H2OutputError(str(e) or type(e).__name__) from None

    def sendable(self, stream_id: int) -> int:
        """How many body bytes the windows let us send on ``stream_id`` now."""
        try:
            return self._h2.local_flow_control_window(stream_id)
        except (h2.exceptions.StreamClosedError, KeyError):
            return 0

    def send_body(self, stream_id: int, data: memoryview, end: bool) -> None:
        """Queue ``data`` (no more than :meth:`sendable` allows) in frames of the peer's
        maximum size; ``end`` ends the stream."""
        step = self._h2.max_outbound_frame_size
        size = len(data)
        pos = 0
        try:
            while pos < size:
                piece = data[pos : pos + step]
                pos += len(piece)
                self._h2.send_data(stream_id, piece, end_stream=end and pos >= size)
            if end and not size:
                self._h2.end_stream(stream_id)
        except h2.exceptions.ProtocolError:
            pass  # the peer reset the stream meanwhile: its Reset event says so

    def send_informational(self, stream_id: int, status: int) -> None:
        """Queue a 1xx head (``100 Continue``) on ``stream_id``."""
        try:
            self._h2.send_headers(stream_id, [(b":status", str(status).encode())])
        except h2.exceptions.ProtocolError:
            pass  # the stream is gone: nobody waits for the 100

    def ack(self, stream_id: int, length: int) -> None:
        """``length`` flow-controlled bytes of ``stream_id`` were consumed: let the peer
        send as much again (h2 sends WINDOW_UPDATE when it is worth a frame)."""
        if length:
            self._h2.acknowledge_received_data(length, stream_id)

    def reset(self, stream_id: int, code: int = CANCEL) -> None:
        """Reset ``stream_id`` (RST_STREAM with ``code``), if it is not closed already."""
        try:
            self._h2.reset_stream(stream_id, code)
        except h2.exceptions.StreamClosedError:
            pass
        except h2.exceptions.ProtocolError:
            pass  # (already closed on both sides, or never opened)

    def goaway(self, code: int = NO_ERROR) -> None:
        """Queue GOAWAY with ``code`` and the last stream we took (RFC 9113 §6.8)."""
        try:
            self._h2.close_connection(code)
        except h2.exceptions.ProtocolError:
            pass  # the connection is closed already

    def graceful_goaway(self) -> int:
        """Queue GOAWAY ``NO_ERROR`` naming the last stream taken, and keep the
        connection open for the streams in flight; later streams are refused. Returns
        that last stream id.

        (h2's ``close_connection`` would close its state machine, and the streams in
        flight could not finish: the frame is made with hyperframe, h2's own framing
        library, and queued after h2's output so far.)
        """
        if self._going_away is None:
            last = self._going_away = self._h2.highest_inbound_stream_id
            frame = hyperframe.frame.GoAwayFrame(0, last_stream_id=last, error_code=NO_ERROR)
            self._pending += self._h2.data_to_send() + frame.serialize()
        return self._going_away

    @property
    def going_away(self) -> bool:
        """True once a graceful GOAWAY was queued."""
        return self._going_away is not None

    @property
    def last_stream_id(self) -> int:
        """The highest stream the peer opened (what GOAWAY names)."""
        return self._h2.highest_inbound_stream_id
