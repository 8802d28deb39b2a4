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
   HTTP/1.1 (those the client's session says too are :mod:`.h2_common`'s, as is the
   sending half): a request head (pseudo-headers taken apart, cookies rejoined), body
   data with the flow-controlled length to acknowledge once consumed, the end of a
   request, a reset, a window that opened, the peer's GOAWAY.
4. Request data is acknowledged only when the glue says it was consumed
   (:meth:`H2Session.ack`): the stream's window is the backpressure on an upload. The
   connection's window is opened in our preface to cover every stream's
   (:mod:`.h2_common`, rule 4), so one stalled upload never holds up the others, and
   the unconsumed data a client can make us hold stays within
   ``max_concurrent_streams`` x ``initial_window_size`` (6.25 MiB by default).
5. Limits are enforced where h2 cannot without a connection error, so that a client
   over a limit loses one stream, not its connection: h2 is given hard caps (twice the
   advertised header list size, twice the advertised concurrent streams) past which it
   fails the connection, and the advertised limits are answered per stream here (a
   431, REFUSED_STREAM from the glue). HPACK stays in step because h2 decoded the
   block either way. Abuse that costs us work without producing requests (resets,
   PINGs, SETTINGS, empty DATA frames) is counted in :class:`Budget` windows and
   answered with GOAWAY ``ENHANCE_YOUR_CALM`` past its rate.
6. A response's header fields are judged here, by HTTP/1.1's rules
   (:mod:`tornadish._http.session`: token names, no control character but HTAB in a
   value, no whitespace around it), names lower-cased and connection-specific fields
   dropped (RFC 9113 §8.2); h2's own outbound normalization and validation are off.
   A bad field raises :class:`H2OutputError` before anything is queued, so the web
   layer answers 500, as over HTTP/1.1, instead of a malformed response on the wire.
   Each field is judged once (bounded caches): most responses repeat the same ones.
"""

from __future__ import annotations

import re

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import hyperframe.exceptions
import hyperframe.frame
from hpack import NeverIndexedHeaderTuple

from tornadish._http.h2_common import (
    CANCEL,
    CONNECTION_HEADERS,
    ENHANCE_YOUR_CALM,
    NO_ERROR,
    PROTOCOL_ERROR,
    REFUSED_STREAM,
    CommonEvent,
    Data,
    End,
    GoneAway,
    H2Error,
    H2SessionBase,
    Reset,
    WindowOpen,
    common_event,
    connection_window,
)

__all__ = [
    "CANCEL",
    "ENHANCE_YOUR_CALM",
    "NO_ERROR",
    "Budget",
    "Data",
    "End",
    "GoneAway",
    "H2ConnectionError",
    "H2OutputError",
    "H2Session",
    "Head",
    "PingAck",
    "Reset",
    "WindowOpen",
]

_S = h2.settings.SettingCodes
# RFC 9113 §6.5.2: the size of a header list counts each field's name and value, and
# 32 octets more for it.
_FIELD_OVERHEAD = 32

# What a response must not carry over HTTP/2 (RFC 9113 §8.2.2): the headers of one
# HTTP/1.1 connection, and TE, which only a request may carry.
_CONNECTION_HEADERS = CONNECTION_HEADERS | {b"te"}
# Rule 6: HTTP/1.1's rules for a field we send (tornadish._http.session).
_TOKEN = re.compile(rb"[-!#$%&'*+.^_`|~0-9a-zA-Z]+")
_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]|^[ \t]|[ \t]$")
# Kept out of HPACK's dynamic table, as h2's own normalization would (RFC 7541 §7.1.3).
_NEVER_INDEXED = frozenset((b"authorization", b"proxy-authorization"))
# The caches of rule 6 (module state, but only caches, bounded): a sent field by the
# pair the web layer gave; a name's lower-case form; a status's pseudo-header.
_DROP: tuple[bytes, bytes] = (b"", b"")  # a connection-specific field: not sent
_FIELDS: dict[tuple[bytes, bytes], tuple[bytes, bytes]] = {}
_FIELDS_LIMIT = 4096
_LOWER: dict[bytes, bytes] = {}
_STATUS: dict[int, tuple[bytes, bytes]] = {}


class Head:
    """A request's head: the pseudo-headers taken apart, the other headers as they came
    (``cookie`` crumbs rejoined, RFC 9113 §8.2.3); ``ended`` when it has no body;
    ``protocol`` the ``:protocol`` of an extended CONNECT (RFC 8441), else None."""

    __slots__ = (
        "authority",
        "ended",
        "headers",
        "method",
        "protocol",
        "scheme",
        "stream_id",
        "target",
    )

    def __init__(
        self,
        stream_id: int,
        method: str,
        target: str,
        authority: str | None,
        scheme: str | None,
        headers: list[tuple[bytes, bytes]],
        ended: bool,
        protocol: str | None = None,
    ) -> None:
        self.stream_id = stream_id
        self.method = method
        self.target = target
        self.authority = authority
        self.scheme = scheme
        self.headers = headers
        self.ended = ended
        self.protocol = protocol


class PingAck:
    """The peer acknowledged our PING carrying ``data``."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


