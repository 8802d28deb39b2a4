"""Chunked bodies (RFC 9112 §7.1), read here whichever engine parsed the head.

h11 and llhttp each read chunk framing by a grammar of their own, and they part at the
edges: whitespace before ``;``, whitespace after the size, the shape of an extension,
a very long chunk line, a huge size. A body the two engines read differently is a
request that a proxy in front and this server may read differently too, so neither
engine reads one: the server's sessions hand the bytes after a chunked request's head
to a :class:`ChunkedReader` (and re-frame its data for h11 in the form every parser
agrees on), and the client's sessions do the same with a chunked response. Messages
without a chunked body never meet this module.

Rules of this module:

- No I/O, no engine: bytes in, chunk-data out, or the :class:`~.session.ProtocolError`
  that refuses the message (its status is the server's answer).
- The grammar is RFC 9112's, exactly (§7.1, and §7.1.1 as RFC 7230 erratum 4667 made
  it)::

      chunk     = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
      chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )

  so whitespace before ``;`` and around ``=`` is read (RFC 9110 §5.6.3: a recipient
  MUST parse BWS), and whitespace after the size that no ``;`` follows is refused (it
  is in no production). An extension's name is a token, its value a token or a
  quoted-string; extensions are then ignored (RFC 9112 §7.1.1: MUST ignore).
- Chunk lines and the end of chunk-data take CRLF only: the single LF that RFC 9112
  §2.2 lets a recipient accept covers the start-line and fields, not chunk framing
  (erratum 7633 was rejected on exactly that point), and a bare LF read as a line end
  by one parser and as a byte by another is a request-smuggling primitive.
- A chunk-size may have leading zeros; its value must fit 63 bits (RFC 9112 §7.1:
  recipients MUST prevent integer overflow). A chunk line (size and extensions) is at
  most :data:`MAX_CHUNK_LINE` bytes, and framing may not outgrow the data it frames by
  more than Go's ``net/http`` allows (16 bytes a chunk plus twice its data, with 16 KiB
  of slack): RFC 9112 §7.1.1 asks a server to limit extensions and answer 4xx past it.
- The trailer section is read as a request head's fields are (a line may end in a
  single LF, as in the head; a line that is not ``name: value``, a control character
  or an obs-fold is refused), bounded by the head's limit (431 past it), and dropped
  (RFC 9110 §6.5.1): no trailer field reaches the application.
"""

from __future__ import annotations

import re
from typing import Final

from tornadish._http.session import ProtocolError, bad_field_value

__all__ = ["MAX_CHUNK_LINE", "ChunkedReader"]

#: The longest chunk line (size and extensions, without its CRLF) read, as Go's
#: ``net/http`` (``maxLineLength``); llhttp and nginx skip extensions unbounded.
MAX_CHUNK_LINE: Final = 4096
_MAX_EXCESS: Final = 16 * 1024
_MAX_SIZE: Final = (1 << 63) - 1

_TOKEN = rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+"
_QUOTED = rb'"(?:[\t !#-\[\]-~\x80-\xff]|\\[\t -~\x80-\xff])*"'
_HEX = re.compile(rb"[0-9A-Fa-f]+")
# A whole plain chunk line (no extension), the usual case: read without more ado.
_PLAIN_LINE = re.compile(rb"([0-9A-Fa-f]{1,16})\r\n")
_EXTENSIONS = re.compile(
    rb"(?:[ \t]*;[ \t]*%s(?:[ \t]*=[ \t]*(?:%s|%s))?)*" % (_TOKEN, _TOKEN, _QUOTED)
)
_FIELD_NAME = re.compile(_TOKEN + rb":")

# Where the reader is.
_SIZE = 0  # in a chunk line
_DATA = 1  # in chunk-data
_DATA_END = 2  # at the CRLF after chunk-data
_TRAILER = 3  # in the trailer section
_DONE = 4  # past the body
_FAILED = 5


