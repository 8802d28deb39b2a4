"""The httptools engine of the server seam: llhttp (C) parses, h11 judges the odd head.

:class:`HttptoolsSession` speaks the vocabulary of :mod:`.session` exactly as
:class:`~.h11_session.ServerSession` does, so the protocol above cannot tell them
apart; it is several times faster on the request path. Rules of the house:

- No I/O. Bytes in, events out; response parts in, bytes out (llhttp only parses: the
  response is framed by :mod:`.framing`, with h11's rules).
- llhttp in its strict mode: no dangerous leniency is switched on.
- **One judge for hostile heads.** Where llhttp refuses a request head, or accepts one
  that h11 would question (a second ``Host``, an odd ``Transfer-Encoding``, an invalid
  ``Host``, an over-long head or target, a version other than 1.0/1.1), the head is
  parsed again by an h11 :class:`~.h11_session.ServerSession`: its answer (the status,
  the words) is the answer, so both engines refuse the same requests the same way. If
  h11 accepts what llhttp refused (a method llhttp does not know, ``get`` in lower
  case), the connection carries on with h11. That needs the head's bytes, kept from the
  start of the read it began in; a pipelined head that began inside a read is judged on
  the head llhttp parsed, or, where llhttp could not parse it, refused with 400.
- Pipelining: llhttp parses everything it is fed, so events of a following request may
  queue behind the current one (at most one read's worth: the protocol stops reading
  while it answers). Bytes that arrive once the current request is complete are kept
  unparsed until the next cycle, so a ``detach()`` or an upgrade gets them as they were.
"""

from __future__ import annotations

import functools
from typing import cast

import httptools

from tornadish._http.answers import error_answer
from tornadish._http.chunked import ChunkedReader
from tornadish._http.framing import CHUNKED, LENGTH, NO_BODY, UNTIL_CLOSE, frame_response
from tornadish._http.h11_session import ServerSession
from tornadish._http.session import (
    _VALID_HOSTS,
    CLOSED,
    END,
    NEED_DATA,
    PAUSED,
    Event,
    LocalError,
    ProtocolError,
    RequestHead,
    check_value,
    connection_tokens,
    reason_bytes,
    split_headers,
    valid_host,
    whole_message,
)

__all__ = ["TRAILERS", "HeaderCallback", "HttptoolsSession"]

# Where the parser is in the input (not which request is being answered).
_BETWEEN = 0  # nothing of a request yet
_HEAD = 1
_BODY = 2
_DONE = 3  # a request complete, nothing of the next one parsed


# Response progress.
_R_NONE = 0
_R_BODY = 1
_R_DONE = 2

_VERSIONS = {"1.1": "HTTP/1.1", "1.0": "HTTP/1.0"}
_METHODS: dict[bytes, str] = {}
# Headers whose values decide framing, routing or what h11 would refuse.
_WATCHED = frozenset([b"host", b"transfer-encoding", b"content-length", b"connection", b"expect"])
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_TOO_MUCH = "Too much data for declared Content-Length"
_TOO_LITTLE = "Too little data for declared Content-Length"
_INCOMPLETE_HEAD = "peer unexpectedly closed connection"
_INCOMPLETE_BODY = "peer closed connection without sending complete message body"


_SPENT: list = []  # type: ignore[type-arg]  # never appended to: a message begins anew


class _Discard(list):  # type: ignore[type-arg]
    """A list that keeps nothing: where llhttp's trailer fields go."""

    def append(self, item: object) -> None:
        pass


#: Where the header callback puts trailer fields: nowhere (both engines drop them).
TRAILERS: list[tuple[bytes, bytes]] = _Discard()


class _Inert:
    """The protocol of the parser a finished session keeps: it is never fed."""


@functools.cache
def _spent_parser() -> httptools.HttpRequestParser:
    return httptools.HttpRequestParser(_Inert())


class _Judge(Exception):
    """Raised inside llhttp's callbacks: stop, and let h11 parse this head."""


