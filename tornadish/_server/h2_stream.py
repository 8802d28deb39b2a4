"""One HTTP/2 stream as the web layer sees it: an ordinary request on the connection
contract.

:class:`H2Stream` implements :class:`~tornadish._http.contract.HTTPConnection` for the
request of one stream, so routing, handlers, ``@stream_request_body``, ``flush()`` and
errors run unchanged; the connection (:mod:`.h2_protocol`) feeds it its session's
events and writes what it queues. Rules of this module:

1. Request data is acknowledged to the peer only once the delegate has consumed it:
   when ``data_received`` returns no awaitable, or the awaitable it returns completes.
   Until then later chunks wait here, bounded by the window the peer was given.
2. The response body is queued here and sent as the peer's windows (the stream's and
   the connection's) allow; a window update sends more. ``drain()`` waits while
   more than ``_HIGH`` bytes wait for a window, then for the transport's own gate.
3. A body over the limit is answered (413/400, as on HTTP/1.1) and the stream reset
   with ``NO_ERROR`` (RFC 9113 §8.1), or reset with ``CANCEL`` once the response has
   begun; the connection and its other streams carry on.
4. A stream is done once its response has ended (and, if the request had not ended,
   it is reset so the peer stops sending), or it was reset, or the connection went.
   Then the close callback and delegate are forgotten.
5. A response waiting for the peer's window notes since when (:attr:`stalled_since`,
   renewed whenever some of it goes); the connection resets a stream that waited
   ``h2_window_timeout`` (:mod:`.h2_protocol`, rule 5).
6. A request body is judged as it arrives, as on HTTP/1.1 (:mod:`.reading`, rule 3):
   silence past ``body_timeout`` (``set_body_timeout`` for this request), or a rate
   under ``min_body_rate`` once it has taken that long, is 408, or a reset once the
   response has begun. The silence is the peer's only while it may send: not while
   the handler is busy with what came, nor while the peer's window is shut (then it
   waits for us); either restarts the clock, as reading resuming does on HTTP/1.1.
   The connection's one timer watches :attr:`body_due` (:mod:`.h2_protocol`, rule 5).
7. An extended CONNECT for a WebSocket (RFC 8441, :mod:`.h2_websocket`) reaches the
   handler as its HTTP/1.1 handshake; once accepted, the stream's data in both
   directions is the WebSocket connection's (the "tunnel"), and the web layer's
   writes are ignored. Any other 2xx answer to it would read as an open tunnel to the
   client: the stream is reset instead.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from tornadish._http.answers import SERVER_BYTES, http_date, reason_phrase
from tornadish._http.body import BodyTooLarge
from tornadish._http.contract import (
    CloseCallbackView,
    HTTPMessageDelegate,
    StreamClosedError,
    UpgradedProtocol,
    WebSocketChannel,
    WebSocketNotSupportedError,
    WebSocketOffer,
    WebSocketSink,
    notify_close,
)
from tornadish._http.h2_common import take
from tornadish._http.h2_session import CANCEL, NO_ERROR, Data, H2OutputError, Head
from tornadish._http.headers import HTTPHeaders, HTTPInputError, HTTPOutputError
from tornadish._http.parse import RequestStartLine
from tornadish._io.flow_control import WriteGate, failed_future
from tornadish._io.websocket import accept_server_websocket
from tornadish._server.contract_base import ServerContract, consumption_failed
from tornadish._server.h2_websocket import (
    H2StreamTransport,
    websocket_head,
    websocket_response_headers,
)
from tornadish._server.proxy_headers import forwarded_client
from tornadish.log import app_log, gen_log

if TYPE_CHECKING:
    from tornadish._server.h2_protocol import H2ServerProtocol

__all__ = ["H2Stream"]

# Rule 2: response bytes waiting for a window past which drain() waits.
_HIGH = 65536


class H2Stream(ServerContract):
    """The request on one HTTP/2 stream, and the connection its handler answers
    through (see the module's rules)."""

    __slots__ = (
        "_body_bytes",
        "_body_timeout",
        "_close_callback",
        "_conn",
        "_connect",
        "_delegate",
        "_done",
        "_finished_in",
        "_gate",
        "_head_only",
        "_headers",
        "_inbox",
        "_max_body_size",
        "_out",
        "_out_bytes",
        "_out_end",
        "_params",
        "_rate_bytes",
        "_rate_start",
        "_request_ended",
        "_reset",
        "_response_ended",
        "_response_started",
        "_too_large_status",
        "_tunnel",
        "_tunnel_paused",
        "_view",
        "_waiting",
        "body_at",
        "remote_ip",
        "scheme",
        "stalled_since",
        "stream_id",
    )

    def __init__(self, conn: H2ServerProtocol, stream_id: int) -> None:
        self._conn = conn
        params = self._params = conn._params
        self.stream_id = stream_id
        self._delegate: HTTPMessageDelegate | None = None
        self._close_callback: Callable[[], None] | None = None
        self._max_body_size = params.max_body_size
        self._too_large_status = 400
        self._body_bytes = 0
        # Rule 6: when the body was last heard from (None: no body is awaited), and
        # the window over which its average rate is judged.
        self._body_timeout = params.body_timeout
        self.body_at: float | None = None
        self._rate_start = 0.0
        self._rate_bytes = 0
        self._inbox: deque[tuple[bytes, int]] = deque()
        self._waiting = False  # the delegate is busy with an awaitable (rule 1)
        self._request_ended = False  # END_STREAM received
        self._finished_in = False  # delegate.finish() called
        self._head_only = False
        self._headers = HTTPHeaders()
        self._response_started = False
        self._response_ended = False  # our END_STREAM queued
        self._out: deque[memoryview] = deque()
        self._out_bytes = 0
        self._out_end = False
        self._gate = WriteGate(conn._loop)
        self._reset = False
        self._done = False
        self._view: H2StreamView | None = None
        # Rule 7: an extended CONNECT for a WebSocket; the WebSocket once accepted, and
        # whether it paused reading.
        self._connect = False
        self._tunnel: UpgradedProtocol | None = None
        self._tunnel_paused = False
        #: When the response began waiting for the peer's window (None: it is not).
        self.stalled_since: float | None = None
        self.remote_ip: str | None = conn.remote_ip
        self.scheme = conn.scheme

    # -- the request, as the session reports it ---------------------------------------

    def on_head(self, head: Head) -> None:
        """The request's head arrived: hand it to a new delegate."""
        conn = self._conn
        params = conn._params
        if head.protocol is not None:
            if head.method != "CONNECT" or head.protocol.lower() != "websocket":
                self._error(501, f"no such protocol: {head.protocol}")
                return
            head = websocket_head(head)
            self._connect = True
        raw = head.headers
        if head.authority is not None and not any(name == b"host" for name, _ in raw):
            raw.append((b"host", head.authority.encode("latin-1")))
        headers = self._headers = HTTPHeaders.from_raw(raw)
        if head.scheme in ("http", "https"):
            self.scheme = head.scheme
        if params.xheaders:
            self.remote_ip, self.scheme = forwarded_client(
                headers, conn._peer_ip, params.trusted_downstream, self.scheme
            )
        self._head_only = head.method == "HEAD"
        self._request_ended = head.ended
        if not head.ended and not self._connect:
            self._hear_body(conn._loop.time())
        try:
            delegate = self._delegate = conn._server_delegate.start_request(conn, self)
            start_line = RequestStartLine(head.method, head.target, "HTTP/2.0")
            result = delegate.headers_received(start_line, headers)
        except Exception:
            self._delegate_failed()
            return
        if result is not None:
            self._wait_for(result, 0)
        if not self._waiting:
            self._body_ready()
            self._deliver()

    def _body_ready(self) -> None:
        # As on HTTP/1.1: a declared length over the limit (a streaming handler's
        # prepare may have raised it) is refused before any of the body is read, else
        # the client waiting for a 100 Continue gets it.
        if self._request_ended or self._response_started or self._delegate is None:
            return
        headers = self._headers
        length = headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > self._max_body_size:
            self._too_large("Content-Length too long")
            return
        if headers.get("Expect", "").lower() == "100-continue":
            self._conn._session.send_informational(self.stream_id, 100)
            self._conn._flush()

    def on_body(self, event: Data) -> None:
        """A piece of the body arrived; it is acknowledged once consumed (rule 1)."""
        if self._done:
            self._conn._session.ack(self.stream_id, event.flow_length)
            return
        if self._connect:
            # The tunnel's (rule 7): kept until the WebSocket is open and reading.
            self._inbox.append((event.data, event.flow_length))
            if self._tunnel is not None and not self._tunnel_paused:
                self._tunnel_feed()
            return
        size = len(event.data)
        self._body_bytes += size
        if self._body_bytes > self._max_body_size:
            self._conn._session.ack(self.stream_id, event.flow_length)
            self._too_large("body too large")
            return
        now = self.body_at = self._conn.read_at  # (later: the timer looks again)
        rate = self._params.min_body_rate
        timeout = self._body_timeout
        if rate and timeout:
            # A body trickled in would hold the stream for ever: once it has taken
            # body_timeout, it must average min_body_rate (rule 6).
            self._rate_bytes += size
            elapsed = now - self._rate_start
            if elapsed > timeout and self._rate_bytes < rate * elapsed:
                self._conn._session.ack(self.stream_id, event.flow_length)
                self._body_timed_out("body (too slow)")
                return
        self._inbox.append((event.data, event.flow_length))
        if not self._waiting:
            self._deliver()

    def on_end(self) -> None:
        """The request is complete."""
        self._request_ended = True
        self.body_at = None
        if self._connect:
            if self._tunnel is not None and not self._tunnel_paused:
                self._tunnel_feed()
            return
        if not self._waiting and not self._done:
            self._deliver()

    def on_reset(self) -> None:
        """The peer reset the stream (or the connection is gone)."""
        if self._done:
            return
        self._reset = True
        self._gate.lost()
        self._finish_stream(notify=True)

    def _deliver(self) -> None:
        """Hand the delegate what arrived, one chunk at a time (rule 1)."""
        delegate = self._delegate
        inbox = self._inbox
        session = self._conn._session
        try:
            while not self._waiting and delegate is not None and not self._done:
                if inbox and not self._connect:
                    chunk, flow = inbox.popleft()
                    result = delegate.data_received(chunk)
                    if result is None:
                        session.ack(self.stream_id, flow)
                    else:
                        self._wait_for(result, flow)
                elif (self._request_ended or self._connect) and not self._finished_in:
                    self._finished_in = True
                    delegate.finish()
                    break
                else:
                    break
        except HTTPInputError as e:
            self._bad_body(e)
        except Exception:
            self._delegate_failed()
        self._conn._flush()

    def _wait_for(self, awaitable: Awaitable[None], flow: int) -> None:
        fut = asyncio.ensure_future(awaitable)
        if fut.done():
            fut.result()
            self._conn._session.ack(self.stream_id, flow)
            return
        self._waiting = True
        fut.add_done_callback(lambda f: self._consumed(f, flow))

    def _consumed(self, fut: asyncio.Future[None], flow: int) -> None:
        self._waiting = False
        if fut.cancelled() or self._done or consumption_failed(fut, self._bad_body, self._error):
            return
        self._conn._session.ack(self.stream_id, flow)
        if self.body_at is not None:
            # The handler was busy: the silence was ours (rule 6).
            self._hear_body(self._conn._loop.time())
        if self._body_bytes == 0:
            self._body_ready()
        self._deliver()

    # -- the body's deadline (rule 6) -------------------------------------------------

    def _hear_body(self, now: float) -> None:
        """Judge the body's silence and rate afresh from ``now``."""
        self.body_at = self._rate_start = now
        self._rate_bytes = 0
        due = self.body_due
        if due is not None:
            self._conn._due(due)

    @property
    def body_due(self) -> float | None:
        """When the body's silence times out (None: no body is awaited, or no
        timeout)."""
        at = self.body_at
        timeout = self._body_timeout
        if at is None or not timeout:
            return None
        return at + timeout

    def body_overdue(self, now: float) -> None:
        """The body's silence timed out (the connection's timer says so): 408, unless
        the silence is ours (rule 6)."""
        if self._done or self.body_at is None:
            return
        if self._waiting or self._inbox or self._conn._session.receivable(self.stream_id) <= 0:
            self._hear_body(now)
            return
        self._body_timed_out("body")

    def _body_timed_out(self, message: str) -> None:
        gen_log.info(
            "Timeout reading %s of stream %d from %s (408)",
            message,
            self.stream_id,
            self._conn._peer_ip,
        )
        self._error(408, message)

    # -- errors ---------------------------------------------------------------------

    def _too_large(self, message: str) -> None:
        status = self._too_large_status
        gen_log.info(
            "Request body too large from %s: %s (%d)", self._conn._peer_ip, message, status
        )
        self._error(status, message)

    def _bad_body(self, exc: HTTPInputError) -> None:
        status = self._too_large_status if isinstance(exc, BodyTooLarge) else 400
        self._error(status, str(exc))

    def _delegate_failed(self) -> None:
        app_log.error(
            "Uncaught exception handling a request from %s", self._conn._peer_ip, exc_info=True
        )
        self._error(500, "internal error while handling the request")

    def _error(self, status: int, message: str) -> None:
        """Answer ``status`` if nothing was sent yet, then reset the stream (rule 3)."""
        if self._done:
            return
        session = self._conn._session
        if not self._response_started:
            body = f"{status}: {reason_phrase(status)}".encode()
            head = [
                (b"content-type", b"text/plain"),
                (b"content-length", b"%d" % len(body)),
                (b"date", http_date().encode("latin-1")),
                (b"server", SERVER_BYTES),
            ]
            try:
                session.send_head(self.stream_id, status, head, False)
                session.send_body(self.stream_id, memoryview(body), True)
                code = NO_ERROR
            except H2OutputError:
                code = CANCEL
        else:
            code = CANCEL
        if not (code == NO_ERROR and self._request_ended):
            session.reset(self.stream_id, code)
        self._response_started = self._response_ended = True
        self._finish_stream(notify=True)
        self._conn._flush()

    # -- the connection contract -------------------------------------------------------

    def set_body_timeout(self, timeout: float) -> None:
        """Change the body inactivity timeout for this request (Tornado API; rule 6)."""
        self._body_timeout = timeout
        due = self.body_due
        if due is not None:
            self._conn._due(due)

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        """Call ``callback()`` (once) if the stream is reset or the connection closes
        before the response ends."""
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
        if self._done:
            return
        if self._response_started:
            raise HTTPOutputError("response already started")
        if self._connect and 200 <= status < 300:
            # Rule 7: not a WebSocket acceptance, yet the client would take it for one.
            gen_log.info(
                "Resetting stream %d of %s: a %d to an extended CONNECT opens no WebSocket",
                self.stream_id,
                self._conn._peer_ip,
                status,
            )
            self.close()
            return
        no_body = self._head_only or status in (204, 304) or 100 <= status < 200
        end = finish and (no_body or not body)
        try:
            self._conn._session.send_head(self.stream_id, status, headers, end)
        except H2OutputError as e:
            raise HTTPOutputError(str(e)) from None
        self._response_started = True
        if end:
            self._response_ended = True
            self._conn._flush()
            self._finish_stream(notify=False)
            return
        self._queue(b"" if no_body else body, finish)

    def send_body(self, chunk: bytes, finish: bool) -> None:
        """Send more of the body; ``finish`` ends the response."""
        if self._done or self._out_end or self._tunnel is not None:
            return
        self._queue(b"" if self._head_only else chunk, finish)

    def _queue(self, chunk: bytes, finish: bool) -> None:
        if chunk:
            self._out.append(memoryview(chunk))
            self._out_bytes += len(chunk)
        if finish:
            self._out_end = True
        self.pump()
        if self._out_bytes > _HIGH and not self._done:
            tunnel = self._tunnel
            if tunnel is not None and not self._gate.paused:
                tunnel.pause_writing()
            self._gate.pause()

    def pump(self) -> None:
        """Send what the windows allow of the queued body (rule 2)."""
        if self._done or self._response_ended:
            return
        session = self._conn._session
        out = self._out
        sid = self.stream_id
        sent = False
        while out:
            room = session.sendable(sid)
            if room <= 0:
                break
            piece = take(out, room)
            self._out_bytes -= len(piece)
            last = self._out_end and not out
            session.send_body(sid, piece, last)
            self._response_ended = last
            sent = True
        if sent or (out and self.stalled_since is None):
            conn = self._conn
            now = conn._loop.time()
            if sent:
                conn.progress_at = now
            if not out:
                self.stalled_since = None
            else:
                # The rest waits for a window from now (rule 5).
                if self.stalled_since is None:
                    conn._due(now + conn._params.h2_window_timeout)
                self.stalled_since = now
        elif not out:
            self.stalled_since = None
        if not out:
            if self._out_end and not self._response_ended:
                session.send_body(sid, memoryview(b""), True)  # END_STREAM needs no window
                self._response_ended = True
        self._conn._flush()
        if self._out_bytes <= _HIGH and self._gate.paused:
            self._gate.resume()
            if self._tunnel is not None:
                self._tunnel.resume_writing()
        if self._response_ended:
            self._finish_stream(notify=False)

    def drain(self) -> Awaitable[None]:
        """Resolves once the stream's queued output is small and the transport is
        below its high-water mark; fails once the stream or connection is gone."""
        if self._reset or self._conn.transport is None:
            return failed_future(self._conn._loop)
        if self._gate.paused:
            return self._gate.wait()
        return self._conn._gate.wait()

    @property
    def closed(self) -> bool:
        """True once the stream was reset or the connection is closed or closing."""
        return self._reset or self._conn.closed

    def close(self) -> None:
        """End this stream now: reset it if the response has not ended (the
        connection and its other streams carry on)."""
        if self._done:
            return
        self._conn._session.reset(self.stream_id, CANCEL)
        self._reset = True
        self._gate.lost()
        self._finish_stream(notify=True)
        self._conn._flush()

    def abort(self) -> None:
        """Drop this stream now (as :meth:`close`: an HTTP/2 reset discards anyway)."""
        self.close()

    @property
    def stream(self) -> H2StreamView:
        """A view of this stream for Tornado code reaching ``connection.stream``."""
        view = self._view
        if view is None:
            view = self._view = H2StreamView(self)
        return view

    def accept_websocket(self, sink: WebSocketSink, offer: WebSocketOffer) -> WebSocketChannel:
        """Accept the WebSocket an extended CONNECT asked for (rule 7): ``200``, then
        the stream is the WebSocket's. Raises :class:`WebSocketNotSupportedError` for
        any other request."""
        if not self._connect:
            raise WebSocketNotSupportedError(
                "a WebSocket over HTTP/2 needs an extended CONNECT (RFC 8441)"
            )
        if self._done:
            raise StreamClosedError()
        if self._response_started:
            raise HTTPOutputError("response already started")
        return accept_server_websocket(self._open_tunnel, sink, offer, self._params.ws)

    def _open_tunnel(self, headers: list[tuple[bytes, bytes]], protocol: UpgradedProtocol) -> None:
        if self._done:
            raise StreamClosedError()
        try:
            self._conn._session.send_head(
                self.stream_id, 200, websocket_response_headers(headers), False
            )
        except H2OutputError as e:
            raise HTTPOutputError(str(e)) from None
        self._response_started = True
        self._tunnel = protocol
        self._delegate = None
        self._close_callback = None
        protocol.take_over(H2StreamTransport(self, protocol), b"", self._gate.paused, _nothing)
        self._conn._flush()
        if self._inbox or self._request_ended:
            # What the client sent meanwhile, once the caller has set up (as
            # WebSocketProtocol.take_over does with bytes read past a 101).
            self._conn._loop.call_soon(self._tunnel_feed)

    def _tunnel_feed(self) -> None:
        """Hand the WebSocket what arrived for it, acknowledging it as it goes; then
        the client's end of the stream, if it came (rule 7)."""
        tunnel = self._tunnel
        inbox = self._inbox
        session = self._conn._session
        while inbox and tunnel is not None and not self._tunnel_paused:
            data, flow = inbox.popleft()
            tunnel.data_received(data)
            session.ack(self.stream_id, flow)
            tunnel = self._tunnel
        if tunnel is not None and not inbox and self._request_ended and not self._out_end:
            if not tunnel.eof_received():
                self._tunnel_end()
        self._conn._flush()

    def _tunnel_write(self, data: bytes) -> None:
        if not self._tunnel_closing and data:
            self._queue(data, False)

    def _tunnel_end(self) -> None:
        if not self._tunnel_closing:
            self._queue(b"", True)

    def _tunnel_pause(self, paused: bool) -> None:
        self._tunnel_paused = paused
        if not paused and self._tunnel is not None and (self._inbox or self._request_ended):
            self._tunnel_feed()

    @property
    def _tunnel_closing(self) -> bool:
        return self._done or self._out_end

    def shutdown_tunnel(self) -> None:
        """The server is going away: a WebSocket on this stream closes (1001)."""
        tunnel = self._tunnel
        if tunnel is not None:
            tunnel.shutdown()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """The connection's transport details (``"peername"``, ``"ssl_object"``...)."""
        transport = self._conn.transport
        if transport is None:
            return default
        return transport.get_extra_info(name, default)

    # -- the end --------------------------------------------------------------------

    def _finish_stream(self, notify: bool) -> None:
        """The stream is done (rule 4)."""
        if self._done:
            return
        self._done = True
        conn = self._conn
        if not self._reset and not self._request_ended:
            # Answered before the request ended: ask the peer to stop sending.
            conn._session.reset(self.stream_id, NO_ERROR)
        for _chunk, flow in self._inbox:
            conn._session.ack(self.stream_id, flow)
        self._inbox.clear()
        callback, delegate = self._close_callback, self._delegate
        self._close_callback = None
        self._delegate = None
        if notify:
            notify_close(callback, delegate)
            view = self._view
            if view is not None:
                view._run_close_callback()
        tunnel = self._tunnel
        if tunnel is not None:
            self._tunnel = None
            try:
                tunnel.connection_lost(None)
            except Exception:
                gen_log.exception("Exception closing a WebSocket over HTTP/2")
        conn._stream_done(self.stream_id)


def _nothing() -> None:
    pass


class H2StreamView(CloseCallbackView):
    """What Tornado code reaches as ``request.connection.stream`` on an HTTP/2 stream:
    whether the client is still there, and a close callback (run once the stream is
    reset or the connection closes). Raw bytes cannot be written past HTTP/2's
    framing: :meth:`write` fails."""

    __slots__ = ("_stream",)

    def __init__(self, stream: H2Stream) -> None:
        super().__init__()
        self._stream = stream

    def closed(self) -> bool:
        """True once the stream was reset or the connection closed."""
        return self._stream.closed

    def write(self, data: bytes) -> Awaitable[None]:
        """Fails with :class:`StreamClosedError`: HTTP/2 has no raw byte stream."""
        return failed_future(self._stream._conn._loop, StreamClosedError())

    def close(self) -> None:
        """Reset the stream."""
        self._stream.close()
