"""tornadish._http.parse (and _headers.HTTPHeaders), checked against tornado.httputil."""

from __future__ import annotations

import datetime
import http.client
import time
from typing import Any

import pytest
import tornado.httputil as th
from hypothesis import given, settings
from hypothesis import strategies as st

from tornadish._http import parse as _httpparse
from tornadish._http.headers import HTTPHeaders, HTTPInputError
from tornadish._http.parse import (
    HTTPFile,
    MultipartFormDataParser,
    ParseBodyConfig,
    ParseMultipartConfig,
    ParseUrlEncodedConfig,
    RequestStartLine,
    ResponseStartLine,
    _parse_header,
    encode_username_password,
    format_timestamp,
    parse_body_arguments,
    parse_cookie,
    parse_multipart_form_data,
    parse_request_start_line,
    parse_response_start_line,
    qs_to_qsl,
    responses,
    set_parse_body_config,
    split_host_and_port,
    url_concat,
)

# -- start lines ---------------------------------------------------------------------


def test_request_start_line() -> None:
    line = parse_request_start_line("GET /foo?x=1 HTTP/1.1")
    assert line == RequestStartLine("GET", "/foo?x=1", "HTTP/1.1")
    assert (line.method, line.path, line.version) == ("GET", "/foo?x=1", "HTTP/1.1")
    assert parse_request_start_line("OPTIONS * HTTP/1.0").path == "*"
    assert parse_request_start_line("get /é HTTP/1.1").method == "get"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("GET /foo", "Malformed"),
        ("GET  /foo HTTP/1.1", "Malformed"),
        ("GET /foo HTTP/1.1 ", "Malformed"),
        ("GET /foo HTTP/1.12", "Malformed"),
        ("GET /foo http/1.1", "Malformed"),
        ("GET /f\x00 HTTP/1.1", "Malformed"),
        ("G@T /foo HTTP/1.1", "Malformed"),
        ("GET / HTTP/1.1\r", "Malformed"),
        ("", "Malformed"),
        ("GET /foo HTTP/2.0", "Unexpected HTTP version 'HTTP/2.0'"),
        ("GET /foo HTTP/0.9", "Unexpected HTTP version"),
    ],
)
def test_request_start_line_errors(line: str, message: str) -> None:
    with pytest.raises(HTTPInputError, match=message):
        parse_request_start_line(line)
    with pytest.raises(th.HTTPInputError):
        th.parse_request_start_line(line)


def test_response_start_line() -> None:
    assert parse_response_start_line("HTTP/1.1 200 OK") == ResponseStartLine("HTTP/1.1", 200, "OK")
    assert parse_response_start_line("HTTP/1.0 404 Not  Found ").reason == "Not  Found "
    assert parse_response_start_line("HTTP/1.1 099 x").code == 99
    # Documented difference: Tornado gives None for an empty reason, we give "".
    assert parse_response_start_line("HTTP/1.1 200 ").reason == ""
    for bad in ("HTTP/1.1 200", "HTTP/1.1 2000 X", "HTTP/2 200 OK", "HTTP/1.1 abc OK", "foo"):
        with pytest.raises(HTTPInputError, match="Error parsing response start line"):
            parse_response_start_line(bad)
    with pytest.raises(HTTPInputError, match="Unexpected HTTP version"):
        parse_response_start_line("HTTP/0.9 200 OK")


def _outcome(func: Any, *args: Any) -> Any:
    try:
        return func(*args)
    except (HTTPInputError, th.HTTPInputError):
        return "error"


@pytest.mark.parametrize("position", ["method", "path", "reason"])
def test_start_line_characters_match_tornado(position: str) -> None:
    # Every Latin-1 character, plus one beyond, in each position of the line.
    for c in [chr(i) for i in range(256)] + ["\u0100", "\u0661"]:
        if position == "method":
            line = f"G{c}T / HTTP/1.1"
        elif position == "path":
            line = f"GET /a{c}b HTTP/1.1"
        else:
            line = f"HTTP/1.1 200 a{c}b"
        parse = parse_response_start_line if position == "reason" else parse_request_start_line
        theirs = (
            th.parse_response_start_line if position == "reason" else th.parse_request_start_line
        )
        assert _outcome(parse, line) == _outcome(theirs, line), repr(line)


