"""``compress_response=True``: br, zstd and gzip chosen by ``Accept-Encoding`` (RFC 9110
§12.5.3), checked with curl (which decodes all three) and over raw sockets, streaming
included; and the codings module on its own."""

from __future__ import annotations

import asyncio
import gzip
import json
import mimetypes
import shutil
import subprocess
from typing import Any

import pytest

from tornadish._http import codings
from tornadish.web import Application, GZipContentEncoding, RequestHandler

from tests.support.rawhttp import RawConn, request

TEXT = "".join(f"line {i}: the quick brown fox jumps over the lazy dog\n" for i in range(300))
ALL = ("br", "zstd", "gzip")
needs_all = pytest.mark.skipif(
    codings.AVAILABLE != ALL, reason="needs the brotli and zstd extras for br and zstd"
)


class Text(RequestHandler):
    def get(self) -> None:
        self.set_header("Content-Type", self.get_argument("type", "text/plain"))
        self.write(TEXT[: int(self.get_argument("n", str(len(TEXT))))])


class Partial(RequestHandler):
    def get(self) -> None:
        self.set_status(206)
        self.set_header("Content-Range", f"bytes 0-99/{len(TEXT)}")
        self.write(TEXT[:100] * 20)


class Streamed(RequestHandler):
    """Three flushed parts, each waiting for the test: each must decode on arrival."""

    go: asyncio.Queue[None]

    async def get(self) -> None:
        self.set_header("Content-Type", "text/plain")
        for i in range(3):
            self.write(f"part {i}: " + "x" * 2000 + "\n")
            await self.flush()
            await self.go.get()


def app() -> Application:
    return Application(
        [(r"/text", Text), (r"/partial", Partial), (r"/stream", Streamed)],
        compress_response=True,
    )


def decode(coding: str, data: bytes) -> bytes:
    decoder = codings.decoder(coding)
    assert decoder is not None
    return decoder.decompress(data)


# -- negotiation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        ("gzip", "gzip"),
        ("gzip, deflate, br, zstd", "br"),  # what curl --compressed and browsers send
        ("zstd, gzip", "zstd"),
        ("gzip;q=1, br;q=0.5", "gzip"),  # weights beat our preference
        ("br;q=0, gzip", "gzip"),  # q=0 refuses
        ("br;q=0, zstd;q=0, *", "gzip"),  # * admits what is not named
        ("*;q=0", None),
        ("*", "br"),
        ("identity", None),
        ("deflate", None),  # not offered
        ("GZIP;Q=0.5", "gzip"),  # case-insensitive
        ("x-gzip", "gzip"),  # RFC 9110 §8.4.1.3
        ("gzip;q=nonsense", None),  # a malformed weight admits nothing
        ("", None),
    ],
)
def test_negotiation(accept: str, chosen: str | None) -> None:
    assert codings.choose(accept, ALL) == chosen


def test_equal_weights_prefer_br_then_zstd_then_gzip() -> None:
    assert codings.choose("gzip;q=0.8, zstd;q=0.8, br;q=0.8", ALL) == "br"
    assert codings.choose("gzip;q=0.8, zstd;q=0.8", ALL) == "zstd"
    # Only what is installed is offered.
    assert codings.choose("br, gzip", ("gzip",)) == "gzip"


@needs_all
@pytest.mark.parametrize("coding", ALL)
def test_encoders_round_trip_in_pieces(coding: str) -> None:
    encoder = codings.encoder(coding)
    decoder = codings.decoder(coding)
    assert decoder is not None
    got = b""
    for i in range(5):
        piece = (f"piece {i} " * 300).encode()
        # After each flush, everything written so far decodes.
        got += decoder.decompress(encoder.compress(piece) + encoder.flush())
        assert got.endswith(piece)
    got += decoder.decompress(encoder.finish())
    assert decoder.eof


# -- over the wire -----------------------------------------------------------------------


@needs_all
@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
@pytest.mark.parametrize("coding", [*ALL, None])
async def test_curl_decodes_each_coding(serve: Any, coding: str | None) -> None:
    srv = await serve(app())
    command = ["curl", "-s", "-D", "-", "--compressed", srv.base_url + "/text"]
    if coding is not None:
        command[1:1] = ["-H", f"Accept-Encoding: {coding}"]
    else:
        command.remove("--compressed")
    proc = await asyncio.create_subprocess_exec(*command, stdout=subprocess.PIPE)
    out, _ = await proc.communicate()
    head, _, body = out.partition(b"\r\n\r\n")
    head = head.lower()
    assert body.decode() == TEXT  # identical to the identity body
    assert b"vary: accept-encoding" in head
    if coding is None:
        assert b"content-encoding" not in head
    else:
        assert f"content-encoding: {coding}".encode() in head


