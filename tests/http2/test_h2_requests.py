"""Every HTTP/2 stream is an ordinary request: the web layer's features over h2c,
unchanged handlers, driven by h2 in the client role."""

from __future__ import annotations

import asyncio
import gzip
import re
import urllib.parse
from pathlib import Path
from typing import Any

import h2.errors
import pytest

from tornadish.web import (
    Application,
    HTTPError,
    RequestHandler,
    StaticFileHandler,
    stream_request_body,
)

from tests.http2.h2client import H2Client, StreamResult

CONTENT = bytes(range(256)) * 40  # 10240 bytes


class Form(RequestHandler):
    def get(self) -> None:
        self.write('<form method="post">' + self.xsrf_form_html() + "</form>")

    def post(self) -> None:
        self.write("posted " + self.get_argument("name", "-"))


class Text(RequestHandler):
    def get(self) -> None:
        self.set_header("Content-Type", "text/plain")
        self.write("compress me please " * 200)


class Tagged(RequestHandler):
    def get(self) -> None:
        self.write("the same every time")


class Echo(RequestHandler):
    def post(self) -> None:
        self.write(self.request.body)


@stream_request_body
class Chunks(RequestHandler):
    def prepare(self) -> None:
        self.sizes: list[int] = []

    def data_received(self, chunk: bytes) -> None:
        self.sizes.append(len(chunk))

    def put(self) -> None:
        self.write({"total": sum(self.sizes), "chunks": len(self.sizes)})


class Custom(RequestHandler):
    def get(self) -> None:
        raise HTTPError(409, reason="Taken")

    def write_error(self, status_code: int, **kwargs: object) -> None:
        self.write(f"custom {status_code} {self._reason}")


class LateBoom(RequestHandler):
    async def get(self) -> None:
        self.write("partial")
        await self.flush()
        raise ValueError("after the head")


CLOSED: dict[str, asyncio.Future[None]] = {}


class Waits(RequestHandler):
    async def get(self) -> None:
        await asyncio.sleep(10)

    def on_connection_close(self) -> None:
        fut = CLOSED.get("waits")
        if fut is not None and not fut.done():
            fut.set_result(None)


def make_app(static: Path, **settings: Any) -> Application:
    return Application(
        [
            (r"/form", Form),
            (r"/text", Text),
            (r"/tagged", Tagged),
            (r"/echo", Echo),
            (r"/chunks", Chunks),
            (r"/custom", Custom),
            (r"/late", LateBoom),
            (r"/waits", Waits),
        ],
        static_path=str(static),
        cookie_secret="s3cret",
        **settings,
    )


@pytest.fixture
def static(tmp_path: Path) -> Path:
    root = tmp_path / "static"
    root.mkdir()
    (root / "a.bin").write_bytes(CONTENT)
    StaticFileHandler.reset()
    return root


@pytest.fixture
def connect(serve, static, io_loop):
    """``client = await connect(**app_settings)``: an h2c client of a fresh server."""
    clients: list[H2Client] = []

    async def connect(**settings: Any) -> H2Client:
        srv = await serve(make_app(static, **settings), http2=True)
        client = await H2Client.connect(srv.port)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        io_loop.asyncio_loop.run_until_complete(client.close())


def header(result: StreamResult, name: bytes) -> bytes | None:
    return dict(result.headers).get(name)


async def test_static_file_with_ranges(connect) -> None:
    client = await connect()
    whole = await client.request("GET", "/static/a.bin")
    assert whole.status == 200 and bytes(whole.body) == CONTENT
    assert header(whole, b"accept-ranges") == b"bytes"
    part = await client.request("GET", "/static/a.bin", [("range", "bytes=100-199")])
    assert part.status == 206
    assert bytes(part.body) == CONTENT[100:200]
    assert header(part, b"content-range") == b"bytes 100-199/%d" % len(CONTENT)
    assert header(part, b"content-length") == b"100"
    tail = await client.request("GET", "/static/a.bin", [("range", "bytes=-10")])
    assert tail.status == 206 and bytes(tail.body) == CONTENT[-10:]
    beyond = await client.request("GET", "/static/a.bin", [("range", "bytes=99999-")])
    assert beyond.status == 416
    head = await client.request("HEAD", "/static/a.bin")
    assert head.status == 200 and head.body == b""
    assert header(head, b"content-length") == str(len(CONTENT)).encode()


