"""Form bodies: ``application/x-www-form-urlencoded`` and ``multipart/form-data``, and
the ``Content-Type``-style header parameters they are framed by.

No I/O. Limits come from a :class:`ParseBodyConfig` (Tornado's, with its defaults);
every malformed body raises :class:`HTTPInputError`, which a server answers with 400.
``multipart/form-data`` is parsed by python-multipart's streaming parser (the engine:
its public callbacks only), incrementally, so uploads need not be held in memory;
:mod:`tornadish._http.parse` re-exports the public names.
"""

from __future__ import annotations

import dataclasses
import email.utils
import inspect
from collections.abc import Iterator
from typing import Any, cast

from tornadish._http.headers import HTTPHeaders, HTTPInputError
from tornadish.escape import parse_qs_bytes
from tornadish.log import gen_log
from tornadish.util import ObjectDict

__all__ = [
    "HTTPFile",
    "MultipartFormDataParser",
    "ParseBodyConfig",
    "ParseMultipartConfig",
    "ParseUrlEncodedConfig",
    "get_parse_body_config",
    "parse_body_arguments",
    "parse_multipart_form_data",
    "set_parse_body_config",
]


# -- header parameters (Content-Type, Content-Disposition) -----------------------------


def _split_params(s: str) -> Iterator[str]:
    """Yield the ``;``-separated pieces of ``s`` (which starts with ``;``).

    A ``;`` inside a quoted string does not split; a quote preceded by a backslash does
    not open or close one.
    """
    # Linear in len(s) (CVE-2025-67726): quotes are counted once, segment by segment
    # between candidate semicolons, never again from the start of the piece.
    start, n = 0, len(s)
    while start < n and s[start] == ";":
        start += 1
        end = s.find(";", start)
        counted, quotes = start, 0
        while end >= 0:
            quotes += s.count('"', counted, end) - s.count('\\"', counted, end)
            if quotes % 2 == 0:
                break
            counted, end = end, s.find(";", end + 1)
        if end < 0:
            end = n
        yield s[start:end].strip()
        start = end


def _parse_header(line: str) -> tuple[str, dict[str, str]]:
    r"""Parse a ``Content-Type``-like header into its main value and a parameter dict.

    Parameter names are lower-cased; quoted values are unquoted; RFC 2231 / 5987
    extended values (``filename*=UTF-8''na%C3%AFve.txt``) are decoded.

    >>> _parse_header('form-data; name="files"; filename*=UTF-8\'\'%C3%A9.txt')
    ('form-data', {'name': 'files', 'filename': 'é.txt'})
    """
    pieces = _split_params(";" + line)
    main = next(pieces)
    raw: list[tuple[str, str]] = [("", main)]
    for piece in pieces:
        name, sep, value = piece.partition("=")
        if sep:
            raw.append((name.strip().lower(), value.strip()))
    # The email package already knows RFC 2231 continuations and charsets; it returns
    # plain values re-quoted, or (charset, language, value) triples for extended ones.
    params: dict[str, str] = {}
    for name, decoded in email.utils.decode_params(raw)[1:]:
        text = email.utils.collapse_rfc2231_value(decoded)
        if len(text) >= 2 and text[0] == text[-1] == '"':
            text = text[1:-1]
        params[name] = text
    return main, params


# -- request bodies --------------------------------------------------------------------


class HTTPFile(ObjectDict):
    """A file uploaded through a form: ``filename``, ``body`` and ``content_type``.

    Fields read as attributes or as dict keys (``f.body`` or ``f["body"]``).

    >>> f = HTTPFile(filename="a.txt", body=b"hi", content_type="text/plain")
    >>> f.filename, f["body"]
    ('a.txt', b'hi')
    """

    filename: str
    body: bytes
    content_type: str


@dataclasses.dataclass
class ParseMultipartConfig:
    """Limits for ``multipart/form-data`` bodies, against denial-of-service requests.

    - ``enabled``: ``False`` rejects every multipart body.
    - ``max_parts``: the most parts (fields plus files) one body may have.
    - ``max_part_header_size``: the most bytes of headers one part may have.
    """

    enabled: bool = True
    max_parts: int = 100
    max_part_header_size: int = 10240


@dataclasses.dataclass
class ParseUrlEncodedConfig:
    """Limits for ``application/x-www-form-urlencoded`` bodies.

    ``max_arguments``: more fields than this make the body invalid (a 400).
    """

    max_arguments: int = 1000