Event = Head | PingAck | CommonEvent


class H2ConnectionError(H2Error):
    """The connection is over: a GOAWAY with ``code`` is queued (send it, then close)."""


class H2OutputError(Exception):
    """h2 refused what we asked it to send (a header it does not allow, a closed
    stream): nothing of it was queued."""


def _status_field(status: int) -> tuple[bytes, bytes]:
    if not isinstance(status, int) or not 100 <= status <= 999:
        raise H2OutputError(f"illegal status {status!r}")
    field = _STATUS[status] = (b":status", b"%d" % status)
    return field


def _new_field(pair: tuple[bytes, bytes]) -> tuple[bytes, bytes]:
    """The field to send for ``pair`` (``_DROP``: none), judged by rule 6 and kept for
    the next response."""
    try:
        name, value = pair
        lname = _LOWER.get(name)
        if lname is None:
            if _TOKEN.fullmatch(name) is None:
                raise H2OutputError(f"illegal header name {name!r}")
            lname = name.lower()
            if len(_LOWER) < 1024:
                _LOWER[name] = lname
        if lname in _CONNECTION_HEADERS:
            field = _DROP
        elif _BAD_VALUE.search(value) is not None:
            raise H2OutputError(f"illegal header value {value!r}")
        elif lname in _NEVER_INDEXED:
            field = NeverIndexedHeaderTuple(lname, value)
        else:
            field = (lname, value)
    except (TypeError, ValueError):  # not a pair of bytes
        raise H2OutputError(f"illegal header {pair!r}") from None
    fields = _FIELDS
    if len(fields) >= _FIELDS_LIMIT:
        fields.clear()  # bounded: values such as ETags never repeat
    fields[pair] = field
    return field


class Budget:
    """At most ``limit`` events in each ``window`` seconds (fixed windows: two numbers
    per connection; a burst across a window's edge may reach twice the limit)."""

    __slots__ = ("_count", "_start", "limit", "window")

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._count = 0
        self._start = float("-inf")

    def spend(self, now: float, n: int = 1) -> bool:
        """Count ``n`` events at ``now``; False once the window's limit is passed."""
        if now - self._start >= self.window:
            self._start = now
            self._count = 0
        self._count += n
        return self._count <= self.limit


