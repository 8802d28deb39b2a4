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

from tests.support.rawhttp import RawConn, capture_general


class Seen(RequestHandler):
    def get(self) -> None:
        self.write(f"{self.request.host} {self.request.uri} {self.request.version}")


class Case(NamedTuple):
    name: str
    data: bytes
    statuses: list[int]
    seen: list[str] | None = None  # what the handler saw, per accepted request


def req(line: bytes, *headers: bytes) -> bytes:
    return line + b"\r\n" + b"".join(h + b"\r\n" for h in headers) + b"\r\n"


HOST = b"Host: a"
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