# -- url_concat / qs_to_qsl ----------------------------------------------------------

URL_CONCAT_CASES: list[tuple[str, Any, str]] = [
    ("http://e.com/foo", {"c": "d"}, "http://e.com/foo?c=d"),
    ("http://e.com/foo?a=b", {"c": "d"}, "http://e.com/foo?a=b&c=d"),
    ("http://e.com/foo?a=b", [("c", "d"), ("c", "d2")], "http://e.com/foo?a=b&c=d&c=d2"),
    ("http://e.com/foo?a=b", (("c", "d"),), "http://e.com/foo?a=b&c=d"),
    ("http://e.com/foo?a=b&", {"c": "d"}, "http://e.com/foo?a=b&c=d"),
    ("http://e.com/foo?", {"c": "d"}, "http://e.com/foo?c=d"),
    ("http://e.com/foo#frag", {"c": "d"}, "http://e.com/foo?c=d#frag"),
    ("/foo?a=b&a=&x", [("c", "d")], "/foo?a=b&a=&x=&c=d"),
    ("/f?a=b%20c&d=%2F", {"e": "/"}, "/f?a=b+c&d=%2F&e=%2F"),
    ("/f;p?a=1", {"b": "2"}, "/f;p?a=1&b=2"),
    ("/f", {"a": "é c"}, "/f?a=%C3%A9+c"),
    ("/f", {"a": 1, "b": None}, "/f?a=1&b=None"),
    ("/f?a=1&b", {}, "/f?a=1&b="),
    ("/f?a=1&b", None, "/f?a=1&b"),  # None leaves the URL untouched
]


@pytest.mark.parametrize(("url", "args", "expected"), URL_CONCAT_CASES)
def test_url_concat(url: str, args: Any, expected: str) -> None:
    assert url_concat(url, args) == expected
    assert th.url_concat(url, args) == expected


def test_url_concat_bad_args() -> None:
    with pytest.raises(TypeError, match="should be dict, list or tuple"):
        url_concat("/f", 5)  # type: ignore[arg-type]


def test_qs_to_qsl() -> None:
    qs = {"a": [b"1", b"2"], "b": [b"x"]}
    assert list(qs_to_qsl(qs)) == [("a", b"1"), ("a", b"2"), ("b", b"x")]
    assert list(qs_to_qsl(qs)) == list(th.qs_to_qsl(qs))


# -- small helpers -------------------------------------------------------------------


@pytest.mark.parametrize(
    "netloc",
    [
        "example.com",
        "example.com:80",
        "[::1]:8080",
        "[::1]",
        "::1",
        "e.com:abc",
        "e.com:",
        "e.com:-1",
        "e.com:+80",
        "",
        "e.com:80:90",
        "E.COM:0080",
        "a:1\n",
        "a\n:1",
    ],
)
def test_split_host_and_port(netloc: str) -> None:
    assert split_host_and_port(netloc) == th.split_host_and_port(netloc)


def test_split_host_and_port_values() -> None:
    assert split_host_and_port("example.com:8080") == ("example.com", 8080)
    assert split_host_and_port("[::1]:8080") == ("[::1]", 8080)
    assert split_host_and_port("example.com") == ("example.com", None)


def test_encode_username_password() -> None:
    assert encode_username_password("u", "p") == b"u:p"
    assert encode_username_password(b"u\xff", "pé") == b"u\xff:p\xc3\xa9"
    # Only a text username is NFC-normalized (as in Tornado).
    assert encode_username_password("u\u0308", "p\u0308") == b"\xc3\xbc:p\xcc\x88"
    pairs: list[tuple[str | bytes, str | bytes]] = [
        ("u\u0308", "p\u0308"),
        (b"u\xcc\x88", "x"),
        ("ü", b"p"),
    ]
    for user, password in pairs:
        assert encode_username_password(user, password) == th.encode_username_password(
            user, password
        )


def test_responses() -> None:
    assert responses is http.client.responses
    assert responses[404] == "Not Found" and responses == http.client.responses


def test_http_file() -> None:
    f = HTTPFile(filename="a.txt", body=b"hi", content_type="text/plain")
    assert f.filename == f["filename"] == "a.txt"
    assert f.body == b"hi" and f["content_type"] == "text/plain"
    f.body = b"changed"
    assert f["body"] == b"changed"
    assert dict(f) == {"filename": "a.txt", "body": b"changed", "content_type": "text/plain"}