@dataclasses.dataclass
class ParseBodyConfig:
    """How request bodies are parsed: one config per body kind."""

    multipart: ParseMultipartConfig = dataclasses.field(default_factory=ParseMultipartConfig)
    urlencoded: ParseUrlEncodedConfig = dataclasses.field(default_factory=ParseUrlEncodedConfig)


_default_body_config = ParseBodyConfig()


def get_parse_body_config() -> ParseBodyConfig:
    """The process-wide default limits (see :func:`set_parse_body_config`)."""
    return _default_body_config


def set_parse_body_config(config: ParseBodyConfig) -> None:
    """Replace the process-wide default limits used by :func:`parse_body_arguments`.

    >>> set_parse_body_config(ParseBodyConfig(multipart=ParseMultipartConfig(max_parts=500)))
    >>> set_parse_body_config(ParseBodyConfig())  # back to the defaults
    """
    global _default_body_config
    _default_body_config = config


def parse_body_arguments(
    content_type: str,
    body: bytes,
    arguments: dict[str, list[bytes]],
    files: dict[str, list[HTTPFile]],
    headers: HTTPHeaders | None = None,
    *,
    config: ParseBodyConfig | None = None,
) -> None:
    """Parse a form body into ``arguments`` (name → list of bytes) and ``files``.

    Understands ``application/x-www-form-urlencoded`` and ``multipart/form-data``; other
    content types are left alone. A malformed body, or one with a ``Content-Encoding``
    (it would have to be decompressed first), raises :class:`HTTPInputError`, which the
    server turns into a 400 response.

    >>> args, files = {}, {}
    >>> parse_body_arguments("application/x-www-form-urlencoded", b"a=1&a=2", args, files)
    >>> args
    {'a': [b'1', b'2']}
    """
    if config is None:
        config = _default_body_config
    if content_type.startswith("application/x-www-form-urlencoded"):
        if headers and "Content-Encoding" in headers:
            raise HTTPInputError(f"Unsupported Content-Encoding: {headers['Content-Encoding']}")
        try:
            parsed = parse_qs_bytes(
                body, keep_blank_values=True, max_num_fields=config.urlencoded.max_arguments
            )
        except Exception as e:
            raise HTTPInputError(f"Invalid x-www-form-urlencoded body: {e}") from e
        for name, values in parsed.items():
            if values:
                arguments.setdefault(name, []).extend(values)
    elif content_type.startswith("multipart/form-data"):
        if headers and "Content-Encoding" in headers:
            raise HTTPInputError(f"Unsupported Content-Encoding: {headers['Content-Encoding']}")
        try:
            _parse_multipart_body(content_type, body, arguments, files, config.multipart)
        except Exception as e:
            raise HTTPInputError(f"Invalid multipart/form-data: {e}") from e


def _parse_multipart_body(
    content_type: str,
    body: bytes,
    arguments: dict[str, list[bytes]],
    files: dict[str, list[HTTPFile]],
    config: ParseMultipartConfig,
) -> None:
    if not config.enabled:
        raise HTTPInputError("multipart/form-data parsing is disabled")
    fields = content_type.split(";")
    if fields[0].strip() != "multipart/form-data":
        raise HTTPInputError("Invalid content type")
    for field in fields[1:]:
        # Tornado matches the parameter name exactly: "boundary", no spaces, lower case.
        name, _, value = field.strip().partition("=")
        if name == "boundary" and value:
            parse_multipart_form_data(value.encode("utf-8"), body, arguments, files, config=config)
            return
    raise HTTPInputError("multipart boundary not found")


