"""Response compression, request decompression limits and streaming responses (SSE,
clients going away) over real sockets."""

from __future__ import annotations

import asyncio
import gzip
import shutil
import subprocess
import zlib
from pathlib import Path
from typing import Any

import httpx
import pytest

from tornadish import iostream
from tornadish._http import codings
from tornadish.web import (
    Application,
    GZipContentEncoding,
    OutputTransform,
    RequestHandler,
    StreamClosedError,
)

from tests.support.rawhttp import RawConn, request

TEXT = "hello compressible world " * 200  # 5000 bytes


async def get(srv: Any, path: str, method: str = "GET", **kw: Any) -> httpx.Response:
    async with httpx.AsyncClient(follow_redirects=False) as client:
        return await client.request(method, srv.base_url + path, **kw)


class TextHandler(RequestHandler):
    def get(self) -> None:
        n = int(self.get_argument("n", str(len(TEXT))))
        ctype = self.get_argument("type", "")
        if ctype:
            self.set_header("Content-Type", ctype)
        if self.get_argument("encoded", ""):
            self.set_header("Content-Encoding", "br")
        self.write(TEXT[:n])


class JsonHandler(RequestHandler):
    def get(self) -> None:
        self.write({"items": list(range(500))})


class FlushHandler(RequestHandler):
    """Writes one part, flushes, waits for the test's go-ahead, writes the rest."""

    go: asyncio.Event

    async def get(self) -> None:
        self.set_header("Content-Type", "text/plain")
        self.write("first part;" * 10)
        await self.flush()
        await asyncio.wait_for(self.go.wait(), 5)
        self.write("second part;" * 10)


def gz_app(**settings: Any) -> Application:
    return Application(
        [(r"/text", TextHandler), (r"/json", JsonHandler), (r"/flush", FlushHandler)],
        compress_response=True,
        **settings,
    )


GZ = {"Accept-Encoding": "gzip"}


# -- compress_response ----------------------------------------------------------------


async def test_gzip_text_response(serve) -> None:
    srv = await serve(gz_app())
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", "/text", GZ))
    resp = await conn.response()
    assert resp.header("Content-Encoding") == "gzip"
    assert resp.header("Vary") == "Accept-Encoding"
    assert int(resp.header("Content-Length") or 0) == len(resp.body) < len(TEXT)
    assert gzip.decompress(resp.body).decode() == TEXT
    conn.close()


async def test_gzip_json_response_with_httpx(serve) -> None:
    srv = await serve(gz_app())
    r = await get(srv, "/json", headers=GZ)
    assert r.headers["content-encoding"] == "gzip"
    assert r.json() == {"items": list(range(500))}


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        ("", {"Accept-Encoding": "identity"}),  # not asked for
        ("?n=1000", GZ),  # under MIN_LENGTH
        ("?type=image/png", GZ),  # not a compressible type
        ("?type=application/zip", GZ),
        ("?encoded=1", GZ),  # already has a Content-Encoding
    ],
)
async def test_gzip_skipped(serve, query, headers) -> None:
    srv = await serve(gz_app())
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", "/text" + query, headers))
    resp = await conn.response()
    assert resp.header("Content-Encoding") in (None, "br")
    assert resp.header("Vary") == "Accept-Encoding"
    assert resp.body.decode() == TEXT[: len(resp.body)]
    conn.close()


async def test_gzip_streaming_flush_is_readable_before_finish(serve) -> None:
    FlushHandler.go = asyncio.Event()
    srv = await serve(gz_app())
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", "/flush", GZ))
    head = await asyncio.wait_for(conn.reader.readuntil(b"\r\n\r\n"), 5)
    assert b"Transfer-Encoding: chunked" in head
    assert b"Content-Encoding: gzip" in head
    # The first chunk alone decompresses to the first part (the compressor was flushed).
    size_line = await asyncio.wait_for(conn.reader.readuntil(b"\r\n"), 5)
    chunk = await conn.reader.readexactly(int(size_line, 16) + 2)
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    assert d.decompress(chunk[:-2]) == b"first part;" * 10
    FlushHandler.go.set()
    rest = b""
    while True:
        size_line = await asyncio.wait_for(conn.reader.readuntil(b"\r\n"), 5)
        n = int(size_line, 16)
        data = await conn.reader.readexactly(n + 2)
        if n == 0:
            break
        rest += data[:-2]
    assert d.decompress(rest) + d.flush() == b"second part;" * 10
    assert d.eof
    conn.close()


async def test_no_transforms_without_setting(serve) -> None:
    seen: list[Any] = []

    class H(RequestHandler):
        def get(self) -> None:
            seen.append(self._transforms)
            self.write(TEXT)

    app = Application([(r"/", H)])
    assert app.transforms == []
    srv = await serve(app)
    r = await get(srv, "/", headers=GZ)
    assert "content-encoding" not in r.headers
    assert "vary" not in r.headers
    assert seen == [[]]


async def test_custom_output_transform_tornado_signature(serve) -> None:
    class Upper(OutputTransform):
        def transform_first_chunk(self, status_code, headers, chunk, finishing):
            headers["X-Transformed"] = "1"
            return status_code, headers, chunk.upper()

        def transform_chunk(self, chunk: bytes, finishing: bool) -> bytes:
            return chunk.upper()

    class H(RequestHandler):
        async def get(self) -> None:
            self.write("abc")
            await self.flush()
            self.write("def")

    srv = await serve(Application([(r"/", H)], transforms=[Upper]))
    r = await get(srv, "/")
    assert r.text == "ABCDEF"
    assert r.headers["x-transformed"] == "1"


