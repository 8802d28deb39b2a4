"""The httptools engine of the client seam: llhttp (C) parses responses, h11 judges the
odd head.

:class:`HttptoolsClientSession` has :class:`~.h11_client.H11ClientSession`'s interface
and answers the same. Rules of the house:

- No I/O. The request is framed here (llhttp only parses): its headers validated as h11
  validates them, its body by its ``Content-Length`` or chunked.
- llhttp in its strict mode, no leniency switched on.
- **One judge.** A response head llhttp refuses, or accepts where h11 would question it
  (framing declared twice or oddly, a head over ``max_header_size``), is parsed again by
  an :class:`~.h11_client.H11ClientSession` fed the same exchange, whose answer is the
  answer; where h11 accepts it, h11 finishes the exchange.
- What llhttp cannot be told goes to h11 for the whole exchange: the answer to a
  ``HEAD`` or ``CONNECT`` (llhttp would wait for the body its ``Content-Length``
  announces).
- A body delimited by the close ends when the server closes (httptools has no call for
  llhttp's end of input: the session knows the framing from the head).
- A chunked body is read by :mod:`.chunked`, as the server reads a chunked request
  (llhttp's grammar for it is not RFC 9112's, nor h11's): llhttp is stopped at the head.
"""

from __future__ import annotations

import re

import httptools

from tornadish._http.chunked import ChunkedReader
from tornadish._http.client_session import (
    CLOSED,
    END,
    NEED_DATA,
    ClientEvent,
    LocalError,
    ResponseError,
    ResponseHead,
)
from tornadish._http.h11_client import H11ClientSession
from tornadish._http.httptools_session import TRAILERS, HeaderCallback
from tornadish._http.session import check_value, split_headers

__all__ = ["HttptoolsClientSession"]

_METHOD = re.compile(r"[-!#$%&'*+.^_`|~0-9a-zA-Z]+")
_TARGET = re.compile(r"[\x21-\x7e]+")
_VERSIONS = {"1.1": "HTTP/1.1", "1.0": "HTTP/1.0"}
_WATCHED = frozenset([b"transfer-encoding", b"content-length"])

# The body's framing, request or response.
_NONE = 0
_LENGTH = 1
_CHUNKED = 2
_UNTIL_CLOSE = 3

_INCOMPLETE = "peer closed connection without sending complete message body"


class _Judge(Exception):
    """Raised inside llhttp's callbacks: stop, and let h11 parse this response."""


class _Chunked(Exception):
    """Raised at the end of a head announcing a chunked body: stop, :mod:`.chunked`
    reads the body."""


def _body_start(raw: list[bytes], heads: int) -> int:
    """Where the body begins in the last of ``raw`` (the reads since the response
    began), past its ``heads`` heads (1xx ones first; llhttp, strict, let each end in
    the first CRLF CRLF, and skips CR and LF before one)."""
    whole = b"".join(raw)
    pos = 0
    for _ in range(heads):
        while whole[pos] == 13 or whole[pos] == 10:
            pos += 1
        pos = whole.index(b"\r\n\r\n", pos) + 4
    return pos - (len(whole) - len(raw[-1]))


