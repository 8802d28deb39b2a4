"""Malformed requests over a real socket (hypothesis): every one gets an HTTP answer.

Each example opens a connection to a running application, sends hostile or mutated
bytes, half-closes and reads to the end. The server must answer with well-formed
responses — a 4xx (or 501/505) for garbage, never a 500, never a traceback, never
silence for a non-empty request — log nothing at error level, and keep serving.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from hypothesis import strategies as st

from tornadish import escape
from tornadish.web import Application, HTTPError, RequestHandler, stream_request_body
from tornadish.websocket import WebSocketHandler

from ._threaded_server import ThreadedServer
from .test_fuzz_http import SIZES, hostile_request_st, multipart_st, mutated_st, run


class Hello(RequestHandler):
    def get(self, *args: str) -> None:
        self.get_argument("a", None)
        self.get_cookie("session")
        self.write("Hello")

    head = get


class Form(RequestHandler):
    def post(self) -> None:
        names = sorted(self.request.body_arguments) + sorted(self.request.files)
        self.write({"fields": [self.get_argument(n, "") for n in names if n]})


class Json(RequestHandler):
    def post(self) -> None:
        try:
            data = escape.json_decode(self.request.body)
        except ValueError:
            raise HTTPError(400, "bad JSON") from None
        self.write({"type": type(data).__name__})


@stream_request_body
class Stream(RequestHandler):
    def prepare(self) -> None:
        self.size = 0

    def data_received(self, chunk: bytes) -> None:
        self.size += len(chunk)

    def post(self) -> None:
        self.write(str(self.size))


class Echo(WebSocketHandler):
    def on_message(self, message: str | bytes) -> None:
        self.write_message(message, binary=isinstance(message, bytes))


def make_app() -> Application:
    return Application(
        [
            (r"/", Hello),
            (r"/user/([0-9]+)", Hello),
            (r"/files/(.*)", Hello),
            (r"/form", Form),
            (r"/json", Json),
            (r"/stream", Stream),
            (r"/ws", Echo),
        ]
    )


@pytest.fixture(scope="module")
def server() -> Iterator[ThreadedServer]:
    with ThreadedServer(
        make_app(), max_header_size=4096, max_url_size=1024, max_body_size=1 << 16
    ) as srv:
        yield srv


# -- seeds for mutation: requests every route understands ---------------------------------

_MP = (
    b'--X\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n'
    b'--X\r\nContent-Disposition: form-data; name="f"; filename="f.txt"\r\n'
    b"Content-Type: text/plain\r\n\r\nhello\r\n--X--\r\n"
)
SEEDS = [
    b'GET /?a=1&b=%C3%A9 HTTP/1.1\r\nHost: a\r\nCookie: session=x; b="q"\r\n\r\n',
    b"GET /user/42 HTTP/1.1\r\nHost: a\r\n\r\n",
    b"HEAD /files/a%2Fb HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"POST /form HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    b"Content-Length: 11\r\n\r\na=1&b=2&c=3",
    b"POST /form HTTP/1.1\r\nHost: a\r\nContent-Type: multipart/form-data; boundary=X\r\n"
    b"Content-Length: %d\r\n\r\n" % len(_MP) + _MP,
    b"POST /json HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    b'4\r\n{"a"\r\n4\r\n: 1}\r\n0\r\n\r\n',
    b"POST /stream HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello",
    b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
]
mutated_seed_st = mutated_st(st.sampled_from(SEEDS))
multipart_request_st = mutated_st(
    multipart_st().map(
        lambda m: (
            b"POST /form HTTP/1.1\r\nHost: a\r\nContent-Type: multipart/form-data; "
            b"boundary=" + m[0] + b"\r\nContent-Length: %d\r\n\r\n" % len(m[1]) + m[1]
        )
    )
)

_STATUS_LINE = re.compile(rb"HTTP/1\.1 ([1-5][0-9][0-9]) [\t\x20-\x7e]*\r\n")


def responses(data: bytes) -> list[tuple[int, dict[bytes, bytes]]]:
    """(status, headers) of each response in a connection's output.

    Bodies are skipped by their framing; a Content-Length body that is not there (the
    answer to HEAD) is taken as absent. Parsing stops at a 101 (WebSocket frames
    follow).
    """
    out: list[tuple[int, dict[bytes, bytes]]] = []
    i = 0
    while i < len(data):
        m = _STATUS_LINE.match(data, i)
        assert m is not None, f"not a status line at {i}: {data[i : i + 80]!r}"
        end = data.index(b"\r\n\r\n", i)
        headers: dict[bytes, bytes] = {}
        for line in data[m.end() : end].split(b"\r\n"):
            if line:
                name, sep, value = line.partition(b":")
                assert sep and name.strip() == name, line
                headers[name.lower()] = value.strip()
        status = int(m.group(1))
        out.append((status, headers))
        i = end + 4
        if status == 101:
            break
        if 100 <= status < 200 or status in (204, 304):
            continue
        if headers.get(b"transfer-encoding") == b"chunked":
            while True:
                eol = data.index(b"\r\n", i)
                size = int(data[i:eol].split(b";")[0], 16)
                i = eol + 2 + size + 2
                if size == 0:
                    break
        elif b"content-length" in headers:
            n = int(headers[b"content-length"])
            if _STATUS_LINE.match(data, i) is None or n == 0:
                i += n
        else:
            break  # close-delimited: the rest is the body
    return out


def check_exchange(server: ThreadedServer, data: bytes) -> None:
    out = server.exchange(data)
    assert b"Traceback" not in out
    got = responses(out)
    if not data.strip(b"\r\n"):
        return  # blank lines between requests are allowed: nothing asked, maybe no answer
    assert got, f"no answer to {data[:200]!r}"
    for status, _headers in got:
        assert status != 500, (data[:300], out[:300])
    last_status, last_headers = got[-1]
    if last_status >= 400 and last_status != 404 and last_status != 405:
        # Framed, or Tornado's bare status line that the close ends (RFC 9112 §6.3).
        assert (
            last_headers.get(b"connection") == b"close"
            or b"content-length" in last_headers
            or not last_headers
        )
    assert server.errors.lines == [], server.errors.lines


def still_serves(server: ThreadedServer) -> None:
    out = server.exchange(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200 ") and out.endswith(b"Hello"), out[:200]


def test_seeds_are_answered_normally(server: ThreadedServer) -> None:
    for seed in SEEDS:
        got = responses(server.exchange(seed))
        assert got and got[-1][0] in (101, 200), (seed, got)
    still_serves(server)


@pytest.mark.parametrize("examples", SIZES)
def test_mutated_requests_get_an_http_answer(server: ThreadedServer, examples: int) -> None:
    @run(examples, st.one_of(mutated_seed_st, multipart_request_st))
    def prop(data: bytes) -> None:
        check_exchange(server, data)

    still_serves(server)


@pytest.mark.parametrize("examples", SIZES)
def test_hostile_requests_get_an_http_answer(server: ThreadedServer, examples: int) -> None:
    @run(examples, st.lists(hostile_request_st(), min_size=1, max_size=2).map(b"".join))
    def prop(data: bytes) -> None:
        check_exchange(server, data)

    still_serves(server)


@pytest.mark.parametrize("examples", SIZES)
def test_random_bytes_get_an_http_answer(server: ThreadedServer, examples: int) -> None:
    @run(examples, st.binary(min_size=1, max_size=400))
    def prop(data: bytes) -> None:
        check_exchange(server, data)

    still_serves(server)