async def test_304_with_if_none_match(connect) -> None:
    client = await connect()
    for path in ("/tagged", "/static/a.bin"):
        first = await client.request("GET", path)
        etag = header(first, b"etag")
        assert first.status == 200 and etag
        again = await client.request("GET", path, [("if-none-match", etag.decode())])
        assert again.status == 304, path
        assert again.body == b"" and again.reset_code is None
        changed = await client.request("GET", path, [("if-none-match", '"other"')])
        assert changed.status == 200


async def test_gzip_with_compress_response(connect) -> None:
    client = await connect(compress_response=True)
    r = await client.request("GET", "/text", [("accept-encoding", "gzip")])
    assert r.status == 200
    assert header(r, b"content-encoding") == b"gzip"
    assert gzip.decompress(bytes(r.body)) == b"compress me please " * 200
    assert header(r, b"content-length") == str(len(r.body)).encode()
    plain = await client.request("GET", "/text")
    assert header(plain, b"content-encoding") is None
    assert bytes(plain.body) == b"compress me please " * 200


async def test_xsrf_cookie_and_form_field(connect) -> None:
    client = await connect(xsrf_cookies=True)
    page = await client.request("GET", "/form")
    cookie = header(page, b"set-cookie")
    assert cookie is not None and cookie.startswith(b"_xsrf=")
    token = re.search(rb'name="_xsrf" value="([^"]*)"', page.body)
    assert token is not None
    crumb = cookie.split(b";")[0].decode()
    form = [("content-type", "application/x-www-form-urlencoded"), ("cookie", crumb)]
    body = urllib.parse.urlencode({"_xsrf": token.group(1).decode(), "name": "ann"}).encode()
    ok = await client.request("POST", "/form", form, body=body)
    assert ok.status == 200 and ok.body == b"posted ann"
    missing = await client.request("POST", "/form", form, body=b"name=ann")
    assert missing.status == 403
    no_cookie = await client.request("POST", "/form", form[:1], body=body)
    assert no_cookie.status == 403


async def test_expect_100_continue(connect) -> None:
    client = await connect()
    sid = client.start(
        "POST", "/echo", [("expect", "100-continue"), ("content-length", "5")], end=False
    )
    stream = client.streams[sid]
    for _ in range(50):
        if stream.informational:
            break
        await asyncio.sleep(0.02)
    assert [dict(h)[b":status"] for h in stream.informational] == [b"100"]
    assert not stream.headers  # the final answer waits for the body
    await client.send_body(sid, b"hello")
    await asyncio.wait_for(asyncio.shield(stream.ended), 5)
    assert stream.status == 200 and stream.body == b"hello"


async def test_expect_100_continue_refused_when_declared_too_large(serve, static) -> None:
    srv = await serve(make_app(static), http2=True, max_body_size=100)
    client = await H2Client.connect(srv.port)
    try:
        headers = [("expect", "100-continue"), ("content-length", "1000")]
        sid = client.start("POST", "/echo", headers, end=False)
        stream = client.streams[sid]
        await asyncio.wait_for(asyncio.shield(stream.ended), 5)
        assert stream.status == 400 and not stream.informational
        assert (await client.request("GET", "/tagged")).status == 200
    finally:
        await client.close()


async def test_stream_request_body_gets_the_chunks(connect) -> None:
    client = await connect()
    r = await client.request("PUT", "/chunks", body=b"x" * 200_000)
    assert r.status == 200
    data = r.body.decode()
    assert '"total": 200000' in data
    chunks = re.search(r'"chunks": (\d+)', data)
    assert chunks is not None and int(chunks.group(1)) > 1  # as it arrived


async def test_errors(connect) -> None:
    client = await connect()
    custom = await client.request("GET", "/custom")
    assert custom.status == 409 and custom.body == b"custom 409 Taken"
    assert (await client.request("DELETE", "/tagged")).status == 405
    # An error once the head was sent ends the response where it was (as Tornado does
    # on HTTP/1.1), and the connection carries on.
    late = await client.request("GET", "/late")
    assert late.status == 200 and late.body == b"partial"
    assert (await client.request("GET", "/tagged")).status == 200
    assert client.goaway is None


async def test_a_reset_stream_is_a_closed_connection_to_its_handler(connect) -> None:
    client = await connect()
    CLOSED["waits"] = asyncio.get_running_loop().create_future()
    sid = client.start("GET", "/waits")
    await asyncio.sleep(0.1)
    client.conn.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
    client.flush()
    await asyncio.wait_for(CLOSED["waits"], 5)
    assert (await client.request("GET", "/tagged")).status == 200