@needs_all
async def test_curl_compressed_gets_br(serve: Any) -> None:
    srv = await serve(app())
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", "/text", {"Accept-Encoding": "deflate, gzip, br, zstd"}))
    resp = await conn.response()
    conn.close()
    assert resp.header("Content-Encoding") == "br"
    assert decode("br", resp.body) == TEXT.encode()
    assert len(resp.body) < len(TEXT) // 5


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/text?type=text/event-stream", "a stream of events"),
        ("/text?type=image/png", "an already compressed type"),
        ("/text?n=500", "a tiny body"),
        ("/partial", "a range response"),
    ],
)
async def test_what_is_never_compressed(serve: Any, path: str, why: str) -> None:
    srv = await serve(app())
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", path, {"Accept-Encoding": "br, zstd, gzip"}))
    resp = await conn.response()
    conn.close()
    assert resp.header("Content-Encoding") is None, why
    assert resp.header("Vary") == "Accept-Encoding"


@needs_all
@pytest.mark.parametrize("coding", ALL)
async def test_streamed_response_decodes_at_each_flush(serve: Any, coding: str) -> None:
    Streamed.go = asyncio.Queue()
    srv = await serve(app())
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    writer.write(request("GET", "/stream", {"Accept-Encoding": coding}))
    head = await reader.readuntil(b"\r\n\r\n")
    assert f"Content-Encoding: {coding}".encode() in head
    assert b"Transfer-Encoding: chunked" in head
    decoder = codings.decoder(coding)
    assert decoder is not None
    text = b""
    for i in range(3):
        # Read chunks until this part has decoded completely: the flush made it so.
        while not text.endswith(b"\n") or text.count(b"\n") <= i:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            assert size, "the response ended early"
            text += decoder.decompress((await reader.readexactly(size + 2))[:-2])
        assert text.endswith(f"part {i}: ".encode() + b"x" * 2000 + b"\n")
        Streamed.go.put_nowait(None)
    writer.close()


async def test_tornados_gzip_transform_stays_gzip_only(serve: Any) -> None:
    srv = await serve(Application([(r"/text", Text)], transforms=[GZipContentEncoding]))
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", "/text", {"Accept-Encoding": "br, gzip"}))
    resp = await conn.response()
    assert resp.header("Content-Encoding") == "gzip"
    assert gzip.decompress(resp.body) == TEXT.encode()
    conn.send(request("GET", "/text", {"Accept-Encoding": "br"}))
    resp = await conn.response()
    conn.close()
    assert resp.header("Content-Encoding") is None and resp.body == TEXT.encode()


# -- precompressed static files ------------------------------------------------------


@pytest.fixture
def static_dir(tmp_path: Any) -> Any:
    (tmp_path / "app.js").write_text(TEXT)
    for coding, suffix in (("br", ".br"), ("zstd", ".zst"), ("gzip", ".gz")):
        if coding in codings.AVAILABLE:
            encoder = codings.encoder(coding, 9 if coding != "zstd" else 19)
            (tmp_path / f"app.js{suffix}").write_bytes(
                encoder.compress(TEXT.encode()) + encoder.finish()
            )
    (tmp_path / "plain.txt").write_text(TEXT)  # no copies
    return tmp_path


def static_app(root: Any, **settings: Any) -> Application:
    return Application(static_path=str(root), **settings)


