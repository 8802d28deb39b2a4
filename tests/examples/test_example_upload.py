"""The upload example (examples/upload): bodies streamed to disk over real sockets."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from examples.upload.app import MiB, make_app

from tests.support.waiting import until


@contextlib.asynccontextmanager
async def client(base: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client that loaded the page (XSRF cookie) and sends the token as a header."""
    async with httpx.AsyncClient(base_url=base, timeout=60) as c:
        page = await c.get("/upload/")
        assert page.status_code == 200
        c.headers["X-XSRFToken"] = c.cookies["_xsrf"]
        yield c


def payload(size: int) -> bytes:
    # Not one repeated byte: a shuffled or truncated store would still compare equal.
    block = hashlib.sha256(b"seed").digest() * 2048  # 64 KiB
    return (block * (size // len(block) + 1))[:size]


async def chunks(data: bytes, size: int = 256 * 1024) -> AsyncIterator[bytes]:
    """The body in pieces, without a Content-Length: sent chunked, as a stream."""
    for i in range(0, len(data), size):
        yield data[i : i + size]


def leftovers(directory: Path) -> list[str]:
    return sorted(os.listdir(directory / "incoming"))


@pytest.mark.timeout_async(60)
async def test_a_large_file_is_streamed_to_disk(serve: Any, tmp_path: Path) -> None:
    srv = await serve(make_app(tmp_path, prefix="/upload", max_size=16 * MiB))
    data = payload(6 * MiB + 123)
    async with client(srv.base_url) as c:
        r = await c.put("/upload/upload/big file (1).bin", content=chunks(data))
        assert r.status_code == 200
        assert r.json() == {
            "name": "big file (1).bin",
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        assert (tmp_path / "files" / "big file (1).bin").read_bytes() == data
        assert leftovers(tmp_path) == []

        # With a Content-Length too, and then listed and served back as a download.
        r = await c.put("/upload/upload/small.txt", content=b"hello")
        assert r.status_code == 200 and r.json()["size"] == 5
        listing = (await c.get("/upload/files")).json()["files"]
        assert {f["name"]: f["size"] for f in listing} == {
            "big file (1).bin": len(data),
            "small.txt": 5,
        }
        page = (await c.get("/upload/")).text
        assert "small.txt" in page and "upload.onprogress" in page
        r = await c.get("/upload/files/big%20file%20(1).bin")
        assert r.status_code == 200 and r.content == data
        assert r.headers["content-disposition"] == "attachment"


@pytest.mark.timeout_async(60)
async def test_over_the_limit_is_refused_with_400(
    serve: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    srv = await serve(make_app(tmp_path, prefix="/upload", max_size=1 * MiB))
    data = payload(3 * MiB)
    async with client(srv.base_url) as c:
        # Declared too large: refused before any of the body is read.
        r = await c.put("/upload/upload/declared.bin", content=data)
        assert r.status_code == 400
    async with client(srv.base_url) as c:
        # Streamed without a length: refused once the limit is crossed.
        try:
            r = await c.put("/upload/upload/streamed.bin", content=chunks(data, 64 * 1024))
        except httpx.TransportError:
            pass  # the server may close before the client has sent it all
        else:
            assert r.status_code == 400
    await until(lambda: not leftovers(tmp_path), 10, 0.01)  # the partial file is removed
    assert os.listdir(tmp_path / "files") == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    async with client(srv.base_url) as c:  # a file under the limit still goes through
        r = await c.put("/upload/upload/fits.bin", content=payload(MiB))
        assert r.status_code == 200


async def test_an_interrupted_upload_leaves_nothing(serve: Any, tmp_path: Path) -> None:
    srv = await serve(make_app(tmp_path, prefix="/upload"))
    async with client(srv.base_url) as c:
        token = c.headers["X-XSRFToken"]
    _reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    writer.write(
        b"PUT /upload/upload/cut.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n"
        b"Cookie: _xsrf=%s\r\nX-XSRFToken: %s\r\n\r\n"
        % (token.encode(), token.encode())
        + b"x" * 100_000
    )
    await writer.drain()
    # the body is arriving into a temporary file
    await until(lambda: leftovers(tmp_path), 10, 0.01)
    writer.close()
    await until(lambda: not leftovers(tmp_path), 10, 0.01)
    assert os.listdir(tmp_path / "files") == []


async def test_bad_names_and_missing_xsrf_are_refused(serve: Any, tmp_path: Path) -> None:
    srv = await serve(make_app(tmp_path, prefix="/upload"))
    async with client(srv.base_url) as c:
        for name in (".hidden", "..", "a%2Fb", "%00x", " padded", "x" * 300):
            r = await c.put(f"/upload/upload/{name}", content=b"data")
            assert r.status_code in (400, 404), name
    async with httpx.AsyncClient(base_url=srv.base_url) as bare:
        r = await bare.put("/upload/upload/forged.txt", content=b"data")
        assert r.status_code == 403
    assert os.listdir(tmp_path / "files") == [] and leftovers(tmp_path) == []


# -- error pages -----------------------------------------------------------------------------


def assert_upload_layout(page: str, title: str) -> None:
    assert f"<title>{title} · tornadish uploads</title>" in page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert '<h1><a href="/upload/">Uploads</a></h1>' in page  # the page's own heading
    assert ".job { display: grid;" in page  # and its style
    assert '<p><a href="/upload/">Back to the uploads</a></p>' in page


async def test_error_pages_keep_the_upload_layout(serve: Any, tmp_path: Path) -> None:
    srv = await serve(make_app(tmp_path, prefix="/upload"))
    async with client(srv.base_url) as c:
        # An unknown path, and a download of a file that is not there.
        for path in ("/upload/no/such/page", "/upload/files/missing.txt"):
            r = await c.get(path)
            assert r.status_code == 404, path
            assert_upload_layout(r.text, "404: Not Found")
            assert "<p>There is no file or page at this address.</p>" in r.text
        # Unknown paths answer 404 to a PUT without the token, not the XSRF check's 403.
        async with httpx.AsyncClient(base_url=srv.base_url) as bare:
            assert (await bare.put("/upload/nope", content=b"x")).status_code == 404
        # A handler's HTTPError, its reason in the heading.
        r = await c.put("/upload/upload/.hidden", content=b"data")
        assert r.status_code == 400
        assert_upload_layout(r.text, "400: unsupported file name")
        assert "<h2>400: unsupported file name</h2>" in r.text
    assert leftovers(tmp_path) == []


async def test_debug_mode_still_shows_the_traceback(serve: Any, tmp_path: Path) -> None:
    srv = await serve(make_app(tmp_path, prefix="/upload", debug=True, autoreload=False))
    async with client(srv.base_url) as c:
        r = await c.put("/upload/upload/.hidden", content=b"data")
        assert r.status_code == 400 and r.headers["content-type"].startswith("text/plain")
        assert "unsupported file name" in r.text and "Traceback" in r.text
        # A browser gets the debug page, open at the example's own code.
        r = await c.put("/upload/upload/.hidden", content=b"data", headers={"Accept": "text/html"})
        assert r.status_code == 400 and "<h1>400: unsupported file name</h1>" in r.text
        assert "examples/upload/app.py, line" in r.text and "in <b>checked_name</b>" in r.text
        assert "Back to the uploads" not in r.text  # not the layout
