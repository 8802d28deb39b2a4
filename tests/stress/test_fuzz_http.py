"""Property-based fuzzing of the request-parsing path, sans-IO (hypothesis).

Two kinds of property:

- **Robustness**: whatever the bytes — request lines, headers, framing, chunked and
  multipart bodies, cookies, query strings — and however they are split into reads,
  the only outcomes are a parsed request or the intended client error
  (:func:`_fuzz_targets.parse_requests` asserts which). Anything else is a bug.
- **Fidelity**: well-formed input generated from a model (method, target, headers,
  body parts, form fields, files) comes out exactly as the model says, whatever the
  split into reads.

Each test runs a modest number of examples in ``make test`` and many more under the
``stress`` marker (``make stress``).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tornadish._http.engines import server_session_class
from tornadish._http.headers import HTTPHeaders, HTTPInputError
from tornadish._http.parse import _parse_header
from tornadish.httputil import (
    HTTPServerRequest,
    parse_body_arguments,
    parse_cookie,
    parse_multipart_form_data,
    parse_qs_bytes,
    parse_request_start_line,
)

from ._fuzz_targets import parse_requests

# Examples per property: in make test, and under the stress marker (make stress).
QUICK, LONG = 60, 1000
SIZES = [
    pytest.param(QUICK, id="quick"),
    pytest.param(LONG, id="long", marks=[pytest.mark.stress, pytest.mark.timeout(600)]),
]


def run(examples: int, *strategies: Any) -> Callable[[Callable[..., None]], None]:
    """Run the decorated property right away for ``examples`` examples."""

    def deco(prop: Callable[..., None]) -> None:
        settings(
            max_examples=examples,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )(given(*strategies)(prop))()

    return deco


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = zip([0, *points], [*points, len(data)], strict=True)
    return [data[a:b] for a, b in bounds if b > a]


cuts_st = st.lists(st.integers(min_value=0, max_value=1 << 16), max_size=8)

# -- building blocks of hostile requests -------------------------------------------------

TCHAR = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
token_st = st.text(alphabet=TCHAR, min_size=1, max_size=12)
# Bytes that matter to an HTTP parser, over-represented.
special = st.sampled_from(
    [b"\r", b"\n", b"\r\n", b" ", b"\t", b"\x00", b":", b";", b",", b'"', b"\x7f", b"\xff", b"%"]
)
nasty_bytes = st.lists(st.one_of(special, st.binary(min_size=1, max_size=4)), max_size=8).map(
    b"".join
)

method_st = st.one_of(
    st.sampled_from(
        [b"GET", b"POST", b"PUT", b"HEAD", b"DELETE", b"OPTIONS", b"PATCH", b"CONNECT", b"TRACE"]
    ),
    token_st.map(str.encode),
    nasty_bytes,
)
target_st = st.one_of(
    st.sampled_from(
        [
            b"/",
            b"*",
            b"/user/42",
            b"/files/a%2Fb",
            b"/files/%ff%fe",
            b"/2024/slug/",
            b"/api/v1/x/%c3%a9",
            b"//evil.com/",
            b"/\\evil.com",
            b"http://example.com/a?b=c",
            b"example.com:443",
            b"/?a=1&a=2&b=%zz&=&&c",
            b"/?" + b"a=1&" * 300,
            b"/" + b"a" * 1100,
        ]
    ),
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40).map(
        lambda s: ("/" + s).encode()
    ),
    nasty_bytes,
)
version_st = st.sampled_from(
    [b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/0.9", b"http/1.1", b"HTTP/1.1x", b"HTTP/1", b""]
)
content_length_st = st.sampled_from(
    [b"0", b"5", b"-1", b"+5", b" 5", b"5 ", b"0x5", b"1e3", b"5, 5", b"5, 6", b"", b"9" * 30]
)
transfer_encoding_st = st.sampled_from(
    [
        b"chunked",
        b"Chunked",
        b"chunked, identity",
        b"identity, chunked",
        b"identity",
        b"gzip, chunked",
        b"chunked, chunked",
        b"chunked\r\n\tx",  # obs-fold
        b" chunked",
        b"xchunked",
        b"",
    ]
)
content_type_st = st.sampled_from(
    [
        b"application/x-www-form-urlencoded",
        b"multipart/form-data; boundary=X",
        b'multipart/form-data; boundary="a b"',
        b"multipart/form-data",
        b"multipart/form-data; boundary=",
        b"application/json",
        b"text/plain; charset=\xff",
    ]
)
header_st = st.one_of(
    st.tuples(st.just(b"Host"), st.sampled_from([b"a", b"", b"a:1", b"[::1]:8", b"x" * 50])),
    st.tuples(st.just(b"Content-Length"), content_length_st),
    st.tuples(st.just(b"Transfer-Encoding"), transfer_encoding_st),
    st.tuples(st.just(b"Content-Type"), content_type_st),
    st.tuples(st.just(b"Cookie"), nasty_bytes),
    st.tuples(st.just(b"Connection"), st.sampled_from([b"close", b"keep-alive", b"upgrade"])),
    st.tuples(st.just(b"Expect"), st.sampled_from([b"100-continue", b"x"])),
    st.tuples(st.just(b"Upgrade"), st.sampled_from([b"websocket", b"h2c"])),
    st.tuples(token_st.map(str.encode), nasty_bytes),
    st.tuples(nasty_bytes, nasty_bytes),
)
eol_st = st.sampled_from([b"\r\n", b"\r\n", b"\r\n", b"\n", b"\r", b"\r\n "])


def chunk_size_line(n: int, style: int) -> bytes:
    size = b"%x" % n
    return [
        size,
        size.upper(),
        size + b";ext=1",
        size + b' ; a="b;c"',
        b"0" * 20 + size,
        b"ffffffffffffffffffff",
        b"-" + size,
        b" " + size,
        b"0x" + size,
        size + b"\n",
        size + b" ",  # whitespace that no ";" follows (refused)
        size + b"\t; a = b ;c",  # BWS (read)
        size + b";",
        size + b";a=\x01",
        size + b";a=" + b"x" * 4100,  # over MAX_CHUNK_LINE
        size + b";\nxx",
        b"8" + b"0" * 15,  # 2**63
    ][style]


@st.composite
def chunked_body_st(draw: st.DrawFn) -> bytes:
    parts = draw(st.lists(st.binary(max_size=20), max_size=4))
    out = b""
    for p in parts:
        style = draw(st.integers(min_value=0, max_value=16))
        eol = draw(eol_st)
        out += chunk_size_line(len(p), style if draw(st.booleans()) else 0) + eol + p + b"\r\n"
    out += b"0" + draw(eol_st)
    if draw(st.booleans()):
        out += b"Trailer-X: " + draw(nasty_bytes) + b"\r\n"
    return out + draw(st.sampled_from([b"\r\n", b"\n", b""]))


@st.composite
def hostile_request_st(draw: st.DrawFn) -> bytes:
    sp = draw(st.sampled_from([b" ", b" ", b"  ", b"\t", b""]))
    line = draw(method_st) + sp + draw(target_st) + b" " + draw(version_st)
    headers = draw(st.lists(header_st, max_size=6))
    out = line + draw(eol_st)
    for name, value in headers:
        out += name + draw(st.sampled_from([b": ", b":", b" : ", b":\t"])) + value + draw(eol_st)
    out += draw(eol_st)
    out += draw(st.one_of(st.just(b""), chunked_body_st(), st.binary(max_size=40)))
    return out


# -- robustness: arbitrary and hostile bytes ---------------------------------------------


@pytest.mark.parametrize("examples", SIZES)
def test_arbitrary_bytes_end_in_a_request_or_a_client_error(examples: int, tmp_path) -> None:
    @run(examples, st.binary(max_size=600), cuts_st, st.booleans())
    def prop(data: bytes, cuts: list[int], eof: bool) -> None:
        parse_requests(split(data, cuts), eof=eof, tmp_dir=str(tmp_path))


@pytest.mark.parametrize("examples", SIZES)
def test_hostile_requests_end_in_a_request_or_a_client_error(examples: int, tmp_path) -> None:
    @run(examples, st.lists(hostile_request_st(), min_size=1, max_size=3), cuts_st, st.booleans())
    def prop(requests: list[bytes], cuts: list[int], eof: bool) -> None:
        data = b"".join(requests)
        parse_requests(split(data, cuts), eof=eof, tmp_dir=str(tmp_path))
        # The same bytes in one read give the same requests as any split, and an error
        # in both cases or neither. (Not always the same status: with a whole head in
        # hand h11 may find, say, a duplicate Host before the over-long target that a
        # first partial read already shows.)
        whole = parse_requests([data], eof=eof, tmp_dir=str(tmp_path))
        parts = parse_requests(split(data, cuts), eof=eof, tmp_dir=str(tmp_path))
        assert [r.target for r in whole.requests] == [r.target for r in parts.requests]
        assert (whole.status is None) == (parts.status is None)


@pytest.mark.parametrize("examples", SIZES)
def test_both_engines_answer_hostile_requests_alike(examples: int, tmp_path) -> None:
    """Issue 15: where llhttp and h11 differ on hostile input, the decision is made once
    above the engine: the same bytes give the same requests and the same error status
    on both engines, whole or split into reads."""
    pytest.importorskip("httptools")
    h11_session = server_session_class("h11")
    llhttp_session = server_session_class("httptools")

    @run(examples, st.lists(hostile_request_st(), min_size=1, max_size=3), cuts_st, st.booleans())
    def prop(requests: list[bytes], cuts: list[int], eof: bool) -> None:
        data = b"".join(requests)
        for pieces in ([data], split(data, cuts)) if len(requests) == 1 else ([data],):
            a = parse_requests(pieces, eof=eof, tmp_dir=str(tmp_path), session_class=h11_session)
            b = parse_requests(pieces, eof=eof, tmp_dir=str(tmp_path), session_class=llhttp_session)
            assert [(r.method, r.target, r.headers, r.body) for r in b.requests] == [
                (r.method, r.target, r.headers, r.body) for r in a.requests
            ], pieces
            assert b.status == a.status, pieces


@pytest.mark.parametrize(
    "body",
    [
        b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"Content-Length: 5\r\n\r\nhello",
    ],
)
@pytest.mark.parametrize("method", [b"GET", b"CONNECT"])
def test_both_engines_read_the_body_of_a_request_asking_to_switch(
    body: bytes, method: bytes, tmp_path
) -> None:
    """llhttp would skip the body of an upgrade (or CONNECT) request and read it as the
    next protocol; h11 reads it as the body. Found by the fuzzer (a chunked upgrade
    request crashed the httptools engine); the judge now decides, as for every odd head."""
    pytest.importorskip("httptools")
    data = method + b" /ws HTTP/1.1\r\nHost: a\r\nUpgrade: x\r\nConnection: Upgrade\r\n" + body
    data += b"GET /next HTTP/1.1\r\nHost: a\r\n\r\n"
    outcomes = [
        parse_requests([data], tmp_dir=str(tmp_path), session_class=server_session_class(e))
        for e in ("h11", "httptools")
    ]
    a, b = ([(r.method, r.target, r.body) for r in o.requests] for o in outcomes)
    assert a == b and outcomes[0].status == outcomes[1].status
    assert a and a[0][2] == b"hello"


# -- fidelity: well-formed requests come out as they went in -----------------------------

field_text = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=20
)
header_value_st = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=20
)


@st.composite
def valid_request_st(draw: st.DrawFn) -> tuple[bytes, dict[str, Any]]:
    method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "X-MINE"]))
    path = "/" + "/".join(
        urllib.parse.quote(s, safe="") for s in draw(st.lists(field_text, max_size=3))
    )
    query = draw(st.lists(st.tuples(field_text, field_text), max_size=4))
    target = path + ("?" + urllib.parse.urlencode(query) if query else "")
    headers = [("host", "example.com")] + [
        ("x-" + n.lower(), v)
        for n, v in draw(st.lists(st.tuples(token_st, header_value_st), max_size=4))
    ]
    parts = draw(st.lists(st.binary(max_size=30), max_size=4))
    body = b"".join(parts)
    framing = draw(st.sampled_from(["length", "chunked", "none"]))
    if framing == "none" or (framing == "length" and not body):
        body = b""
        wire_body = b""
    elif framing == "length":
        headers.append(("content-length", str(len(body))))
        wire_body = body
    else:
        headers.append(("transfer-encoding", "chunked"))
        wire_body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts if p) + b"0\r\n\r\n"
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{n}: {v}\r\n" for n, v in headers)
    model = {"method": method, "target": target, "headers": headers, "body": body, "q": query}
    return head.encode() + b"\r\n" + wire_body, model


@pytest.mark.parametrize("examples", SIZES)
def test_well_formed_requests_parse_exactly(examples: int) -> None:
    @run(examples, st.lists(valid_request_st(), min_size=1, max_size=3), cuts_st)
    def prop(reqs: list[tuple[bytes, dict[str, Any]]], cuts: list[int]) -> None:
        data = b"".join(wire for wire, _ in reqs)
        out = parse_requests(split(data, cuts), max_url_size=8192)
        assert out.status is None
        assert len(out.requests) == len(reqs)
        for got, (_, model) in zip(out.requests, reqs, strict=True):
            assert got.method == model["method"]
            assert got.target == model["target"]
            assert got.body == model["body"]
            assert [(n.decode(), v.decode()) for n, v in got.headers] == model["headers"]
            expected: dict[str, list[bytes]] = {}
            for k, v in model["q"]:
                expected.setdefault(k.encode().decode("latin-1"), []).append(v.encode())
            assert got.query == expected


# -- multipart bodies ----------------------------------------------------------------------

BCHARS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'()+_,-./:=?"
name_st = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1)
name_st = name_st.filter(lambda s: '"' not in s and "\\" not in s and s.strip() == s).map(
    lambda s: s[:12]
)


@st.composite
def multipart_st(draw: st.DrawFn) -> tuple[bytes, bytes, list[tuple[str, str | None, bytes]]]:
    boundary = draw(st.text(alphabet=BCHARS, min_size=1, max_size=30)).encode()
    parts = draw(
        st.lists(
            st.tuples(name_st, st.one_of(st.none(), name_st), st.binary(max_size=120)),
            max_size=5,
        )
    )
    body = b""
    for name, filename, content in parts:
        assume(b"\r\n--" + boundary not in b"\r\n" + content + b"\r\n")
        disp = f'form-data; name="{name}"'
        if filename is not None:
            disp += f'; filename="{filename}"'
        body += b"--" + boundary + b"\r\nContent-Disposition: " + disp.encode() + b"\r\n"
        if filename is not None:
            body += b"Content-Type: application/octet-stream\r\n"
        body += b"\r\n" + content + b"\r\n"
    body += b"--" + boundary + b"--\r\n"
    return boundary, body, parts


def expected_form(
    parts: list[tuple[str, str | None, bytes]],
) -> tuple[dict[str, list[bytes]], dict[str, list[tuple[str, bytes]]]]:
    args: dict[str, list[bytes]] = {}
    files: dict[str, list[tuple[str, bytes]]] = {}
    for name, filename, content in parts:
        if filename:  # filename="" is a plain field, as in Tornado
            files.setdefault(name, []).append((filename, content))
        else:
            args.setdefault(name, []).append(content)
    return args, files


@pytest.mark.parametrize("examples", SIZES)
def test_multipart_uploads_parse_exactly_whatever_the_reads(examples: int, tmp_path) -> None:
    @run(examples, multipart_st(), cuts_st, st.sampled_from([1, 16, 1 << 20]))
    def prop(mp: Any, cuts: list[int], threshold: int) -> None:
        boundary, body, parts = mp
        head = (
            b"POST /files/x HTTP/1.1\r\nHost: a\r\nContent-Type: multipart/form-data; boundary="
            + boundary
            + b"\r\nContent-Length: %d\r\n\r\n" % len(body)
        )
        out = parse_requests(
            split(head + body, cuts), spool_threshold=threshold, tmp_dir=str(tmp_path)
        )
        assert out.status is None and len(out.requests) == 1, out
        got = out.requests[0]
        assert got.body_error is None, got.body_error
        args, files = expected_form(parts)
        assert got.body_arguments == args
        assert got.files == files
        # Everything spooled was closed with the request.
        assert list(tmp_path.iterdir()) == []

        # The whole-body parser agrees with the streaming one.
        a2: dict[str, list[bytes]] = {}
        f2: dict[str, list[Any]] = {}
        parse_multipart_form_data(boundary, body, a2, f2)
        assert a2 == args
        assert {k: [(f.filename, f.body) for f in v] for k, v in f2.items()} == files


@st.composite
def mutated_st(draw: st.DrawFn, base: st.SearchStrategy[bytes]) -> bytes:
    data = bytearray(draw(base))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        if not data:
            break
        i = draw(st.integers(min_value=0, max_value=len(data) - 1))
        op = draw(st.integers(min_value=0, max_value=3))
        if op == 0:
            data[i] = draw(st.integers(min_value=0, max_value=255))
        elif op == 1:
            del data[i : i + draw(st.integers(min_value=1, max_value=8))]
        elif op == 2:
            data[i:i] = draw(nasty_bytes)
        else:
            data = data[:i]
    return bytes(data)


@pytest.mark.parametrize("examples", SIZES)
def test_mutated_multipart_is_parsed_or_a_400(examples: int, tmp_path) -> None:
    @run(examples, mutated_st(multipart_st().map(lambda m: m[1])), cuts_st)
    def prop(body: bytes, cuts: list[int]) -> None:
        head = (
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Type: multipart/form-data; boundary=X\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)
        )
        out = parse_requests(split(head + body, cuts), spool_threshold=8, tmp_dir=str(tmp_path))
        assert out.status is None and len(out.requests) == 1
        assert list(tmp_path.iterdir()) == []
        try:
            parse_multipart_form_data(b"X", body, {}, {})
        except HTTPInputError:
            pass


# -- the smaller parsers on their own ----------------------------------------------------


@pytest.mark.parametrize("examples", SIZES)
def test_cookie_headers_never_raise(examples: int) -> None:
    @run(examples, st.one_of(st.text(max_size=80), nasty_bytes.map(lambda b: b.decode("latin-1"))))
    def prop(header: str) -> None:
        parse_cookie(header)
        request = HTTPServerRequest("GET", "/", headers=HTTPHeaders({"Cookie": header}))
        for name, morsel in request.cookies.items():
            assert isinstance(name, str) and isinstance(morsel.value, str)


cookie_value_st = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E))
# Attribute names cannot be cookie names (http.cookies refuses them, as in Tornado).
RESERVED = {"expires", "path", "comment", "domain", "max-age", "secure", "httponly", "version"}
RESERVED |= {"samesite", "partitioned"}
cookie_name_st = token_st.filter(lambda n: n.lower() not in RESERVED)


@pytest.mark.parametrize("examples", SIZES)
def test_cookies_set_by_the_framework_read_back_the_same(examples: int) -> None:
    @run(examples, st.dictionaries(cookie_name_st, cookie_value_st.filter(lambda v: ";" not in v)))
    def prop(cookies: dict[str, str]) -> None:
        from tornadish._web.cookies import build_cookie, morsel_to_header

        pairs = []
        for name, value in cookies.items():
            # The Cookie header a browser sends back: name=value as Set-Cookie had it.
            set_cookie = morsel_to_header(build_cookie(name, value))
            pairs.append(set_cookie.split(";")[0])
        assert parse_cookie("; ".join(pairs)) == {k: v for k, v in cookies.items()}


@pytest.mark.parametrize("examples", SIZES)
def test_query_strings(examples: int) -> None:
    pairs_st = st.lists(st.tuples(field_text, field_text), max_size=6)

    # A query string reaches parse_qs_bytes as bytes or latin-1 text (the request
    # target is decoded so), never with characters above U+00FF.
    latin1_st = st.text(st.characters(max_codepoint=0xFF), max_size=60)

    @run(examples, pairs_st, st.one_of(latin1_st, nasty_bytes))
    def prop(pairs: list[tuple[str, str]], junk: str | bytes) -> None:
        qs = urllib.parse.urlencode(pairs)
        expected: dict[str, list[bytes]] = {}
        for k, v in pairs:
            expected.setdefault(k.encode().decode("latin-1"), []).append(v.encode())
        assert parse_qs_bytes(qs, keep_blank_values=True) == expected
        parse_qs_bytes(junk, keep_blank_values=True)
        args: dict[str, list[bytes]] = {}
        body = junk if isinstance(junk, bytes) else junk.encode("latin-1")
        try:
            parse_body_arguments("application/x-www-form-urlencoded", body, args, {})
        except HTTPInputError:
            pass


@pytest.mark.parametrize("examples", SIZES)
def test_header_blocks_and_start_lines(examples: int) -> None:
    text_st = st.one_of(st.text(max_size=80), nasty_bytes.map(lambda b: b.decode("latin-1")))

    @run(examples, text_st, text_st)
    def prop(block: str, line: str) -> None:
        try:
            HTTPHeaders.parse(block)
        except HTTPInputError:
            pass
        try:
            parse_request_start_line(line)
        except HTTPInputError:
            pass
        main, params = _parse_header(block)
        assert isinstance(main, str) and all(isinstance(v, str) for v in params.values())


def test_both_engines_drop_trailer_fields_and_bound_them(tmp_path) -> None:
    """Trailer fields after a chunked body are not request headers on either engine (a
    ``Host`` among them changes nothing), and an endless trailer line is refused with
    431 by both instead of being held in memory (llhttp would hold it)."""
    pytest.importorskip("httptools")
    head = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n"
    for engine in ("h11", "httptools"):
        cls = server_session_class(engine)
        out = parse_requests([head + b"X-T: 1\r\nHost: evil\r\n\r\n"], session_class=cls)
        assert [(r.headers, r.body) for r in out.requests] == [
            ([(b"host", b"a"), (b"transfer-encoding", b"chunked")], b"hello")
        ]
        flood = [head + b"X-T: "] + [b"a" * 1000] * 100
        assert parse_requests(flood, eof=False, session_class=cls).status == 431
