"""Pure HTTP parsing and formatting helpers, re-exported by :mod:`tornadish.httputil`.

No I/O here: start lines, query strings, form bodies (urlencoded and multipart), cookies,
``Content-Type``-style parameters and HTTP dates, each with the results (and the
``HTTPInputError`` on bad input) that ``tornado.httputil`` gives in Tornado 6.6.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime
import email.utils
import http.client
import inspect
import re
import time
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, AnyStr, NamedTuple, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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
    "RequestStartLine",
    "ResponseStartLine",
    "encode_username_password",
    "format_timestamp",
    "parse_body_arguments",
    "parse_cookie",
    "parse_multipart_form_data",
    "parse_qs_bytes",
    "parse_request_start_line",
    "parse_response_start_line",
    "qs_to_qsl",
    "responses",
    "set_parse_body_config",
    "split_host_and_port",
    "url_concat",
]

responses: dict[int, str] = http.client.responses
"""Reason phrases by status code (``responses[404] == "Not Found"``)."""


# -- start lines -----------------------------------------------------------------------


class RequestStartLine(NamedTuple):
    """The first line of an HTTP request: ``GET /path HTTP/1.1``."""

    method: str
    path: str
    version: str


class ResponseStartLine(NamedTuple):
    """The first line of an HTTP response: ``HTTP/1.1 200 OK``."""

    version: str
    code: int
    reason: str


# RFC 9112: method is a token; the target is visible ASCII or obs-text; single spaces.
_REQUEST_LINE_RE = re.compile(
    r"([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([\x21-\x7e\x80-\xff]+) (HTTP/[0-9]\.[0-9])"
)
_RESPONSE_LINE_RE = re.compile(r"(HTTP/[0-9]\.[0-9]) ([0-9]{3}) ([\t\x20-\x7e\x80-\xff]*)")


def parse_request_start_line(line: str) -> RequestStartLine:
    """Split an HTTP/1.x request line into (method, path, version).

    >>> parse_request_start_line("GET /foo HTTP/1.1")
    RequestStartLine(method='GET', path='/foo', version='HTTP/1.1')

    Raises :class:`HTTPInputError` on anything malformed or not HTTP/1.x.
    """
    m = _REQUEST_LINE_RE.fullmatch(line)
    if m is None:
        raise HTTPInputError("Malformed HTTP request line")
    method, path, version = m.groups()
    if not version.startswith("HTTP/1."):
        raise HTTPInputError(f"Unexpected HTTP version {version!r}")
    return RequestStartLine(method, path, version)


def parse_response_start_line(line: str) -> ResponseStartLine:
    """Split an HTTP/1.x status line into (version, code, reason).

    >>> parse_response_start_line("HTTP/1.1 404 Not Found")
    ResponseStartLine(version='HTTP/1.1', code=404, reason='Not Found')

    Raises :class:`HTTPInputError` on anything malformed or not HTTP/1.x. An empty
    reason phrase (``"HTTP/1.1 200 "``) gives ``reason=""``.
    """
    m = _RESPONSE_LINE_RE.fullmatch(line)
    if m is None:
        raise HTTPInputError("Error parsing response start line")
    version, code, reason = m.groups()
    if not version.startswith("HTTP/1."):
        raise HTTPInputError(f"Unexpected HTTP version {version!r}")
    return ResponseStartLine(version, int(code), reason)


# -- URLs and query strings ------------------------------------------------------------


def url_concat(
    url: str,
    args: Mapping[str, object] | Sequence[tuple[str, object]] | None,
) -> str:
    """Add query arguments to ``url``, whether or not it already has a query string.

    ``args`` is a dict, or a list/tuple of pairs when a name repeats:

    >>> url_concat("http://example.com/foo?a=b", {"c": "d"})
    'http://example.com/foo?a=b&c=d'
    >>> url_concat("http://example.com/foo", [("c", "d"), ("c", "d2")])
    'http://example.com/foo?c=d&c=d2'
    """
    if args is None:
        return url
    parts = urlsplit(url)
    query: list[tuple[str, object]] = list(parse_qsl(parts.query, keep_blank_values=True))
    if isinstance(args, dict):
        query.extend(args.items())
    elif isinstance(args, (list, tuple)):
        query.extend(args)
    else:
        raise TypeError(f"'args' parameter should be dict, list or tuple. Not {type(args)}")
    return urlunsplit(parts._replace(query=urlencode(query)))


def qs_to_qsl(qs: Mapping[str, Iterable[AnyStr]]) -> Iterator[tuple[str, AnyStr]]:
    """Turn a ``parse_qs``-style dict back into (name, value) pairs.

    >>> list(qs_to_qsl({"a": [b"1", b"2"], "b": [b"3"]}))
    [('a', b'1'), ('a', b'2'), ('b', b'3')]
    """
    for name, values in qs.items():
        for value in values:
            yield name, value


def split_host_and_port(netloc: str) -> tuple[str, int | None]:
    """Split ``host:port``; the port is ``None`` when absent (or not a number).

    >>> split_host_and_port("example.com:8080"), split_host_and_port("[::1]")
    (('example.com', 8080), ('[::1]', None))
    """
    m = _NETLOC_RE.match(netloc)
    if m is None:
        return netloc, None
    return m.group(1), int(m.group(2))


_NETLOC_RE = re.compile(r"(.+):(\d+)$")


def encode_username_password(username: str | bytes, password: str | bytes) -> bytes:
    """Build the ``username:password`` bytes of HTTP basic authentication.

    Text is encoded as UTF-8; a text username is NFC-normalized first (RFC 7617).

    >>> encode_username_password("user", "pässword")
    b'user:p\\xc3\\xa4ssword'
    """
    if isinstance(username, str):
        username = unicodedata.normalize("NFC", username).encode("utf-8")
    if isinstance(password, str):
        password = password.encode("utf-8")
    return username + b":" + password


# -- dates -----------------------------------------------------------------------------

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MAX_FAST_TIMESTAMP = 253402300799  # 9999-12-31 23:59:59, the last year datetime allows
_last_date: tuple[int, str] = (-1, "")


def _format_whole_seconds(secs: int) -> str:
    global _last_date
    cached_secs, cached = _last_date
    if cached_secs == secs:
        return cached
    t = time.gmtime(secs)
    text = (
        f"{_WEEKDAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year:04d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )
    # One tuple assignment, so a concurrent reader sees either the old or the new pair.
    _last_date = (secs, text)
    return text


def format_timestamp(
    ts: float | tuple[int, ...] | time.struct_time | datetime.datetime,
) -> str:
    """Format a time as an HTTP date (RFC 1123, always GMT).

    ``ts`` may be a POSIX timestamp, a ``time.gmtime()``-style tuple (taken as UTC) or a
    ``datetime`` (naive ones are taken as UTC).

    >>> format_timestamp(1359312200)
    'Sun, 27 Jan 2013 18:43:20 GMT'
    """
    if isinstance(ts, (int, float)):
        secs = int(ts)
        # The fast path covers every "now"; fractions close to the next second, negative
        # or out-of-range times take the exact (datetime-rounding) route below.
        if ts >= 0 and secs <= _MAX_FAST_TIMESTAMP and ts - secs < 0.999999:
            return _format_whole_seconds(secs)
        when = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)
        return email.utils.format_datetime(when, usegmt=True)
    if isinstance(ts, datetime.datetime):
        return format_timestamp(calendar.timegm(ts.utctimetuple()))
    if isinstance(ts, (tuple, time.struct_time)):
        return format_timestamp(calendar.timegm(ts))
    raise TypeError(f"unknown timestamp type: {ts!r}")


# -- header parameters (Content-Type, Content-Disposition) -----------------------------


def _split_params(s: str) -> Iterator[str]:
    """Yield the ``;``-separated pieces of ``s`` (which starts with ``;``).

    A ``;`` inside a quoted string does not split; a quote preceded by a backslash does
    not open or close one.
    """
    while s[:1] == ";":
        s = s[1:]
        end = s.find(";")
        while end > 0 and (s.count('"', 0, end) - s.count('\\"', 0, end)) % 2:
            end = s.find(";", end + 1)
        if end < 0:
            end = len(s)
        yield s[:end].strip()
        s = s[end:]


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


# -- cookies ---------------------------------------------------------------------------

_COOKIE_ESCAPE_RE = re.compile(r"\\(?:([0-3][0-7][0-7])|(.))", re.DOTALL)


def _unescape_cookie_char(m: re.Match[str]) -> str:
    octal = m.group(1)
    return chr(int(octal, 8)) if octal else m.group(2)


def _unquote_cookie(value: str) -> str:
    if len(value) < 2 or value[0] != '"' or value[-1] != '"':
        return value
    # Inside quotes, \" and \\ stand for themselves and \ooo is an octal byte.
    return _COOKIE_ESCAPE_RE.sub(_unescape_cookie_char, value[1:-1])


def parse_cookie(cookie: str) -> dict[str, str]:
    """Parse a ``Cookie`` request header into a name → value dict, leniently.

    Parses the way browsers send cookies rather than by the RFCs: pieces without ``=``
    get the empty name, empty pieces are skipped, a later duplicate wins, quoted values
    are unquoted.

    >>> parse_cookie('a=1; b="x y"; junk; a=2')
    {'a': '2', 'b': 'x y', '': 'junk'}
    """
    result: dict[str, str] = {}
    for chunk in cookie.split(";"):
        name, sep, value = chunk.partition("=")
        if not sep:
            name, value = "", chunk
        name, value = name.strip(), value.strip()
        if name or value:
            result[name] = _unquote_cookie(value)
    return result


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
    ``name``, the limits of ``config``, a body without its closing boundary) raises
    :class:`HTTPInputError`.
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
        self._parts = 0
        self._finished = False
        self._header_size = 0
        self._header_count = 0
        self._field = bytearray()
        self._value = bytearray()
        self._headers = HTTPHeaders()
        self._name = ""
        self._filename = ""
        self._chunks: list[bytes] = []
        # Any: the library's TypedDict for this changed between releases.
        callbacks: Any = {
            "on_part_begin": self._on_part_begin,
            "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value,
            "on_header_end": self._on_header_end,
            "on_headers_finished": self._on_headers_finished,
            "on_part_data": self._on_part_data,
            "on_part_end": self._on_part_end,
            "on_end": self._on_end,
        }
        limits = {}
        if _PARSER_HAS_HEADER_LIMITS:
            # Tornado bounds the header block of a part as a whole, which _grow_headers
            # does; the library's own per-line and per-count defaults are stricter than
            # that (8 headers), so they are raised out of the way.
            most = max(self._config.max_part_header_size, 1)
            limits = {"max_header_count": most, "max_header_size": most}
        try:
            self._parser = _MultipartParser(boundary, callbacks, **limits)
        except ValueError as e:  # e.g. a boundary longer than the library accepts
            raise HTTPInputError(f"Invalid multipart/form-data: {e}") from e
        cast(Any, self._parser).logger = _QUIET_LOG

    def feed(self, data: bytes) -> None:
        """Parse the next chunk of the body (anything after the closing boundary is ignored)."""
        try:
            self._parser.write(data)
        except ValueError as e:  # python-multipart's parse errors are ValueErrors
            raise HTTPInputError(f"Invalid multipart/form-data: {e}") from e

    def close(self) -> None:
        """Declare the body complete; raise if its closing boundary never came."""
        if not self._finished:
            raise HTTPInputError("Invalid multipart/form-data: no final boundary found")

    # -- python-multipart callbacks ---------------------------------------------------

    def _on_part_begin(self) -> None:
        self._parts += 1
        # Tornado counts the (empty) preamble as a part too, so max_parts=100 admits 99
        # fields and files; kept so a limit means the same thing in both.
        if self._parts >= self._config.max_parts:
            raise HTTPInputError("multipart/form-data has too many parts")
        self._headers = HTTPHeaders()
        self._header_size = self._header_count = 0
        self._chunks = []

    def _grow_headers(self, n: int) -> None:
        # Counted as the block "Name: value\r\nName: value" (what Tornado measures), and
        # checked as bytes arrive so an endless header cannot fill memory first.
        self._header_size += n
        if self._header_size > self._config.max_part_header_size:
            raise HTTPInputError("multipart/form-data part header too large")

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._grow_headers(end - start)
        self._field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._grow_headers(end - start)
        self._value += data[start:end]

    def _on_header_end(self) -> None:
        self._grow_headers(4 if self._header_count else 2)
        self._header_count += 1
        try:
            name = self._field.decode("utf-8")
            value = self._value.decode("utf-8").strip(" \t")
        except UnicodeDecodeError as e:
            raise HTTPInputError(str(e)) from e
        finally:
            self._field.clear()
            self._value.clear()
        if "\x00" in value or "\n" in value:
            raise HTTPInputError(f"Invalid header value {value!r}")
        self._headers.add(name, value)

    def _on_headers_finished(self) -> None:
        disposition, params = _parse_header(self._headers.get("Content-Disposition", ""))
        if disposition != "form-data":
            raise HTTPInputError("Invalid multipart/form-data")
        name = params.get("name")
        if not name:
            raise HTTPInputError("multipart/form-data missing name")
        self._name = name
        self._filename = params.get("filename", "")

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        self._chunks.append(data[start:end])

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