# -- format_timestamp ----------------------------------------------------------------

_TS = 1359312200
_EXPECTED = "Sun, 27 Jan 2013 18:43:20 GMT"


@pytest.mark.parametrize(
    "ts",
    [
        _TS,
        float(_TS),
        _TS + 0.7,
        time.gmtime(_TS),
        tuple(time.gmtime(_TS)),
        datetime.datetime(2013, 1, 27, 18, 43, 20),
        datetime.datetime(
            2013, 1, 27, 20, 43, 20, tzinfo=datetime.timezone(datetime.timedelta(hours=2))
        ),
        (2013, 1, 27, 18, 43, 20, 0, 0, 0),
    ],
)
def test_format_timestamp_types(ts: Any) -> None:
    assert format_timestamp(ts) == _EXPECTED
    assert th.format_timestamp(ts) == _EXPECTED


def test_format_timestamp_edges() -> None:
    assert format_timestamp(0) == "Thu, 01 Jan 1970 00:00:00 GMT"
    assert format_timestamp(-1) == "Wed, 31 Dec 1969 23:59:59 GMT"
    assert format_timestamp(-0.5) == th.format_timestamp(-0.5)
    assert format_timestamp(_TS + 0.9999999) == th.format_timestamp(_TS + 0.9999999)
    with pytest.raises(TypeError, match="unknown timestamp type"):
        format_timestamp("x")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        format_timestamp(1e12)  # beyond year 9999, like Tornado


def test_format_timestamp_cache_changes_with_time() -> None:
    first = format_timestamp(_TS)
    assert format_timestamp(_TS + 1) == "Sun, 27 Jan 2013 18:43:21 GMT" != first
    assert format_timestamp(_TS) == first


@given(st.floats(min_value=-1e10, max_value=253402300799.0) | st.integers(0, 2**34))
def test_format_timestamp_matches_tornado(ts: float) -> None:
    assert format_timestamp(ts) == th.format_timestamp(ts)


# -- _parse_header -------------------------------------------------------------------

PARSE_HEADER_CASES = [
    'text/html; charset="utf-8"',
    'form-data; name="a;b"; filename="c\\"d"',
    'form-data; foo="b\\\\a\\"r"; file*=utf-8\'\'T%C3%A4st',
    "a; b",
    "a; b=",
    "A/B; X=Y",
    " a ; b = c ",
    'a; name="x"; name="y"',
    "a; f*=iso-8859-1'en'%E9",
    "a; f*=bogus",
    "a; f*=utf-8''%FF",
    'a; b="c',
    "",
    "a; =c",
    "a;;b=c",
    "a; f*0=x; f*1=y",
    "a; f*0*=utf-8''%C3; f*1*=%A9",
    'a; b="x;y\\"; c=d"; e=f',
    'a; b="x\\\\"; c=d',
    'a; filename="C:\\path\\f.txt"',
    "a; b=<x>",
    'a; b=""x""',
]


@pytest.mark.parametrize("line", PARSE_HEADER_CASES)
def test_parse_header_matches_tornado(line: str) -> None:
    assert _parse_header(line) == th._parse_header(line)


def test_parse_header_values() -> None:
    assert _parse_header('text/html; Charset="UTF-8"') == ("text/html", {"charset": "UTF-8"})
    assert _parse_header("form-data; name=a; filename*=UTF-8''%C3%A9.txt") == (
        "form-data",
        {"name": "a", "filename": "é.txt"},
    )
    assert _parse_header('form-data; name="a;b"')[1] == {"name": "a;b"}


@settings(max_examples=300)
@given(st.text(alphabet="ab;=\"\\ *'%C3A9<>", max_size=30))
def test_parse_header_fuzz_matches_tornado(line: str) -> None:
    assert _parse_header(line) == th._parse_header(line)


# -- parse_cookie --------------------------------------------------------------------