class HttptoolsClientSession(HeaderCallback):
    """One HTTP/1.1 client connection's protocol state on llhttp (see the module's rules)."""

    __slots__ = (
        "_chunked",
        "_code",
        "_complete",
        "_eof",
        "_events",
        "_extra",
        "_framing",
        "_h11",
        "_heads",
        "_in_body",
        "_keep_alive",
        "_max_head",
        "_parser",
        "_raw",
        "_reason",
        "_req_left",
        "_req_mode",
        "_request",
        "_shown",
        "_started",
    )

    def __init__(self, max_header_size: int) -> None:
        self._max_head = max_header_size
        self._parser: httptools.HttpResponseParser | None = None
        self._events: list[ClientEvent | ResponseError] = []  # a few at a time
        # h11, for this exchange (a HEAD, or a response it judged and accepted).
        self._h11: H11ClientSession | None = None
        # The request as sent, to replay to h11 if it must judge the response.
        self._request: tuple[str, str, list[tuple[bytes, bytes]]] | None = None
        self._req_mode = _NONE
        self._req_left = 0
        self._raw: list[bytes] | None = []  # the response's bytes until its final head
        self._reason: list[bytes] = []
        self._headers = []
        self._head_size = 0
        self._code = 0
        self._framing = _NONE
        self._in_body = False
        self._started = False  # a message of the response began
        # Informational (1xx) heads delivered from llhttp: h11, taking over, repeats them.
        self._shown = 0
        self._complete = False  # the final response ended
        self._extra = False  # bytes came after it
        self._keep_alive = False
        self._eof = False
        self._heads = 0  # heads parsed in this exchange (1xx ones too)
        self._chunked: ChunkedReader | None = None  # the reader of a chunked body

    # -- the request ------------------------------------------------------------

    def request_head(self, method: str, target: str, headers: list[tuple[bytes, bytes]]) -> bytes:
        """The request's head; ``LocalError`` for one HTTP/1.1 does not allow."""
        self._request = (method, target, headers)
        if method == "HEAD" or method == "CONNECT":
            judge = self._h11 = H11ClientSession(self._max_head)
            return judge.request_head(method, target, headers)
        self._h11 = None
        if _METHOD.fullmatch(method) is None or _TARGET.fullmatch(target) is None:
            raise LocalError(f"illegal request line {method!r} {target!r}")
        framing, lines = split_headers(headers)
        hosts = 0
        mode = _NONE
        length = -1
        for name, value in framing:
            lname = name.lower()
            if lname == b"content-length":
                value = value.strip()
                if not value.isdigit() or (length >= 0 and int(value) != length):
                    raise LocalError("bad Content-Length")
                length = int(value)
                mode = _LENGTH if mode != _CHUNKED else mode
            elif lname == b"transfer-encoding":
                if value.strip().lower() != b"chunked" or mode == _CHUNKED:
                    raise LocalError("Only Transfer-Encoding: chunked is supported")
                mode = _CHUNKED
            check_value(value)
            lines.append(name + b": " + value + b"\r\n")
        for line in lines:
            if line[:5].lower() == b"host:":
                hosts += 1
        if hosts != 1:
            raise LocalError("Missing mandatory Host: header" if not hosts else "multiple Host")
        self._req_mode = mode
        self._req_left = length if mode == _LENGTH else 0
        self._parser = httptools.HttpResponseParser(self)
        self._raw = []
        self._started = self._complete = self._extra = self._in_body = False
        self._shown = self._heads = 0
        self._eof = False
        self._chunked = None
        return b"%s %s HTTP/1.1\r\n%s\r\n" % (method.encode(), target.encode(), b"".join(lines))

    def request_data(self, data: bytes) -> bytes:
        """One piece of the request body, framed."""
        if self._h11 is not None:
            return self._h11.request_data(data)
        if not data:
            return b""
        mode = self._req_mode
        if mode == _CHUNKED:
            return b"%x\r\n" % len(data) + data + b"\r\n"
        if mode == _LENGTH and len(data) <= self._req_left:
            self._req_left -= len(data)
            return data
        raise LocalError("Too much data for declared Content-Length")

    def request_end(self) -> bytes:
        """The end of the request (the last chunk, when chunked)."""
        if self._h11 is not None:
            return self._h11.request_end()
        if self._req_mode == _LENGTH and self._req_left:
            raise LocalError("Too little data for declared Content-Length")
        self._req_left = -1  # sent
        return b"0\r\n\r\n" if self._req_mode == _CHUNKED else b""

    # -- llhttp's callbacks -------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._complete:
            self._extra = True  # the server said more than its answer
        self._started = True
        self._reason = []
        self._headers = []
        self._head_size = 0

    def on_status(self, reason: bytes) -> None:
        self._reason.append(reason)
        self._head_size += len(reason)

    def on_headers_complete(self) -> None:
        if self._complete:
            return
        self._heads += 1
        parser = self._parser
        assert parser is not None
        code = parser.get_status_code()
        version = _VERSIONS.get(parser.get_http_version())
        headers = self._headers
        odd = version is None or self._head_size + 15 > self._max_head
        te = cl = False
        for name, value in headers:
            if name in _WATCHED:
                if name == b"content-length":
                    odd = odd or cl
                    cl = True
                else:
                    odd = odd or te or value.lower() != b"chunked"
                    te = True
        if odd or (te and cl) or (code < 200 and (te or cl)):
            raise _Judge
        if code < 200 or code == 204 or code == 304:
            self._framing = _NONE
        elif te:
            self._framing = _CHUNKED
        elif cl:
            self._framing = _LENGTH
        else:
            self._framing = _UNTIL_CLOSE
        reason = self._reason[0] if len(self._reason) == 1 else b"".join(self._reason)
        self._events.append(ResponseHead(code, reason.decode("latin-1"), version or "", headers))
        if code >= 200:
            self._in_body = True
            self._headers = TRAILERS  # dropped, as the h11 engine drops them
            if self._framing == _CHUNKED:
                self._chunked = ChunkedReader(self._max_head)
                raise _Chunked  # (self._raw still has the head, to find the body)
            self._raw = None

    def on_body(self, body: bytes) -> None:
        if not self._complete:
            self._events.append(body)

    def on_message_complete(self) -> None:
        if self._complete or not self._in_body:
            return  # an informational response, or what came after the answer
        self._complete = True
        self._in_body = False
        parser = self._parser
        # As the h11 engine: an HTTP/1.0 exchange is never followed by another.
        self._keep_alive = (
            parser is not None and parser.should_keep_alive() and parser.get_http_version() == "1.1"
        )
        self._events.append(END)

    # -- the response -------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Bytes from the server; ``b""`` when it closed its side."""
        if self._h11 is not None:
            self._h11.receive_data(data)
            return
        if self._chunked is not None:
            self._read_chunked(data, 0)
            return
        if self._eof:
            if data:
                raise ResponseError("data after end of stream", after_close=True)
            return
        if not data:
            self._eof = True
            if self._complete:
                return
            if self._in_body and self._framing == _UNTIL_CLOSE:
                self._complete = True
                self._in_body = False
                self._keep_alive = False
                self._events.append(END)  # the close ends this body
            elif self._raw is not None and self._raw:
                self._hand_over()  # h11's words for a head cut short
            elif self._started:
                self._events.append(ResponseError(_INCOMPLETE))
            else:
                self._events.append(CLOSED)
            return
        raw = self._raw
        if raw is not None:
            raw.append(data)
        parser = self._parser
        if parser is None:
            self._extra = True
            return
        try:
            parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._extra = True  # a protocol switch this client did not ask for
        except httptools.HttpParserCallbackError as e:
            if isinstance(e.__context__, _Chunked) and self._raw is not None:
                at = _body_start(self._raw, self._heads)
                self._raw = None
                self._read_chunked(data, at)
                return
            if not isinstance(e.__context__, _Judge):
                raise
            self._hand_over()
        except httptools.HttpParserError as e:
            if self._complete:
                self._extra = True
            elif self._raw is not None:
                self._hand_over()
            else:
                self._events.append(ResponseError(str(e) or "malformed response"))
                self._parser = None
        else:
            if raw is not None and self._raw is not None and sum(map(len, raw)) > self._max_head:
                self._hand_over()  # a head outgrowing its limit: h11's 431

    def _read_chunked(self, data: bytes, at: int) -> None:
        """Read ``data[at:]``, bytes of the chunked body, with :mod:`.chunked`."""
        reader = self._chunked
        assert reader is not None
        if not data:
            self._eof = True
            self._chunked = None
            self._events.append(ResponseError(_INCOMPLETE))
            return
        body = reader.feed(data[at:] if at else data)
        if body:
            self._events.append(body)
        error = reader.error
        if error is not None:
            self._chunked = self._parser = None
            self._events.append(ResponseError(error.message, too_large=error.status == 431))
        elif reader.done:
            self._chunked = None
            self.on_message_complete()
            self._parser = None  # (it stopped at the head)
            self._extra = bool(reader.rest)

    def _hand_over(self) -> None:
        """h11 judges (and, if it accepts, reads) the response from its first byte."""
        judge = H11ClientSession(self._max_head)
        if self._request is not None:
            method, target, headers = self._request
            try:
                judge.request_head(method, target, headers)
                if self._req_left == -1:
                    judge.request_end()
            except LocalError:
                pass
        self._events.clear()
        self._parser = None
        raw, self._raw = self._raw or [], None
        try:
            for chunk in raw:
                judge.receive_data(chunk)
            if self._eof:
                judge.receive_data(b"")
        except ResponseError as e:
            self._events.append(e)
            return
        self._h11 = judge

    def next_event(self) -> ClientEvent:
        """The next thing the server said; raises :class:`ResponseError`."""
        judge = self._h11
        if judge is not None:
            event = judge.next_event()
            while self._shown and type(event) is ResponseHead:
                # h11 read the exchange from its first byte: the 1xx heads already
                # delivered from llhttp come again; they are not news.
                self._shown -= 1
                event = judge.next_event()
            self._shown = 0
            return event
        events = self._events
        if not events:
            return NEED_DATA
        queued = events[0]
        if isinstance(queued, ResponseError):
            raise queued
        if queued is not CLOSED:
            del events[0]
            if isinstance(queued, ResponseHead) and queued.code < 200:
                self._shown += 1
        return queued

    def next_cycle(self) -> bool:
        """After ``END``: True when the connection may carry another exchange."""
        if self._h11 is not None:
            reusable = self._h11.next_cycle()
            self._h11 = None
            self._request = None
            return reusable and not self._eof
        reusable = (
            self._complete
            and self._keep_alive
            and not self._extra
            and not self._eof
            and self._req_left == -1
            and not self._events
        )
        self._parser = None
        self._request = None
        return reusable