def parse_multipart_form_data(
    boundary: bytes,
    data: bytes,
    arguments: dict[str, list[bytes]],
    files: dict[str, list[HTTPFile]],
    *,
    config: ParseMultipartConfig | None = None,
) -> None:
    """Parse a whole ``multipart/form-data`` body.

    ``boundary`` is the ``boundary`` parameter of the ``Content-Type`` (quotes allowed).
    A part with a ``filename`` becomes an :class:`HTTPFile` in ``files``; any other part
    is appended to ``arguments`` as bytes. Raises :class:`HTTPInputError` on a malformed
    body (including one without its closing boundary).

    >>> args, files = {}, {}
    >>> body = (b'--X\\r\\nContent-Disposition: form-data; name="a"\\r\\n\\r\\n1\\r\\n'
    ...         b'--X\\r\\nContent-Disposition: form-data; name="f"; filename="f.txt"\\r\\n'
    ...         b'Content-Type: text/plain\\r\\n\\r\\nhello\\r\\n--X--\\r\\n')
    >>> parse_multipart_form_data(b"X", body, args, files)
    >>> args, files["f"][0].body
    ({'a': [b'1']}, b'hello')
    """
    if config is None:
        config = _default_body_config.multipart
    if not config.enabled:
        raise HTTPInputError("multipart/form-data parsing is disabled")
    parser = MultipartFormDataParser(boundary, arguments, files, config=config)
    parser.feed(data)
    parser.close()


# -- multipart/form-data on top of python-multipart's streaming parser ------------------

try:
    from python_multipart.multipart import MultipartParser as _MultipartParser
except ImportError:  # python-multipart < 0.0.13 only has the old top-level name
    from multipart.multipart import MultipartParser as _MultipartParser  # type: ignore[no-redef]

# Older releases have no per-part header limits (and so nothing to lift).
_PARSER_HAS_HEADER_LIMITS = "max_header_count" in inspect.signature(_MultipartParser).parameters


class _DebugLog:
    """Stands in for python-multipart's logger.

    Every problem it would log as a warning also reaches the caller as the
    HTTPInputError raised below (a 400), so logging it again per bad request would only
    be noise; it goes to ``gen_log`` at debug level instead.
    """

    def debug(self, msg: object, *args: Any, **kwargs: Any) -> None:
        kwargs.pop("exc_info", None)
        gen_log.debug("python-multipart: " + str(msg), *args)

    info = warning = error = exception = debug


_QUIET_LOG = _DebugLog()


# Past a restart (see MultipartFormDataParser._part_data), the rest of a chunk goes to
# the engine this many bytes at a time, so that each further restart in the same chunk
# copies at most this much of it.
_RESTART_WINDOW = 65536
# What the engine says when one part header line outgrows max_header_size (set to ours).
_ENGINE_HEADER_SIZE_ERROR = "Maximum header size exceeded"


class _Restart(Exception):
    """A part ended with its header block, right at the next delimiter; the engine
    parser must be replaced by a new one, fed ``prefix`` and then ``buffer[offset:]``."""

    def __init__(self, prefix: bytes, buffer: bytes, offset: int) -> None:
        super().__init__()
        self.prefix = prefix
        self.buffer = buffer
        self.offset = offset