COOKIE_CASES: list[tuple[str, dict[str, str]]] = [
    ("a=b; c=d", {"a": "b", "c": "d"}),
    ('a="b c"', {"a": "b c"}),
    ('a="b\\"c"', {"a": 'b"c'}),
    ('a="\\073\\054"', {"a": ";,"}),
    ("a", {"": "a"}),
    ("a=b=c", {"a": "b=c"}),
    (" a = b ; ;c=d", {"a": "b", "c": "d"}),
    ("a=b; a=c", {"a": "c"}),
    ("", {}),
    (
        'keebler=E=mc2; L="Loves"; fudge=\\012;',
        {"keebler": "E=mc2", "L": "Loves", "fudge": "\\012"},
    ),
    ('a="b', {"a": '"b'}),
    ('a="b"c"', {"a": 'b"c'}),
    ("a=%20", {"a": "%20"}),
    ("a=é", {"a": "é"}),
]


@pytest.mark.parametrize(("header", "expected"), COOKIE_CASES)
def test_parse_cookie(header: str, expected: dict[str, str]) -> None:
    assert parse_cookie(header) == expected
    assert th.parse_cookie(header) == expected


@settings(max_examples=300)
@given(st.text(alphabet='ab=; "\\0127,é', max_size=30))
def test_parse_cookie_matches_tornado(header: str) -> None:
    assert parse_cookie(header) == th.parse_cookie(header)


# -- form bodies ---------------------------------------------------------------------

FORM = "application/x-www-form-urlencoded"
MULTI = "multipart/form-data; boundary=1234"


def _parts(*parts: bytes, end: bytes = b"--1234--\r\n") -> bytes:
    return b"".join(b"--1234\r\n" + p + b"\r\n" for p in parts) + end


def _field(name: str, value: bytes) -> bytes:
    return f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value


def _file(name: str, filename: str, body: bytes, ctype: str | None = None) -> bytes:
    head = f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
    if ctype is not None:
        head += f"Content-Type: {ctype}\r\n"
    return (head + "\r\n").encode() + body


def _parse(content_type: str, body: bytes, headers: dict[str, str] | None = None) -> Any:
    args: dict[str, list[bytes]] = {}
    files: dict[str, list[HTTPFile]] = {}
    parse_body_arguments(content_type, body, args, files, HTTPHeaders(headers or {}))
    return args, {k: [(f.filename, f.content_type, f.body) for f in v] for k, v in files.items()}


def _tornado_parse(content_type: str, body: bytes, headers: dict[str, str] | None = None) -> Any:
    args: dict[str, list[bytes]] = {}
    files: dict[str, list[Any]] = {}
    th.parse_body_arguments(content_type, body, args, files, th.HTTPHeaders(headers or {}))
    return args, {k: [(f.filename, f.content_type, f.body) for f in v] for k, v in files.items()}


def test_urlencoded_body() -> None:
    body = b"a=1&b=2&a=3&c=&%E9=%E9"
    expected = {"a": [b"1", b"3"], "b": [b"2"], "c": [b""], "é": [b"\xe9"]}
    assert _parse(FORM, body) == (expected, {})
    assert _tornado_parse(FORM, body) == (expected, {})
    assert _parse(FORM + "; charset=utf-8", b"a=1") == ({"a": [b"1"]}, {})
    assert _parse("Application/X-WWW-Form-Urlencoded", b"a=1") == ({}, {})  # case-sensitive
    assert _parse("text/plain", b"a=1") == ({}, {})


def test_body_arguments_extend_existing() -> None:
    args = {"a": [b"0"]}
    parse_body_arguments(FORM, b"a=1", args, {})
    assert args == {"a": [b"0", b"1"]}


def test_content_encoding_is_rejected() -> None:
    for ctype, body in [(FORM, b"a=1"), (MULTI, _parts(_field("a", b"v")))]:
        with pytest.raises(HTTPInputError, match="Unsupported Content-Encoding: gzip"):
            _parse(ctype, body, {"Content-Encoding": "gzip"})
    # Only form bodies are parsed, so only they care.
    assert _parse("text/plain", b"x", {"Content-Encoding": "gzip"}) == ({}, {})


def test_urlencoded_argument_limit() -> None:
    body = "&".join(f"a{i}=1" for i in range(1001)).encode()
    with pytest.raises(HTTPInputError, match="Max number of fields"):
        _parse(FORM, body)
    assert len(_parse(FORM, body.rpartition(b"&")[0])[0]) == 1000
    small = ParseBodyConfig(urlencoded=ParseUrlEncodedConfig(max_arguments=2))
    with pytest.raises(HTTPInputError):
        parse_body_arguments(FORM, b"a=1&b=2&c=3", {}, {}, config=small)


