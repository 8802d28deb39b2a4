"""The server connection: one ``asyncio.Protocol`` per connection, and the ``connection``
of the request it is serving.

:class:`HTTP1ServerProtocol` is what ``HTTPServer`` instantiates. Its state, limits,
deadlines and closing are :class:`~.connection.ConnectionBase`'s; reading requests is
:class:`~.reading.ConnectionReader`'s. This module is the request/response cycle, and
the connection contract (:class:`~tornadish._http.contract.HTTPConnection`) that the
web layer, WebSocket and Tornado-style code see. Rules of this module:

1. The response is written straight to the transport, framed by the engine's session;
   ``drain()`` answers from the connection's one
   :class:`~tornadish._io.flow_control.WriteGate`: an already-resolved future while the
   peer keeps up, a waiter while the transport is above its high-water mark.
2. The end of a response decides what comes next: the next request (keep-alive, read
   from what was pipelined on a later loop turn), a lingering close (the body was not
   read), or a close once the output is flushed. The request's close callback and
   delegate are forgotten then: a later close is no longer that request's business.
3. An upgrade hands the transport, and any bytes read past the request, to an
   :class:`~tornadish._http.contract.UpgradedProtocol`; this object stays in the
   server's registry until that protocol reports the connection lost, so shutdown still
   reaches it. ``detach()`` hands them to an ``IOStream`` instead, and lets go of the
   connection altogether (Tornado's HTTPServer forgets a detached connection too).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from tornadish._http import session as seam
from tornadish._http.contract import (
    CloseCallbackView,
    StreamClosedError,
    UpgradedProtocol,
    WebSocketChannel,
    WebSocketOffer,
    WebSocketSink,
)
from tornadish._http.headers import HTTPOutputError
from tornadish._http.wording import output_wording
from tornadish._io.flow_control import failed_future
from tornadish._io.iostream import IOStream, adopt_transport, closed_iostream
from tornadish._io.websocket import accept_server_websocket
from tornadish._server.connection import (
    BLOCK_PIPELINE,
    BODY,
    CLOSED,
    CLOSING,
    IDLE,
    T_BODY,
    T_IDLE,
    T_NONE,
    T_WRITE,
)
from tornadish._server.reading import ConnectionReader

__all__ = ["HTTP1ServerProtocol", "ServerStream", "StreamClosedError", "UpgradedProtocol"]


class HTTP1ServerProtocol(ConnectionReader):
    """Serves HTTP/1.x on one transport; also the ``connection`` of its current request."""

    __slots__ = ()

    # -- the connection ---------------------------------------------------------

    def close(self) -> None:
        """Close the connection now (buffered output is still flushed)."""
        if self._upgraded is not None:
            self._upgraded.shutdown()
            return
        self._notify_close()
        self._close()

    def abort(self) -> None:
        """Drop the connection now, discarding output not yet sent (a client that does
        not read it); ``on_connection_close`` still runs."""
        if self._upgraded is not None:
            self._upgraded.shutdown()
            return
        self._notify_close()
        self._abort()

    def close_when_idle(self) -> None:
        """Close right after the current response (which then says ``Connection:
        close``), or, with no request in progress, once the connection has been quiet
        for a moment (a request already on its way is answered, not reset); a
        WebSocket closes with 1001 now. Graceful shutdown uses it."""
        self._keep_alive = False
        if self._upgraded is not None:
            self.close()
        elif self.idle:
            self._close_idle()  # once quiet: a request on its way is answered, not reset

    @property
    def closed(self) -> bool:
        """True once the transport has closed or is closing."""
        return self._state >= CLOSING

    @property
    def idle(self) -> bool:
        """No request is in progress (a keep-alive connection waiting for the next one)."""
        return self._state == IDLE and not self._session.has_buffered_data

    @property
    def stream(self) -> ServerStream | IOStream:
        """The byte stream under this connection (Tornado's ``connection.stream``):
        a view of it, or the ``IOStream`` it became through :meth:`detach`."""
        detached = self._detached
        if detached is not None:
            return detached
        stream = self._stream
        if stream is None:
            stream = self._stream = ServerStream(self)
        return stream

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """The transport's ``get_extra_info`` (``"peername"``, ``"sockname"``,
        ``"ssl_object"``, ``"socket"``, ...); ``default`` once the connection is gone."""
        transport = self.transport
        if transport is None:
            return default
        return transport.get_extra_info(name, default)

    # -- limits of the request being read ------------------------------------------

    def set_body_timeout(self, timeout: float) -> None:
        """Change the body inactivity timeout for the request being read (Tornado API)."""
        self._body_timeout = timeout
        if self._timeout_kind == T_BODY:
            self._set_deadline(T_BODY, timeout)

    # -- the response -------------------------------------------------------------

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        """Call ``callback()`` (once) if the connection closes before the response ends."""
        self._close_callback = callback

    def send_response(
        self,
        status: int,
        reason: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        finish: bool,
    ) -> None:
        """Send the response head with a first body part; ``finish`` ends the response."""
        transport = self.transport
        if transport is None or self._state >= CLOSING:
            if finish:
                self._request_done()
            return
        session = self._session
        if not self._keep_alive:
            headers.append((b"Connection", b"close"))
        try:
            whole = session.whole_response(status, reason, headers, body) if finish else None
            if whole is not None:
                self._response_started = True
                self._write(whole)
                self._request_done()
                return
            data = session.response_head(status, reason, headers)
        except seam.LocalError as e:
            raise HTTPOutputError(str(e)) from None  # nothing sent: a 500 can follow
        self._response_headers = headers
        self._body_sent = 0
        sent = len(body) if not self._head_only else 0
        try:
            if sent:
                data += session.response_data(body)
            if finish:
                data += session.response_end()
        except seam.LocalError as e:
            raise self._broken_response(e, sent) from None
        self._body_sent += sent
        self._response_started = True
        self._write(data)
        if finish:
            self._request_done()

    def send_body(self, chunk: bytes, finish: bool) -> None:
        """Send more of the body; ``finish`` ends the response."""
        transport = self.transport
        if transport is None or self._state >= CLOSING:
            if finish:
                self._request_done()
            return
        session = self._session
        sent = len(chunk) if not self._head_only else 0
        try:
            data = session.response_data(chunk) if sent else b""
            if finish:
                data += session.response_end()
        except seam.LocalError as e:
            raise self._broken_response(e, sent) from None
        self._body_sent += sent
        if data:
            self._write(data)
        if finish:
            self._request_done()

    def _broken_response(self, error: seam.LocalError, sent: int) -> HTTPOutputError:
        # The body contradicts the head (its Content-Length): the engine refuses to go
        # on and no valid response can follow, so the connection goes, as in Tornado;
        # so does Tornado's wording of the mismatch (worked out only now, on failure).
        self._close()
        declared = _content_length(self._response_headers)
        left = declared - self._body_sent - sent if declared >= 0 else -1
        return HTTPOutputError(output_wording(str(error), left))

    def drain(self) -> Awaitable[None]:
        """Resolves once the output buffer is below its high-water mark."""
        if self._state == CLOSED:
            return failed_future(self._loop)
        return self._gate.wait()

    def _request_done(self) -> None:
        self._close_callback = None
        self._delegate = None
        state = self._state
        if state >= CLOSING:
            return
        session = self._session
        if not self._keep_alive or not session.next_cycle():
            # Unread body (the application answered early) or no keep-alive: close after
            # the buffered output is flushed.
            if state == BODY and self.transport is not None:
                self._linger()
            else:
                self._close()
            return
        self._state = IDLE
        self._response_started = False  # a bad next request must still get its 4xx
        if self._timeout_kind != T_WRITE:
            # (A blocked write keeps its own deadline: the answer may sit in our buffer
            # with the peer reading nothing, and that must end the connection.)
            self._timeout_kind = T_IDLE  # _set_deadline(), inlined
            self._deadline.after(self._params.idle_connection_timeout)
        if self._in_process:
            return  # the read loop in progress goes on with any pipelined request
        self._unblock(BLOCK_PIPELINE)
        if session.has_buffered_data:
            # A later tick, so the next request does not run inside this one's call stack
            # (and context).
            self._loop.call_soon(self._process)

    # -- upgrades -------------------------------------------------------------------

    def upgrade(self, headers: list[tuple[bytes, bytes]], protocol: UpgradedProtocol) -> None:
        """Answer ``101 Switching Protocols`` with ``headers`` and hand the transport,
        with any bytes read past the request, to ``protocol``.

        This object stays in the server's registry (so shutdown reaches the new
        protocol through :meth:`close`) until ``protocol`` reports the connection lost.
        """
        transport = self.transport
        if transport is None or self._state >= CLOSING:
            raise StreamClosedError()
        try:
            data, trailing = self._session.accept_upgrade(headers)
        except seam.LocalError as e:
            raise HTTPOutputError(str(e)) from None
        self._write(data)
        self._uncork()  # the 101 goes out before the new protocol writes
        self._response_started = True
        self._close_callback = None
        self._delegate = None
        self._timeout_kind = T_NONE
        self._deadline.cancel()
        self._upgraded = protocol
        transport.set_protocol(protocol)
        if self._read_block:
            self._read_block = 0
            transport.resume_reading()
        protocol.take_over(transport, trailing, self._gate.paused, self._upgrade_lost)

    def detach(self) -> IOStream:
        """Take the connection out of HTTP: the transport, with the bytes read past the
        request, becomes an :class:`~tornadish.iostream.IOStream` (an ``SSLIOStream``
        over TLS), which is returned (Tornado's ``HTTP1Connection.detach``).

        The connection is then done: no more requests, no close notification, and the
        server no longer tracks it (``close_all_connections`` leaves it alone). A close
        callback set on :attr:`stream` moves to the new stream. Once the connection is
        gone, the stream is a closed one, as in Tornado.
        """
        if self._detached is not None:
            return self._detached
        transport = self.transport
        if transport is None or self._state >= CLOSING or self._upgraded is not None:
            self._detached = closed_iostream()
            return self._detached
        self._uncork()
        data, peer_closed = self._session.detach()
        writing_paused = self._gate.paused
        self._close_callback = None
        self._delegate = None
        self._timeout_kind = T_NONE
        self._deadline.cancel()
        self._response_started = True
        self._keep_alive = False
        self._state = CLOSED
        self.transport = None
        self._registry.discard(self)
        self._gate.lost()  # drains still pending belonged to the HTTP response
        stream = adopt_transport(
            transport,
            data,
            eof=peer_closed or self._peer_closed,
            reading_paused=bool(self._read_block),
            writing_paused=writing_paused,
        )
        self._read_block = 0
        self._detached = stream
        view = self._stream
        if view is not None:
            callback, view._close_callback = view._close_callback, None
            stream.set_close_callback(callback)
        return stream

    def _upgrade_lost(self) -> None:
        self._state = CLOSED
        self._upgraded = None
        self.transport = None
        self._registry.discard(self)
        self._stream_closed()

    def accept_websocket(self, sink: WebSocketSink, offer: WebSocketOffer) -> WebSocketChannel:
        """Accept the request's WebSocket handshake: a ``101`` on this socket, then a
        WebSocket connection delivering to ``sink`` (see the contract)."""
        return accept_server_websocket(self.upgrade, sink, offer, self._params.ws)

    # -- Tornado's HTTPConnection interface ---------------------------------------

    def write(self, chunk: bytes) -> Awaitable[None]:
        """Send a body chunk; the result resolves once the write buffer has drained."""
        if self._raw_output or not self._response_started:
            # Tornado's oldest interface: a callback that writes its own status line and
            # headers. The bytes pass through as they are; the connection closes after.
            self._raw_output = self._response_started = True
            self._keep_alive = False
            if self.transport is not None and self._state < CLOSING:
                self._write(chunk)
            return self.drain()
        self.send_body(chunk, False)
        return self.drain()

    def finish(self) -> None:
        """End the response."""
        if self._raw_output:
            self._request_done()
            return
        self.send_body(b"", True)


class ServerStream(CloseCallbackView):
    """The byte stream under one server connection: the ``IOStream`` methods a Tornado
    handler reaches through ``self.request.connection.stream``.

    A view, not a second connection: it holds the connection and the close callback
    Tornado's ``IOStream.set_close_callback`` sets, and is made the first time a
    handler asks for it (connections whose handlers never do carry no extra object).
    Closed means what a long-polling handler needs: the connection has closed, or the
    client has said it will send nothing more (also when ``on_connection_close`` runs).

    >>> while not self.request.connection.stream.closed():   # doctest: +SKIP
    ...     await self.wait_for_news()
    """

    __slots__ = ("_conn",)

    def __init__(self, conn: HTTP1ServerProtocol) -> None:
        super().__init__()
        self._conn = conn

    def closed(self) -> bool:
        """True once the connection has closed, or the client has closed its side."""
        conn = self._conn
        if conn._detached is not None:
            return conn._detached.closed()
        return conn.closed or conn._peer_closed or conn.transport is None

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        """Call ``callback()`` once the connection closes (or the client closes its
        side); as in Tornado, a callback set after that is not called."""
        if self._conn._detached is not None:
            self._conn._detached.set_close_callback(callback)
            return
        self._close_callback = callback

    def write(self, data: bytes) -> Awaitable[None]:
        """Write ``data`` as it is, past HTTP framing (Tornado's ``IOStream.write``);
        resolves once the output buffer is below its high-water mark, fails with
        :class:`StreamClosedError` once the connection is closed."""
        conn = self._conn
        if conn._detached is not None:
            return conn._detached.write(data)
        if conn.transport is None or conn.closed:
            return failed_future(conn._loop)
        conn._write(data)
        return conn.drain()

    def close(self) -> None:
        """Close the connection (buffered output is still sent)."""
        if self._conn._detached is not None:
            self._conn._detached.close()
            return
        self._conn.close()


def _content_length(headers: list[tuple[bytes, bytes]]) -> int:
    """The response's declared Content-Length, or -1 (none, or not a number)."""
    for name, value in headers:
        if name.lower() == b"content-length":
            value = value.strip()
            return int(value) if value.isdigit() else -1
    return -1
