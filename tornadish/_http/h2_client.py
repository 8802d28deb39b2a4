"""The HTTP/2 client session on h2: requests in, frames out; frames in, a few small
per-stream events out.

Rules of this module:

1. Sans-IO: :meth:`H2ClientSession.receive_data` takes the server's bytes and returns
   the events they complete; what the session has to say is taken with
   :meth:`H2ClientSession.data_to_send`. No socket, no clock, no future.
2. h2 does the protocol (framing, HPACK, stream states, flow-control accounting,
   header validation, PING and SETTINGS acknowledgements); nothing here parses a frame
   or touches h2's private state. A connection error h2 finds is raised as
   :class:`H2ClientError` once h2 has queued its GOAWAY.
3. The events are the client's vocabulary, as :mod:`tornadish._http.client_session`
   is for HTTP/1.1: a response head (informational ones too), body data with the
   flow-controlled length to acknowledge once consumed, the end of a response, a
   reset, a window that opened, the server's new concurrency limit, its GOAWAY. Those
   the server's session says too are :mod:`.h2_common`'s, as are the error codes and
   the sending half: the glue takes them from there.
4. Response data is acknowledged only when the glue says it was consumed
   (:meth:`H2ClientSession.ack`): a slow ``streaming_callback`` holds the server to the
   stream's window, as a paused socket does on HTTP/1.1. The connection's window is
   sized as the server sizes its own (:mod:`.h2_common`, rule 4), for the 100 streams
   a server is assumed to allow, so one slow consumer never holds up the other
   downloads; what unconsumed data we hold stays within the 16 MiB cap.
5. A request goes out as HTTP/2 wants it (RFC 9113 §8.3.1): ``Host`` becomes
   ``:authority``, names are lowercased, and the headers that only mean something to
   one HTTP/1.1 connection are dropped (``TE`` stays only as ``trailers``).
"""

from __future__ import annotations

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings

from tornadish._http.h2_common import (
    CONNECTION_HEADERS,
    NO_ERROR,
    CommonEvent,
    Data,
    H2Error,
    H2SessionBase,
    common_event,
    connection_window,
)

__all__ = [
    "H2ClientError",
    "H2ClientSession",
    "Limit",
    "ResponseHead",
    "error_name",
]

# Until the server's SETTINGS say otherwise, at most this many streams at once: the
# least RFC 9113 §6.5.2 asks a server to allow, so a first burst is not refused.
_ASSUMED_CONCURRENCY = 100

# A fresh stream's receive window (the server may send this much before we acknowledge
# any of it): it bounds what a stalled coroutine ``streaming_callback`` holds in memory.
# The connection's, shared by every stream, is sized from it (rule 4): 16 MiB.
STREAM_WINDOW = 1 << 18