def test_multipart_fields_and_files() -> None:
    body = _parts(
        _file("files", "ab.txt", b"Foo"),
        _file("files", "b.bin", b"\x89PNG\r\n\r\n--123", "image/png"),
        _field("f", b"v1"),
        _field("f", b""),
        _field("multi", b"line1\r\nline2"),
        _file("empty", "", b"not a file"),  # filename="" is a plain field
    )
    expected = (
        {"f": [b"v1", b""], "multi": [b"line1\r\nline2"], "empty": [b"not a file"]},
        {
            "files": [
                ("ab.txt", "application/unknown", b"Foo"),
                ("b.bin", "image/png", b"\x89PNG\r\n\r\n--123"),
            ]
        },
    )
    assert _parse(MULTI, body) == expected
    assert _tornado_parse(MULTI, body) == expected


def test_multipart_names_and_filenames() -> None:
    body = _parts(
        'Content-Disposition: form-data; name="é"; filename="é.txt"\r\n\r\nv'.encode(),
        b"Content-Disposition: form-data; name=b; filename*=UTF-8''%C3%A9%20x.txt\r\n\r\nx",
        b'Content-Disposition: form-data; name="a\\"b"; filename="c\\\\d.txt"\r\n\r\nq',
        b"Content-Disposition: form-data; name=t; filename=t\r\nContent-Type: \r\n\r\n",
    )
    args, files = _parse(MULTI, body)
    assert args == {}
    assert files == {
        "é": [("é.txt", "application/unknown", b"v")],
        "b": [("é x.txt", "application/unknown", b"x")],
        'a"b': [("c\\d.txt", "application/unknown", b"q")],
        "t": [("t", "", b"")],
    }
    assert (args, files) == _tornado_parse(MULTI, body)


@pytest.mark.parametrize(
    "content_type",
    [
        'multipart/form-data; boundary="1234"',
        "multipart/form-data;boundary=1234",
        "multipart/form-data ; boundary=1234",
        "multipart/form-data; charset=x; boundary=1234",
        "multipart/form-data; boundary=1234; charset=x",
    ],
)
def test_multipart_boundary_forms(content_type: str) -> None:
    body = _parts(_field("a", b"val"))
    assert _parse(content_type, body) == ({"a": [b"val"]}, {}) == _tornado_parse(content_type, body)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data", b"xx"),
        ("multipart/form-data; boundary=", b"xx"),
        ("multipart/form-data; BOUNDARY=1234", _parts(_field("a", b"v"))),
        ("multipart/form-data; boundary =1234", _parts(_field("a", b"v"))),
        ("multipart/form-datax; boundary=1234", _parts(_field("a", b"v"))),
        (MULTI, b""),
        (MULTI, b"xx"),
        (MULTI, _parts(_field("a", b"v"), end=b"--1234\r\n")),
        (MULTI, b"--1234\r\n" + _field("a", b"val")),
        (MULTI, b"preamble\r\n" + _parts(_field("a", b"v"))),
        (MULTI, _parts(b'Content-Disposition: attachment; name="a"\r\n\r\nv')),
        (MULTI, _parts(b"content-disposition: FORM-DATA; name=a\r\n\r\nv")),
        (MULTI, _parts(b'Content-Disposition: form-data; filename="a"\r\n\r\nv')),
        (MULTI, _parts(b'Content-Disposition: form-data; name=""\r\n\r\nv')),
        (MULTI, _parts(b'Content-Disposition: form-data; name="a"\r\nv')),
        (MULTI, _parts(b"X: y\r\n\r\nv")),
        (MULTI, _parts(b"\r\nv")),
        (MULTI, _parts(b"Content-Disposition: form-data; name=a\r\nX: a\r\n b\r\n\r\nv")),
        (MULTI, _parts(b"Content-Disposition: form-data; name=a\r\nBad Header\r\n\r\nv")),
        (MULTI, _parts(b"Content-Disposition: form-data; name=a\r\n: v\r\n\r\nv")),
        (MULTI, _parts(b"Content-Disposition: form-data; name=a\r\nX: a\x00b\r\n\r\nv")),
        (MULTI, _parts(b'Content-Disposition: form-data; name="\xff"\r\n\r\nv')),
        (MULTI, b"--1234\r\n" + _field("a", b"x--1234--\r\n")),
    ],
)
def test_malformed_multipart(content_type: str, body: bytes) -> None:
    with pytest.raises(HTTPInputError):
        _parse(content_type, body)
    with pytest.raises(th.HTTPInputError):
        _tornado_parse(content_type, body)


