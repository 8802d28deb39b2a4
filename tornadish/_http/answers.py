"""What the server says on its own: the ``Date`` and ``Server`` every response carries,
and the answer to a request the server refuses before any handler sees it.

Rules of this module:

1. ``Date`` is formatted at most once a second (formatting costs more than the rest of
   a response's default headers together); :func:`http_date` is the one cache.
2. A refusal is a complete RFC 9110 response: ``Date`` (§6.6.1: a MUST on every 4xx),
   ``Server``, ``Content-Length: 0`` and ``Connection: close`` (§9.6 of RFC 9112: the
   connection closes after it). One exception: ``400 Bad Request`` is Tornado's bare
   status line, byte for byte, because Tornado's own test suite pins those bytes for
   its two 400s (malformed request, body over ``max_body_size``) and tornadish keeps
   that suite passing (issue 14); the close that follows still ends it (RFC 9112 §6.3).
"""

from __future__ import annotations

import time
from typing import Any

from tornadish._http.parse import format_timestamp, responses

__all__ = ["SERVER", "SERVER_BYTES", "date_cache", "error_answer", "http_date", "reason_phrase"]

#: The ``Server`` header's value (and encoded, for the writers of raw heads).
SERVER = "tornadish/0.1"
SERVER_BYTES = SERVER.encode("latin-1")

#: ``[second, formatted]``: the last second :func:`http_date` formatted. Hot paths may
#: read it inline (compare ``int(time.time())`` with its first item).
date_cache: list[Any] = [0, ""]


def http_date() -> str:
    """Now as an HTTP date (``Sun, 06 Dec 2026 02:12:21 GMT``), cached for the second."""
    now = int(time.time())
    cache = date_cache
    if now != cache[0]:
        cache[1] = format_timestamp(now)
        cache[0] = now
    return cache[1]  # type: ignore[no-any-return]


# RFC 9110's names where the stdlib table still has RFC 7231's.
_REASONS = {413: "Content Too Large", 414: "URI Too Long"}


def reason_phrase(status: int) -> str:
    """RFC 9110's reason phrase for ``status`` (``"Error"`` for an unknown one)."""
    return _REASONS.get(status) or responses.get(status, "Error")


def error_answer(status: int, reason: str) -> bytes:
    """The server's own answer ``status`` (rule 2), for a connection about to close."""
    if status == 400:
        return b"HTTP/1.1 400 %s\r\n\r\n" % reason.encode("latin-1")
    return b"HTTP/1.1 %d %s\r\nDate: %s\r\nServer: %s\r\n%s" % (
        status,
        reason.encode("latin-1"),
        http_date().encode("latin-1"),
        SERVER_BYTES,
        b"Content-Length: 0\r\nConnection: close\r\n\r\n",
    )
