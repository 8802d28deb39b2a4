"""One HTTP/1.x exchange on h11, in Tornado's vocabulary: the seam under
``tornadish.http1connection`` (Tornado's ``HTTP1Connection`` over an ``IOStream``).

tornadish's own server (:mod:`.h11_session`) and client (``_client.connection``) each
have a seam tuned for their hot paths. This one serves the other users of HTTP/1.x
framing: code that drives ``HTTP1Connection`` itself, as a client reading a response
off a raw stream or as a server through ``HTTP1ServerConnection``. Either role, one
request and its response per :class:`Exchange`; the next message on the same stream
starts a new one with the bytes this one did not use (:meth:`Exchange.leftover`).

Rules of the house:
- No I/O. Bytes in (:meth:`Exchange.receive`), events out (:meth:`Exchange.next_event`);
  Tornado's start lines and :class:`HTTPHeaders` in, bytes out.
- h11 decides framing (Content-Length, chunked, read-until-close, HEAD, 1xx/204/304)
  through its public API only. Malformed input becomes :class:`HTTPInputError` and a
  message the caller may not send becomes :class:`HTTPOutputError`; nothing h11-specific
  escapes. Where Tornado's tests and logs name an error, its wording is kept
  (:mod:`tornadish._http.wording`).
"""

from __future__ import annotations

from typing import Final

import h11

from tornadish._http.headers import HTTPHeaders, HTTPInputError, HTTPOutputError
from tornadish._http.parse import RequestStartLine, ResponseStartLine

# The server seam's markers: NEED_DATA and END mean the same here.
from tornadish._http.session import END, NEED_DATA, _Marker
from tornadish._http.wording import output_wording, tornado_wording

__all__ = [
    "END",
    "MAX_1XX_RESPONSES",
    "NEED_DATA",
    "Exchange",
    "Head",
    "head_refusal",
    "informational_refusal",
]

MAX_1XX_RESPONSES: Final = 16
"""How many informational (1xx) responses may precede a response (Tornado's
``_MAX_1XX_RESPONSES``): a peer sending them without end must not keep a client busy."""


class Head:
    """A message's start line and headers; ``informational`` for a 1xx response."""

    __slots__ = ("headers", "informational", "start_line")

    def __init__(
        self,
        start_line: RequestStartLine | ResponseStartLine,
        headers: HTTPHeaders,
        informational: bool,
    ) -> None:
        self.start_line = start_line
        self.headers = headers
        self.informational = informational


Event = Head | bytes | _Marker


def informational_refusal(code: int, headers: HTTPHeaders, seen: int) -> str | None:
    """Why a 1xx response, after ``seen`` others, is refused (Tornado's words), or None:
    it announces a body, or it is one too many (a peer sending them without end)."""
    if "Content-Length" in headers or "Transfer-Encoding" in headers:
        return f"Response code {code} cannot have body"
    if seen >= MAX_1XX_RESPONSES:
        return "Too many 1xx responses"
    return None


def head_refusal(code: int | None, headers: HTTPHeaders, max_body_size: int) -> str | None:
    """Why a message head (a response's with its ``code``; a request's with None) is
    refused before its body is read, in Tornado's words, or None: framing declared two
    ways (a smuggling shape, whichever h11 would believe), a 204 with a body (RFC 9110
    §15.3.5), a declared body over ``max_body_size``."""
    chunked = "Transfer-Encoding" in headers
    length = headers.get("Content-Length")
    if chunked and length is not None:
        return "Message with both Transfer-Encoding and Content-Length"
    if code == 204 and (chunked or length not in (None, "0")):
        return f"Response with code {code} should not have body"
    if length is not None and int(length.split(",")[0]) > max_body_size:
        return "Content-Length too long"  # h11 checked it is digits, equal if repeated
    return None


_VERSIONS = {b"1.1": "HTTP/1.1", b"1.0": "HTTP/1.0"}

# Reading a response that no request of ours announced (a response read off a raw
# stream): h11 only parses responses to requests it sent, so it is told of this one.
_IMPLIED_REQUEST = h11.Request(method="GET", target="/", headers=[("Host", "")])


def _headers(raw: list[tuple[bytes, bytes]]) -> HTTPHeaders:
    return HTTPHeaders.from_raw(raw)


def _wire_headers(headers: HTTPHeaders) -> list[tuple[bytes, bytes]]:
    out: list[tuple[bytes, bytes]] = []
    for name, value in headers.get_all():
        line = f"{name}: {value}"
        if "\r" in line or "\n" in line:
            # Tornado's wording and type: a caller bug, not a peer's.
            raise ValueError(f"Illegal characters (CR or LF) in header: {line!r}")
        out.append((name.encode("latin-1"), str(value).encode("latin-1")))
    return out