@pytest.mark.parametrize(
    "end", [b"--1234--", b"--1234--\r\n", b"--1234--\r\nepilogue is ignored\r\n"]
)
def test_multipart_endings(end: bytes) -> None:
    body = _parts(_field("a", b"v"), end=end)
    assert _parse(MULTI, body) == ({"a": [b"v"]}, {}) == _tornado_parse(MULTI, body)
    assert _parse(MULTI, b"--1234--\r\n") == ({}, {})


def test_multipart_part_limit_matches_tornado() -> None:
    field = b"Content-Disposition: form-data; name=a\r\n\r\nv"
    ok = _parts(*[field] * 99)
    too_many = _parts(*[field] * 100)
    assert len(_parse(MULTI, ok)[0]["a"]) == 99 == len(_tornado_parse(MULTI, ok)[0]["a"])
    with pytest.raises(HTTPInputError, match="too many parts"):
        _parse(MULTI, too_many)
    with pytest.raises(th.HTTPInputError, match="too many parts"):
        _tornado_parse(MULTI, too_many)
    roomy = ParseBodyConfig(multipart=ParseMultipartConfig(max_parts=1000))
    args: dict[str, list[bytes]] = {}
    parse_body_arguments(MULTI, too_many, args, {}, config=roomy)
    assert len(args["a"]) == 100


def test_multipart_header_size_limit_matches_tornado() -> None:
    def body(n: int) -> bytes:
        return _parts(b"Content-Disposition: form-data; name=a\r\nX: " + b"y" * n + b"\r\n\r\nv")

    # The header block may be 10240 bytes, not one more.
    assert _parse(MULTI, body(10197)) == ({"a": [b"v"]}, {}) == _tornado_parse(MULTI, body(10197))
    with pytest.raises(HTTPInputError, match="header too large"):
        _parse(MULTI, body(10198))
    with pytest.raises(th.HTTPInputError, match="header too large"):
        _tornado_parse(MULTI, body(10198))
    # Many small headers are fine (python-multipart alone would stop at 8).
    many = _parts(
        b"Content-Disposition: form-data; name=a\r\n"
        + b"".join(b"X-%d: y\r\n" % i for i in range(30))
        + b"\r\nv"
    )
    assert _parse(MULTI, many) == ({"a": [b"v"]}, {})


def test_multipart_can_be_disabled() -> None:
    off = ParseBodyConfig(multipart=ParseMultipartConfig(enabled=False))
    with pytest.raises(HTTPInputError, match="disabled"):
        parse_body_arguments(MULTI, b"--1234--\r\n", {}, {}, config=off)
    set_parse_body_config(off)
    try:
        with pytest.raises(HTTPInputError, match="disabled"):
            parse_body_arguments(MULTI, b"--1234--\r\n", {}, {})
    finally:
        set_parse_body_config(ParseBodyConfig())
    parse_body_arguments(MULTI, b"--1234--\r\n", {}, {})


def test_parse_multipart_form_data_directly() -> None:
    args: dict[str, list[bytes]] = {}
    files: dict[str, list[HTTPFile]] = {}
    parse_multipart_form_data(b'"1234"', _parts(_field("a", b"v")), args, files)
    assert args == {"a": [b"v"]} and files == {}
    with pytest.raises(HTTPInputError, match="no final boundary"):
        parse_multipart_form_data(b"1234", b"", {}, {})


