"""The h11 engine of the server seam: everything on the server side that touches h11.

The asyncio protocol above this module speaks the vocabulary of :mod:`.session` — a
request head, body chunks, the end of a message, and response head/body/end as bytes —
so the other engine (:mod:`.httptools_session`) replaces this one by reimplementing
:class:`ServerSession` alone. It is also that engine's judge: a request head llhttp
refuses, or one it accepts but h11 would not, is parsed again here.

Rules of the house:
- No I/O. Bytes in (:meth:`ServerSession.receive_data`), events out
  (:meth:`ServerSession.next_event`); response parts in, bytes out.
- Malformed input surfaces as :class:`ProtocolError` carrying the status the RFCs ask for;
  nothing h11-specific escapes this module.
- h11 through its public API only. Where it has no hook (HTTP/1.0 keep-alive) or is
  bypassed for speed (the whole-response path), the seam writes the bytes itself and
  starts the next cycle on a fresh ``h11.Connection`` fed with ``trailing_data``.
  ``tests/http/test_engine_contract.py`` pins the h11 behaviour this relies on.
"""

from __future__ import annotations

import functools

import h11

from tornadish._http.answers import error_answer
from tornadish._http.chunked import ChunkedReader
from tornadish._http.session import (
    CLOSED,
    END,
    NEED_DATA,
    PAUSED,
    Event,
    LocalError,
    ProtocolError,
    RequestHead,
    bad_field_value,
    connection_tokens,
    reason_bytes,
    split_headers,
    valid_host,
    whole_message,
)
from tornadish._http.wording import shown_bytes, tornado_wording

__all__ = [
    "CLOSED",
    "END",
    "NEED_DATA",
    "PAUSED",
    "LocalError",
    "ProtocolError",
    "RequestHead",
    "ServerSession",
]

_VERSIONS = {b"1.1": "HTTP/1.1", b"1.0": "HTTP/1.0"}
_CONTINUE = h11.InformationalResponse(status_code=100, headers=[], reason=b"Continue")
_EOM = h11.EndOfMessage()


@functools.cache
def _spent_connection() -> h11.Connection:
    """What a session keeps once the connection has left HTTP (never used again)."""
    return h11.Connection(h11.SERVER)


# Both sides of an exchange are through: h11 parks an HTTP/1.0 exchange in MUST_CLOSE.
_FINISHED = (h11.DONE, h11.MUST_CLOSE)


def _http10_keep_alive_head(resp: h11.Response) -> bytes | None:
    """The head of ``resp`` announcing ``Connection: keep-alive`` to an HTTP/1.0 client
    that asked for it, or ``None`` where the connection must close after it.

    h11 closes every HTTP/1.0 exchange (it writes ``Connection: close`` and ends the
    cycle in MUST_CLOSE). Keep-alive is sound when the body is Content-Length framed;
    so for that case this head replaces the one h11 wrote, h11 still frames the body
    and checks its length, and the next cycle starts on a fresh h11 connection
    (:meth:`ServerSession.next_cycle`).
    """
    length = announced = False
    for name, value in resp.headers:  # validated by h11; names in lower case
        if name == b"content-length":
            length = True
        elif name == b"transfer-encoding":
            return None  # h11 drops the framing and delimits the body by the close
        elif name == b"connection":
            tokens = {t.strip().lower() for t in value.split(b",")}
            if b"close" in tokens:
                return None
            announced = announced or b"keep-alive" in tokens
    if not length:
        return None  # a body of unknown length: only the close can end it
    lines = [b"HTTP/1.1 %d %s\r\n" % (resp.status_code, resp.reason)]
    lines.extend(b"%s: %s\r\n" % item for item in resp.headers.raw_items())
    if not announced:
        lines.append(b"Connection: Keep-Alive\r\n")  # Tornado's spelling
    lines.append(b"\r\n")
    return b"".join(lines)


