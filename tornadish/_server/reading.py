"""Reading a server connection: the ``asyncio.Protocol`` callbacks and the read loop.

:class:`ConnectionReader` is the half of the server connection that listens; the state
and the limits it enforces are :class:`~.connection.ConnectionBase`'s, and answering is
:class:`~.protocol.HTTP1ServerProtocol`'s. Rules of this module:

1. Bytes from the transport go into the engine's session (``params.session_class``: h11's
   or httptools', in the vocabulary of :mod:`tornadish._http.session`);
   its events become calls on the application's ``HTTPMessageDelegate`` (head, body
   chunks, end). Nothing here parses HTTP.
2. While a request is being handled and no reason to block reading holds, reading stays
   on, so a client that goes away is noticed at once (``on_connection_close``) — what
   long polling needs. Pipelined requests wait in the session's buffer meanwhile, and
   while the peer reads none of our answers (memory stays bounded).
3. A request body is judged as it arrives: over the limit (from ``Content-Length``
   before any of it is read) is 400, Tornado's answer (RFC 9110 allows it; 413 would
   say more, but Tornado apps and their tests expect 400), or 413 over a route's own
   limit (``limit_body``), which no Tornado app knows; silence past
   ``body_timeout``, or a rate under ``min_body_rate`` once it has taken that long, is
   408.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from tornadish._http import session as seam
from tornadish._http.body import BodyTooLarge
from tornadish._http.headers import HTTPHeaders, HTTPInputError
from tornadish._http.parse import RequestStartLine
from tornadish._io.sockopt import set_nodelay
from tornadish._server.connection import (
    BLOCK_FLOW,
    BLOCK_PIPELINE,
    BLOCK_WRITE,
    BODY,
    CLOSED,
    CLOSING,
    HANDLING,
    IDLE,
    T_BODY,
    T_HEADER,
    T_IDLE,
    T_NONE,
    T_WRITE,
    ConnectionBase,
)
from tornadish._server.contract_base import consumption_failed
from tornadish._server.proxy_headers import forwarded_client
from tornadish.log import app_log

_tuple_new = tuple.__new__
# The seam's names the read loop tests on every event, as module globals.
_RequestHead = seam.RequestHead
_END = seam.END
_NEED_DATA = seam.NEED_DATA

__all__ = ["ConnectionReader"]


def _content_length(value: str) -> int:
    # h11 has validated the digits and collapsed identical duplicates already.
    try:
        return int(value.split(",")[0])
    except ValueError:
        return 0


class ConnectionReader(ConnectionBase):
    """The reading half of a server connection (see the module's rules)."""

    __slots__ = ()

    # -- asyncio.Protocol -------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses; duck typing it is.
        self.transport = transport  # type: ignore[assignment]
        self._registry.add(self)
        peer = transport.get_extra_info("peername")
        self.address = peer
        if isinstance(peer, (tuple, list)) and peer:
            self._peer_ip = peer[0]
        else:
            # Unix sockets have no peer address; Tornado reports 0.0.0.0.
            self._peer_ip = "0.0.0.0"
        self.remote_ip = self._peer_ip
        set_nodelay(transport)
        limits = self._params.write_buffer_limits
        if limits is not None:
            transport.set_write_buffer_limits(*limits)  # type: ignore[attr-defined]
        self._set_deadline(T_IDLE, self._params.idle_connection_timeout)
        if self._params.drain.started:
            # Accepted during a graceful drain (taken from the accept queue): its
            # request, if one comes at once, is answered; then it closes.
            self._keep_alive = False
            self._close_idle()

    def data_received(self, data: bytes) -> None:
        state = self._state
        if state == CLOSING or state == CLOSED:
            return  # lingering close: discard
        try:
            self._session.receive_data(data)
        except seam.ProtocolError as e:
            self._protocol_error(e.status, e.message, e.incomplete)
            return
        if state == HANDLING:
            # Pipelined bytes while we answer: keep them in h11's buffer, stop reading
            # more until this response is done (bounded memory).
            self._block(BLOCK_PIPELINE)
            return
        self._process()

    def eof_received(self) -> bool:
        state = self._state
        if state == CLOSING:
            self._abort()
            return False
        if state == HANDLING:
            # The client will send nothing more. Like Tornado (and Go), treat that as the
            # client going away for on_connection_close, but still try to deliver the
            # response: a half-closed client may be waiting for it.
            self._keep_alive = False
            self._peer_closed = True
            self._notify_close()
            self._stream_closed()
            return self._can_half_close()
        try:
            self._session.receive_data(b"")
        except seam.ProtocolError:
            pass
        self._process()
        self._uncork()  # now: the transport may close when we return
        return self._can_half_close()

    def _can_half_close(self) -> bool:
        # TLS cannot stay half-open: asyncio closes the transport anyway (and warns if
        # eof_received asks otherwise).
        transport = self.transport
        return transport is not None and transport.get_extra_info("sslcontext") is None

    def connection_lost(self, exc: Exception | None) -> None:
        self._state = CLOSED
        self._registry.discard(self)
        self._deadline.cancel()
        self._timeout_kind = T_NONE
        self._notify_close()
        self._stream_closed()
        self._gate.lost(exc)
        self.transport = None

    def pause_writing(self) -> None:
        self._gate.pause()
        self._block(BLOCK_WRITE)
        self._set_deadline(T_WRITE, self._params.idle_connection_timeout)

    def resume_writing(self) -> None:
        if self._timeout_kind == T_WRITE:
            self._timeout_kind = T_NONE
            if self._state == IDLE:
                self._set_deadline(T_IDLE, self._params.idle_connection_timeout)
        self._gate.resume()
        self._unblock(BLOCK_WRITE)
        if self._state == IDLE and self._session.has_buffered_data:
            self._loop.call_soon(self._process)  # a pipelined request held back

    # -- the read loop ----------------------------------------------------------

    def _process(self) -> None:
        if self._in_process:
            return  # the outer call's loop will pick up whatever changed
        self._in_process = True
        if self._cork is None:  # else: a cork still waits for the batch; add to it
            self._cork = []
        session = self._session
        gate = self._gate
        try:
            while True:
                state = self._state
                if state >= HANDLING or self._read_block & BLOCK_FLOW:
                    return
                if state == IDLE and gate.paused:
                    # The peer is not reading our answers: a pipelined request would only
                    # pile another one up in memory. resume_writing() comes back for it.
                    return
                try:
                    event = session.next_event()
                except seam.ProtocolError as e:
                    self._protocol_error(e.status, e.message, e.incomplete)
                    return
                t = type(event)
                try:
                    if t is _RequestHead:
                        self._on_head(event)  # type: ignore[arg-type]
                        continue
                    if event is _END:
                        self._on_end()
                        continue
                    if t is bytes:
                        self._on_body(event)  # type: ignore[arg-type]
                        continue
                except HTTPInputError as e:  # the body could not be decoded
                    self._bad_body(e)
                    return
                except Exception:
                    self._delegate_failed()
                    return
                if event is _NEED_DATA:
                    if state == IDLE and self._timeout_kind != T_HEADER:
                        if session.partial_head:
                            self._set_deadline(T_HEADER, self._params.header_timeout)
                    if self._read_block:
                        self._unblock(BLOCK_PIPELINE)
                    return
                elif event is seam.PAUSED:
                    self._block(BLOCK_PIPELINE)
                    return
                else:  # CLOSED: the peer finished cleanly between requests
                    self._close()
                    return
        finally:
            self._in_process = False
            if self._cork:
                self._batch.add(self._uncork)  # with the other connections' (rule 5)
            else:
                self._cork = None

    def _on_head(self, head: seam.RequestHead) -> None:
        params = self._params
        self._state = BODY
        # (Already off once close_when_idle() has asked to close after this request.)
        self._keep_alive = self._keep_alive and head.keep_alive and not params.no_keep_alive
        self._head_only = head.method == "HEAD"
        self._response_started = False
        self._body_bytes = 0
        self._max_body_size = params.max_body_size
        self._too_large_status = 400
        self._body_timeout = params.body_timeout
        headers = HTTPHeaders.from_raw(head.headers)
        if params.xheaders:
            self.remote_ip, self.scheme = forwarded_client(
                headers, self._peer_ip, params.trusted_downstream, params.scheme
            )
        else:
            self.remote_ip = self._peer_ip
        joined = headers._joined  # (just made by from_raw: never stale; no property call)
        length = joined.get("Content-Length")
        self._declared_length = 0 if length is None else _content_length(length)
        if length not in (None, "0") or joined.get("Transfer-Encoding") is not None:
            self._set_deadline(T_BODY, params.body_timeout)
            self._rate_start = self._loop.time()
            self._rate_bytes = 0
        else:
            self._timeout_kind = T_NONE
        delegate = self._server_delegate.start_request(self, self)
        self._delegate = delegate
        # (RequestStartLine(...) without the namedtuple's Python-level __new__.)
        start_line = _tuple_new(RequestStartLine, (head.method, head.target, head.version))
        result = delegate.headers_received(start_line, headers)
        if result is not None:
            self._wait_for(result)
        if (self._declared_length or head.expect_continue) and not self._read_block & BLOCK_FLOW:
            self._body_ready()  # (nothing to do for a request without either)

    def _body_ready(self) -> None:
        # The delegate is ready for the body (a streaming handler's prepare may have
        # raised the limit): refuse a declared length over the limit before reading any
        # of it, else send the 100 Continue the client may be waiting for.
        if self._state != BODY or self._response_started:
            return
        if self._declared_length > self._max_body_size:
            self._protocol_error(self._too_large_status, "Content-Length too long")
            return
        if self.transport is not None and self._session.expecting_continue:
            self._write(self._session.continue_response())

    def _on_body(self, chunk: bytes) -> None:
        self._body_bytes += len(chunk)
        if self._body_bytes > self._max_body_size:
            # (A declared Content-Length was checked before.)
            self._protocol_error(self._too_large_status, "chunked body too large")
            return
        if self._timeout_kind:
            self._set_deadline(T_BODY, self._body_timeout)
            rate = self._params.min_body_rate
            timeout = self._body_timeout
            if rate and timeout:
                # A body trickled in (a byte now and then, never silent for long) would
                # hold the connection for ever: once it has taken body_timeout, it must
                # average min_body_rate since reading (last) resumed.
                self._rate_bytes += len(chunk)
                elapsed = self._loop.time() - self._rate_start
                if elapsed > timeout and self._rate_bytes < rate * elapsed:
                    self._protocol_error(408, "body (too slow)")
                    return
        delegate = self._delegate
        if delegate is not None:
            result = delegate.data_received(chunk)
            if result is not None:
                self._wait_for(result)

    def _on_end(self) -> None:
        self._state = HANDLING
        self._timeout_kind = T_NONE
        delegate = self._delegate
        if delegate is not None:
            delegate.finish()

    def _delegate_failed(self) -> None:
        # The application's delegate raised: log it, answer 500 if nothing was sent yet
        # (else just close), and keep the exception away from the event loop.
        app_log.error("Uncaught exception handling a request from %s", self._peer_ip, exc_info=True)
        if self._state == HANDLING and not self._response_started:
            self._state = BODY
        self._protocol_error(500, "internal error while handling the request")

    def _bad_body(self, exc: HTTPInputError) -> None:
        if self._state == HANDLING and not self._response_started:
            self._state = BODY
        status = self._too_large_status if isinstance(exc, BodyTooLarge) else 400
        self._protocol_error(status, str(exc))

    def _wait_for(self, awaitable: Awaitable[None]) -> None:
        """Stop reading until the delegate's awaitable completes."""
        fut = asyncio.ensure_future(awaitable)
        if fut.done():
            fut.result()
            return
        self._block(BLOCK_FLOW)
        fut.add_done_callback(self._flow_done)

    def _flow_done(self, fut: asyncio.Future[None]) -> None:
        if fut.cancelled() or consumption_failed(fut, self._bad_body, self._protocol_error):
            return
        self._unblock(BLOCK_FLOW)
        if self._body_bytes == 0:
            self._body_ready()
        if self._state < HANDLING:
            self._process()