async def test_gzip_static_file_and_ranges(serve, tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text(TEXT)
    (tmp_path / "tiny.css").write_text("a{}")
    srv = await serve(Application(static_path=str(tmp_path), compress_response=True))
    r = await get(srv, "/static/page.html", headers=GZ)
    assert r.headers["content-encoding"] == "gzip"
    assert r.text == TEXT
    # A range counts uncompressed bytes: a 206 is never gzipped.
    r = await get(srv, "/static/page.html", headers={**GZ, "Range": "bytes=0-99"})
    assert r.status_code == 206
    assert "content-encoding" not in r.headers
    assert r.text == TEXT[:100]
    r = await get(srv, "/static/tiny.css", headers=GZ)
    assert "content-encoding" not in r.headers  # known to be small


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
async def test_curl_compressed(serve) -> None:
    srv = await serve(gz_app())
    proc = await asyncio.create_subprocess_exec(
        "curl", "-s", "-D", "-", "--compressed", srv.base_url + "/text",
        stdout=subprocess.PIPE,
    )  # fmt: skip
    out, _ = await proc.communicate()
    head, _, body = out.partition(b"\r\n\r\n")
    # curl offers every coding it has: the best one installed here is chosen.
    assert f"content-encoding: {codings.AVAILABLE[0]}".encode() in head.lower()
    assert body.decode() == TEXT


def test_gzip_transform_class_attributes() -> None:
    assert GZipContentEncoding.MIN_LENGTH == 1024
    assert "application/json" in GZipContentEncoding.CONTENT_TYPES


# -- decompress_request ------------------------------------------------------------------


class EchoLength(RequestHandler):
    def post(self) -> None:
        self.write(str(len(self.request.body)))


async def test_gzip_bomb_is_400_and_closes(serve, caplog) -> None:
    srv = await serve(
        Application([(r"/", EchoLength)]), decompress_request=True, max_body_size=100_000
    )
    bomb = gzip.compress(b"\0" * 10_000_000)  # ~10 KB expanding to 10 MB
    assert len(bomb) < 100_000
    conn = await RawConn.open(srv.port)
    conn.send(request("POST", "/", {"Content-Encoding": "gzip"}, bomb))
    resp = await conn.response()
    assert resp.status == 400  # Tornado's answer to a decompressed body over the limit
    assert await conn.is_closed()
    conn.close()


async def test_gzip_body_within_limit_is_decompressed(serve) -> None:
    srv = await serve(
        Application([(r"/", EchoLength)]), decompress_request=True, max_body_size=100_000
    )
    body = gzip.compress(b"x" * 90_000)
    r = await get(srv, "/", "POST", content=body, headers={"Content-Encoding": "gzip"})
    assert r.text == "90000"


async def test_gzip_form_body_is_parsed(serve) -> None:
    class Form(RequestHandler):
        def post(self) -> None:
            self.write(self.get_body_argument("a"))

    srv = await serve(Application([(r"/", Form)]), decompress_request=True)
    r = await get(
        srv,
        "/",
        "POST",
        content=gzip.compress(b"a=compressed"),
        headers={
            "Content-Encoding": "gzip",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert r.text == "compressed"


# -- streaming responses ------------------------------------------------------------------


class EventSource(RequestHandler):
    """Server-sent events: one event per tick until the client has read three."""

    acked: asyncio.Event

    async def get(self) -> None:
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        for i in range(3):
            self.write(f"id: {i}\ndata: tick {i}\n\n")
            await self.flush()
        # Only finish once the client has seen the events: they must not wait for the end.
        await asyncio.wait_for(self.acked.wait(), 5)


async def test_server_sent_events_arrive_as_sent(serve) -> None:
    EventSource.acked = asyncio.Event()
    srv = await serve(Application([(r"/events", EventSource)]))
    events: list[str] = []
    client = httpx.AsyncClient()
    async with client, client.stream("GET", srv.base_url + "/events") as r:
        assert r.headers["content-type"] == "text/event-stream"
        buf = ""
        async for text in r.aiter_text():
            buf += text
            while "\n\n" in buf:
                event, buf = buf.split("\n\n", 1)
                events.append(event.splitlines()[1].removeprefix("data: "))
            if len(events) == 3:
                EventSource.acked.set()
    assert events == ["tick 0", "tick 1", "tick 2"]


async def test_handler_notices_client_going_away(serve, loop_factory) -> None:
    done: asyncio.Future[tuple[bool, int]] = asyncio.get_running_loop().create_future()

    class Forever(RequestHandler):
        closed = False

        def on_connection_close(self) -> None:
            self.closed = True

        async def get(self) -> None:
            n = 0
            try:
                while True:
                    self.write("x" * 1024)
                    await self.flush()
                    n += 1
                    await asyncio.sleep(0.005)
            except iostream.StreamClosedError:
                done.set_result((self.closed, n))

    srv = await serve(Application([(r"/", Forever)]))
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", "/"))
    await asyncio.wait_for(conn.reader.readuntil(b"\r\n\r\n"), 5)
    await conn.reader.read(4096)
    conn.close()
    closed, n = await asyncio.wait_for(done, 5)
    assert closed
    assert n >= 1


def test_iostream_reexports_stream_closed_error() -> None:
    assert iostream.StreamClosedError is StreamClosedError