class ChunkedReader:
    """One chunked body, read from the bytes that follow its message's head.

    Feed it each read (:meth:`feed`); it returns the chunk-data found. Once the body
    has ended, :attr:`done` is true and :attr:`rest` holds the bytes past it (the next
    request, pipelined); once the framing is found wrong, :attr:`error` holds the
    refusal, and the data before it has been returned. Either way it reads no more.

    >>> reader = ChunkedReader(65536)
    >>> reader.feed(b"5 ; name = \\"v\\"\\r\\nhello\\r\\n0\\r\\n\\r\\nGET")
    b'hello'
    >>> reader.done, reader.rest
    (True, b'GET')
    """

    __slots__ = (
        "_excess",
        "_held",
        "_left",
        "_max_trailer",
        "_parts",
        "_state",
        "_trailer",
        "error",
        "rest",
    )

    def __init__(self, max_trailer_size: int) -> None:
        self._state = _SIZE
        # The start of a line (or of the CRLF after chunk-data) that a read cut.
        self._parts: list[bytes] = []
        self._held = 0
        self._left = 0  # chunk-data still to come
        self._excess = 0  # framing bytes beyond what the data read so far allows
        self._trailer = 0  # trailer-section bytes read
        self._max_trailer = max_trailer_size
        #: Why the body is refused (a 4xx), once it is.
        self.error: ProtocolError | None = None
        #: The bytes past the body, once it has ended.
        self.rest = b""

    @property
    def done(self) -> bool:
        """The body (with its trailer section) has ended."""
        return self._state == _DONE

    def feed(self, data: bytes) -> bytes:
        """Read the next bytes of the body; return the chunk-data among them."""
        out: list[bytes] = []
        pos = 0
        end = len(data)
        plain = _PLAIN_LINE.match
        try:
            while pos < end:
                state = self._state
                if state == _SIZE:
                    match = None if self._held else plain(data, pos)
                    if match is not None:
                        # (The usual case, sooner: a plain chunk line, and often its
                        # data and CRLF in this read too. What it allows is as below.)
                        size = int(match.group(1), 16)
                        start = match.end()
                        stop = start + size
                        if 0 < size <= _MAX_SIZE and data[stop : stop + 2] == b"\r\n":
                            out.append(data[start:stop])
                            excess = self._excess + (start - pos) - 16 - 2 * size
                            self._excess = excess if excess > 0 else 0
                            pos = stop + 2
                            continue
                    pos = self._line(data, pos)  # (any other chunk line)
                elif state == _DATA:
                    take = min(self._left, end - pos)
                    out.append(data[pos : pos + take])  # (all of data: not copied)
                    pos += take
                    self._left -= take
                    if not self._left:
                        self._state = _DATA_END
                elif state == _DATA_END:
                    pos = self._data_end(data, pos)
                elif state == _TRAILER:
                    pos = self._line(data, pos)
                else:
                    break
        except ProtocolError as e:
            self._state = _FAILED
            self.error = e
            self._parts = []
        else:
            if self._state == _DONE:
                self.rest = data[pos:]
        if len(out) == 1:
            return out[0]
        return b"".join(out)

    def _data_end(self, data: bytes, pos: int) -> int:
        """Read (part of) the CRLF that ends chunk-data."""
        got = data[pos : pos + 2 - self._held]
        if self._held:
            got = b"\r" + got  # (only a CR is ever held)
        if not b"\r\n".startswith(got):
            raise ProtocolError(400, "improperly terminated chunk")
        pos += len(got) - self._held
        if len(got) == 2:
            self._held = 0
            self._state = _SIZE
        else:
            self._held = 1
        return pos

    def _line(self, data: bytes, pos: int) -> int:
        """Read (part of) a chunk line or a trailer line; return where reading stops."""
        eol = data.find(b"\n", pos)
        if eol < 0:
            self._parts.append(data[pos:])
            self._held += len(data) - pos
            self._check_held()
            return len(data)
        line = data[pos:eol]
        if self._parts:
            self._parts.append(line)
            line = b"".join(self._parts)
            self._parts = []
            self._held = 0
        if self._state == _SIZE:
            self._chunk_line(line)
        else:
            self._trailer_line(line)
        return eol + 1

    def _check_held(self) -> None:
        held = self._held
        if self._state == _SIZE:
            if held > MAX_CHUNK_LINE + 1:  # (+1: its CR)
                raise ProtocolError(400, "chunk line too long")
        elif self._trailer + held > self._max_trailer:
            raise ProtocolError(431, "request trailer fields too large")

    def _chunk_line(self, line: bytes) -> None:
        """``line``: a chunk line up to its LF."""
        if line[-1:] != b"\r":
            raise ProtocolError(400, "invalid chunk size")  # a bare LF (or no size at all)
        line = line[:-1]
        if len(line) > MAX_CHUNK_LINE:
            raise ProtocolError(400, "chunk line too long")
        match = _HEX.match(line)
        if match is None:
            raise ProtocolError(400, "invalid chunk size")
        digits = match.group()
        if len(digits) != len(line) and _EXTENSIONS.fullmatch(line, len(digits)) is None:
            words = "invalid chunk extension" if b";" in line else "invalid chunk size"
            raise ProtocolError(400, words)
        if len(digits) > 16:
            digits = digits.lstrip(b"0") or b"0"
        size = int(digits, 16) if len(digits) <= 16 else _MAX_SIZE + 1
        if size > _MAX_SIZE:
            raise ProtocolError(400, "chunk size too large")
        # Framing that outgrows its data (long extensions on tiny chunks) is refused
        # as Go's net/http refuses it: 16 bytes a chunk and twice its data are free.
        excess = self._excess + len(line) + 2 - 16 - 2 * size  # (+2: the CRLF after the data)
        self._excess = excess if excess > 0 else 0
        if excess > _MAX_EXCESS:
            raise ProtocolError(400, "too much chunk framing for its data")
        if size:
            self._left = size
            self._state = _DATA
        else:
            self._state = _TRAILER

    def _trailer_line(self, line: bytes) -> None:
        """``line``: a line of the trailer section up to its LF."""
        self._trailer += len(line) + 1
        if self._trailer > self._max_trailer:
            raise ProtocolError(431, "request trailer fields too large")
        if line[-1:] == b"\r":
            line = line[:-1]  # (a single LF ends a field line too, as in the head)
        if not line:
            self._state = _DONE
            return
        name = _FIELD_NAME.match(line)
        if name is None or bad_field_value(line, name.end()) is not None:
            raise ProtocolError(400, "invalid trailer field")