def test_streaming_parser_any_chunking() -> None:
    body = _parts(
        _field("a", b"x" * 50 + b"\r\n--123"),
        _file("f", "f.txt", b"\r\n--1234-\r\ndata", "text/plain"),
        _field("b", b""),
    )
    whole: Any = ({}, {})
    parse_multipart_form_data(b"1234", body, whole[0], whole[1])
    for size in (1, 2, 3, 7, 64):
        args: dict[str, list[bytes]] = {}
        files: dict[str, list[HTTPFile]] = {}
        parser = MultipartFormDataParser(b"1234", args, files)
        for i in range(0, len(body), size):
            parser.feed(body[i : i + size])
        parser.close()
        assert (args, files) == whole, size
    assert whole[0] == {"a": [b"x" * 50 + b"\r\n--123"], "b": [b""]}
    assert whole[1]["f"][0].body == b"\r\n--1234-\r\ndata"


_multipart_values = st.binary(max_size=40).filter(lambda b: b"\r\n--B" not in b)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "é", "x y"]),
            st.one_of(st.none(), st.sampled_from(["f.txt", "é.bin", 'q"t', ""])),
            _multipart_values,
        ),
        max_size=6,
    )
)
def test_multipart_fuzz_matches_tornado(parts: list[tuple[str, str | None, bytes]]) -> None:
    chunks = []
    for name, filename, value in parts:
        disp = 'form-data; name="{}"'.format(name.replace('"', '\\"'))
        if filename is not None:
            disp += '; filename="{}"'.format(filename.replace('"', '\\"'))
        chunks.append(f"--B\r\nContent-Disposition: {disp}\r\n\r\n".encode() + value + b"\r\n")
    body = b"".join(chunks) + b"--B--\r\n"
    ctype = "multipart/form-data; boundary=B"
    assert _parse(ctype, body) == _tornado_parse(ctype, body)


# -- HTTPHeaders (tornadish._http.headers), as the parsers above use it -------------------


def test_headers_parse_repeated() -> None:
    text = "Content-Type: text/html\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nX:\r\n"
    ours, theirs = HTTPHeaders.parse(text), th.HTTPHeaders.parse(text)
    assert ours["set-cookie"] == "a=1,b=2" == theirs["set-cookie"]
    assert ours.get_list("SET-COOKIE") == ["a=1", "b=2"] == theirs.get_list("SET-COOKIE")
    assert list(ours.get_all()) == list(theirs.get_all())
    assert ours["X"] == "" and ours.get_list("missing") == []
    assert sorted(ours.keys()) == sorted(theirs.keys())


def test_headers_parse_line_endings_and_whitespace() -> None:
    for text in ["A: b\nC:  d  \n", "A: b\r\nC:\td\t\r\n\r\n"]:
        assert dict(HTTPHeaders.parse(text)) == {"A": "b", "C": "d"}
        assert dict(th.HTTPHeaders.parse(text)) == {"A": "b", "C": "d"}


def test_headers_folding_is_refused() -> None:
    # Obsolete line folding (RFC 9112 §5.2) is refused, as in Tornado 6.6.
    for text in ["A: b\r\n c\r\n", "A: b\r\n\tc\r\n", " A: b\r\n"]:
        with pytest.raises(HTTPInputError, match="folding"):
            HTTPHeaders.parse(text)
        with pytest.raises(th.HTTPInputError):
            th.HTTPHeaders.parse(text)


@pytest.mark.parametrize("text", ["A b: c\r\n", "no colon\r\n", ": v\r\n"])
def test_headers_parse_errors(text: str) -> None:
    with pytest.raises(HTTPInputError):
        HTTPHeaders.parse(text)
    with pytest.raises(th.HTTPInputError):
        th.HTTPHeaders.parse(text)


@pytest.mark.parametrize("text", ["A: b\x00\r\n", "A: b\rc\r\n"])
def test_headers_reject_control_characters(text: str) -> None:
    with pytest.raises(HTTPInputError):
        HTTPHeaders.parse(text)


def test_headers_add_set_delete() -> None:
    h = HTTPHeaders()
    h.add("x-a", "1")
    h.add("X-A", "2")
    assert h["X-A"] == "1,2" and h.get_list("x-a") == ["1", "2"]
    h["x-a"] = "3"
    assert h.get_list("X-A") == ["3"]
    c = h.copy()
    c.add("X-A", "4")
    assert h.get_list("X-A") == ["3"] and c.get_list("X-A") == ["3", "4"]
    del h["x-a"]
    assert "X-A" not in h and len(h) == 0


def test_exported_names() -> None:
    for name in _httpparse.__all__:
        if name != "MultipartFormDataParser":
            assert hasattr(th, name), name
