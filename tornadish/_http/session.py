"""The vocabulary of the HTTP/1.1 server seam, shared by its engines.

An engine (:mod:`.h11_session` on h11, :mod:`.httptools_session` on llhttp) turns bytes
into the events defined here and response parts into bytes; the asyncio protocol above
it (``tornadish._server``) speaks only this vocabulary, so it never knows which engine
runs. Rules of this module:

- No I/O and no engine: plain values, markers and the two errors.
- A header line is validated and serialized once (the caches are bounded): most
  responses repeat the same Server, Content-Type, Date and Content-Length lines.
"""

from __future__ import annotations

import re
from http.client import responses
from typing import Final

__all__ = [
    "CLOSED",
    "END",
    "FRAMING",
    "NEED_DATA",
    "PAUSED",
    "Event",
    "LocalError",
    "ProtocolError",
    "RequestHead",
    "bad_field_value",
    "check_value",
    "connection_tokens",
    "reason_bytes",
    "split_headers",
    "status_line",
    "valid_host",
    "whole_message",
]


class _Marker:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


NEED_DATA: Final = _Marker("NEED_DATA")
"""More bytes are needed before anything else can be reported."""
PAUSED: Final = _Marker("PAUSED")
"""A complete message was read; the rest waits until the response is finished."""
END: Final = _Marker("END")
"""The request body (possibly empty) is complete."""
CLOSED: Final = _Marker("CLOSED")
"""The peer closed its side cleanly between requests."""


class ProtocolError(Exception):
    """The peer sent something HTTP/1.1 does not allow; answer with ``status`` and close."""

    def __init__(self, status: int, message: str, incomplete: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        #: The peer closed mid-request: it left, rather than sent something wrong.
        self.incomplete = incomplete


class LocalError(Exception):
    """We tried to send something the protocol state does not allow."""


class RequestHead:
    """The parsed start line and headers of a request, as plain values."""

    __slots__ = ("expect_continue", "headers", "keep_alive", "method", "target", "version")

    def __init__(
        self,
        method: str,
        target: str,
        version: str,
        headers: list[tuple[bytes, bytes]],
        keep_alive: bool,
        expect_continue: bool,
    ) -> None:
        self.method = method
        self.target = target
        self.version = version
        #: (lower-case name, value) pairs in arrival order.
        self.headers = headers
        self.keep_alive = keep_alive
        self.expect_continue = expect_continue


Event = RequestHead | bytes | _Marker

#: The response headers that decide framing and connection reuse (lower case).
FRAMING: Final = frozenset([b"content-length", b"transfer-encoding", b"connection"])
_TOKEN = re.compile(rb"[-!#$%&'*+.^_`|~0-9a-zA-Z]+")
_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]|^[ \t]|[ \t]$")
_BAD_REASON = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")  # RFC 9112 reason-phrase
# Control characters a received field value may not hold (RFC 9110 §5.5: field-vchar,
# SP and HTAB only; Tornado refuses the same set since 6.5).
bad_field_value = _BAD_REASON.search
_LOWER: dict[bytes, bytes] = {}
_LINES: dict[tuple[bytes, bytes], bytes] = {}
_LINES_LIMIT = 4096
_REASONS = {phrase: phrase.encode("latin-1") for phrase in responses.values()}
_STATUS_LINES: dict[tuple[int, str], bytes] = {}


def _check_name(name: bytes) -> bytes:
    """Validate a header name once; remember its lower-case form."""
    if _TOKEN.fullmatch(name) is None:
        raise LocalError(f"illegal header name {name!r}")
    lname = name.lower()
    if len(_LOWER) < 1024:
        _LOWER[name] = lname
    return lname


def split_headers(
    headers: list[tuple[bytes, bytes]],
) -> tuple[list[tuple[bytes, bytes]], list[bytes]]:
    """``(framing, lines)``: the headers that decide framing (:data:`FRAMING`, as
    given) and the serialized lines of the others, validated (token names, no
    CR/LF/NUL in values)."""
    framing: list[tuple[bytes, bytes]] = []
    extra: list[bytes] = []
    lines = _LINES
    for pair in headers:
        line = lines.get(pair)
        if line is not None:
            extra.append(line)
            continue
        name = pair[0]
        lname = _LOWER.get(name)
        if lname is None:
            lname = _check_name(name)
        if lname in FRAMING:
            framing.append(pair)
            continue
        extra.append(_new_line(name, pair[1]))
    return framing, extra


