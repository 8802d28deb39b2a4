"""The HTTP/2 server connection: one ``asyncio.Protocol`` per connection, one
:class:`~.h2_stream.H2Stream` per request.

Thin glue over :class:`~tornadish._http.h2_session.H2Session`. Rules of this module:

1. Bytes go to the session; its events go to the streams (a head makes one); what the
   session has to send is written once per read (several streams answered in one
   read leave in one write), or at once when a stream writes outside a read.
2. A connection error the session reports (a protocol violation, Rapid Reset) has its
   GOAWAY written; then every stream hears ``on_connection_close`` and the connection
   closes. Other clients are not affected.
3. While the peer reads none of our output (the transport is above its high-water
   mark), we read none of its input: a peer flooding PINGs or SETTINGS without reading
   the acknowledgements stops being served, and is dropped once that has lasted the
   idle timeout, as on HTTP/1.1.
4. A graceful drain (:meth:`H2ServerProtocol.close_when_idle`) sends GOAWAY naming the
   last stream taken; streams in flight finish, and the connection closes when the last
   one is done. A connection with no stream closes after ``idle_connection_timeout``.
"""

from __future__ import annotations

import asyncio
import socket
from typing import TYPE_CHECKING, Any

from tornadish._http.contract import HTTPServerConnectionDelegate
from tornadish._http.h2_session import (
    Body,
    End,
    GoneAway,
    H2ConnectionError,
    H2Session,
    Head,
    Reset,
    WindowOpen,
)
from tornadish._io.flow_control import Deadline, WriteGate
from tornadish._server.h2_stream import H2Stream
from tornadish.log import gen_log

if TYPE_CHECKING:
    from tornadish._server.params import ServerParams

__all__ = ["H2ServerProtocol"]


class H2ServerProtocol(asyncio.Protocol):
    """Serves HTTP/2 on one transport (see the module's rules)."""

    __slots__ = (
        "_closing",
        "_deadline",
        "_gate",
        "_in_read",
        "_loop",
        "_params",
        "_peer_ip",
        "_registry",
        "_server_delegate",
        "_session",
        "_streams",
        "_write_blocked",
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
        self._session = H2Session(
            max_concurrent_streams=params.h2_max_concurrent_streams,
            max_header_list_size=params.max_header_size,
            max_resets=params.h2_max_resets,
        )
        self._streams: dict[int, H2Stream] = {}
        self._gate = WriteGate(loop)
        self._deadline = Deadline(loop, self._on_deadline)
        self._in_read = False
        self._closing = False  # GOAWAY sent or received: close once the streams are done
        self._write_blocked = False
        self.transport: asyncio.Transport | None = None
        self.address: Any = None
        self._peer_ip = "0.0.0.0"
        self.remote_ip: str | None = None
        self.scheme = params.scheme

    # -- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._registry.add(self)
        peer = transport.get_extra_info("peername")
        self.address = peer
        if isinstance(peer, (tuple, list)) and peer:
            self._peer_ip = peer[0]
        self.remote_ip = self._peer_ip
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        limits = self._params.write_buffer_limits
        if limits is not None:
            transport.set_write_buffer_limits(*limits)  # type: ignore[attr-defined]
        self._session.initiate()
        self._flush()
        self._deadline.after(self._params.idle_connection_timeout)
        if self._params.drain.started:
            self.close_when_idle()

    def data_received(self, data: bytes) -> None:
        if self.transport is None:
            return
        self._in_read = True
        try:
            try:
                events = self._session.receive_data(data, self._loop.time())
            except H2ConnectionError as e:
                gen_log.info("HTTP/2 connection error from %s: %s (%d)", self._peer_ip, e, e.code)
                self._in_read = False
                self._flush()
                self._drop_streams()
                self._close()
                return
            streams = self._streams
            for ev in events:
                t = type(ev)
                if t is Body:
                    stream = streams.get(ev.stream_id)  # type: ignore[union-attr]
                    if stream is None:
                        self._session.ack(ev.stream_id, ev.flow_length)  # type: ignore[union-attr]
                    else:
                        stream.on_body(ev)  # type: ignore[arg-type]
                elif t is Head:
                    self._on_head(ev)  # type: ignore[arg-type]
                elif t is End:
                    stream = streams.get(ev.stream_id)  # type: ignore[union-attr]
                    if stream is not None:
                        stream.on_end()
                elif t is WindowOpen:
                    self._window_open(ev.stream_id)  # type: ignore[union-attr]
                elif t is Reset:
                    stream = streams.get(ev.stream_id)  # type: ignore[union-attr]
                    if stream is not None:
                        stream.on_reset()
                elif t is GoneAway:
                    self._closing = True
                    if not streams:
                        self._in_read = False
                        self._flush()
                        self._close()
                        return
        finally:
            self._in_read = False
        self._flush()

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
        self._deadline.after(self._params.idle_connection_timeout)

    def resume_writing(self) -> None:
        self._gate.resume()
        transport = self.transport
        if transport is not None and self._write_blocked:
            self._write_blocked = False
            transport.resume_reading()
        if self._streams:
            self._deadline.clear()
        else:
            self._deadline.after(self._params.idle_connection_timeout)

    # -- streams ------------------------------------------------------------------------

    def _on_head(self, head: Head) -> None:
        stream = H2Stream(self, head.stream_id)
        self._streams[head.stream_id] = stream
        if not self._write_blocked:
            self._deadline.clear()
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
        elif not self._write_blocked:
            self._deadline.after(self._params.idle_connection_timeout)

    def _drop_streams(self) -> None:
        for stream in list(self._streams.values()):
            stream.on_reset()
        self._streams.clear()

    # -- writing and closing ---------------------------------------------------------

    def _flush(self) -> None:
        """Write what the session has queued (once per read while one runs: rule 1)."""
        if self._in_read:
            return
        transport = self.transport
        if transport is None:
            return
        data = self._session.data_to_send()
        if data:
            transport.write(data)

    def _on_deadline(self) -> None:
        if self.transport is None:
            return
        if self._write_blocked:
            gen_log.info("Closing connection to %s: client is not reading", self._peer_ip)
            self._drop_streams()
            self.transport.abort()
        elif not self._streams:
            self._session.goaway()
            self._flush()
            self._close()

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