class H2Session(H2SessionBase):
    """One server-side HTTP/2 connection (see the module's rules).

    Advertised in our SETTINGS: ``max_concurrent_streams`` (the glue refuses a stream
    past it with :meth:`refuse`; h2 fails the connection past twice it),
    ``initial_window_size`` (each stream's receive window; the connection's is opened
    to :func:`~.h2_common.connection_window` of the two, rule 4),
    ``max_header_list_size`` (a request over it is answered 431 and its stream closed;
    one decoding past twice it, an HPACK bomb, is a connection error
    ``ENHANCE_YOUR_CALM``), ``max_frame_size`` (a larger frame is a connection error
    ``FRAME_SIZE_ERROR``). Rapid Reset (CVE-2023-44487):
    more than ``max_resets`` streams reset by the peer or refused by us within
    ``window`` seconds is answered GOAWAY ``ENHANCE_YOUR_CALM``; so are more than
    ``max_control_frames`` PINGs, SETTINGS and empty DATA frames (the 2019 PING,
    SETTINGS and empty-frame floods, CVE-2019-9512/9515/9518). h2 itself refuses a
    header block of more than 64 CONTINUATION frames (PROTOCOL_ERROR).
    """

    __slots__ = (
        "_connection_window",
        "_control",
        "_going_away",
        "_limits",
        "_max_header_list",
        "_pending",
        "_resets",
    )

    _error = H2ConnectionError

    def __init__(
        self,
        *,
        max_concurrent_streams: int = 100,
        max_header_list_size: int = 65536,
        max_frame_size: int = 16384,
        initial_window_size: int = 65535,
        max_resets: int = 200,
        max_control_frames: int = 1000,
        window: float = 10.0,
    ) -> None:
        config = h2.config.H2Configuration(
            client_side=False,
            header_encoding=None,
            # Rule 6: the fields are judged here, once each.
            validate_outbound_headers=False,
            normalize_outbound_headers=False,
        )
        self._h2 = conn = h2.connection.H2Connection(config=config)
        advertised = {
            _S.MAX_CONCURRENT_STREAMS: max_concurrent_streams,
            _S.MAX_HEADER_LIST_SIZE: max_header_list_size,
            _S.MAX_FRAME_SIZE: max_frame_size,
            _S.INITIAL_WINDOW_SIZE: initial_window_size,
            _S.ENABLE_PUSH: 0,
            # RFC 8441: extended CONNECT (WebSockets over HTTP/2) is understood.
            _S.ENABLE_CONNECT_PROTOCOL: 1,
        }
        conn.local_settings = h2.settings.Settings(client=False, initial_values=advertised)
        # What h2 enforces itself (rule 5). Its settings object is read for the stream
        # limit, once our SETTINGS are sent (see initiate); the frame size and header
        # list limits are its own public attributes, set from the settings only when
        # the peer acknowledges a change.
        self._limits = dict(advertised)
        self._limits[_S.MAX_CONCURRENT_STREAMS] = 2 * max_concurrent_streams
        conn.max_inbound_frame_size = max_frame_size
        conn.decoder.max_header_list_size = 2 * max_header_list_size
        self._max_header_list = max_header_list_size
        self._connection_window = connection_window(max_concurrent_streams, initial_window_size)
        self._resets = Budget(max_resets, window)
        self._control = Budget(max_control_frames, window)
        # The last stream our graceful GOAWAY named (None: not sent), and bytes of ours
        # queued before h2's next output.
        self._going_away: int | None = None
        self._pending = b""

    def initiate(self, upgrade_settings: bytes | None = None) -> None:
        """Queue our preface (SETTINGS); ``upgrade_settings`` is the client's
        ``HTTP2-Settings`` header after ``Upgrade: h2c`` (stream 1 is then its request).
        Raises :class:`H2ConnectionError` if that header is not a valid SETTINGS
        payload (nothing is queued then)."""
        conn = self._h2
        if upgrade_settings is None:
            conn.initiate_connection()
        else:
            try:
                conn.initiate_upgrade_connection(upgrade_settings)
            except (h2.exceptions.ProtocolError, hyperframe.exceptions.HyperframeError) as e:
                raise H2ConnectionError(PROTOCOL_ERROR, str(e)) from None
            except (ValueError, TypeError) as e:  # not base64, not a multiple of 6
                raise H2ConnectionError(PROTOCOL_ERROR, f"bad HTTP2-Settings: {e}") from None
        # Our SETTINGS frame is queued with the advertised values: from now on h2
        # enforces the hard caps (rule 5). No change is pending, so the peer's
        # acknowledgement changes nothing.
        conn.local_settings = h2.settings.Settings(client=False, initial_values=self._limits)
        # Rule 4: the connection's window, right after our SETTINGS.
        self.open_connection_window(self._connection_window)

    def receive_data(self, data: bytes, now: float) -> list[Event]:
        """Feed bytes from the peer; returns the events they complete. Raises
        :class:`H2ConnectionError` on a connection error (a GOAWAY is queued)."""
        raw = self._receive(data)
        events: list[Event] = []
        # Streams closed here in this batch: the rest of their events are dropped
        # (h2 answers anything later on them itself).
        refused: set[int] = set()
        control = 0
        for ev in raw:
            sid = getattr(ev, "stream_id", None)
            if refused and sid in refused:
                if isinstance(ev, h2.events.DataReceived):
                    self.ack(sid, ev.flow_controlled_length or 0)  # the connection's share
                continue
            if isinstance(ev, h2.events.DataReceived):
                assert ev.stream_id is not None and ev.data is not None
                if ev.data:
                    events.append(Data(ev.stream_id, ev.data, ev.flow_controlled_length or 0))
                else:
                    # Nothing for the application; a flood of them is abuse (rule 5).
                    self.ack(ev.stream_id, ev.flow_controlled_length or 0)
                    if ev.stream_ended is None:
                        control += 1
            elif isinstance(ev, h2.events.RequestReceived):
                assert ev.stream_id is not None
                if self._going_away is not None and ev.stream_id > self._going_away:
                    # Past our GOAWAY (RFC 9113 §6.8): refused, the client may retry it.
                    refused.add(ev.stream_id)
                    self.reset(ev.stream_id, REFUSED_STREAM)
                    continue
                head = self._head(ev)
                if head is None:
                    refused.add(ev.stream_id)
                else:
                    events.append(head)
            elif isinstance(ev, h2.events.PingReceived):
                control += 1
            elif isinstance(ev, h2.events.PingAckReceived):
                events.append(PingAck(ev.ping_data or b""))
            else:
                if isinstance(ev, h2.events.StreamReset) and ev.remote_reset:
                    self._count_reset(now)
                elif isinstance(ev, h2.events.RemoteSettingsChanged):
                    control += 1
                common = common_event(ev)
                if common is not None:
                    events.append(common)
        if control and not self._control.spend(now, control):
            self.goaway(ENHANCE_YOUR_CALM)
            raise H2ConnectionError(
                ENHANCE_YOUR_CALM, "too many PING, SETTINGS or empty DATA frames"
            )
        return events

    def _head(self, ev: h2.events.RequestReceived) -> Head | None:
        stream_id = ev.stream_id
        assert stream_id is not None
        method = target = authority = scheme = protocol = None
        headers: list[tuple[bytes, bytes]] = []
        cookies: list[bytes] = []
        size = 0
        for name, value in ev.headers or ():
            name, value = bytes(name), bytes(value)
            size += len(name) + len(value) + _FIELD_OVERHEAD
            if name[:1] == b":":
                if name == b":method":
                    method = value.decode("latin-1")
                elif name == b":path":
                    target = value.decode("latin-1")
                elif name == b":authority":
                    authority = value.decode("latin-1")
                elif name == b":scheme":
                    scheme = value.decode("latin-1")
                elif name == b":protocol":
                    protocol = value.decode("latin-1")
            elif name == b"cookie":
                cookies.append(value)
            else:
                headers.append((name, value))
        ended = ev.stream_ended is not None
        if size > self._max_header_list:
            # Over the advertised limit (not yet the hard cap): this stream only is
            # refused, with HTTP/1.1's answer (RFC 6585 §5).
            self._refuse_head(stream_id, 431, ended)
            return None
        if cookies:
            headers.append((b"cookie", b"; ".join(cookies)))
        if method is None or target is None:
            # CONNECT (no :path) is not served: a stream error, not a connection one.
            # (An extended CONNECT, RFC 8441, has its :path: h2 checked the tuple.)
            self.reset(stream_id, PROTOCOL_ERROR)
            return None
        return Head(stream_id, method, target, authority, scheme, headers, ended, protocol)

    def _refuse_head(self, stream_id: int, status: int, ended: bool) -> None:
        try:
            self._h2.send_headers(stream_id, [(b":status", b"%d" % status)], end_stream=True)
        except h2.exceptions.ProtocolError:
            pass
        if not ended:
            self.reset(stream_id, NO_ERROR)  # RFC 9113 §8.1: stop sending, no error

    def _count_reset(self, now: float) -> None:
        if not self._resets.spend(now):
            self.goaway(ENHANCE_YOUR_CALM)
            raise H2ConnectionError(ENHANCE_YOUR_CALM, "too many streams reset (Rapid Reset)")

    def refuse(self, stream_id: int, now: float) -> None:
        """Refuse a new stream over the concurrency limit: RST_STREAM
        ``REFUSED_STREAM`` (the client may retry it). Refusals count with the peer's
        resets: a peer ignoring the limit is opening and losing streams as Rapid Reset
        does (raises :class:`H2ConnectionError` past that rate)."""
        self.reset(stream_id, REFUSED_STREAM)
        self._count_reset(now)

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
        lowercased (RFC 9113 §8.2). Raises :class:`H2OutputError` for a bad status or
        field, queueing nothing (rule 6)."""
        fields = _FIELDS
        try:
            block = [_STATUS.get(status) or _status_field(status)]
            for pair in headers:
                field = fields.get(pair)
                if field is None:
                    field = _new_field(pair)
                if field is not _DROP:
                    block.append(field)
        except TypeError:  # not a pair of bytes (unhashable)
            raise H2OutputError(f"illegal headers {headers!r}") from None
        try:
            self._h2.send_headers(stream_id, block, end_stream=end)
        except (h2.exceptions.ProtocolError, ValueError, TypeError) as e:
            raise H2OutputError(str(e) or type(e).__name__) from None

    def receivable(self, stream_id: int) -> int:
        """How many body bytes the windows we gave let the peer send on ``stream_id``
        now (0: it must wait for us to consume and acknowledge what it sent)."""
        try:
            return self._h2.remote_flow_control_window(stream_id)
        except (h2.exceptions.ProtocolError, KeyError):
            return 0

    def send_informational(self, stream_id: int, status: int) -> None:
        """Queue a 1xx head (``100 Continue``) on ``stream_id``."""
        try:
            self._h2.send_headers(stream_id, [(b":status", str(status).encode())])
        except h2.exceptions.ProtocolError:
            pass  # the stream is gone: nobody waits for the 100

    def ping(self, data: bytes) -> None:
        """Queue a PING carrying ``data`` (8 bytes); its :class:`PingAck` comes back."""
        self._h2.ping(data)

    @property
    def connection_window(self) -> int:
        """How many body bytes the peer's connection window lets us send now."""
        return self._h2.outbound_flow_control_window

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