class ServerSession:
    """One HTTP/1.1 server connection's protocol state, one request/response cycle at a time."""

    __slots__ = (
        "_chunked",
        "_close_10",
        "_conn",
        "_head_limit",
        "_idle",
        "_in_message",
        "_keep_alive_10",
        "_kept_alive_10",
        "_last_data",
        "_max_head",
        "_plain",
        "_renew",
        "_url_limit",
        "partial_head",
    )

    def __init__(self, max_header_size: int, max_url_size: int) -> None:
        self._conn = h11.Connection(h11.SERVER, max_incomplete_event_size=max_header_size)
        self._max_head = max_header_size
        self._head_limit = max_header_size
        self._url_limit = max_url_size
        # The request is HTTP/1.0 and asks for keep-alive.
        self._keep_alive_10 = False
        # The request is HTTP/1.0 without keep-alive: closing is its default, so the
        # answer does not say ``Connection: close`` (as Tornado's does not).
        self._close_10 = False
        # The last bytes fed while waiting for a head: the words of an error about it.
        self._last_data = b""
        # Our answer to it announced keep-alive, though h11 closes the exchange.
        self._kept_alive_10 = False
        # The request allows the whole-response path (HTTP/1.1, keep-alive, not HEAD).
        self._plain = False
        # A whole response was sent past h11: the next cycle starts on a fresh connection.
        self._renew = False
        # That fresh connection has been given nothing yet: h11 could only say NEED_DATA.
        self._idle = False
        #: Bytes of an incomplete request head buffered (as of the last NEED_DATA).
        self.partial_head = 0
        # A request head was read this cycle (what follows is its body or trailers).
        self._in_message = False
        # The reader of the chunked body under way (see _start_chunked).
        self._chunked: ChunkedReader | None = None

    # -- receiving --------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Feed bytes read from the peer; ``b""`` means the peer closed its side."""
        if self._chunked is not None:
            self._read_chunked(data)
            return
        if data and (data[0] == 13 or data[0] == 10) and self._between_requests():
            # RFC 9112 §2.2: empty lines before a request line are ignored (some
            # clients send an extra CRLF after a body); h11 refuses them.
            data = data.lstrip(b"\r\n")
            if not data:
                return
        self._idle = False
        self._last_data = data
        try:
            self._conn.receive_data(data)
        except RuntimeError as e:  # data after close: treat as a protocol violation
            raise ProtocolError(400, str(e)) from None

    def next_event(self) -> Event:
        """The next thing the peer said: a :class:`RequestHead`, body bytes or a marker."""
        if self._idle:
            self.partial_head = 0
            return NEED_DATA
        try:
            event = self._conn.next_event()
        except h11.RemoteProtocolError as e:
            raise self._classify(e) from None
        t = type(event)
        if t is h11.Data:
            return bytes(event.data)  # type: ignore[union-attr]
        if t is h11.Request:
            return self._head(event)  # type: ignore[arg-type]
        if t is h11.EndOfMessage:
            return END
        if event is h11.NEED_DATA:
            self._check_partial_head()
            return NEED_DATA
        if event is h11.PAUSED:
            return PAUSED
        return CLOSED  # ConnectionClosed

    def _between_requests(self) -> bool:
        """Waiting for a request line with nothing of it buffered."""
        conn = self._conn
        return conn.their_state is h11.IDLE and not conn.trailing_data[0]

    def _head(self, req: h11.Request) -> RequestHead:
        headers = list(req.headers)
        version = _VERSIONS.get(req.http_version)
        if version is None:
            if not req.http_version.startswith(b"1."):
                # RFC 9110 §15.6.6: another major version is not ours to speak.
                raise ProtocolError(
                    505, f"HTTP version not supported: {shown_bytes(req.http_version)}"
                )
            # A later 1.x is read as 1.1 (RFC 9110 §2.5), under the version it gave.
            version = "HTTP/" + req.http_version.decode("ascii")
        target = req.target
        if len(target) > self._url_limit:
            raise ProtocolError(414, "request target too long")
        keep_alive = True
        tokens: set[bytes] | None = None
        te = cl = False
        # h11 bounds only an *incomplete* head; a whole one that arrived in a single read
        # is parsed whatever its size, so measure it here (values without their OWS).
        size = len(req.method) + len(target) + 14
        for name, value in headers:
            size += len(name) + len(value) + 4
            if bad_field_value(value) is not None:
                raise ProtocolError(400, f"Invalid header value {shown_bytes(value)}")
            if name == b"host" and not valid_host(value):
                # RFC 9112 §3.2: 400 for an invalid Host (h11 refuses a second one).
                raise ProtocolError(400, f"Invalid Host header: {value.decode('latin-1')!r}")
            elif name == b"connection":
                tokens = connection_tokens(headers)
            elif name == b"transfer-encoding":
                te = True
            elif name == b"content-length":
                cl = True
        if size > self._head_limit:
            raise ProtocolError(431, "request header fields too large")
        if te and cl:
            # RFC 9112 §6.1: a message with both is a smuggling attempt until proven
            # otherwise; refuse it rather than pick one framing.
            raise ProtocolError(400, "Message with both Transfer-Encoding and Content-Length")
        if tokens is not None and b"close" in tokens:
            keep_alive = False
        if te:
            self._start_chunked(req)  # (h11 refused any coding but chunked)
        self._keep_alive_10 = self._kept_alive_10 = self._close_10 = False
        self._in_message = True
        if version == "HTTP/1.0":
            # RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 makes the framing suspect;
            # close after this message (no keep-alive) so nothing after it is read.
            keep_alive = tokens is not None and b"keep-alive" in tokens and keep_alive and not te
            self._keep_alive_10 = keep_alive
            self._close_10 = not keep_alive and tokens is None
            self._plain = False
        else:
            self._plain = keep_alive and req.method != b"HEAD"
        return RequestHead(
            req.method.decode("ascii"),
            target.decode("latin-1"),
            version,
            headers,
            keep_alive,
            self._conn.they_are_waiting_for_100_continue,
        )

    def _start_chunked(self, req: h11.Request) -> None:
        """Read this request's chunked body with :mod:`.chunked`, not h11 (see there why).

        h11 has buffered what followed the head: that is taken back, and h11 starts over
        on a fresh connection, given the head again as it parsed it, then the body's
        data in the plainest framing (one chunk a read). Only chunked requests pay this.
        """
        data, closed = self._conn.trailing_data
        lines = [b"%s %s HTTP/%s\r\n" % (req.method, req.target, req.http_version)]
        lines.extend(b"%s: %s\r\n" % pair for pair in req.headers.raw_items())
        lines.append(b"\r\n")
        conn = self._conn = h11.Connection(h11.SERVER, max_incomplete_event_size=self._max_head)
        conn.receive_data(b"".join(lines))
        conn.next_event()  # the same request, read again
        self._chunked = ChunkedReader(self._max_head)
        if data:
            self._read_chunked(bytes(data))
        if closed:
            self._read_chunked(b"")

    def _read_chunked(self, data: bytes) -> None:
        """The chunked body's next bytes, read by :mod:`.chunked`; h11 is given their
        data, the body's end and what follows it. A refusal is raised once the data
        before it has been delivered (:meth:`_check_partial_head`)."""
        reader = self._chunked
        assert reader is not None
        conn = self._conn
        if reader.error is not None:
            return  # refused: nothing more is read
        if not data:
            self._chunked = None
            conn.receive_data(b"")  # mid-body: h11 reports the incomplete message
            return
        body = reader.feed(data)
        if body:
            conn.receive_data(b"%x\r\n" % len(body))
            conn.receive_data(body)
            conn.receive_data(b"\r\n")
        if reader.done:
            self._chunked = None
            conn.receive_data(b"0\r\n\r\n")
            if reader.rest:
                conn.receive_data(reader.rest)

    def _check_partial_head(self) -> None:
        # Only while waiting for a request head: answer an over-long request line with 414
        # as soon as it is evident, instead of h11's generic "buffer too long" later.
        conn = self._conn
        if conn.their_state is not h11.IDLE:
            self.partial_head = 0
            if self._chunked is not None and self._chunked.error is not None:
                raise self._chunked.error  # after the data read before it
            return
        data, _closed = conn.trailing_data
        self.partial_head = len(data)
        if len(data) > self._url_limit and b"\n" not in data[: self._url_limit + 16]:
            raise ProtocolError(414, "request line too long")

    def _classify(self, e: h11.RemoteProtocolError) -> ProtocolError:
        status = e.error_status_hint
        message = str(e) or "bad request"
        if status == 431 and not self._in_message:
            # (Only a request line can be a too-long target; trailer fields are not.)
            data, _ = self._conn.trailing_data
            first = data.find(b"\n")
            if first == -1 or first > self._url_limit:
                return ProtocolError(414, "request line too long")
        words = tornado_wording(message, self._last_data)
        if words.startswith("Unsupported Transfer-Encoding"):
            # h11 hints 501 (RFC 9112 §6.1 SHOULD). Tornado answers 400, since 6.4.1 fixed
            # request smuggling through unknown codings; kept, so apps and their tests move
            # over unchanged (docs/migrating.md). 400 is a valid answer to any client error.
            status = 400
        # h11's words for a close inside a message ("peer closed connection without
        # sending complete message body", "peer unexpectedly closed connection").
        return ProtocolError(status, words, incomplete=message.startswith("peer "))

    @property
    def expecting_continue(self) -> bool:
        """The client sent ``Expect: 100-continue`` and is still waiting for our go-ahead."""
        return self._conn.they_are_waiting_for_100_continue

    @property
    def has_buffered_data(self) -> bool:
        """Bytes of a following (pipelined) request are already buffered."""
        return not self._idle and bool(self._conn.trailing_data[0])

    def detach(self) -> tuple[bytes, bool]:
        """The bytes received and not yet parsed, and whether the peer has closed its
        side: what a connection taken out of HTTP (``detach()``) starts from."""
        if self._idle:
            return b"", False
        data, closed = self._conn.trailing_data
        return bytes(data), closed

    # -- sending ----------------------------------------------------------------

    def continue_response(self) -> bytes:
        """The bytes of ``100 Continue``."""
        return self._send(_CONTINUE)

    def response_head(self, status: int, reason: str, headers: list[tuple[bytes, bytes]]) -> bytes:
        """Serialize the status line and headers.

        h11 sees only the headers that decide framing and connection reuse
        (Content-Length, Transfer-Encoding, Connection): it remains the state machine
        and chooses chunking, close-delimiting and ``Connection: close``. The other
        headers are validated here (token names, no CR/LF/NUL in values) and spliced
        into h11's output, which spares h11's per-header validation, done twice per
        response, on headers that cannot affect its state.
        """
        framing, extra = split_headers(headers)
        # h11 writes the reason phrase as given: CR/LF would split the response.
        reason_raw = reason_bytes(reason)
        try:
            resp = h11.Response(status_code=status, headers=framing, reason=reason_raw)
        except h11.LocalProtocolError as e:
            raise LocalError(str(e)) from None
        head = self._send(resp)
        if self._close_10:
            head = head.replace(b"\r\nConnection: close\r\n", b"\r\n", 1)
        if self._keep_alive_10:
            kept = _http10_keep_alive_head(resp)
            if kept is not None:
                head = kept
                self._kept_alive_10 = True
        if extra:
            # h11's head ends with the blank line; ours go just before it.
            head = head[:-2] + b"".join(extra) + b"\r\n"
        return head

    def whole_response(
        self, status: int, reason: str, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> bytes | None:
        """The complete response (head and body) in one piece, or ``None`` where h11 must
        frame it (see :meth:`response_head`).

        Most responses are a keep-alive HTTP/1.1 answer to a request read in full, with
        a body of known length: h11's framing is then plainly ``Content-Length``, and
        serializing it here spares three trips through h11's state machine. h11 stays
        in charge of everything else; the next cycle starts on a fresh h11 connection
        fed with any bytes read past this request (:meth:`next_cycle`).
        """
        if not self._plain or status < 200 or status == 204 or status == 304:
            return None
        if self._conn.their_state is not h11.DONE:
            return None
        whole = whole_message(status, reason, headers, body)  # else h11's to judge
        if whole is not None:
            self._renew = True
        return whole

    def response_data(self, data: bytes) -> bytes:
        """Frame one body chunk (chunked encoding is applied when h11 chose it)."""
        if not data:
            return b""
        return self._send(h11.Data(data=data))

    def response_end(self) -> bytes:
        """The bytes that end the response (the last chunk, if chunked)."""
        return self._send(_EOM)

    def _send(self, event: h11.Event) -> bytes:
        try:
            out = self._conn.send(event)
        except h11.LocalProtocolError as e:
            raise LocalError(str(e)) from None
        return out or b""

    def accept_upgrade(self, headers: list[tuple[bytes, bytes]]) -> tuple[bytes, bytes]:
        """Answer the request's ``Upgrade`` with ``101 Switching Protocols``.

        Returns the bytes of the 101 response and the bytes the peer already sent past
        its request (they belong to the new protocol). h11 checks that the request did
        ask for an upgrade; afterwards this session is done with the connection.
        """
        try:
            out = self._conn.send(h11.InformationalResponse(status_code=101, headers=headers))
        except h11.LocalProtocolError as e:
            raise LocalError(str(e)) from None
        rest = bytes(self._conn.trailing_data[0])
        # Done with the connection, which may live long under its new protocol: let go
        # of h11's state (a WebSocket stays small).
        self._conn = _spent_connection()
        return out or b"", rest

    def error_response(self, status: int, reason: str) -> bytes:
        """The answer to a protocol error (see :func:`~.answers.error_answer`), or
        ``b""`` when the state machine can no longer send one (a response was already
        under way). The connection closes after it."""
        if self._conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return b""
        return error_answer(status, reason)

    # -- cycle ------------------------------------------------------------------

    def next_cycle(self) -> bool:
        """Reset for the next request if both sides finished cleanly; False if the
        connection cannot carry another request."""
        self._in_message = False
        if self._kept_alive_10:
            self._kept_alive_10 = False
            conn = self._conn
            if conn.our_state not in _FINISHED or conn.their_state not in _FINISHED:
                return False  # a body is still unread (or unsent)
            self._renew = True
        if self._renew:
            self._renew = False
            self._fresh_cycle()
            return True
        try:
            self._conn.start_next_cycle()
        except h11.LocalProtocolError:
            return False
        data = self._conn.trailing_data[0]
        if data and (data[0] == 13 or data[0] == 10):
            self._fresh_cycle()  # h11 would refuse the empty lines ahead of the request
        return True

    def _fresh_cycle(self) -> None:
        """Start the next cycle on a new h11 connection, fed what the old one had read
        past its request (less any empty lines before the next request line)."""
        data, closed = self._conn.trailing_data
        if data and (data[0] == 13 or data[0] == 10):
            data = data.lstrip(b"\r\n")
        conn = self._conn = h11.Connection(h11.SERVER, max_incomplete_event_size=self._max_head)
        if data:
            conn.receive_data(data)
        if closed:
            conn.receive_data(b"")
        self._idle = not data and not closed
