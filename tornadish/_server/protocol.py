"""The asyncio glue: one ``asyncio.Protocol`` per server connection.

Theory of operation. Bytes from the transport go into a :class:`~._http1.ServerSession`;
its events become calls on the application's :class:`~.httputil.HTTPMessageDelegate`
(head, body chunks, end). The web layer answers through this object (it is the request's
``connection``). Everything about limits, timeouts and flow control lives here and only
here:

- Reading is blocked (``pause_reading``) for three independent reasons, kept as bits:
  the delegate asked us to wait (a streaming body consumer returned an awaitable), the
  peer is not reading our output (the transport's buffer is above its high-water mark),
  or the peer pipelined another request while we are still answering this one. While a
  request is being handled and none of these holds, reading stays on, so a client that
  goes away is noticed at once (``on_connection_close``) — what long polling needs.
- One timer per connection, re-armed lazily: moving a deadline is a float assignment,
  and the timer re-schedules itself when it fires early. Idle keep-alive, header read,
  body inactivity, blocked-write and flush-on-close deadlines all share it. A peer that
  reads nothing is dropped after the idle timeout, whether or not the response was
  finished, and its pipelined requests wait meanwhile (memory stays bounded).
- Protocol errors get the status :mod:`._http1` chose, a log line, a
  ``Connection: close`` response and a lingering close, so the peer can read the answer
  even while it is still sending.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from tornadish._http import h11_session as _http1
from tornadish._http.contract import (
    HTTPConnection,
    HTTPMessageDelegate,
    HTTPServerConnectionDelegate,
    StreamClosedError,
    UpgradedProtocol,
)
from tornadish._http.headers import HTTPHeaders, HTTPInputError, HTTPOutputError
from tornadish._http.parse import RequestStartLine, responses
from tornadish.log import app_log, gen_log

if TYPE_CHECKING:
    from tornadish._server.params import ServerParams

__all__ = ["HTTP1ServerProtocol", "StreamClosedError", "UpgradedProtocol"]


# Connection states.
_IDLE = 0  # waiting for (the rest of) a request head
_BODY = 1  # reading a request body
_HANDLING = 2  # request complete, response not yet finished
_CLOSING = 3  # answer sent, waiting for the peer to go away (lingering close)
_CLOSED = 4

# Reasons reading is paused.
_BLOCK_FLOW = 1
_BLOCK_WRITE = 2
_BLOCK_PIPELINE = 4

# Deadline kinds.
_T_NONE = 0
_T_IDLE = 1
_T_HEADER = 2
_T_BODY = 3
_T_WRITE = 4
_T_LINGER = 5
_T_FLUSH = 6  # closed with output still queued: abort if the peer never takes it

_LINGER_SECONDS = 2.0


def _content_length(value: str) -> int:
    # h11 has validated the digits and collapsed identical duplicates already.
    try:
        return int(value.split(",")[0])
    except ValueError:
        return 0


class HTTP1ServerProtocol(asyncio.Protocol, HTTPConnection):
    """Serves HTTP/1.x on one transport; also the ``connection`` of its current request."""

    __slots__ = (
        "_body_bytes",
        "_body_timeout",
        "_close_callback",
        "_deadline",
        "_declared_length",
        "_delegate",
        "_done",
        "_drain_waiters",
        "_head_only",
        "_in_process",
        "_keep_alive",
        "_loop",
        "_max_body_size",
        "_params",
        "_peer_ip",
        "_rate_bytes",
        "_rate_start",
        "_raw_output",
        "_read_block",
        "_registry",
        "_response_started",
        "_server_delegate",
        "_session",
        "_state",
        "_timeout_kind",
        "_timer",
        "_upgraded",
        "_writing_paused",
        "address",
        "remote_ip",
        "scheme",
        "transport",
    )

    def __init__(
        self,
        params: ServerParams,
        delegate: HTTPServerConnectionDelegate,
        registry: set[HTTP1ServerProtocol],
    ) -> None:
        self._params = params
        self._server_delegate = delegate
        self._registry = registry
        self._loop = asyncio.get_running_loop()
        self._session = _http1.ServerSession(params.max_header_size, params.max_url_size)
        self._state = _IDLE
        self._delegate: HTTPMessageDelegate | None = None
        self._close_callback: Callable[[], None] | None = None
        self._read_block = 0
        self._writing_paused = False
        self._drain_waiters: list[asyncio.Future[None]] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timeout_kind = _T_NONE
        self._deadline = 0.0
        self._in_process = False
        self._keep_alive = True
        self._head_only = False
        self._response_started = False
        self._raw_output = False
        self._body_bytes = 0
        self._max_body_size = params.max_body_size
        self._body_timeout = params.body_timeout
        # The window over which a body's average rate is judged (min_body_rate).
        self._rate_start = 0.0
        self._rate_bytes = 0
        self._declared_length = 0
        self._done: asyncio.Future[None] | None = None
        self._upgraded: UpgradedProtocol | None = None
        self.transport: asyncio.Transport | None = None
        self.address: Any = None
        self._peer_ip: str | None = None
        self.remote_ip: str | None = None
        self.scheme = params.scheme

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
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        limits = self._params.write_buffer_limits
        if limits is not None:
            transport.set_write_buffer_limits(*limits)  # type: ignore[attr-defined]
        self._set_deadline(_T_IDLE, self._params.idle_connection_timeout)

    def data_received(self, data: bytes) -> None:
        state = self._state
        if state == _CLOSING or state == _CLOSED:
            return  # lingering close: discard
        try:
            self._session.receive_data(data)
        except _http1.ProtocolError as e:
            self._protocol_error(e.status, e.message)
            return
        if state == _HANDLING:
            # Pipelined bytes while we answer: keep them in h11's buffer, stop reading
            # more until this response is done (bounded memory).
            self._block(_BLOCK_PIPELINE)
            return
        self._process()

    def eof_received(self) -> bool:
        state = self._state
        if state == _CLOSING:
            self._abort()
            return False
        if state == _HANDLING:
            # The client will send nothing more. Like Tornado (and Go), treat that as the
            # client going away for on_connection_close, but still try to deliver the
            # response: a half-closed client may be waiting for it.
            self._keep_alive = False
            self._notify_close()
            return self._can_half_close()
        try:
            self._session.receive_data(b"")
        except _http1.ProtocolError:
            pass
        self._process()
        return self._can_half_close()

    def _can_half_close(self) -> bool:
        # TLS cannot stay half-open: asyncio closes the transport anyway (and warns if
        # eof_received asks otherwise).
        transport = self.transport
        return transport is not None and transport.get_extra_info("sslcontext") is None

    def connection_lost(self, exc: Exception | None) -> None:
        self._state = _CLOSED
        self._registry.discard(self)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timeout_kind = _T_NONE
        self._notify_close()
        waiters = self._drain_waiters
        if waiters:
            self._drain_waiters = None
            for w in waiters:
                if not w.done():
                    w.set_exception(StreamClosedError(exc))
                    w.exception()  # retrieved: nobody may be awaiting it any more
        self.transport = None

    def pause_writing(self) -> None:
        self._writing_paused = True
        self._block(_BLOCK_WRITE)
        self._set_deadline(_T_WRITE, self._params.idle_connection_timeout)

    def resume_writing(self) -> None:
        self._writing_paused = False
        if self._timeout_kind == _T_WRITE:
            self._timeout_kind = _T_NONE
            if self._state == _IDLE:
                self._set_deadline(_T_IDLE, self._params.idle_connection_timeout)
        waiters = self._drain_waiters
        if waiters:
            self._drain_waiters = None
            for w in waiters:
                if not w.done():
                    w.set_result(None)
        self._unblock(_BLOCK_WRITE)
        if self._state == _IDLE and self._session.has_buffered_data:
            self._loop.call_soon(self._process)  # a pipelined request held back

    # -- the read loop ----------------------------------------------------------

    def _process(self) -> None:
        if self._in_process:
            return  # the outer call's loop will pick up whatever changed
        self._in_process = True
        session = self._session
        try:
            while True:
                state = self._state
                if state >= _HANDLING or self._read_block & _BLOCK_FLOW:
                    return
                if state == _IDLE and self._writing_paused:
                    # The peer is not reading our answers: a pipelined request would only
                    # pile another one up in memory. resume_writing() comes back for it.
                    return
                try:
                    event = session.next_event()
                except _http1.ProtocolError as e:
                    self._protocol_error(e.status, e.message)
                    return
                t = type(event)
                try:
                    if t is bytes:
                        self._on_body(event)  # type: ignore[arg-type]
                        continue
                    if t is _http1.RequestHead:
                        self._on_head(event)  # type: ignore[arg-type]
                        continue
                    if event is _http1.END:
                        self._on_end()
                        continue
                except HTTPInputError as e:  # the body could not be decoded
                    self._bad_body(e)
                    return
                except Exception:
                    self._delegate_failed()
                    return
                if event is _http1.NEED_DATA:
                    if state == _IDLE and self._timeout_kind != _T_HEADER:
                        if session.partial_head:
                            self._set_deadline(_T_HEADER, self._params.header_timeout)
                    self._unblock(_BLOCK_PIPELINE)
                    return
                elif event is _http1.PAUSED:
                    self._block(_BLOCK_PIPELINE)
                    return
                else:  # CLOSED: the peer finished cleanly between requests
                    self._close()
                    return
        finally:
            self._in_process = False

    def _on_head(self, head: _http1.RequestHead) -> None:
        params = self._params
        self._state = _BODY
        self._keep_alive = head.keep_alive and not params.no_keep_alive
        self._head_only = head.method == "HEAD"
        self._response_started = False
        self._body_bytes = 0
        self._max_body_size = params.max_body_size
        self._body_timeout = params.body_timeout
        headers = HTTPHeaders._from_raw(head.headers)
        if params.xheaders:
            self._apply_xheaders(headers)
        else:
            self.remote_ip = self._peer_ip
        length = headers._dict.get("Content-Length")
        self._declared_length = 0 if length is None else _content_length(length)
        if length not in (None, "0") or "Transfer-Encoding" in headers._dict:
            self._set_deadline(_T_BODY, params.body_timeout)
            self._rate_start = self._loop.time()
            self._rate_bytes = 0
        else:
            self._timeout_kind = _T_NONE
        delegate = self._server_delegate.start_request(self, self)
        self._delegate = delegate
        start_line = RequestStartLine(head.method, head.target, head.version)
        result = delegate.headers_received(start_line, headers)
        if result is not None:
            self._wait_for(result)
        if not self._read_block & _BLOCK_FLOW:
            self._body_ready()

    def _body_ready(self) -> None:
        # The delegate is ready for the body (a streaming handler's prepare may have
        # raised the limit): refuse a declared length over the limit before reading any
        # of it, else send the 100 Continue the client may be waiting for.
        if self._state != _BODY or self._response_started:
            return
        if self._declared_length > self._max_body_size:
            self._protocol_error(413, "Content-Length too long")
            return
        transport = self.transport
        if transport is not None and self._session.expecting_continue:
            transport.write(self._session.continue_response())

    def _on_body(self, chunk: bytes) -> None:
        self._body_bytes += len(chunk)
        if self._body_bytes > self._max_body_size:
            self._protocol_error(413, "request body too large")
            return
        if self._timeout_kind:
            self._set_deadline(_T_BODY, self._body_timeout)
            rate = self._params.min_body_rate
            timeout = self._body_timeout
            if rate and timeout:
                # A body trickled in (a byte now and then, never silent for long) would
                # hold the connection for ever: once it has taken body_timeout, it must
                # average min_body_rate since reading (last) resumed.
                self._rate_bytes += len(chunk)
                elapsed = self._loop.time() - self._rate_start
                if elapsed > timeout and self._rate_bytes < rate * elapsed:
                    self._protocol_error(408, "request body too slow")
                    return
        delegate = self._delegate
        if delegate is not None:
            result = delegate.data_received(chunk)
            if result is not None:
                self._wait_for(result)

    def _on_end(self) -> None:
        self._state = _HANDLING
        self._timeout_kind = _T_NONE
        delegate = self._delegate
        if delegate is not None:
            delegate.finish()

    def _delegate_failed(self) -> None:
        # The application's delegate raised: log it, answer 500 if nothing was sent yet
        # (else just close), and keep the exception away from the event loop.
        app_log.error("Uncaught exception handling a request from %s", self._peer_ip, exc_info=True)
        if self._state == _HANDLING and not self._response_started:
            self._state = _BODY
        self._protocol_error(500, "internal error while handling the request")

    def _bad_body(self, exc: HTTPInputError) -> None:
        if self._state == _HANDLING and not self._response_started:
            self._state = _BODY
        # 400 unless the error says otherwise (a gzip body inflating past the limit: 413).
        self._protocol_error(getattr(exc, "status_code", 400), str(exc))

    def _wait_for(self, awaitable: Awaitable[None]) -> None:
        """Stop reading until the delegate's awaitable completes."""
        fut = asyncio.ensure_future(awaitable)
        if fut.done():
            fut.result()
            return
        self._block(_BLOCK_FLOW)
        fut.add_done_callback(self._flow_done)

    def _flow_done(self, fut: asyncio.Future[None]) -> None:
        if fut.cancelled():
            return
        exc = fut.exception()
        if isinstance(exc, HTTPInputError):
            self._bad_body(exc)
            return
        if exc is not None:
            gen_log.error("Uncaught exception in request body handling", exc_info=exc)
            self._protocol_error(500, "internal error while reading the request")
            return
        self._unblock(_BLOCK_FLOW)
        if self._body_bytes == 0:
            self._body_ready()
        if self._state < _HANDLING:
            self._process()

    def _apply_xheaders(self, headers: HTTPHeaders) -> None:
        from tornadish.netutil import is_valid_ip

        params = self._params
        ip = self._peer_ip
        forwarded = headers.get("X-Forwarded-For")
        if forwarded:
            for candidate in reversed([h.strip() for h in forwarded.split(",")]):
                if candidate not in params.trusted_downstream:
                    ip = candidate
                    break
        ip = headers.get("X-Real-Ip", ip)
        self.remote_ip = ip if ip and is_valid_ip(ip) else self._peer_ip
        proto = headers.get("X-Scheme", headers.get("X-Forwarded-Proto"))
        if proto:
            proto = proto.split(",")[-1].strip().lower()
        self.scheme = proto if proto in ("http", "https") else self._params.scheme

    # -- flow control helpers ---------------------------------------------------

    def _block(self, reason: int) -> None:
        if not self._read_block:
            transport = self.transport
            if transport is not None and self._state != _CLOSED:
                transport.pause_reading()
        self._read_block |= reason

    def _unblock(self, reason: int) -> None:
        if self._read_block & reason:
            self._read_block &= ~reason
            if not self._read_block:
                transport = self.transport
                if transport is not None and self._state != _CLOSED:
                    transport.resume_reading()
                if self._state == _BODY:
                    # Time spent not reading was ours, not the client's: judge the
                    # body's silence and rate afresh from here.
                    self._rate_start = self._loop.time()
                    self._rate_bytes = 0
                    if self._timeout_kind == _T_BODY:
                        self._set_deadline(_T_BODY, self._body_timeout)

    # -- timeouts ---------------------------------------------------------------

    def _set_deadline(self, kind: int, seconds: float | None) -> None:
        if seconds is None:
            self._timeout_kind = _T_NONE
            return
        deadline = self._loop.time() + seconds
        self._timeout_kind = kind
        self._deadline = deadline
        timer = self._timer
        if timer is None or timer.when() > deadline:
            if timer is not None:
                timer.cancel()
            self._timer = self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        kind = self._timeout_kind
        if not kind or (self._state == _CLOSED and kind != _T_FLUSH):
            return
        if self._loop.time() < self._deadline:
            self._timer = self._loop.call_at(self._deadline, self._on_timer)
            return
        if kind == _T_BODY and self._read_block & _BLOCK_FLOW:
            # The silence is ours (the handler is still busy with the last chunk), not
            # the client's: look again later; reading resumes with a fresh deadline.
            self._set_deadline(_T_BODY, self._body_timeout)
            return
        self._timeout_kind = _T_NONE
        if kind == _T_IDLE:
            self._close()
        elif kind == _T_LINGER or kind == _T_FLUSH:
            self._abort()
        elif kind == _T_WRITE:
            gen_log.info("Closing connection to %s: client is not reading", self._peer_ip)
            self._notify_close()
            self._abort()
        else:
            what = "headers" if kind == _T_HEADER else "body"
            self._protocol_error(408, f"timed out reading request {what}")

    # -- closing ----------------------------------------------------------------

    def _notify_close(self) -> None:
        callback = self._close_callback
        delegate = self._delegate
        self._close_callback = None
        self._delegate = None
        if callback is not None:
            try:
                callback()
            except Exception:
                gen_log.exception("Exception in connection close callback")
        if delegate is not None:
            try:
                delegate.on_connection_close()
            except Exception:
                gen_log.exception("Exception in on_connection_close")

    def _close(self) -> None:
        transport = self.transport
        if transport is not None and self._state != _CLOSED:
            self._state = _CLOSED
            transport.close()
            if transport.get_write_buffer_size():
                # close() waits for the queued output to be sent; a peer that never
                # reads would hold the connection (and its buffer) forever.
                self._set_deadline(_T_FLUSH, self._params.idle_connection_timeout)

    def _abort(self) -> None:
        transport = self.transport
        if transport is not None:
            self._state = _CLOSED
            transport.abort()

    def _protocol_error(self, status: int, message: str) -> None:
        gen_log.info("Malformed HTTP request from %s: %s (%d)", self._peer_ip, message, status)
        if self._state == _HANDLING or self._response_started:
            # The application already owns the response; only the connection can go.
            self._notify_close()
            self._close()
            return
        self._notify_close()
        reason = responses.get(status, "Error")
        data = self._session.error_response(status, reason, f"{status} {reason}\n".encode())
        transport = self.transport
        if transport is None:
            return
        if data:
            transport.write(data)
        self._linger()

    def _linger(self) -> None:
        # Half-close and keep reading (discarding) briefly so the peer, which may still be
        # sending a body, reads our answer instead of a connection reset.
        transport = self.transport
        if transport is None or self._state == _CLOSED:
            return
        if not transport.can_write_eof():
            self._close()
            return
        self._state = _CLOSING
        transport.write_eof()
        self._read_block = 0
        transport.resume_reading()
        self._set_deadline(_T_LINGER, _LINGER_SECONDS)

    def close(self) -> None:
        """Close the connection now (buffered output is still flushed)."""
        if self._upgraded is not None:
            self._upgraded.shutdown()
            return
        self._notify_close()
        self._close()

    def close_when_idle(self) -> None:
        """Close now if no request is in progress, else right after the current response
        (which then says ``Connection: close``); graceful shutdown uses it."""
        self._keep_alive = False
        if self.idle or self._upgraded is not None:
            self.close()

    @property
    def closed(self) -> bool:
        """True once the transport has closed or is closing."""
        return self._state >= _CLOSING

    @property
    def idle(self) -> bool:
        """No request is in progress (a keep-alive connection waiting for the next one)."""
        return self._state == _IDLE and not self._session.has_buffered_data

    # -- the response side (used by the web layer) ------------------------------

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        self._close_callback = callback

    def set_max_body_size(self, max_body_size: int) -> None:
        """Change the body limit for the request being read (from a handler's prepare)."""
        self._max_body_size = max_body_size

    def set_body_timeout(self, timeout: float) -> None:
        """Change the body inactivity timeout for the request being read (Tornado API)."""
        self._body_timeout = timeout
        if self._timeout_kind == _T_BODY:
            self._set_deadline(_T_BODY, timeout)

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
        if transport is None or self._state >= _CLOSING:
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
                transport.write(whole)
                self._request_done()
                return
            data = session.response_head(status, reason, headers)
            if body and not self._head_only:
                data += session.response_data(body)
            if finish:
                data += session.response_end()
        except _http1.LocalError as e:
            raise HTTPOutputError(str(e)) from None
        self._response_started = True
        transport.write(data)
        if finish:
            self._request_done()

    def send_body(self, chunk: bytes, finish: bool) -> None:
        """Send more of the body; ``finish`` ends the response."""
        transport = self.transport
        if transport is None or self._state >= _CLOSING:
            if finish:
                self._request_done()
            return
        session = self._session
        try:
            data = session.response_data(chunk) if chunk and not self._head_only else b""
            if finish:
                data += session.response_end()
        except _http1.LocalError as e:
            raise HTTPOutputError(str(e)) from None
        if data:
            transport.write(data)
        if finish:
            self._request_done()

    def drain(self) -> Awaitable[None]:
        """Resolves once the output buffer is below its high-water mark."""
        if self._state == _CLOSED:
            fut: asyncio.Future[None] = self._loop.create_future()
            fut.set_exception(StreamClosedError())
            fut.exception()  # retrieved: an un-awaited finish() must not log noise
            return fut
        if not self._writing_paused:
            done = self._done
            if done is None:
                done = self._done = self._loop.create_future()
                done.set_result(None)
            return done
        fut = self._loop.create_future()
        if self._drain_waiters is None:
            self._drain_waiters = []
        self._drain_waiters.append(fut)
        return fut

    def _request_done(self) -> None:
        self._close_callback = None
        self._delegate = None
        state = self._state
        if state >= _CLOSING:
            return
        session = self._session
        if not self._keep_alive or not session.next_cycle():
            # Unread body (the application answered early) or no keep-alive: close after
            # the buffered output is flushed.
            if state == _BODY and self.transport is not None:
                self._linger()
            else:
                self._close()
            return
        self._state = _IDLE
        self._response_started = False  # a bad next request must still get its 4xx
        if self._timeout_kind != _T_WRITE:
            # (A blocked write keeps its own deadline: the answer may sit in our buffer
            # with the peer reading nothing, and that must end the connection.)
            self._set_deadline(_T_IDLE, self._params.idle_connection_timeout)
        if self._in_process:
            return  # the read loop in progress goes on with any pipelined request
        self._unblock(_BLOCK_PIPELINE)
        if session.has_buffered_data:
            # A later tick, so the next request does not run inside this one's call stack
            # (and context).
            self._loop.call_soon(self._process)

    def upgrade(self, headers: list[tuple[bytes, bytes]], protocol: UpgradedProtocol) -> None:
        """Answer ``101 Switching Protocols`` with ``headers`` and hand the transport,
        with any bytes read past the request, to ``protocol``.

        This object stays in the server's registry (so shutdown reaches the new
        protocol through :meth:`close`) until ``protocol`` reports the connection lost.
        """
        transport = self.transport
        if transport is None or self._state >= _CLOSING:
            raise StreamClosedError()
        try:
            data, trailing = self._session.accept_upgrade(headers)
        except _http1.LocalError as e:
            raise HTTPOutputError(str(e)) from None
        transport.write(data)
        self._response_started = True
        self._close_callback = None
        self._delegate = None
        self._timeout_kind = _T_NONE
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._upgraded = protocol
        transport.set_protocol(protocol)
        if self._read_block:
            self._read_block = 0
            transport.resume_reading()
        protocol.take_over(transport, trailing, self._writing_paused, self._upgrade_lost)

    def _upgrade_lost(self) -> None:
        self._state = _CLOSED
        self._upgraded = None
        self.transport = None
        self._registry.discard(self)

    # -- Tornado's HTTPConnection interface ---------------------------------------

    def write(self, chunk: bytes) -> Awaitable[None]:
        if self._raw_output or not self._response_started:
            # Tornado's oldest interface: a callback that writes its own status line and
            # headers. The bytes pass through as they are; the connection closes after.
            self._raw_output = self._response_started = True
            self._keep_alive = False
            transport = self.transport
            if transport is not None and self._state < _CLOSING:
                transport.write(chunk)
            return self.drain()
        self.send_body(chunk, False)
        return self.drain()

    def finish(self) -> None:
        if self._raw_output:
            self._request_done()
            return
        self.send_body(b"", True)
