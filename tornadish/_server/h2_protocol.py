"""The HTTP/2 server connection: one ``asyncio.Protocol`` per connection, one
:class:`~.h2_stream.H2Stream` per request.

Thin glue over :class:`~tornadish._http.h2_session.H2Session`. Rules of this module:

1. Bytes go to the session; its events go to the streams (a head makes one); what the
   session has to send is written once per read (several streams answered in one
   read leave in one write), or at once when a stream writes outside a read
   (:mod:`tornadish._io.h2_glue`).
2. A connection error the session reports (a protocol violation, Rapid Reset, a
   control-frame flood) has its GOAWAY written; then every stream hears
   ``on_connection_close`` and the connection closes. Other clients are not affected.
   A stream past ``h2_max_concurrent_streams`` is refused alone (REFUSED_STREAM).
3. While the peer reads none of our output (the transport is above its high-water
   mark), we read none of its input: a peer flooding PINGs or SETTINGS without reading
   the acknowledgements stops being served, and is dropped once that has lasted the
   idle timeout, as on HTTP/1.1.
4. A graceful drain (:meth:`H2ServerProtocol.close_when_idle`) sends GOAWAY naming the
   last stream taken; streams in flight finish, and the connection closes when the last
   one is done. A connection with no stream closes after ``idle_connection_timeout``.
5. One timer (:class:`~tornadish._io.flow_control.Deadline`) serves every deadline of
   the connection, re-armed lazily: it fires at the earliest of them and looks at
   them all. A peer silent for ``h2_ping_interval`` is sent a PING and dropped if it
   does not answer within ``h2_ping_timeout`` (a read marks the peer heard; no clock
   is read per frame). A response that has waited ``h2_window_timeout`` for the peer
   to open its window is reset; if it is the connection's window that stays shut,
   the connection is dropped (zero-window slow read). A request body silent past its
   stream's ``body_due`` is 408 (:mod:`.h2_stream`, rule 6); time spent not reading
   (rule 3) is ours, not the peer's: the bodies' clocks restart when reading does.
6. ``Upgrade: h2c`` (:mod:`.h2c`): the HTTP/1.1 connection hands its transport over
   (:meth:`H2ServerProtocol.take_over`) after its 101, and the upgrading request is
   served as stream 1.
7. The peer's GOAWAY closes h2's side of the connection (it sends nothing more, and
   drops what it had queued), so the streams in flight cannot be answered: they hear
   ``on_connection_close`` as when the connection is lost, their handlers' answers
   are dropped (``on_finish`` still runs), and nothing is logged above debug. (h2load
   sends GOAWAY at the end of every timed run, with requests in flight.)
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tornadish._http.contract import HTTPServerConnectionDelegate, UpgradedProtocol
from tornadish._http.h2_session import (
    ENHANCE_YOUR_CALM,
    Data,
    End,
    GoneAway,
    H2ConnectionError,
    H2Session,
    Head,
    PingAck,
    Reset,
    WindowOpen,
)
from tornadish._io.flow_control import Deadline, WriteGate
from tornadish._io.h2_glue import H2Glue
from tornadish._io.sockopt import set_nodelay
from tornadish._server.h2_stream import H2Stream
from tornadish.log import gen_log

if TYPE_CHECKING:
    from tornadish._server.params import ServerParams

__all__ = ["H2ServerProtocol"]

_NEVER = float("inf")


class H2ServerProtocol(H2Glue[H2Session], UpgradedProtocol):
    """Serves HTTP/2 on one transport (see the module's rules)."""

    __slots__ = (
        "_blocked_since",
        "_closing",
        "_deadline",
        "_gate",
        "_heard",
        "_idle_since",
        "_in_read",
        "_loop",
        "_params",
        "_peer_ip",
        "_ping",
        "_ping_due",
        "_registry",
        "_server_delegate",
        "_session",
        "_streams",
        "_upgrade_head",
        "_write_blocked",
        "address",
        "progress_at",
        "read_at",
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
        self._session = H2Session(
            max_concurrent_streams=params.h2_max_concurrent_streams,
            max_header_list_size=params.max_header_size,
            max_frame_size=params.h2_max_frame_size,
            max_resets=params.h2_max_resets,
            max_control_frames=params.h2_max_control_frames,
        )
        self._streams: dict[int, H2Stream] = {}
        self._gate = WriteGate(loop)
        self._deadline = Deadline(loop, self._on_deadline)
        self._in_read = False
        self._closing = False  # GOAWAY sent or received: close once the streams are done
        self._write_blocked = False
        # Rule 5's clocks: when the connection went idle (None: streams in progress) or
        # blocked on writing; when the next liveness check is due, the PING awaiting
        # its acknowledgement (None: none), and whether the peer was heard since.
        self._idle_since: float | None = None
        self._blocked_since = 0.0
        self._ping_due = _NEVER
        self._ping: bytes | None = None
        self._heard = False
        self._upgrade_head: Head | None = None
        #: When a response last sent body bytes (what a shut window is measured from).
        self.progress_at = 0.0
        #: When the last read arrived (the streams' clock for the body: rule 5).
        self.read_at = 0.0
        self.transport: asyncio.Transport | None = None
        self.address: Any = None
        self._peer_ip = "0.0.0.0"
        self.remote_ip: str | None = None
        self.scheme = params.scheme

    # -- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._start(transport)  # type: ignore[arg-type]
        self._session.initiate()
        self._flush()
        if self._params.drain.started:
            self.close_when_idle()

    def _start(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self._registry.add(self)
        peer = transport.get_extra_info("peername")
        self.address = peer
        if isinstance(peer, (tuple, list)) and peer:
            self._peer_ip = peer[0]
        self.remote_ip = self._peer_ip
        set_nodelay(transport)
        limits = self._params.write_buffer_limits
        if limits is not None:
            transport.set_write_buffer_limits(*limits)
        now = self._loop.time()
        self._idle_since = now
        interval = self._params.h2_ping_interval
        if interval:
            self._ping_due = now + interval
        self._rearm(now)

    def take_over(
        self,
        transport: asyncio.Transport,
        data: bytes,
        writing_paused: bool,
        on_lost: Callable[[], None],
    ) -> None:
        """Serve HTTP/2 on ``transport`` after ``Upgrade: h2c`` (rule 6): our SETTINGS
        go out after the 101, and the request :meth:`upgrade_request` gave is stream 1;
        ``data`` was read past it. The HTTP/1.1 connection is forgotten (``on_lost``):
        this object takes its place in the server's registry."""
        self._start(transport)
        on_lost()
        if writing_paused:
            self.pause_writing()
        self._flush()
        head, self._upgrade_head = self._upgrade_head, None
        if head is not None:
            self._on_head(head)
        if self._params.drain.started:
            self.close_when_idle()
        if data and self.transport is not None:
            self.data_received(data)

    def upgrade_request(self, settings: bytes, head: Head) -> None:
        """Prepare for ``Upgrade: h2c`` (before the 101 is sent): ``settings`` is the
        client's ``HTTP2-Settings`` header, ``head`` its request, served as stream 1.
        Raises :class:`H2ConnectionError` if the header is not valid SETTINGS (the
        upgrade is then not made)."""
        self._session.initiate(settings)
        self._upgrade_head = head

    def shutdown(self) -> None:
        """The server is closing (as an upgraded protocol): close now."""
        self.close()

    def data_received(self, data: bytes) -> None:
        if self.transport is None:
            return
        self._heard = True
        self._in_read = True
        now = self.read_at = self._loop.time()
        try:
            self._dispatch(self._session.receive_data(data, now))
        except H2ConnectionError as e:
            gen_log.info("HTTP/2 connection error from %s: %s (%d)", self._peer_ip, e, e.code)
            self._in_read = False
            self._flush()
            self._drop_streams()
            self._close()
            return
        finally:
            self._in_read = False
        self._flush()

    def _dispatch(self, events: list[Any]) -> None:
        streams = self._streams
        for ev in events:
            t = type(ev)
            if t is Data:
                stream = streams.get(ev.stream_id)
                if stream is None:
                    self._session.ack(ev.stream_id, ev.flow_length)
                else:
                    stream.on_body(ev)
            elif t is Head:
                self._on_head(ev)
            elif t is End:
                stream = streams.get(ev.stream_id)
                if stream is not None:
                    stream.on_end()
            elif t is WindowOpen:
                self._window_open(ev.stream_id)
            elif t is Reset:
                stream = streams.get(ev.stream_id)
                if stream is not None:
                    stream.on_reset()
            elif t is PingAck:
                if ev.data == self._ping:
                    self._ping = None
            elif t is GoneAway:
                self._gone_away(ev)
                return

    def _gone_away(self, ev: GoneAway) -> None:
        """The peer sent GOAWAY (rule 7): the streams in flight end as if the
        connection were lost, quietly, and the connection closes."""
        self._closing = True
        if self._streams:
            gen_log.debug(
                "%s sent GOAWAY (code %d) with %d streams in flight: their answers are dropped",
                self._peer_ip,
                ev.code,
                len(self._streams),
            )
            self._drop_streams()
        self._in_read = False
        self._flush()
        self._close()

    def eof_received(self) -> bool:
        # The peer will send nothing more: streams still being read cannot complete.
        self._drop_streams()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._registry.discard(self)
        self._deadline.cancel()
        self.transport = None
        self._drop_streams()
        self._gate.lost(exc)

    def pause_writing(self) -> None:
        # Rule 3: read nothing more from a peer that reads nothing of ours.
        self._gate.pause()
        transport = self.transport
        if transport is not None and not self._write_blocked:
            self._write_blocked = True
            transport.pause_reading()
            self._blocked_since = now = self._loop.time()
            self._rearm(now)

    def resume_writing(self) -> None:
        self._gate.resume()
        transport = self.transport
        if transport is not None and self._write_blocked:
            self._write_blocked = False
            transport.resume_reading()
            self._heard = True  # (what it sent while we did not read is on its way)
            now = self._loop.time()
            for stream in self._streams.values():
                if stream.body_at is not None:
                    stream._hear_body(now)  # (rule 5: the silence was ours)
            self._rearm(now)

    # -- streams ------------------------------------------------------------------------

    def _on_head(self, head: Head) -> None:
        streams = self._streams
        if len(streams) >= self._params.h2_max_concurrent_streams:
            # Over the advertised limit: this stream only (rule 2; raises past the
            # reset budget).
            self._session.refuse(head.stream_id, self._loop.time())
            return
        stream = H2Stream(self, head.stream_id)
        streams[head.stream_id] = stream
        self._idle_since = None  # (the timer, if it fires, finds nothing to do)
        stream.on_head(head)

    def _window_open(self, stream_id: int) -> None:
        if stream_id:
            stream = self._streams.get(stream_id)
            if stream is not None:
                stream.pump()
            return
        for stream in list(self._streams.values()):
            stream.pump()

    def _stream_done(self, stream_id: int) -> None:
        """A stream is over (:meth:`H2Stream._finish_stream`)."""
        streams = self._streams
        streams.pop(stream_id, None)
        if streams:
            return
        if self._closing:
            self._flush()
            self._close()
        elif self.transport is not None:
            self._idle_since = now = self._loop.time()
            self._rearm(now)

    def _due(self, when: float) -> None:
        """A stream has a deadline at ``when`` (its window or its body): the timer
        fires no later (rule 5)."""
        current = self._deadline.when
        if current is None or when < current:
            self._deadline.at(when)

    def _drop_streams(self) -> None:
        for stream in list(self._streams.values()):
            stream.on_reset()
        self._streams.clear()

    # -- the clock (rule 5) -------------------------------------------------------------

    def _rearm(self, now: float) -> None:
        """Set the timer for the earliest deadline of the connection."""
        params = self._params
        if self._write_blocked:
            when = self._blocked_since + params.idle_connection_timeout
        else:
            when = self._ping_due
            idle_since = self._idle_since
            if idle_since is not None:
                when = min(when, idle_since + params.idle_connection_timeout)
            timeout = params.h2_window_timeout
            for stream in self._streams.values():
                stalled = stream.stalled_since
                if stalled is not None:
                    when = min(when, stalled + timeout)
                due = stream.body_due
                if due is not None:
                    when = min(when, due)
        if when == _NEVER:
            self._deadline.clear()
        else:
            self._deadline.at(max(when, now))

    def _on_deadline(self) -> None:
        transport = self.transport
        if transport is None:
            return
        params = self._params
        now = self._loop.time()
        if self._write_blocked:
            if now >= self._blocked_since + params.idle_connection_timeout:
                gen_log.info("Closing connection to %s: client is not reading", self._peer_ip)
                self._drop_streams()
                transport.abort()
                return
        else:
            idle_since = self._idle_since
            if idle_since is not None and now >= idle_since + params.idle_connection_timeout:
                self._session.goaway()
                self._flush()
                self._close()
                return
            if now >= self._ping_due and not self._check_liveness(now):
                return
            if not self._check_windows(now):
                return
            for stream in list(self._streams.values()):
                due = stream.body_due
                if due is not None and due <= now:
                    stream.body_overdue(now)
        self._rearm(now)

    def _check_liveness(self, now: float) -> bool:
        """The liveness check is due: PING a silent peer; False if it was dropped."""
        params = self._params
        if self._ping is not None and not self._heard:
            gen_log.info("Closing connection to %s: no answer to PING", self._peer_ip)
            self._drop_streams()
            self.abort()
            return False
        self._ping = None
        if self._heard:
            self._heard = False
            self._ping_due = now + params.h2_ping_interval
        else:
            self._ping = os.urandom(8)
            self._session.ping(self._ping)
            self._flush()
            self._ping_due = now + params.h2_ping_timeout
        return True

    def _check_windows(self, now: float) -> bool:
        """Reset the responses that waited too long for their stream's window, or drop
        the connection if its own window stayed shut; False if it was dropped."""
        limit = now - self._params.h2_window_timeout
        late = [
            stream
            for stream in self._streams.values()
            if stream.stalled_since is not None and stream.stalled_since <= limit
        ]
        if not late:
            return True
        if self._session.connection_window <= 0:
            # The connection's window is what they wait for. While other responses
            # take what it opens, it is not shut (a stream left behind is not the
            # client's doing): they wait on.
            if self.progress_at > limit:
                for stream in late:
                    stream.stalled_since = self.progress_at
                return True
            gen_log.info(
                "Closing connection to %s: its flow-control window stayed shut", self._peer_ip
            )
            self._session.goaway(ENHANCE_YOUR_CALM)
            self._flush()
            self._drop_streams()
            self._close()
            return False
        # The connection's window is open: it is each one's own that stays shut.
        for stream in late:
            gen_log.info(
                "Resetting stream %d of %s: its flow-control window stayed shut",
                stream.stream_id,
                self._peer_ip,
            )
            stream.close()
        return True

    # -- writing and closing ---------------------------------------------------------

    def _close(self) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.close()

    @property
    def closed(self) -> bool:
        """True once the transport has closed or is closing."""
        transport = self.transport
        return transport is None or transport.is_closing()

    @property
    def idle(self) -> bool:
        """No stream is in progress."""
        return not self._streams

    def close_when_idle(self) -> None:
        """Graceful drain (rule 4): GOAWAY with the last stream taken, close once the
        streams in flight are done."""
        if self.transport is None:
            return
        # A WebSocket closes (1001) before the GOAWAY goes: a client whose HTTP/2
        # stops reading at a GOAWAY (the h2 library's does) still sees its close.
        for stream in list(self._streams.values()):
            stream.shutdown_tunnel()
        self._session.graceful_goaway()
        self._closing = True
        self._flush()
        if not self._streams:
            self._close()

    def close(self) -> None:
        """Close now: GOAWAY, every stream hears ``on_connection_close``; buffered
        output is still sent."""
        if self.transport is None:
            return
        self._session.goaway()
        self._flush()
        self._drop_streams()
        self._close()

    def abort(self) -> None:
        """Drop the connection now."""
        self._drop_streams()
        transport = self.transport
        if transport is not None:
            transport.abort()