@needs_all
@pytest.mark.parametrize("compress_response", [False, True])
async def test_precompressed_sidecars(serve: Any, static_dir: Any, compress_response: bool) -> None:
    srv = await serve(static_app(static_dir, compress_response=compress_response))
    conn = await RawConn.open(srv.port)
    etags: dict[str | None, str] = {}
    for accept, coding in [
        ("br, gzip, zstd", "br"),
        ("gzip, zstd", "zstd"),
        ("gzip", "gzip"),
        ("gzip;q=0.5, br;q=0.4", "gzip"),
        ("identity", None),
    ]:
        conn.send(request("GET", "/static/app.js", {"Accept-Encoding": accept}))
        resp = await conn.response()
        assert resp.status == 200
        assert resp.header("Content-Encoding") == coding, accept
        # The original's type, whichever copy is sent (not application/gzip).
        assert (resp.header("Content-Type") or "").split(";")[0] == mimetypes.guess_type("a.js")[0]
        assert resp.header("Vary") == "Accept-Encoding"
        body = resp.body if coding is None else decode(coding, resp.body)
        assert body == TEXT.encode()  # not compressed twice
        etags[coding] = resp.header("Etag") or ""
        # Its own ETag revalidates that representation.
        conn.send(
            request(
                "GET", "/static/app.js", {"Accept-Encoding": accept, "If-None-Match": etags[coding]}
            )
        )
        assert (await conn.response()).status == 304
    assert len(set(etags.values())) == 4  # one per representation
    # A range is of the file itself.
    conn.send(request("GET", "/static/app.js", {"Accept-Encoding": "br", "Range": "bytes=0-9"}))
    resp = await conn.response()
    assert (resp.status, resp.header("Content-Encoding"), resp.body) == (
        206,
        None,
        TEXT[:10].encode(),
    )
    # A file without copies says nothing of Accept-Encoding unless compress_response does.
    conn.send(request("GET", "/static/plain.txt", {"Accept-Encoding": "br"}))
    resp = await conn.response()
    conn.close()
    if compress_response:
        assert resp.header("Content-Encoding") == "br"  # compressed on the fly
    else:
        assert resp.header("Content-Encoding") is None and resp.header("Vary") is None


async def test_a_symlinked_sidecar_is_not_served(serve: Any, tmp_path: Any) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "page.html").write_text(TEXT)
    outside = tmp_path / "secret.gz"
    outside.write_bytes(gzip.compress(b"secret"))
    (root / "page.html.gz").symlink_to(outside)
    srv = await serve(static_app(root))
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", "/static/page.html", {"Accept-Encoding": "gzip"}))
    resp = await conn.response()
    conn.close()
    assert resp.header("Content-Encoding") is None and resp.body == TEXT.encode()


@needs_all
@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
async def test_curl_reads_the_sidecars(serve: Any, static_dir: Any) -> None:
    srv = await serve(static_app(static_dir))
    for coding in ALL:
        proc = await asyncio.create_subprocess_exec(
            "curl", "-s", "-D", "-", "--compressed", "-H", f"Accept-Encoding: {coding}",
            srv.base_url + "/static/app.js", stdout=subprocess.PIPE,
        )  # fmt: skip
        out, _ = await proc.communicate()
        head, _, body = out.partition(b"\r\n\r\n")
        assert f"content-encoding: {coding}".encode() in head.lower()
        assert body.decode() == TEXT


# -- compressed request bodies (decompress_request=True) --------------------------------


class BodyLength(RequestHandler):
    def post(self) -> None:
        self.finish({"length": len(self.request.body), "text": self.request.body[:20].decode()})


def compressed(coding: str, data: bytes, level: int | None = None) -> bytes:
    encoder = codings.encoder(coding, level)
    return encoder.compress(data) + encoder.finish()


@needs_all
@pytest.mark.parametrize("coding", ALL)
async def test_request_bodies_in_each_coding(serve: Any, coding: str) -> None:
    srv = await serve(
        Application([(r"/", BodyLength)]), decompress_request=True, max_body_size=1_000_000
    )
    conn = await RawConn.open(srv.port)
    payload = TEXT.encode()
    conn.send(request("POST", "/", {"Content-Encoding": coding}, compressed(coding, payload)))
    resp = await conn.response()
    assert resp.status == 200, resp.body
    assert json.loads(resp.body) == {"length": len(payload), "text": TEXT[:20]}
    # A bomb: a few kilobytes inflating past max_body_size is refused as a body over
    # the limit (Tornado's 400) before it is all in memory.
    bomb = compressed(coding, b"\0" * 20_000_000)
    assert len(bomb) < 100_000
    conn.send(request("POST", "/", {"Content-Encoding": coding}, bomb))
    resp = await conn.response()
    assert resp.status == 400
    assert await conn.is_closed()
    conn.close()


@needs_all
@pytest.mark.parametrize("coding", ["br", "zstd"])
@pytest.mark.parametrize("damage", ["garbage", "truncated"])
async def test_bad_compressed_bodies_are_400(serve: Any, coding: str, damage: str) -> None:
    srv = await serve(Application([(r"/", BodyLength)]), decompress_request=True)
    good = compressed(coding, TEXT.encode())
    body = b"\x00garbage\xff" * 10 if damage == "garbage" else good[: len(good) // 2]
    conn = await RawConn.open(srv.port)
    conn.send(request("POST", "/", {"Content-Encoding": coding}, body))
    resp = await conn.response()
    conn.close()
    assert resp.status == 400