class ResponseHead:
    """A response head on ``stream_id``; ``status`` < 200 for an informational one.
    ``headers`` are (name, value) byte pairs without the pseudo-headers."""

    __slots__ = ("headers", "status", "stream_id")

    def __init__(self, stream_id: int, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        self.stream_id = stream_id
        self.status = status
        self.headers = headers


class Limit:
    """The server's SETTINGS arrived or changed: at most ``max_streams`` at once."""

    __slots__ = ("max_streams",)

    def __init__(self, max_streams: int) -> None:
        self.max_streams = max_streams


Event = ResponseHead | Limit | CommonEvent


class H2ClientError(H2Error):
    """The connection is over (the server broke the protocol): a GOAWAY is queued."""


class H2ClientSession(H2SessionBase):
    """One client-side HTTP/2 connection (see the module's rules).

    ``max_header_list_size`` is advertised in our SETTINGS and enforced by h2 on what
    the server sends; server push is refused (``ENABLE_PUSH`` 0). ``stream_window`` is
    each stream's receive window; the connection's is sized from it (rule 4).
    """

    __slots__ = ("_settled",)

    _error = H2ClientError

    def __init__(
        self,
        *,
        max_header_list_size: int = 65536,
        stream_window: int = STREAM_WINDOW,
    ) -> None:
        config = h2.config.H2Configuration(client_side=True, header_encoding=None)
        self._h2 = conn = h2.connection.H2Connection(config=config)
        settings = h2.settings.Settings(
            client=True,
            initial_values={
                h2.settings.SettingCodes.ENABLE_PUSH: 0,
                h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: max_header_list_size,
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: stream_window,
            },
        )
        # A setting of RFC 8441 (WebSockets over HTTP/2) a client has no use for; some
        # servers refuse a SETTINGS frame that names it.
        del settings[h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL]
        conn.local_settings = settings
        conn.initiate_connection()
        # Rule 4: the server's limit is not known yet; it should allow at least this.
        self.open_connection_window(connection_window(_ASSUMED_CONCURRENCY, stream_window))
        # The server's SETTINGS arrived (until then, _ASSUMED_CONCURRENCY applies).
        self._settled = False

    # -- receiving -------------------------------------------------------------------

    def receive_data(self, data: bytes) -> list[Event]:
        """Feed bytes from the server; returns the events they complete. Raises
        :class:`H2ClientError` on a connection error (a GOAWAY is queued)."""
        events: list[Event] = []
        append = events.append
        for ev in self._receive(data):
            t = type(ev)
            if t is h2.events.DataReceived:
                sid = ev.stream_id  # type: ignore[attr-defined]
                append(Data(sid, ev.data, ev.flow_controlled_length or 0))  # type: ignore[attr-defined]
            elif t is h2.events.ResponseReceived or t is h2.events.InformationalResponseReceived:
                append(_head(ev.stream_id, ev.headers))  # type: ignore[attr-defined]
            else:
                # (Trailers, PINGs, SETTINGS acks, priorities, ALTSVC: nothing to say.)
                common = common_event(ev)
                if common is not None:
                    append(common)
                if t is h2.events.RemoteSettingsChanged:
                    self._settled = True
                    append(Limit(self.max_streams))
        return events

    @property
    def max_streams(self) -> int:
        """How many streams the server lets us have open at once."""
        limit = self._h2.remote_settings.max_concurrent_streams
        return limit if self._settled else min(limit, _ASSUMED_CONCURRENCY)

    # -- sending ---------------------------------------------------------------------

    def send_request(
        self,
        method: str,
        scheme: str,
        target: str,
        headers: list[tuple[bytes, bytes]],
        end: bool,
    ) -> int:
        """Open a stream with a request head; returns its id. ``headers`` may carry
        ``Host`` (it becomes ``:authority``). Raises ``ValueError`` for a head h2
        refuses, :class:`H2ClientError` when no stream id is left."""
        authority = b""
        block: list[tuple[bytes, bytes]] = []
        for name, value in headers:
            name = name.lower()
            if name == b"host":
                authority = value
            elif name == b"te":
                if value.strip().lower() == b"trailers":
                    block.append((name, value))
            elif name not in CONNECTION_HEADERS:
                block.append((name, value))
        head = [
            (b":method", method.encode("latin-1")),
            (b":scheme", scheme.encode("latin-1")),
            (b":authority", authority),
            (b":path", target.encode("latin-1")),
        ]
        head += block
        conn = self._h2
        try:
            stream_id = conn.get_next_available_stream_id()
        except h2.exceptions.NoAvailableStreamIDError:
            raise H2ClientError(NO_ERROR, "no stream id left on this connection") from None
        try:
            conn.send_headers(stream_id, head, end_stream=end)
        except (h2.exceptions.ProtocolError, ValueError, TypeError) as e:
            raise ValueError(str(e) or type(e).__name__) from None
        return stream_id


def error_name(code: int) -> str:
    """An HTTP/2 error code's name (RFC 9113 §7), for messages: ``"INTERNAL_ERROR"``."""
    try:
        return h2.errors.ErrorCodes(code).name
    except ValueError:
        return f"error {code}"


def _head(stream_id: int, raw: list[tuple[bytes, bytes]]) -> ResponseHead:
    status = 0
    headers: list[tuple[bytes, bytes]] = []
    for name, value in raw:
        if name[:1] == b":":
            if name == b":status":
                status = int(value)
        else:
            headers.append((bytes(name), bytes(value)))
    return ResponseHead(stream_id, status, headers)