def _new_line(name: bytes, value: bytes) -> bytes:
    """The line ``name: value`` of a header that does not decide framing, its value
    checked, kept for the next response (bounded)."""
    if _BAD_VALUE.search(value) is not None:
        raise LocalError(f"illegal header value {value!r}")
    line = name + b": " + value + b"\r\n"
    lines = _LINES
    if len(lines) >= _LINES_LIMIT:
        lines.clear()  # bounded: values such as ETags never repeat
    lines[(name, value)] = line
    return line


def _latin1(reason: str) -> bytes:
    try:
        return reason.encode("latin-1")
    except UnicodeEncodeError as e:
        raise LocalError(str(e)) from None


def status_line(status: int, reason: str) -> bytes:
    """``HTTP/1.1 <status> <reason>\\r\\n``, validated (cached for the usual pairs)."""
    line = _STATUS_LINES.get((status, reason))
    if line is not None:
        return line
    raw = _latin1(reason)
    if not 100 <= status <= 999 or _BAD_VALUE.search(raw) is not None:
        raise LocalError(f"illegal status line {status} {reason!r}")
    line = b"HTTP/1.1 %d %s\r\n" % (status, raw)
    if len(_STATUS_LINES) < 256:
        _STATUS_LINES[(status, reason)] = line
    return line


def whole_message(
    status: int, reason: str, headers: list[tuple[bytes, bytes]], body: bytes
) -> bytes | None:
    """A complete response framed by ``Content-Length``, in one piece; ``None`` where
    the headers say otherwise about framing or the connection (a framing header other
    than a ``Content-Length`` that agrees with ``body``): the engine must judge those."""
    # split_headers and status_line, inlined: this runs once per response, and calling
    # split_headers from here cost 1 % of a hello request's instructions (callgrind).
    line = _STATUS_LINES.get((status, reason))
    out = [status_line(status, reason) if line is None else line]
    length = b"%d" % len(body)
    lines = _LINES
    for pair in headers:
        line = lines.get(pair)
        if line is not None:
            out.append(line)
            continue
        name = pair[0]
        lname = _LOWER.get(name)
        if lname is None:
            lname = _check_name(name)
        if lname in FRAMING:
            if lname != b"content-length" or pair[1].strip() != length:
                return None
            continue
        out.append(_new_line(name, pair[1]))
    out.append(b"Content-Length: " + length + b"\r\n\r\n")
    out.append(body)
    return b"".join(out)


def reason_bytes(reason: str) -> bytes:
    """The reason phrase as bytes, refused where it could split the response."""
    raw = _REASONS.get(reason)
    if raw is not None:
        return raw
    raw = _latin1(reason)
    if _BAD_REASON.search(raw) is not None:
        raise LocalError(f"illegal reason phrase {reason!r}")
    return raw


def connection_tokens(headers: list[tuple[bytes, bytes]]) -> set[bytes]:
    """The lower-case tokens of every ``Connection`` header in ``headers`` (names in
    lower case)."""
    tokens: set[bytes] = set()
    for name, value in headers:
        if name == b"connection":
            tokens.update(t.strip().lower() for t in value.split(b","))
    return tokens


# RFC 3986 host (IP-literal, IPv4 or reg-name, possibly empty) and optional port.
_HOST = re.compile(
    rb"(\[[0-9A-Fa-f:.]+\]"  # IPv6
    rb"|\[v[0-9A-Fa-f]+\.[-A-Za-z0-9._~!$&'()*+,;=:]+\]"  # IPvFuture
    rb"|[-A-Za-z0-9._~!$&'()*+,;=%]*)"  # IPv4 or reg-name
    rb"(:[0-9]*)?"
)
_VALID_HOSTS: set[bytes] = set()


def valid_host(value: bytes) -> bool:
    """``value`` is a valid ``Host`` (RFC 9112 §3.2); a server sees few, so each valid
    one is checked once (the cache is bounded)."""
    if value in _VALID_HOSTS:
        return True
    if _HOST.fullmatch(value) is None:
        return False
    if len(_VALID_HOSTS) < 1024:
        _VALID_HOSTS.add(value)
    return True


def check_value(value: bytes) -> bytes:
    """``value`` as a header value we may send: no CR, LF, NUL or other controls, no
    leading or trailing whitespace."""
    if _BAD_VALUE.search(value) is not None:
        raise LocalError(f"illegal header value {value!r}")
    return value