class MultipartFormDataParser:
    """Incremental ``multipart/form-data`` parser: ``feed`` chunks, then ``close``.

    Fills ``arguments`` and ``files`` exactly as :func:`parse_multipart_form_data` does
    (that function is this class fed the whole body at once), so a streaming upload can
    be parsed while it arrives:

    >>> args, files = {}, {}
    >>> p = MultipartFormDataParser(b"X", args, files)
    >>> p.feed(b'--X\\r\\nContent-Disposition: form-data; name="a"\\r\\n\\r\\nva')
    >>> p.feed(b'lue\\r\\n--X--\\r\\n')
    >>> p.close()
    >>> args
    {'a': [b'value']}

    Every problem (bad framing, a part without a form-data ``Content-Disposition`` or a
    ``name``, a part header Tornado would refuse, the limits of ``config``, a body
    without its closing boundary) raises :class:`HTTPInputError`.

    Subclasses may extend the ``_on_*`` hooks (``_on_headers_finished``,
    ``_on_part_data``, ``_on_part_end``), as the web layer's spooling parser does.
    """

    def __init__(
        self,
        boundary: bytes,
        arguments: dict[str, list[bytes]],
        files: dict[str, list[HTTPFile]],
        *,
        config: ParseMultipartConfig | None = None,
    ) -> None:
        # Content-Type allows a quoted boundary; the quotes are not part of it.
        if len(boundary) >= 2 and boundary[:1] == b'"' and boundary[-1:] == b'"':
            boundary = boundary[1:-1]
        if not boundary:
            raise HTTPInputError("multipart boundary not found")
        self.arguments = arguments
        self.files = files
        self._config = config if config is not None else _default_body_config.multipart
        self._boundary = boundary
        self._delimiter = b"--" + boundary
        self._parts = 0
        self._finished = False
        self._header_size = 0
        self._header_count = 0
        self._line_ended = False
        self._field = bytearray()
        self._value = bytearray()
        self._headers = HTTPHeaders()
        self._name = ""
        self._filename = ""
        self._chunks: list[bytes] = []
        # A part's first data callbacks while they may still be a delimiter, and their
        # first bytes (see _part_data); None once the part's data is known to be data.
        self._probe: list[tuple[bytes, int, int]] | None = None
        self._probed = b""
        self._writing = b""
        # The body's first bytes until they show whether it opens with the delimiter
        # (see _opening_part); None once known.
        self._opening: bytes | None = b""
        self._parser = self._new_parser()

    def _new_parser(self) -> Any:
        # Any: the library's TypedDict for the callbacks changed between releases.
        callbacks: Any = {
            "on_part_begin": self._on_part_begin,
            "on_header_begin": self._on_header_begin,
            "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value,
            "on_header_end": self._on_header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._on_end,
        }
        limits = {}
        if _PARSER_HAS_HEADER_LIMITS:
            # Tornado bounds the header block of a part as a whole, which _grow_headers
            # does. One line can be no longer than the block, so the library's per-line
            # limit is ours too; its header count (8 by default) is lifted out of the way.
            most = max(self._config.max_part_header_size, 1)
            limits = {"max_header_count": most, "max_header_size": most}
        try:
            parser = _MultipartParser(self._boundary, callbacks, **limits)
        except ValueError as e:  # e.g. a boundary longer than the library accepts
            raise HTTPInputError(f"Invalid multipart/form-data: {e}") from e
        cast(Any, parser).logger = _QUIET_LOG
        return parser

    def feed(self, data: bytes) -> None:
        """Parse the next chunk of the body (anything after the closing boundary is ignored)."""
        if self._opening is not None:
            data = self._opening_part(data)
            if not data:
                return
        # (buffer, offset) still to write, the next one last; offset 0 is the whole buffer.
        todo = [(data, 0)]
        while todo:
            buffer, offset = todo.pop()
            if offset:
                piece = buffer[offset : offset + _RESTART_WINDOW]
                if offset + _RESTART_WINDOW < len(buffer):
                    todo.append((buffer, offset + _RESTART_WINDOW))
            else:
                piece = buffer
            self._writing = piece
            try:
                self._parser.write(piece)
            except _Restart as restart:
                # The part that just ended had no body: finish it, and go on with a
                # new engine parser from the delimiter it took for data.
                self._probe = None
                self._on_part_end()
                self._parser = self._new_parser()
                todo.append((restart.buffer, restart.offset))
                if restart.prefix:
                    todo.append((restart.prefix, 0))
            except ValueError as e:  # python-multipart's parse errors are ValueErrors
                raise self._engine_error(e) from e
            finally:
                self._writing = b""

    def _opening_part(self, data: bytes) -> bytes:
        # Tornado splits the body at each delimiter and parses every piece before the
        # closing one as a part, the first piece too: a body that does not open with the
        # delimiter has its opening read as a part (whose headers must then be valid),
        # where python-multipart would refuse it as a stray preamble. So the delimiter
        # is supplied.
        seen = self._opening + data if self._opening else data
        delimiter = self._delimiter
        if len(seen) < len(delimiter) and delimiter.startswith(seen):
            self._opening = seen
            return b""
        self._opening = None
        if seen.startswith(delimiter):
            return seen
        # Tornado counts that opening piece once, as it counts the empty one before a
        # leading delimiter; the supplied delimiter must not add a part to the count.
        self._parts = -1
        return delimiter + b"\r\n" + seen

    def close(self) -> None:
        """Declare the body complete; raise if its closing boundary never came."""
        if not self._finished:
            raise HTTPInputError("Invalid multipart/form-data: no final boundary found")

    def _engine_error(self, e: ValueError) -> HTTPInputError:
        if self._line_ended:
            # The engine ends a header line at a CR and wants an LF next; Tornado reads
            # lines up to LF and refuses the CR left in the value.
            return HTTPInputError(f"Invalid header value: CR without LF in a part header ({e})")
        if str(e).startswith(_ENGINE_HEADER_SIZE_ERROR):
            return HTTPInputError("multipart/form-data part header too large")
        return HTTPInputError(f"Invalid multipart/form-data: {e}")

    # -- python-multipart callbacks ---------------------------------------------------

    def _on_part_begin(self) -> None:
        self._parts += 1
        # Tornado counts the (empty) preamble as a part too, so max_parts=100 admits 99
        # fields and files; kept so a limit means the same thing in both.
        if self._parts >= self._config.max_parts:
            raise HTTPInputError("multipart/form-data has too many parts")
        self._headers = HTTPHeaders()
        self._header_size = self._header_count = 0
        self._line_ended = False
        self._chunks = []
        self._probe = None

    def _grow_headers(self, n: int) -> None:
        # Counted as the block "Name: value\r\nName: value" (what Tornado measures), and
        # checked as bytes arrive so an endless header cannot fill memory first.
        self._header_size += n
        if self._header_size > self._config.max_part_header_size:
            raise HTTPInputError("multipart/form-data part header too large")

    def _on_header_begin(self) -> None:
        self._line_ended = False

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._grow_headers(end - start)
        self._field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._grow_headers(end - start)
        self._value += data[start:end]

    def _on_header_end(self) -> None:
        self._grow_headers(4 if self._header_count else 2)
        self._header_count += 1
        self._line_ended = True
        try:
            name = self._field.decode("utf-8")
            value = self._value.decode("utf-8").strip(" \t")
        except UnicodeDecodeError as e:
            raise HTTPInputError(str(e)) from e
        finally:
            self._field.clear()
            self._value.clear()
        # Part headers are UTF-8 text (a filename may be any text): only the control
        # characters are refused, as Tornado does.
        self._headers.add(name, value, _chars_are_bytes=False)

    def _headers_finished(self) -> None:
        self._line_ended = False
        self._probe = []
        self._probed = b""
        self._on_headers_finished()

    def _on_headers_finished(self) -> None:
        disposition, params = _parse_header(self._headers.get("Content-Disposition", ""))
        if disposition != "form-data":
            raise HTTPInputError("Invalid multipart/form-data")
        name = params.get("name")
        if not name:
            raise HTTPInputError("multipart/form-data missing name")
        self._name = name
        self._filename = params.get("filename", "")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        probe = self._probe
        if probe is None:
            self._on_part_data(data, start, end)
            return
        if not probe and data[start] != 0x2D:  # the usual first byte, not a "-": data
            self._probe = None
            self._on_part_data(data, start, end)
            return
        # The part's first bytes. RFC 2046 lets the CRLF that ends a header block be
        # the one that starts the next delimiter (a part with headers and no body, as
        # Tornado accepts); the engine wants another CRLF and takes that delimiter for
        # data. Such a delimiter is spotted here and parsing restarts at it.
        delimiter = self._delimiter
        need = len(delimiter) + 2 - len(self._probed)
        probed = self._probed + data[start : min(end, start + need)]
        head = probed[: len(delimiter)]
        if delimiter.startswith(head):
            if len(probed) < len(delimiter) + 2:
                probe.append((data, start, end))  # not enough bytes to tell yet
                self._probed = probed
                return
            after = probed[len(delimiter) :]
            if after in (b"--", b"\r\n") or after[:1] in (b" ", b"\t"):
                prefix = b"".join(d[s:e] for d, s, e in probe)
                if data is self._writing:
                    raise _Restart(prefix, data, start)
                # The engine's look-behind: bytes it held back from earlier chunks,
                # which the chunk being written continues from its start.
                raise _Restart(prefix + data[start:end], self._writing, 0)
        probe.append((data, start, end))
        self._probe = None
        self._probed = b""
        for d, s, e in probe:
            self._on_part_data(d, s, e)

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        self._chunks.append(data[start:end])

    def _part_end(self) -> None:
        probe = self._probe
        self._probe = None
        if probe:  # a short body, still being looked at: it was data after all
            for d, s, e in probe:
                self._on_part_data(d, s, e)
        self._on_part_end()

    def _on_part_end(self) -> None:
        body = b"".join(self._chunks)
        self._chunks = []
        # Like Tornado, an empty filename="" means a plain field, not a file.
        if self._filename:
            content_type = self._headers.get("Content-Type", "application/unknown")
            upload = HTTPFile(filename=self._filename, body=body, content_type=content_type)
            self.files.setdefault(self._name, []).append(upload)
        else:
            self.arguments.setdefault(self._name, []).append(body)

    def _on_end(self) -> None:
        self._finished = True
