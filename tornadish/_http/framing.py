"""Response framing as h11 decides it, for the engine that only parses (llhttp).

:func:`frame_response` is a pure function of the request it answers and the response's
status and headers: the serialized head, how the body is delimited, and whether the
connection can carry another request. :mod:`.httptools_session` keeps the state; the
rules are h11's (``h11._connection._clean_up_response_headers_for_sending`` and its
body writers), so both engines frame every response alike:

- 204 and 304 have no body (their headers are sent as given); nor has the answer to HEAD.
- A ``Content-Length`` frames the body; without one an HTTP/1.1 peer gets chunked
  encoding, an HTTP/1.0 peer a body that the close ends.
- ``Connection: close`` is added whenever the connection will not be reused, except to
  an HTTP/1.0 client that asked for nothing (closing is its default, and Tornado does
  not say it); an HTTP/1.0 keep-alive answer says ``Connection: Keep-Alive``.
- Only ``Transfer-Encoding: chunked`` may be set, once; a ``Content-Length`` must be a
  number, repeated only with the same value (:class:`~.session.LocalError` otherwise).
"""

from __future__ import annotations

from typing import NamedTuple

from tornadish._http.session import LocalError, RequestHead, check_value, split_headers

__all__ = ["CHUNKED", "LENGTH", "NO_BODY", "UNTIL_CLOSE", "Framing", "frame_response"]

NO_BODY = 0  # HEAD, 204, 304: not a byte
LENGTH = 1
CHUNKED = 2
UNTIL_CLOSE = 3  # HTTP/1.0 peer, length unknown: the close ends it


class Framing(NamedTuple):
    """A response head, serialized, and what it decided."""

    head: bytes
    mode: int
    #: The body's declared length (0 unless ``mode`` is :data:`LENGTH`).
    length: int
    keep_alive: bool


def frame_response(
    request: RequestHead,
    close_10: bool,
    status: int,
    reason: bytes,
    headers: list[tuple[bytes, bytes]],
) -> Framing:
    """Frame the response to ``request`` (``close_10``: an HTTP/1.0 request that named
    no ``Connection``)."""
    if not 200 <= status <= 999:
        raise LocalError(f"Response status_code should be in range [200, 999], not {status}")
    framing, extra = split_headers(headers)
    lines: list[bytes] = []  # the framing headers first, as h11 writes them
    length: int | None = None
    te = False
    tokens: set[bytes] = set()
    connection: list[bytes] = []
    for name, value in framing:
        lname = name.lower()
        if lname == b"content-length":
            value = value.strip()
            if not value.isdigit():
                raise LocalError("bad Content-Length")
            if length is not None and int(value) != length:
                raise LocalError("conflicting Content-Length headers")
            length = int(value)
        elif lname == b"transfer-encoding":
            if te:
                raise LocalError("multiple Transfer-Encoding headers")
            if value.strip().lower() != b"chunked":
                raise LocalError("Only Transfer-Encoding: chunked is supported")
            te = True
        else:
            check_value(value)
            connection.append(name + b": " + value + b"\r\n")
            tokens.update(t.strip().lower() for t in value.split(b","))
    http10 = request.version == "HTTP/1.0"
    head_only = request.method == "HEAD"
    keep_alive = request.keep_alive and b"close" not in tokens
    if status == 204 or status == 304:
        mode = NO_BODY
        if length is not None:
            lines.append(b"Content-Length: %d\r\n" % length)
        if te:
            lines.append(b"Transfer-Encoding: chunked\r\n")
    elif length is not None and not te:
        mode = NO_BODY if head_only else LENGTH
        lines.append(b"Content-Length: %d\r\n" % length)
    elif http10:
        # A body of unknown length to an HTTP/1.0 peer: only the close can end it.
        mode = NO_BODY if head_only else UNTIL_CLOSE
        keep_alive = keep_alive and head_only
    else:
        mode = NO_BODY if head_only else CHUNKED
        lines.append(b"Transfer-Encoding: chunked\r\n")
    if http10 and keep_alive and (length is None or te):
        keep_alive = False  # HTTP/1.0 keep-alive needs a Content-Length
    if keep_alive:
        lines.extend(connection)
        if http10 and b"keep-alive" not in tokens:
            lines.append(b"Connection: Keep-Alive\r\n")  # Tornado's spelling
    elif not close_10:
        lines.append(b"Connection: close\r\n")
    lines.extend(extra)
    lines.append(b"\r\n")
    head = b"HTTP/1.1 %d %s\r\n" % (status, reason) + b"".join(lines)
    return Framing(head, mode, length or 0, keep_alive)
