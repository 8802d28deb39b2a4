"""Strict request validation, decided above the engine, so that h11 and httptools
answer every case alike (issue 19): one table, sent over raw sockets to each engine.

Each row: the bytes a client sends, the statuses it must get back (in order), and for
an accepted request what the handler saw (host, target, version). A refusal also closes
the connection and leaves a ``tornadish.general`` line, and the server goes on serving.
"""

from __future__ import annotations

import asyncio
from typing import Any, NamedTuple

import pytest

from tornadish.web import Application, RequestHandler

from tests.support.rawhttp import RawConn, assert_own_answer, capture_general


class Seen(RequestHandler):
    def get(self) -> None:
        self.write(f"{self.request.host} {self.request.uri} {self.request.version}")

    def post(self) -> None:
        self.write(self.request.body)


class Case(NamedTuple):
    name: str
    data: bytes
    statuses: list[int]
    seen: list[str] | None = None  # what the handler saw, per accepted request


def req(line: bytes, *headers: bytes) -> bytes:
    return line + b"\r\n" + b"".join(h + b"\r\n" for h in headers) + b"\r\n"


HOST = b"Host: a"
CHUNKED = req(b"POST / HTTP/1.1", HOST, b"Transfer-Encoding: chunked")


def chunked(first_line: bytes, rest: bytes = b"hello\r\n0\r\n\r\n") -> bytes:
    """A chunked request whose first chunk line is ``first_line`` (its CRLF included)."""
    return CHUNKED + first_line + rest


