"""Pure HTTP parsing and formatting helpers, re-exported by :mod:`tornadish.httputil`.

No I/O here: start lines, query strings, cookies and HTTP dates, each with the results
(and the ``HTTPInputError`` on bad input) that ``tornado.httputil`` gives in Tornado 6.6.
Form bodies and ``Content-Type``-style parameters live in :mod:`tornadish._http.forms`;
their public names are re-exported here too.
"""

from __future__ import annotations

import calendar
import datetime
import email.utils
import http.client
import re
import time
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import AnyStr, NamedTuple
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tornadish._http.forms import (
    HTTPFile,
    MultipartFormDataParser,
    ParseBodyConfig,
    ParseMultipartConfig,
    ParseUrlEncodedConfig,
    parse_body_arguments,
    parse_multipart_form_data,
    set_parse_body_config,
)
from tornadish._http.forms import _parse_header as _parse_header
from tornadish._http.forms import get_parse_body_config as get_parse_body_config
from tornadish._http.headers import HTTPInputError
from tornadish.escape import parse_qs_bytes

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
