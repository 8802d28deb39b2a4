"""Request ids: the one a client (or a proxy in front) sent in ``X-Request-ID``, if it is
fit to log, else a new one.

Rules of this module:

1. A received id is kept only if it is 1 to 128 characters from a small, safe set
   (letters, digits and ``-_.:+/=@``): it ends up in log lines, JSON documents and a
   response header, so nothing that could break one of them (spaces, quotes, control
   characters, non-ASCII) gets through, and nothing long enough to bloat them. Anything
   else is replaced, not cleaned: a half-kept id would correlate with nothing.
2. A new id is 128 random bits as 32 hexadecimal digits (what uuid4 carries, without
   its formatting cost), from ``os.urandom``: unique across processes and restarts.
3. Pure: no state, no clock; ``HTTPServerRequest.id`` calls :func:`request_id` the first
   time someone asks, so a request nobody asks about pays nothing.
"""

from __future__ import annotations

import os
import re

__all__ = ["REQUEST_ID_HEADER", "new_request_id", "request_id", "valid_request_id"]

#: The header a request id is read from, and echoed in.
REQUEST_ID_HEADER = "X-Request-ID"

_VALID = re.compile(r"[A-Za-z0-9\-_.:+/=@]{1,128}")


def valid_request_id(value: str) -> bool:
    """Whether ``value`` may be used as a request id as it is (see the module's rules)."""
    return _VALID.fullmatch(value) is not None


def new_request_id() -> str:
    """A fresh request id: 32 random hexadecimal digits."""
    return os.urandom(16).hex()


def request_id(received: str | None) -> str:
    """The id of a request whose ``X-Request-ID`` header held ``received`` (None: no
    header): ``received`` itself when valid, else a new one.

    >>> request_id("req-42")
    'req-42'
    >>> len(request_id("no spaces, please"))
    32
    """
    if received is not None and _VALID.fullmatch(received) is not None:
        return received
    return new_request_id()
