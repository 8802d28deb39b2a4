"""The pure parts of a response's head: header values, default headers, ETags.

Rules of this module: no handler, no connection, no I/O — values in, values out, so
each piece is testable alone. ``RequestHandler`` delegates to it.
"""

from __future__ import annotations

import datetime
import hashlib
import re
import time
from typing import Any

from tornadish._http.answers import SERVER as _SERVER
from tornadish._http.answers import date_cache, http_date
from tornadish._http.headers import HTTPHeaders
from tornadish._http.parse import format_timestamp

__all__ = ["body_etag", "default_headers", "etag_matches", "header_value"]

# Tornado's rule: HTAB, visible ASCII and obs-text (RFC 9110 §5.5); no other control
# (CR/LF would split the response), no DEL, nothing outside latin-1.
_INVALID_HEADER_CHAR = re.compile(r"[^\x09\x20-\x7e\x80-\xff]")
_ETAG_RE = re.compile(rb'\*|(?:W/)?"[^"]*"')
_HTML = "text/html; charset=UTF-8"

_from_normalized = HTTPHeaders.from_normalized


def default_headers() -> HTTPHeaders:
    """The headers every response starts with: ``Server``, ``Content-Type`` (HTML)
    and ``Date``."""
    cache = date_cache  # http_date(), inlined: this runs once per response
    if int(time.time()) != cache[0]:
        http_date()
    date = cache[1]
    return _from_normalized(
        {"Server": _SERVER, "Content-Type": _HTML, "Date": date},
        {"Server": [_SERVER], "Content-Type": [_HTML], "Date": [date]},
        True,
    )


def header_value(value: Any) -> str:
    """``value`` (str, bytes, int or datetime) as a header value.

    Raises ``ValueError`` for CR, LF and other controls but HTAB, DEL and characters
    beyond latin-1: a header value must not end the header block (response
    splitting); ``TypeError`` for other types.
    """
    if isinstance(value, str):
        retval = value
    elif isinstance(value, bytes):
        retval = value.decode("latin-1")
    elif isinstance(value, int):
        return str(value)
    elif isinstance(value, datetime.datetime):
        return format_timestamp(value)
    else:
        raise TypeError(f"Unsupported header value {value!r}")
    if _INVALID_HEADER_CHAR.search(retval):
        raise ValueError(f"Unsafe header value {retval!r}")
    return retval


def check_header_value(value: str) -> None:
    """Raise ``ValueError`` if ``value`` holds a forbidden character (see above)."""
    if _INVALID_HEADER_CHAR.search(value):
        raise ValueError(f"Unsafe header value {value!r}")


def body_etag(parts: list[bytes]) -> str:
    """The strong ``Etag`` of a body given as parts: a quoted SHA-1 hex digest."""
    if len(parts) == 1:
        return '"' + hashlib.sha1(parts[0]).hexdigest() + '"'
    hasher = hashlib.sha1()
    for part in parts:
        hasher.update(part)
    return '"' + hasher.hexdigest() + '"'


def etag_matches(if_none_match: str, etag: str) -> bool:
    """True if an ``If-None-Match`` value matches ``etag`` (``*``, or the weak
    comparison of RFC 9110 §8.8.3.2: ``W/`` prefixes ignored).

    >>> etag_matches('W/"a", "b"', '"a"')
    True
    """
    computed = etag.encode("latin-1")
    etags = _ETAG_RE.findall(if_none_match.encode("latin-1"))
    if not computed or not etags:
        return False
    if etags[0] == b"*":
        return True

    def val(x: bytes) -> bytes:
        return x[2:] if x.startswith(b"W/") else x

    target = val(computed)
    return any(val(tag) == target for tag in etags)
