"""What the server logs about malformed requests reads as text: the bytes it quotes are
shown with escapes (``'Bad\\x01: x'``), never as Python reprs (``bytearray(b'...')``),
on both HTTP/1.1 engines (whose hostile heads h11 judges and words)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tornadish.web import Application, RequestHandler

from tests.support.rawhttp import RawConn, assert_logged, capture_general

# bytearray(b'...') or b'...' / b"..." standing on its own (not the end of 'a\x01b').
BYTES_REPR = re.compile(r"bytearray\(|(?<!\w)b['\"]")


class Hello(RequestHandler):
    def get(self) -> None:
        self.write("hello")


CASES = [
    # (raw request, status, the words logged)
    (b"GET / HTTP/1.1\r\nHost: x\r\nBad\x01: x\r\n\r\n", 400, "Invalid header line: 'Bad\\x01: x'"),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX\xff: y\r\n\r\n", 400, "Invalid header line: 'X\\xff: y'"),
    (b"GET / HTTP/1.1\r\nHost: x\r\n: x\r\n\r\n", 400, "Invalid header line: ': x'"),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n", 400, "Invalid header value 'a\\x01b'"),
    (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, "HTTP version not supported: '2.0'"),
]


@pytest.mark.parametrize(("data", "status", "words"), CASES)
async def test_malformed_input_is_logged_as_text(
    serve: Any, caplog: pytest.LogCaptureFixture, data: bytes, status: int, words: str
) -> None:
    capture_general(caplog)
    srv = await serve(Application([(r"/", Hello)]))
    conn = await RawConn.open(srv.port)
    conn.send(data)
    assert (await conn.response()).status == status
    conn.close()
    assert_logged(caplog, status, words)
    for record in caplog.records:
        message = record.getMessage()
        assert not BYTES_REPR.search(message), message
