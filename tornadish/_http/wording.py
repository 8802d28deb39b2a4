"""Tornado's words for what h11 reports: a malformed message (its log lines and its
tests match on them) and a response body that contradicts its ``Content-Length``.

Every seam on h11 (the server's, the client's, ``http1connection``'s) words its errors
here, so the same fault reads the same wherever it is met. The *status* answered stays
the RFCs' choice; only the words are Tornado's. Bytes h11 quotes as Python reprs
(``bytearray(b'Bad\\x01: x')``) are shown as text, quoted as Tornado quotes a value,
with what is not printable ASCII escaped (``'Bad\\x01: x'``).
"""

from __future__ import annotations

import ast
import re

__all__ = ["output_wording", "shown_bytes", "tornado_wording"]

_TE_ERRORS = ("multiple Transfer-Encoding headers", "Only Transfer-Encoding: chunked")
# A bytes or bytearray repr inside a message: bytearray(b'...'), b'...' or b"...".
_LITERAL = r"b'(?:[^'\\]|\\.)*'" + r'|b"(?:[^"\\]|\\.)*"'
_BYTES_REPR = re.compile(rf"bytearray\(({_LITERAL})\)|(?<!\w)({_LITERAL})")
_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r", "\\": "\\\\", "'": "\\'"}
_HEADER_LINE = re.compile(rb"(?im)^(content-length|transfer-encoding)[ \t]*:[ \t]*(.*?)[ \t]*\r?$")


def _raw_values(head: bytes, name: bytes) -> str:
    """The values of header ``name`` in a raw request head, joined as Tornado's
    ``HTTPHeaders`` joins them (with a comma)."""
    values = [m.group(2) for m in _HEADER_LINE.finditer(head) if m.group(1).lower() == name]
    return b",".join(values).decode("latin-1")


def shown_bytes(data: bytes) -> str:
    """``data`` as quoted text for a log line: printable ASCII as it is, the rest
    escaped (``\\r``, ``\\x01``, ``\\xff``), never a ``b'...'`` or ``bytearray`` repr."""
    chars = (
        _ESCAPES.get(c) or (c if " " <= c <= "~" else f"\\x{ord(c):02x}")
        for c in bytes(data).decode("latin-1")
    )
    return "'" + "".join(chars) + "'"


def _without_reprs(message: str) -> str:
    def shown(match: re.Match[str]) -> str:
        literal = match.group(1) or match.group(2)
        try:
            value = ast.literal_eval(literal)
        except (ValueError, SyntaxError):
            return match.group(0)
        return shown_bytes(value) if isinstance(value, bytes) else match.group(0)

    return _BYTES_REPR.sub(shown, message)


def tornado_wording(message: str, head: bytes) -> str:
    """Tornado's words for h11's message about a malformed request (``head``: the raw
    bytes it came in, for the values Tornado's messages quote). Tornado's tests and
    users' log filters match on these words; the status stays the RFCs' choice."""
    return _without_reprs(_tornado_wording(message, head))


def _tornado_wording(message: str, head: bytes) -> str:
    if message.startswith("illegal request line") or message.startswith("no request line"):
        return "Malformed HTTP request line"
    if message.startswith("illegal status line") or message.startswith("no response line"):
        return "Error parsing response start line"
    if message.startswith("illegal header line"):
        if ":" not in message[len("illegal header line:") :]:
            return "no colon in header line"
        return "Invalid header line: " + message[len("illegal header line: ") :]
    if message.startswith(_TE_ERRORS):
        return "Unsupported Transfer-Encoding " + _raw_values(head, b"transfer-encoding")
    if message.startswith("conflicting Content-Length"):
        return f"Multiple unequal Content-Lengths: {_raw_values(head, b'content-length')!r}"
    if message.startswith("bad Content-Length"):
        value = _raw_values(head, b"content-length")
        if "," in value:
            return f"Multiple unequal Content-Lengths: {value!r}"
        return f"Only integer Content-Length is allowed: {value}"
    if message.startswith("Found multiple Host"):
        return "Invalid Host header: more than one"
    if message.startswith("illegal chunk header"):
        return "invalid chunk size"
    if message.startswith("malformed chunk footer"):
        return "improperly terminated chunk"
    return message


def output_wording(message: str, left: int) -> str:
    """Tornado's words for h11 refusing a body that contradicts the declared
    ``Content-Length`` (``left``: the bytes it still expected, -1 if unknown)."""
    if message.startswith("Too much data for declared Content-Length"):
        return "Tried to write more data than Content-Length"
    if message.startswith("Too little data for declared Content-Length"):
        if left > 0:
            return f"Tried to write {left} bytes less than Content-Length"
        return "Tried to write less data than Content-Length"
    return message