class Exchange:
    """One request and its response, from the client's side (``is_client``) or the
    server's, with ``max_header_size`` bounding a message head."""

    __slots__ = ("_conn", "_is_client", "_last_data", "_left", "_num_1xx")

    def __init__(self, is_client: bool, max_header_size: int) -> None:
        self._is_client = is_client
        self._conn = h11.Connection(
            h11.CLIENT if is_client else h11.SERVER, max_incomplete_event_size=max_header_size
        )
        self._num_1xx = 0
        # The last bytes received: the values an error message about them quotes.
        self._last_data = b""
        # Body bytes our Content-Length still announces (-1: none declared).
        self._left = -1

    # -- receiving -------------------------------------------------------------------

    def receive(self, data: bytes) -> None:
        """Feed bytes from the peer; ``b""`` means the peer closed its side."""
        if self._is_client and self._conn.our_state is h11.IDLE:
            self._conn.send(_IMPLIED_REQUEST)
            self._conn.send(h11.EndOfMessage())
        if data:
            self._last_data = data
        self._conn.receive_data(data)

    def next_event(self) -> Event:
        """The next :class:`Head`, body bytes, :data:`END` or :data:`NEED_DATA`.

        Raises :class:`HTTPInputError` for a malformed message, and
        :class:`EOFError` when the peer closed before a message began.
        """
        try:
            event = self._conn.next_event()
        except h11.ProtocolError as e:  # h11 raises LocalProtocolError for some input
            raise HTTPInputError(tornado_wording(str(e), self._last_data)) from None
        if isinstance(event, h11.Data):
            return bytes(event.data)
        if isinstance(event, h11.EndOfMessage):
            return END
        if event is h11.NEED_DATA or event is h11.PAUSED:
            return NEED_DATA
        if isinstance(event, h11.ConnectionClosed):
            raise EOFError("the peer closed the connection")
        if isinstance(event, h11.Request):
            return self._request_head(event)
        assert isinstance(event, h11.InformationalResponse | h11.Response)
        return self._response_head(event)

    def _request_head(self, event: h11.Request) -> Head:
        start_line = RequestStartLine(
            event.method.decode("ascii"),
            event.target.decode("latin-1"),
            _VERSIONS[event.http_version],
        )
        return Head(start_line, _headers(list(event.headers)), False)

    def _response_head(self, event: h11.InformationalResponse | h11.Response) -> Head:
        informational = isinstance(event, h11.InformationalResponse)
        headers = _headers(list(event.headers))
        code = event.status_code
        if informational:
            refusal = informational_refusal(code, headers, self._num_1xx)
            if refusal is not None:
                raise HTTPInputError(refusal)
            self._num_1xx += 1
        start_line = ResponseStartLine(
            _VERSIONS.get(event.http_version, "HTTP/1.1"),
            code,
            event.reason.decode("latin-1"),
        )
        return Head(start_line, headers, informational)

    @property
    def expecting_continue(self) -> bool:
        """The client sent ``Expect: 100-continue`` and waits for our go-ahead."""
        return self._conn.they_are_waiting_for_100_continue

    def leftover(self) -> bytes:
        """The bytes received but not used by this exchange (the next message's start,
        or, after a detach, the first bytes of whatever follows on the stream)."""
        return self._conn.trailing_data[0]

    @property
    def reusable(self) -> bool:
        """Both sides finished the exchange and HTTP/1.1 keep-alive holds."""
        conn = self._conn
        return conn.our_state is h11.DONE and conn.their_state is h11.DONE

    # -- sending ---------------------------------------------------------------------

    def send_head(
        self, start_line: RequestStartLine | ResponseStartLine, headers: HTTPHeaders
    ) -> bytes:
        """Serialize a request (client) or response (server) head; a client's
        POST/PUT/PATCH without Content-Length is sent chunked, as Tornado does."""
        if isinstance(start_line, RequestStartLine):
            if start_line.method in ("POST", "PUT", "PATCH") and "Content-Length" not in headers:
                headers["Transfer-Encoding"] = "chunked"
            event: h11.Event = h11.Request(
                method=start_line.method, target=start_line.path, headers=_wire_headers(headers)
            )
        elif 100 <= start_line.code < 200:
            event = h11.InformationalResponse(
                status_code=start_line.code,
                reason=start_line.reason,
                headers=_wire_headers(headers),
            )
        else:
            event = h11.Response(
                status_code=start_line.code,
                reason=start_line.reason,
                headers=_wire_headers(headers),
            )
        length = headers.get("Content-Length")
        self._left = int(length) if length is not None and length.isdigit() else -1
        return self._send(event)

    def send_data(self, chunk: bytes) -> bytes:
        """Serialize a body chunk (framed as the head announced)."""
        if not chunk:
            return b""
        data = self._send(h11.Data(data=chunk))
        if self._left >= 0:
            self._left -= len(chunk)
        return data

    def send_end(self) -> bytes:
        """Serialize the end of our message."""
        return self._send(h11.EndOfMessage())

    def send_continue(self) -> bytes:
        """``100 Continue`` for a client waiting for it."""
        return self._send(h11.InformationalResponse(status_code=100, headers=[]))

    def _send(self, event: h11.Event) -> bytes:
        try:
            data = self._conn.send(event)
        except h11.LocalProtocolError as e:
            raise HTTPOutputError(output_wording(str(e), self._left)) from None
        return data or b""