CASES = [
    # RFC 9110 §2.5 / §15.6.6: another major version is refused with 505; a later
    # minor version of 1 is read as 1.1.
    Case("HTTP/2.0", req(b"GET / HTTP/2.0", HOST), [505]),
    Case("HTTP/9.9", req(b"GET / HTTP/9.9", HOST), [505]),
    Case("HTTP/0.9", req(b"GET / HTTP/0.9", HOST), [505]),
    Case("HTTP/1.2", req(b"GET / HTTP/1.2", HOST), [200], ["a / HTTP/1.2"]),
    # RFC 9112 §3.2: Host is validated.
    Case("host with userinfo", req(b"GET / HTTP/1.1", b"Host: user@localhost"), [400]),
    Case("host with a space", req(b"GET / HTTP/1.1", b"Host: a b"), [400]),
    Case("two hosts", req(b"GET / HTTP/1.1", HOST, b"Host: b"), [400]),
    Case("no host in 1.1", req(b"GET / HTTP/1.1"), [400]),
    # RFC 9112 §3.2.2: absolute-form is accepted; its host stands for the request's.
    Case(
        "absolute-form",
        req(b"GET http://example.com:81/p?q=1 HTTP/1.1", b"Host: other"),
        [200],
        ["example.com:81 /p?q=1 HTTP/1.1"],
    ),
    Case(
        "absolute-form, no path",
        req(b"GET https://example.com HTTP/1.1", HOST),
        [200],
        ["example.com / HTTP/1.1"],
    ),
    Case("absolute-form with userinfo", req(b"GET http://u@example.com/ HTTP/1.1", HOST), [400]),
    # RFC 9110 §5.5: control characters in a field value.
    Case("NUL in a value", req(b"GET / HTTP/1.1", HOST, b"X: a\x00b"), [400]),
    Case("SOH in a value", req(b"GET / HTTP/1.1", HOST, b"X: a\x01b"), [400]),
    Case("DEL in a value", req(b"GET / HTTP/1.1", HOST, b"X: a\x7fb"), [400]),
    Case("bare CR in a value", req(b"GET / HTTP/1.1", HOST, b"X: a\rb"), [400]),
    Case(
        "tab in a value is fine", req(b"GET / HTTP/1.1", HOST, b"X: a\tb"), [200], ["a / HTTP/1.1"]
    ),
    Case("obs-text is fine", req(b"GET / HTTP/1.1", HOST, b"X: caf\xe9"), [200], ["a / HTTP/1.1"]),
    # RFC 9112 §2.2: empty lines before a request line are ignored, also between
    # pipelined requests.
    Case("empty line first", b"\r\n" + req(b"GET / HTTP/1.1", HOST), [200], ["a / HTTP/1.1"]),
    Case(
        "empty lines between pipelined requests",
        req(b"GET /1 HTTP/1.1", HOST) + b"\r\n\r\n" + req(b"GET /2 HTTP/1.1", HOST),
        [200, 200],
        ["a /1 HTTP/1.1", "a /2 HTTP/1.1"],
    ),
    # Refused framings get 400 whatever the engine.
    Case(
        "chunk size with a sign",
        req(b"POST / HTTP/1.1", HOST, b"Transfer-Encoding: chunked") + b"+2\r\nok\r\n0\r\n\r\n",
        [400],
    ),
    Case(
        "content-length with a sign",
        req(b"POST / HTTP/1.1", HOST, b"Content-Length: +2") + b"ok",
        [400],
    ),
    # RFC 9112 §7.1: chunk framing, read by tornadish._http.chunked on both engines.
    Case("chunked", chunked(b"5\r\n"), [200], ["hello"]),
    Case("chunk size in upper case", chunked(b"A\r\n", b"hellohello\r\n0\r\n\r\n"), [200]),
    Case("chunk size with leading zeros", chunked(b"0" * 30 + b"5\r\n"), [200], ["hello"]),
    # §7.1.1: chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS value ] ), name a token, value
    # a token or a quoted-string; BWS is read (RFC 9110 §5.6.3), the extensions ignored.
    Case("chunk extension", chunked(b"5;a=b\r\n"), [200], ["hello"]),
    Case("chunk extension, BWS before ;", chunked(b"5 ;a=b\r\n"), [200], ["hello"]),
    Case("chunk extension, tab before ;", chunked(b"5\t;a=b\r\n"), [200], ["hello"]),
    Case("chunk extension, BWS after ; and at =", chunked(b"5 ; a = b\r\n"), [200], ["hello"]),
    Case("chunk extensions, several", chunked(b"5;a;b=c ;d\r\n"), [200], ["hello"]),
    Case("chunk extension, quoted", chunked(b'5;a="b; \\"c\\""\r\n'), [200], ["hello"]),
    Case("last chunk with an extension", chunked(b"5\r\n", b"hello\r\n0 ; z\r\n\r\n"), [200]),
    Case("chunk extension without a name", chunked(b"5;\r\n"), [400]),
    Case("chunk extension without a value", chunked(b"5;a=\r\n"), [400]),
    Case("chunk extension, not a token", chunked(b"5;a@b\r\n"), [400]),
    Case("chunk extension, open quote", chunked(b'5;a="b\r\n'), [400]),
    Case("chunk extension with a control", chunked(b"5;a=\x01\r\n"), [400]),
    Case("chunk extension with a bare LF", chunked(b"2;\nxx\r\n", b"0\r\n\r\n"), [400]),
    Case("chunk extension, trailing space", chunked(b"5;a=b \r\n"), [400]),
    # Whitespace after the size that no ";" follows is in no production of §7.1.
    Case("chunk size, trailing space", chunked(b"5 \r\n"), [400]),
    Case("chunk size, trailing tab", chunked(b"5\t\r\n"), [400]),
    Case("last chunk, trailing space", chunked(b"5\r\n", b"hello\r\n0 \r\n\r\n"), [400]),
    Case("chunk size, leading space", chunked(b" 5\r\n"), [400]),
    Case("chunk size, empty", chunked(b"\r\n"), [400]),
    Case("chunk size, 0x", chunked(b"0x5\r\n"), [400]),
    Case("chunk size, space inside", chunked(b"5 0\r\n"), [400]),
    # §7.1: the size must not overflow (63 bits here, as nginx and Go).
    Case("chunk size of 2**63", chunked(b"8000000000000000\r\n"), [400]),
    Case("chunk size of 17 digits", chunked(b"10000000000000000\r\n"), [400]),
    # §7.1.1: extensions are limited (a chunk line of 4 KiB, as Go); 400, not 414/431.
    Case("over-long chunk line", chunked(b"5;a=" + b"x" * 5000 + b"\r\n"), [400]),
    Case("chunk line of 4 KiB", chunked(b"5;a=" + b"x" * 4092 + b"\r\n"), [200], ["hello"]),
    # Chunk lines and chunk-data end in CRLF only: RFC 9112 §2.2's single LF is for the
    # start-line and fields (erratum 7633, rejected); a bare LF is a smuggling primitive.
    Case("chunk line ending in LF", chunked(b"5\n"), [400]),
    Case("chunk line ending in CR", chunked(b"5\r"), [400]),
    Case("last chunk line ending in LF", chunked(b"5\r\n", b"hello\r\n0\n\r\n"), [400]),
    Case("chunk data not ended by CRLF", chunked(b"5\r\n", b"helloXX0\r\n\r\n"), [400]),
    Case("chunk data ended by LF", chunked(b"5\r\n", b"hello\n0\r\n\r\n"), [400]),
    Case("chunk data longer than its size", chunked(b"3\r\n", b"hello\r\n0\r\n\r\n"), [400]),
    # §7.1.2: trailer fields are read as a head's fields are, then dropped.
    Case(
        "trailer fields dropped",
        chunked(b"5\r\n", b"hello\r\n0\r\nX-T: 1\r\nHost: evil\r\n\r\n"),
        [200],
        ["hello"],
    ),
    Case("trailer lines ending in LF", chunked(b"5\r\n", b"hello\r\n0\r\nX: 1\n\n"), [200]),
    Case("trailer line without a colon", chunked(b"5\r\n", b"hello\r\n0\r\nX 1\r\n\r\n"), [400]),
    Case("trailer with a control", chunked(b"5\r\n", b"hello\r\n0\r\nX: \x01\r\n\r\n"), [400]),
    Case("trailer obs-fold", chunked(b"5\r\n", b"hello\r\n0\r\nX: 1\r\n 2\r\n\r\n"), [400]),
    # The body's end is known to the byte: what follows is the next request.
    Case(
        "pipelined after a chunked body",
        chunked(b"5\r\n") + req(b"GET /2 HTTP/1.1", HOST),
        [200, 200],
        ["hello", "a /2 HTTP/1.1"],
    ),
    Case(
        "empty lines after a chunked body",
        chunked(b"5\r\n") + b"\r\n\r\n" + req(b"GET /2 HTTP/1.1", HOST),
        [200, 200],
        ["hello", "a /2 HTTP/1.1"],
    ),
    Case(
        "empty lines before a chunked request",
        b"\r\n\r\n" + chunked(b"5\r\n") + req(b"GET /2 HTTP/1.1", HOST),
        [200, 200],
        ["hello", "a /2 HTTP/1.1"],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_strict_validation(serve: Any, case: Case, caplog: Any) -> None:
    capture_general(caplog)
    srv = await serve(Application([(r"/.*", Seen)]))
    conn = await RawConn.open(srv.port)
    conn.send(case.data)
    seen = []
    for status in case.statuses:
        resp = await conn.response(timeout=3)
        assert resp.status == status, (case.name, resp.status, resp.body)
        if status >= 400:
            assert_own_answer(resp)
        if status == 200:
            seen.append(resp.body.decode("latin-1"))
    if case.seen is not None:
        assert seen == case.seen
    if case.statuses[-1] >= 400:
        assert await conn.is_closed()
        assert any(r.name == "tornadish.general" for r in caplog.records), caplog.text
    conn.close()
    # Everybody else is still served.
    other = await RawConn.open(srv.port)
    other.send(req(b"GET /ok HTTP/1.1", HOST))
    assert (await other.response()).status == 200
    other.close()
    await asyncio.sleep(0)