class _Chunked(Exception):
    """Raised at the end of a chunked request's head: stop, the body is read by
    :mod:`.chunked` (llhttp's grammar for it is not RFC 9112's, nor h11's)."""


def _body_error(error: httptools.HttpParserError) -> ProtocolError:
    """A malformed body (llhttp's words turned into Tornado's, as h11's are)."""
    words = str(error)
    lowered = words.lower()
    if "chunk size" in lowered:
        words = "invalid chunk size"
    elif "chunk" in lowered:
        words = "improperly terminated chunk"
    return ProtocolError(400, words or "malformed request body")


class HeaderCallback:
    """llhttp's ``on_header``, for the server and the client sessions alike: the
    (lower-case name, value) pair kept, the value's trailing whitespace dropped (llhttp
    drops the leading), and the head's size counted."""

    __slots__ = ("_head_size", "_headers")
    _head_size: int
    _headers: list[tuple[bytes, bytes]]

    def on_header(self, name: bytes, value: bytes) -> None:
        if value and (value[-1] == 32 or value[-1] == 9):
            value = value.rstrip(b" \t")
        self._headers.append((name.lower(), value))
        self._head_size += len(name) + len(value) + 4


class HttptoolsSession(HeaderCallback):
    """One HTTP/1.1 server connection's protocol state on llhttp (see the module's rules);
    the same interface as :class:`~.h11_session.ServerSession`."""

    __slots__ = (
        "_chunk",
        "_chunked",
        "_cl",
        "_close_10",
        "_current",
        "_end_at",
        "_ended",
        "_eof",
        "_events",
        "_expecting",
        "_fed",
        "_first",
        "_h11",
        "_head_end",
        "_head_fed",
        "_left",
        "_max_head",
        "_mode",
        "_parser",
        "_phase",
        "_quiet",
        "_raw",
        "_response",
        "_reuse",
        "_start",
        "_stash",
        "_tail",
        "_tails",
        "_upgrade_body",
        "_upgrade_rest",
        "_url",
        "_url_limit",
    )

    def __init__(self, max_header_size: int, max_url_size: int) -> None:
        self._max_head = max_header_size
        self._url_limit = max_url_size
        self._parser = httptools.HttpRequestParser(self)
        # Parsed and not yet delivered; a ProtocolError or the h11 session taking over
        # (see _hand_over) comes last.
        # (Lists, not deques: they hold a few items, and an empty deque costs 600 bytes
        # per idle connection.)
        self._events: list[Event | ProtocolError | ServerSession] = []
        self._phase = _BETWEEN
        # The current request's END was delivered: PAUSED until next_cycle().
        self._ended = False
        # Bytes that arrived after the current request was complete: parsed next cycle.
        self._stash: list[bytes] = []
        self._eof = False
        # The reads since the head being parsed began, when it began at a read's start
        # (None otherwise): what h11 parses again to judge it.
        self._raw: list[bytes] | None = None
        self._first = False  # the next message to begin does so at the start of _raw
        # Byte offsets in the input: bytes fed before the read being parsed, where _raw
        # starts, and where the request being parsed ends (-1: not known).
        self._fed = 0
        self._start = 0
        self._end_at = -1
        self._chunk = b""  # the read being parsed
        # The reader of the chunked body under way (see _read_chunked), and the length
        # of the head being parsed.
        self._chunked: ChunkedReader | None = None
        self._head_end = 0
        # The bytes after each request parsed and not yet delivered (None: unknown),
        # and after the one being answered: what a detach() hands over.
        self._tails: list[list[bytes] | None] = []
        self._tail: list[bytes] | None = None
        self._head_fed = 0  # bytes fed while the head being parsed was incomplete
        self._head_size = 0
        self._url: list[bytes] = []
        self._headers = []
        self._cl = False
        self._quiet = 0  # bytes read in a body that made none of it (see _feed)
        # The judge, once the connection has gone over to it.
        self._h11: ServerSession | None = None
        # An upgrade request's following bytes (llhttp stops there), and whether that
        # request announced a body (which llhttp then leaves unread).
        self._upgrade_rest: bytes | None = None
        self._upgrade_body = False
        # The request being answered, and the response's state.
        self._current: RequestHead | None = None
        self._close_10 = False
        self._expecting = False
        self._response = _R_NONE
        self._mode = NO_BODY
        self._left = 0
        self._reuse = False

    # -- llhttp's callbacks --------------------------------------------------------

    def on_message_begin(self) -> None:
        self._phase = _HEAD
        self._url = []
        self._headers = []
        self._head_size = 0
        self._head_fed = -1  # began in the read being parsed
        self._cl = False
        if self._first:
            self._first = False
        else:
            self._raw = None

    def on_url(self, url: bytes) -> None:
        self._url.append(url)
        self._head_size += len(url)
        if self._head_size > self._url_limit:
            if self._raw is not None:
                raise _Judge
            raise ProtocolError(414, "request line too long")

    def on_headers_complete(self) -> None:
        parser = self._parser
        raw_method = parser.get_method()
        method = _METHODS.get(raw_method)
        if method is None:
            method = raw_method.decode("ascii")
            if len(_METHODS) < 64:
                _METHODS[raw_method] = method
        headers = self._headers
        url = self._url[0] if len(self._url) == 1 else b"".join(self._url)
        odd = self._head_size + len(raw_method) + 14 > self._max_head
        raw = self._raw
        whole = b""
        version: str | None = None
        if raw is not None:
            # llhttp lets through a request line h11 refuses (two spaces, say): the
            # line must be exactly what was parsed. (Its version is read here too,
            # cheaper than asking llhttp.)
            whole = raw[0] if len(raw) == 1 else b"".join(raw)
            at = len(whole) - len(whole.lstrip(b"\r\n")) if whole[0] in (10, 13) else 0
            at += len(raw_method)
            if whole[at] != 32 or not whole.startswith(url, at + 1):
                odd = True
            else:
                at += 1 + len(url)
                if whole.startswith(b" HTTP/1.1\r\n", at):
                    version = "HTTP/1.1"
                elif whole.startswith(b" HTTP/1.0\r\n", at):
                    version = "HTTP/1.0"
                else:
                    odd = True
        raw_version = ""  # only a judged head needs it (see below)
        if version is None:
            raw_version = parser.get_http_version()
            version = _VERSIONS.get(raw_version)
            odd = odd or version is None
        length = b""
        hosts = 0
        te = expect = False
        tokens: set[bytes] | None = None
        for name, value in headers:
            if name in _WATCHED:
                if name == b"host":
                    hosts += 1
                    if value not in _VALID_HOSTS:  # valid_host()'s cache, inlined
                        odd = odd or not valid_host(value)
                elif name == b"transfer-encoding":
                    odd = odd or te or value.lower() != b"chunked"
                    te = True
                elif name == b"content-length":
                    odd = odd or self._cl
                    self._cl = True
                    length = value
                elif name == b"connection":
                    tokens = connection_tokens(headers)
                elif value.lower() == b"100-continue":
                    expect = True
        if (te or (length and length != b"0")) and (
            raw_method == b"CONNECT" or (tokens is not None and b"upgrade" in tokens)
        ):
            # llhttp would skip the body of a request that asks to switch protocols and
            # read it as the new protocol's; h11 reads it as the body: h11 decides.
            odd = True
        if odd or (te and self._cl) or (hosts != 1 and (hosts or version == "HTTP/1.1")):
            self._judge_head(raw_method, url, raw_version or (version or "")[5:], headers)
        keep_alive = tokens is None or b"close" not in tokens
        if version == "HTTP/1.0":
            # As the h11 engine: keep-alive only when asked for, never with a
            # Transfer-Encoding (RFC 9112 §6.1).
            keep_alive = keep_alive and tokens is not None and b"keep-alive" in tokens and not te
            expect = False
        self._upgrade_body = te or self._cl
        self._end_at = -1
        self._head_end = -1
        if whole:
            # Where this request ends: a request pipelined behind it in the same read
            # then starts at a known byte, and is judged on its own bytes like any other.
            end = whole.find(b"\r\n\r\n", at)  # (past empty lines before the head)
            if end >= 0:
                self._head_end = end + 4
                if not te:
                    self._end_at = self._start + end + 4 + (int(length) if length else 0)
                else:  # read by .chunked, to its last byte (see _read_chunked)
                    self._chunked = ChunkedReader(self._max_head)
        self._raw = None
        self._phase = _BODY
        self._events.append(
            RequestHead(
                method,
                url.decode("latin-1"),
                version or "HTTP/1.1",
                headers,
                keep_alive,
                expect,
            )
        )
        # Trailer fields (after a chunked body) are dropped, as the h11 engine drops
        # them: the head's list must not take them in.
        self._headers = TRAILERS
        self._quiet = 0
        if te and self._chunked is not None:
            raise _Chunked

    def on_body(self, body: bytes) -> None:
        self._events.append(body)

    def on_message_complete(self) -> None:
        self._phase = _DONE
        self._events.append(END)
        if self._parser.should_upgrade():
            # llhttp skips an upgrade request's body: the request ends with its head.
            head_end = self._head_end
            self._end_at = self._start + head_end if head_end >= 0 else -1
        end = self._end_at
        tail = None
        if end >= 0:
            self._end_at = -1
            offset = end - self._fed
            chunk = self._chunk
            if 0 <= offset <= len(chunk):
                tail = [chunk[offset:]]
                if offset < len(chunk):
                    self._raw = [tail[0]]
                    self._start = end
                    self._first = True
        self._tails.append(tail)

    def _judge_head(
        self, method: bytes, url: bytes, version: str, headers: list[tuple[bytes, bytes]]
    ) -> None:
        """llhttp parsed a head h11 would question: h11 decides."""
        if self._raw is not None:
            raise _Judge
        # A pipelined head that began inside a read: judge the head as llhttp read it.
        lines = [b"%s %s HTTP/%s\r\n" % (method, url, version.encode("ascii"))]
        lines.extend(b"%s: %s\r\n" % item for item in headers)
        lines.append(b"\r\n")
        judge = ServerSession(self._max_head, self._url_limit)
        judge.receive_data(b"".join(lines))
        judge.next_event()  # raises the ProtocolError when h11 refuses it

    # -- receiving --------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Feed bytes read from the peer; ``b""`` means the peer closed its side."""
        if self._h11 is not None:
            self._h11.receive_data(data)
            return
        if self._eof:
            if data:
                raise ProtocolError(400, "data received after the peer closed its side")
            return
        if self._phase == _DONE or self._stash:
            # The request is complete: keep the rest as it is until the next cycle.
            self._stash.append(data)
            self._eof = not data
            return
        if not data:
            self._eof = True
            self._end_of_input()
            return
        for tail in self._tails:
            if tail is not None:
                tail.append(data)
        if self._tail is not None:
            self._tail.append(data)
        if self._phase == _BETWEEN:
            self._raw = [data]
            self._start = self._fed
            self._first = True
        elif self._raw is not None:
            self._raw.append(data)
        elif self._chunked is not None:
            self._read_chunked(data, 0)
            return
        self._feed(data)

    def _feed(self, data: bytes) -> None:
        self._chunk = data
        before = len(self._events)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as e:
            self._upgrade_rest = data[e.args[0] :]
        except httptools.HttpParserCallbackError as e:
            cause = e.__context__
            if isinstance(cause, _Judge):
                self._hand_over()
            elif isinstance(cause, _Chunked):
                self._read_chunked(data, self._start + self._head_end - self._fed)
                return
            elif isinstance(cause, ProtocolError):
                self._fail(cause)
            else:
                raise
        except httptools.HttpParserError as e:
            if self._phase >= _BODY:
                self._fail(_body_error(e))
            elif self._raw is not None:
                self._hand_over()
            else:
                self._fail(ProtocolError(400, "Malformed HTTP request line"))
        else:
            if self._phase == _HEAD:
                fed = self._head_fed
                self._head_fed = len(data) if fed < 0 else fed + len(data)
                if self._head_fed > self._max_head:
                    if self._raw is not None:
                        self._hand_over()
                    else:
                        self._fail(ProtocolError(431, "request header fields too large"))
            elif self._phase == _BODY:
                # Bytes that make no body (chunk sizes, trailer fields) are bounded as
                # a head is: llhttp would hold an endless trailer line in memory.
                if len(self._events) == before:
                    self._quiet += len(data)
                    if self._quiet > self._max_head:
                        self._fail(ProtocolError(431, "request trailer fields too large"))
                else:
                    self._quiet = 0
        self._first = False
        self._fed += len(data)
        self._chunk = b""

    def _read_chunked(self, data: bytes, at: int) -> None:
        """Read ``data[at:]``, bytes of a chunked body, with :mod:`.chunked`
        (``self._fed``: where ``data`` starts in the input). Its end is then known to
        the byte; what follows waits in the stash for the next cycle, where a fresh
        parser reads it (llhttp was stopped at the head)."""
        reader = self._chunked
        assert reader is not None
        self._first = False
        self._chunk = b""
        body = reader.feed(data[at:] if at else data)
        if body:
            self._events.append(body)
        if reader.error is not None:
            self._chunked = None
            self._fail(reader.error)
        elif reader.done:
            self._chunked = None
            rest = reader.rest
            self._fed += len(data) - len(rest)
            self._parser = httptools.HttpRequestParser(self)
            self._end_at = self._fed  # (the tail is the stash)
            self.on_message_complete()
            if rest:
                self._stash.append(rest)
            return
        self._fed += len(data)

    def _hand_over(self) -> None:
        """Give the connection to h11, fed the reads since the head began; it takes
        over once the requests already parsed have been delivered."""
        judge = ServerSession(self._max_head, self._url_limit)
        for chunk in self._raw or ():
            judge.receive_data(chunk)
        if self._eof:
            judge.receive_data(b"")
        self._raw = None
        self._phase = _DONE  # later reads wait in the stash, for h11
        self._events.append(judge)

    def _fail(self, error: ProtocolError) -> None:
        self._events.append(error)
        self._phase = _DONE  # nothing more is parsed

    def _end_of_input(self) -> None:
        phase = self._phase
        if phase == _BETWEEN:
            self._events.append(CLOSED)
        elif phase == _HEAD:
            if self._raw is not None:
                self._hand_over()
            else:
                self._fail(ProtocolError(400, _INCOMPLETE_HEAD, incomplete=True))
        else:
            self._fail(ProtocolError(400, _INCOMPLETE_BODY, incomplete=True))

    def next_event(self) -> Event:
        """The next thing the peer said: a :class:`RequestHead`, body bytes or a marker."""
        if self._h11 is not None:
            return self._h11.next_event()
        events = self._events
        if self._ended:
            # As h11: PAUSED once more of the input waits (or an upgrade might follow).
            if events or self._stash or self._phase != _DONE or self._upgrade_rest is not None:
                head = self._current
                if head is not None and not head.keep_alive and self._upgrade_rest is None:
                    # As h11: nothing may follow a request that ends the connection.
                    raise ProtocolError(400, "Got data when expecting EOF")
                return PAUSED
            return NEED_DATA
        if not events:
            return NEED_DATA
        event = events[0]
        t = type(event)
        # (No typing.cast on this path: it is a call, and this runs for every event.)
        if t is RequestHead:
            del events[0]
            new: RequestHead = event  # type: ignore[assignment]
            self._current = new
            self._expecting = new.expect_continue
            self._close_10 = (
                new.version == "HTTP/1.0"
                and not new.keep_alive
                and not any(name == b"connection" for name, _ in new.headers)
            )
            return new
        if event is END:
            del events[0]
            self._ended = True
            self._tail = self._tails.pop(0)
            return END
        if t is bytes:
            del events[0]
            self._expecting = False  # the client sent body: it is not waiting any more
            return event  # type: ignore[return-value]
        if t is ProtocolError:
            raise cast(ProtocolError, event)  # stays queued: the connection is done
        if t is ServerSession:
            # h11 takes over from here (see _hand_over), with what came since.
            del events[0]
            judge = self._h11 = cast(ServerSession, event)
            stash, self._stash = self._stash, []
            for chunk in stash:
                judge.receive_data(chunk)
            return judge.next_event()
        return CLOSED

    @property
    def partial_head(self) -> int:
        """Bytes of an incomplete request head buffered."""
        if self._h11 is not None:
            return self._h11.partial_head
        return max(self._head_fed, 0) if self._phase == _HEAD and not self._events else 0

    @property
    def expecting_continue(self) -> bool:
        """The client sent ``Expect: 100-continue`` and is still waiting for our go-ahead."""
        if self._h11 is not None:
            return self._h11.expecting_continue
        return self._expecting

    @property
    def has_buffered_data(self) -> bool:
        """Bytes of a following (pipelined) request are already buffered."""
        if self._h11 is not None:
            return self._h11.has_buffered_data
        return bool(self._events or self._stash) or self._phase == _HEAD or self._phase == _BODY

    def detach(self) -> tuple[bytes, bool]:
        """The bytes received past the current request, and whether the peer has
        closed its side (what ``detach()`` starts from), parsed ahead or not. (Past a
        chunked request of over 64 KiB followed in the same read by more, where the
        request ended is not known: only the later reads are returned.)"""
        if self._h11 is not None:
            return self._h11.detach()
        if self._tail is not None:
            rest = b"".join(self._tail)
        else:
            rest = self._upgrade_rest or b""
        return rest + b"".join(self._stash), self._eof

    # -- sending ----------------------------------------------------------------

    def continue_response(self) -> bytes:
        """The bytes of ``100 Continue``."""
        if self._h11 is not None:
            return self._h11.continue_response()
        self._expecting = False
        return _CONTINUE

    def response_head(self, status: int, reason: str, headers: list[tuple[bytes, bytes]]) -> bytes:
        """Serialize the status line and headers, choosing the body's framing as h11
        does: the handler's ``Content-Length``, else chunked for an HTTP/1.1 peer, else
        the close; no body at all for HEAD, 204 and 304."""
        if self._h11 is not None:
            return self._h11.response_head(status, reason, headers)
        head = self._current
        if head is None or self._response != _R_NONE:
            raise LocalError("no request to respond to")
        framed = frame_response(head, self._close_10, status, reason_bytes(reason), headers)
        self._mode = framed.mode
        self._left = framed.length
        self._reuse = framed.keep_alive
        self._response = _R_BODY
        self._expecting = False
        return framed.head

    def whole_response(
        self, status: int, reason: str, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> bytes | None:
        """The complete response (head and body) in one piece, or ``None`` where the
        general path must frame it: the same cases as the h11 engine's."""
        if self._h11 is not None:
            return self._h11.whole_response(status, reason, headers, body)
        head = self._current
        if (
            not self._ended
            or head is None
            or not head.keep_alive
            or head.method == "HEAD"
            or head.version != "HTTP/1.1"
            or status < 200
            or status == 204
            or status == 304
            or self._response != _R_NONE
        ):
            return None
        whole = whole_message(status, reason, headers, body)
        if whole is not None:
            self._response = _R_DONE
            self._reuse = True
        return whole

    def response_data(self, data: bytes) -> bytes:
        """Frame one body chunk."""
        if self._h11 is not None:
            return self._h11.response_data(data)
        if not data:
            return b""
        if self._response != _R_BODY:
            raise LocalError("Can't send data when no response is under way")
        mode = self._mode
        if mode == LENGTH:
            if len(data) > self._left:
                raise LocalError(_TOO_MUCH)
            self._left -= len(data)
            return data
        if mode == CHUNKED:
            return b"%x\r\n" % len(data) + data + b"\r\n"
        if mode == UNTIL_CLOSE:
            return data
        raise LocalError(_TOO_MUCH)

    def response_end(self) -> bytes:
        """The bytes that end the response (the last chunk, if chunked)."""
        if self._h11 is not None:
            return self._h11.response_end()
        if self._response != _R_BODY:
            raise LocalError("Can't end a response that has not begun")
        self._response = _R_DONE
        mode = self._mode
        if mode == LENGTH and self._left:
            raise LocalError(_TOO_LITTLE)
        if mode == CHUNKED:
            return b"0\r\n\r\n"
        if mode == UNTIL_CLOSE:
            self._reuse = False
        return b""

    def accept_upgrade(self, headers: list[tuple[bytes, bytes]]) -> tuple[bytes, bytes]:
        """Answer the request's ``Upgrade`` with ``101 Switching Protocols``; returns its
        bytes and those the peer already sent past its request (the new protocol's)."""
        if self._h11 is not None:
            return self._h11.accept_upgrade(headers)
        if self._upgrade_rest is None or self._events or self._response != _R_NONE:
            raise LocalError("Can't send 101 to a request that did not ask for an upgrade")
        framing, lines = split_headers(headers)
        lines.extend(name + b": " + check_value(value) + b"\r\n" for name, value in framing)
        rest = self._upgrade_rest + b"".join(self._stash)
        self._upgrade_rest = None
        self._stash = []
        self._response = _R_DONE
        self._reuse = False
        # The session is done with the connection, which may live long under its new
        # protocol: let go of the parser and the request (a WebSocket stays small).
        self._parser = _spent_parser()
        self._current = None
        self._url = self._headers = _SPENT
        self._tail = None
        self._tails = []
        return b"HTTP/1.1 101 Switching Protocols\r\n" + b"".join(lines) + b"\r\n", rest

    def error_response(self, status: int, reason: str) -> bytes:
        """The answer to a protocol error (see :func:`~.answers.error_answer`), or
        ``b""`` once a response was under way. The connection closes after it."""
        if self._h11 is not None:
            return self._h11.error_response(status, reason)
        if self._response != _R_NONE:
            return b""
        return error_answer(status, reason)

    # -- cycle ------------------------------------------------------------------

    def next_cycle(self) -> bool:
        """Reset for the next request if both sides finished cleanly; False if the
        connection cannot carry another request."""
        if self._h11 is not None:
            return self._h11.next_cycle()
        if self._response != _R_DONE or not self._ended or not self._reuse:
            return False
        self._ended = False
        self._tail = None
        self._current = None
        if self._phase != _HEAD:
            # Let go of the last request's pieces: an idle connection holds nothing of
            # it. (Not while a pipelined head is half parsed: those lists are its.)
            self._url = self._headers = _SPENT
        self._response = _R_NONE
        self._expecting = False
        if self._events:
            return True  # the next request was parsed already (pipelined)
        rest = self._upgrade_rest
        if rest is not None:
            # An upgrade the application declined: llhttp stopped after the request.
            if self._upgrade_body:
                return False  # its body was left unread: the framing is lost
            self._upgrade_rest = None
            self._parser = httptools.HttpRequestParser(self)
            if rest:
                self._stash.insert(0, rest)
        if self._phase == _DONE:
            self._phase = _BETWEEN
        stash = self._stash
        self._eof = False
        if stash:
            self._stash = []
            for chunk in stash:  # b"" among them: the peer's close
                self.receive_data(chunk)
        return True
