"""The pure pieces of a response head, the headers' fast accessors, and what a request
reads from its connection (the contract, not the connection's internals)."""

from __future__ import annotations

import datetime
import hashlib
from typing import Any

import pytest

from tornadish._http.contract import HTTPConnection
from tornadish._http.headers import HTTPHeaders
from tornadish._web.response_head import body_etag, default_headers, etag_matches, header_value
from tornadish.httputil import HTTPServerRequest


def test_header_value_converts_and_refuses_controls() -> None:
    assert header_value("text/plain") == "text/plain"
    assert header_value(b"caf\xe9") == "café"
    assert header_value(42) == "42"
    when = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    assert header_value(when) == "Tue, 02 Jan 2024 03:04:05 GMT"
    assert header_value("a\tb \xe9") == "a\tb \xe9"  # HTAB and obs-text are allowed
    assert header_value("") == ""
    # Tornado's set of refused characters: controls but HTAB, DEL, beyond latin-1.
    for bad in ("a\r\nSet-Cookie: x=y", "a\nb", "a\x00b", b"a\rb", "a\x7fb", "\u4e2d"):
        with pytest.raises(ValueError):
            header_value(bad)
    with pytest.raises(TypeError):
        header_value(1.5)


def test_body_etag_is_the_sha1_of_the_parts_joined() -> None:
    expected = '"' + hashlib.sha1(b"hello world").hexdigest() + '"'
    assert body_etag([b"hello world"]) == expected
    assert body_etag([b"hello", b" ", b"world"]) == expected


@pytest.mark.parametrize(
    ("if_none_match", "matches"),
    [
        ('"a"', True),
        ('W/"a"', True),
        ('"b", W/"a"', True),
        ("*", True),
        ('"b"', False),
        ("garbage", False),
        ("", False),
    ],
)
def test_etag_matches_weakly(if_none_match: str, matches: bool) -> None:
    assert etag_matches(if_none_match, '"a"') is matches
    assert etag_matches(if_none_match, 'W/"a"') is matches


def test_etag_matches_nothing_without_an_etag() -> None:
    assert not etag_matches("*", "")


def test_default_headers_are_fresh_per_response() -> None:
    first = default_headers()
    assert list(first) == ["Server", "Content-Type", "Date"]
    assert first["Content-Type"] == "text/html; charset=UTF-8"
    first.add("Set-Cookie", "a=b")
    del first["Server"]
    second = default_headers()
    assert "Set-Cookie" not in second and "Server" in second


def test_headers_fast_accessors() -> None:
    h = HTTPHeaders.from_normalized(
        {"Content-Type": "text/plain"}, {"Content-Type": ["text/plain"]}
    )
    h.add("x-multi", "1")
    h.add("X-Multi", "2")
    assert h.joined.get("Content-Type") == "text/plain"
    assert h.joined.get("X-Multi") == "1,2"
    assert h.joined.get("content-type") is None  # the name must come normalized
    assert h.raw_items() == [
        (b"Content-Type", b"text/plain"),
        (b"X-Multi", b"1"),
        (b"X-Multi", b"2"),
    ]
    assert HTTPHeaders.from_raw(h.raw_items()) == h


class _TLSConnection(HTTPConnection):
    remote_ip = "198.51.100.1"
    scheme = "https"

    def __init__(self, ssl_object: Any) -> None:
        self.ssl_object = ssl_object

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.ssl_object if name == "ssl_object" else default


class _FakeSSLObject:
    def getpeercert(self, binary_form: bool = False) -> Any:
        return b"DER" if binary_form else {"subject": ((("commonName", "client"),),)}


def test_request_reads_address_scheme_and_certificate_through_the_contract() -> None:
    conn = _TLSConnection(_FakeSSLObject())
    request = HTTPServerRequest("GET", "/", connection=conn)
    assert (request.remote_ip, request.protocol) == ("198.51.100.1", "https")
    assert request.full_url() == "https://127.0.0.1/"
    assert request.get_ssl_certificate() == {"subject": ((("commonName", "client"),),)}
    assert request.get_ssl_certificate(binary_form=True) == b"DER"

    wired = HTTPServerRequest.from_wire(
        "POST", "/p?q=1", "HTTP/1.1", HTTPHeaders({"Host": "Example.com:8080"}), conn
    )
    assert (wired.remote_ip, wired.protocol, wired.host_name) == (
        "198.51.100.1",
        "https",
        "example.com",
    )
    assert (wired.path, wired.query) == ("/p", "q=1")


def test_request_without_tls_or_connection_has_no_certificate() -> None:
    assert (
        HTTPServerRequest("GET", "/", connection=_TLSConnection(None)).get_ssl_certificate() is None
    )
    bare = HTTPServerRequest("GET", "/")
    assert (bare.remote_ip, bare.protocol) == (None, "http")
    assert bare.get_ssl_certificate() is None
    unwired = HTTPServerRequest.from_wire("GET", "/", "HTTP/1.1", HTTPHeaders(), None)
    assert (unwired.remote_ip, unwired.protocol, unwired.host) == (None, "http", "127.0.0.1")


def test_mark_finished_stops_the_request_clock() -> None:
    request = HTTPServerRequest("GET", "/")
    request.mark_finished()
    elapsed = request.request_time()
    assert elapsed >= 0
    assert request.request_time() == elapsed


def test_parse_body_fills_body_arguments() -> None:
    request = HTTPServerRequest(
        "POST",
        "/?a=1",
        headers=HTTPHeaders({"Content-Type": "application/x-www-form-urlencoded"}),
        body=b"a=2&b=3",
    )
    assert request.arguments == {"a": [b"1"]}
    request.parse_body()
    assert request.body_arguments == {"a": [b"2"], "b": [b"3"]}
    assert request.arguments == {"a": [b"1", b"2"], "b": [b"3"]}
