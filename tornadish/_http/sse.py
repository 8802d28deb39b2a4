"""The ``text/event-stream`` format (server-sent events): how one event is written.

Rules of this module:

1. Pure: values in, bytes out, no I/O. ``EventSourceHandler`` (``_web/sse.py``) writes
   every byte of an event stream through these functions, so the format is decided in
   one place and tested without a socket.
2. What a browser parses (HTML Living Standard, "Server-sent events", "Parsing an event
   stream") is the reference: a line ends at CR, LF or CRLF, so data containing any of
   them is split into several ``data:`` lines, which the browser joins again with LF;
   ``event`` and ``id`` are single-line fields, so a line break in them would smuggle
   in a field of the caller's choosing and is refused; an ``id`` containing NUL is
   ignored by browsers, so it is refused too.

An event is written as ``id:``, ``event:``, ``retry:`` and the ``data:`` lines, then an
empty line that dispatches it. A value is written after ``": "``: the parser drops one
space after the colon, so data that starts with a space keeps it.
"""

from __future__ import annotations

import re
from typing import Any

from tornadish import escape

__all__ = ["EVENT_STREAM_CONTENT_TYPE", "HEARTBEAT", "encode_event", "retry_hint"]

#: The response's ``Content-Type`` (the stream is always UTF-8).
EVENT_STREAM_CONTENT_TYPE = "text/event-stream; charset=utf-8"

#: A comment line and the end of an (empty) event: bytes that keep proxies and the
#: browser from timing an idle stream out, and that no ``EventSource`` reports.
HEARTBEAT = b":\n\n"

_LINE_BREAK = re.compile(rb"\r\n|\r|\n")
_FIELD_FORBIDDEN = re.compile(r"[\r\n]")
_ID_FORBIDDEN = re.compile(r"[\r\n\x00]")


def encode_event(
    data: str | bytes | dict[str, Any] | list[Any] | None,
    *,
    event: str | None = None,
    id: str | int | None = None,
    retry: int | None = None,
) -> bytes:
    """One event, ready to send.

    ``data`` is text, UTF-8 bytes, or a ``dict``/``list`` sent as one line of JSON;
    ``None`` writes no ``data:`` line (an event that only sets ``id`` or ``retry``: the
    browser dispatches nothing for it). ``retry`` is the reconnection delay in
    milliseconds. Raises :class:`ValueError` for an ``event`` or ``id`` with a line
    break (or an ``id`` with NUL), or a ``retry`` that is not a non-negative int.

    >>> encode_event("one\\ntwo", event="greeting", id=7)
    b'id: 7\\nevent: greeting\\ndata: one\\ndata: two\\n\\n'
    >>> encode_event({"n": 1})
    b'data: {"n": 1}\\n\\n'
    """
    parts: list[bytes] = []
    if id is not None:
        if isinstance(id, bool) or not isinstance(id, (str, int)):
            raise TypeError(f"an event id is a str or an int, not {type(id).__name__}")
        text = str(id)
        if _ID_FORBIDDEN.search(text):
            raise ValueError(f"an event id must not contain CR, LF or NUL: {text!r}")
        parts.append(b"id: " + text.encode("utf-8") + b"\n")
    if event is not None:
        if not isinstance(event, str):
            raise TypeError(f"an event type is a str, not {type(event).__name__}")
        if _FIELD_FORBIDDEN.search(event):
            raise ValueError(f"an event type must not contain CR or LF: {event!r}")
        parts.append(b"event: " + event.encode("utf-8") + b"\n")
    if retry is not None:
        parts.append(_retry_line(retry))
    if data is not None:
        for line in _LINE_BREAK.split(_data_bytes(data)):
            parts.append(b"data: " + line + b"\n")
    parts.append(b"\n")
    return b"".join(parts)


def retry_hint(milliseconds: int) -> bytes:
    """An event that only sets the browser's reconnection delay (sent before a stream
    ends on purpose, so that browsers come back after that long).

    >>> retry_hint(1000)
    b'retry: 1000\\n\\n'
    """
    return _retry_line(milliseconds) + b"\n"


def _retry_line(milliseconds: int) -> bytes:
    # The browser takes only ASCII digits here; anything else is ignored, so refuse it
    # before it silently does nothing.
    if isinstance(milliseconds, bool) or not isinstance(milliseconds, int) or milliseconds < 0:
        raise ValueError(f"retry is a non-negative int of milliseconds, not {milliseconds!r}")
    return b"retry: %d\n" % milliseconds


def _data_bytes(data: str | bytes | dict[str, Any] | list[Any]) -> bytes:
    if isinstance(data, bytes):
        return data  # CR and LF never occur inside a UTF-8 multi-byte sequence
    if isinstance(data, str):
        return data.encode("utf-8")
    if isinstance(data, (dict, list)):
        # json.dumps escapes line breaks inside strings: the JSON is one line.
        return escape.json_encode(data).encode("utf-8")
    raise TypeError(f"event data is str, bytes, dict or list, not {type(data).__name__}")
