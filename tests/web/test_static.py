"""StaticFileHandler and static_url over real sockets (httpx, raw sockets, curl).

Where Tornado is the reference, the same requests go to Tornado serving the same directory
in the same loop and the answers are compared.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tornadish.web import Application, HTTPError, RequestHandler, StaticFileHandler

from tests.support.rawhttp import RawConn, request

CONTENT = b"0123456789" * 300  # 3000 bytes


@pytest.fixture
def root(tmp_path: Path) -> Path:
    static = tmp_path / "static"
    static.mkdir()
    (static / "a.txt").write_bytes(CONTENT)
    (static / "style.css").write_text("body { color: red }\n")
    (static / "data.json").write_text('{"a": 1}')
    (static / "archive.tar.gz").write_bytes(b"\x1f\x8b fake")
    (static / "robots.txt").write_text("User-agent: *\n")
    (static / "favicon.ico").write_bytes(b"ICO")
    sub = static / "sub"
    sub.mkdir()
    (sub / "index.html").write_text("<p>index</p>")
    (tmp_path / "secret.txt").write_text("top secret")
    (static / "escape").symlink_to(tmp_path / "secret.txt")
    (static / "inner-link.txt").symlink_to(static / "a.txt")
    os.mkfifo(static / "fifo")
    StaticFileHandler.reset()
    return static


async def get(srv: Any, path: str, method: str = "GET", **kw: Any) -> httpx.Response:
    async with httpx.AsyncClient(follow_redirects=False) as client:
        return await client.request(method, srv.base_url + path, **kw)


async def raw_status(srv: Any, target: str) -> int:
    conn = await RawConn.open(srv.port)
    try:
        conn.send(request("GET", target, {"Connection": "close"}))
        return (await conn.response()).status
    finally:
        conn.close()


def sha512(data: bytes) -> str:
    return hashlib.sha512(data).hexdigest()


# -- basics ---------------------------------------------------------------------------


async def test_serves_file_with_type_length_etag_last_modified(serve, root) -> None:
    srv = await serve(Application(static_path=str(root)))
    r = await get(srv, "/static/a.txt")
    assert r.status_code == 200
    assert r.content == CONTENT
    assert r.headers["content-type"] == "text/plain"
    assert r.headers["content-length"] == str(len(CONTENT))
    assert r.headers["etag"] == f'"{sha512(CONTENT)}"'
    assert r.headers["accept-ranges"] == "bytes"
    assert "last-modified" in r.headers
    assert "cache-control" not in r.headers  # unversioned: revalidate


@pytest.mark.parametrize(
    ("name", "ctype"),
    [
        ("style.css", "text/css"),
        ("data.json", "application/json"),
        ("archive.tar.gz", "application/gzip"),
        ("sub/index.html", "text/html"),
    ],
)
async def test_content_type_from_mimetypes(serve, root, name, ctype) -> None:
    srv = await serve(Application(static_path=str(root)))
    r = await get(srv, "/static/" + name)
    assert r.status_code == 200
    assert r.headers["content-type"] == ctype
    # No transparent decompression of a .gz file: the bytes are the file's.
    assert r.content == (root / name).read_bytes()


async def test_missing_file_404(serve, root) -> None:
    srv = await serve(Application(static_path=str(root)))
    assert (await get(srv, "/static/nope.txt")).status_code == 404


async def test_favicon_and_robots_routes(serve, root) -> None:
    srv = await serve(Application(static_path=str(root)))
    assert (await get(srv, "/robots.txt")).text == "User-agent: *\n"
    assert (await get(srv, "/favicon.ico")).content == b"ICO"


async def test_static_url_prefix_and_handler_args(serve, root) -> None:
    app = Application(
        static_path=str(root),
        static_url_prefix="/assets/",
        static_handler_args={"default_filename": "index.html"},
    )
    srv = await serve(app)
    assert (await get(srv, "/assets/a.txt")).content == CONTENT
    assert (await get(srv, "/static/a.txt")).status_code == 404
    assert (await get(srv, "/assets/sub/")).text == "<p>index</p>"


async def test_static_handler_class_setting(serve, root) -> None:
    class Custom(StaticFileHandler):
        def set_extra_headers(self, path: str) -> None:
            self.set_header("X-Static", path)

    srv = await serve(Application(static_path=str(root), static_handler_class=Custom))
    r = await get(srv, "/static/a.txt")
    assert r.headers["x-static"] == "a.txt"


async def test_head_has_headers_and_no_body(serve, root) -> None:
    srv = await serve(Application(static_path=str(root)))
    conn = await RawConn.open(srv.port)
    conn.send(request("HEAD", "/static/a.txt"))
    resp = await conn.response(head=True)
    assert resp.status == 200
    assert resp.header("Content-Length") == str(len(CONTENT))
    assert resp.header("Etag") == f'"{sha512(CONTENT)}"'
    # The connection is still usable: no stray body bytes were sent.
    conn.send(request("GET", "/static/style.css"))
    assert (await conn.response()).body == b"body { color: red }\n"
    conn.close()


# -- conditional requests -------------------------------------------------------------


async def test_if_none_match_304(serve, root) -> None:
    srv = await serve(Application(static_path=str(root)))
    r = await get(srv, "/static/a.txt")
    r2 = await get(srv, "/static/a.txt", headers={"If-None-Match": r.headers["etag"]})
    assert r2.status_code == 304
    assert r2.content == b""
    assert "content-type" not in r2.headers
    r3 = await get(srv, "/static/a.txt", headers={"If-None-Match": '"other"'})
    assert r3.status_code == 200


async def test_if_modified_since(serve, root) -> None:
    srv = await serve(Application(static_path=str(root)))
    r = await get(srv, "/static/a.txt")
    lm = r.headers["last-modified"]
    assert (await get(srv, "/static/a.txt", headers={"If-Modified-Since": lm})).status_code == 304
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert (await get(srv, "/static/a.txt", headers={"If-Modified-Since": old})).status_code == 200
    bad = "not a date"
    assert (await get(srv, "/static/a.txt", headers={"If-Modified-Since": bad})).status_code == 200
    # If-None-Match wins: a stale ETag means 200 even with a matching date.
    both = {"If-Modified-Since": lm, "If-None-Match": '"stale"'}
    assert (await get(srv, "/static/a.txt", headers=both)).status_code == 200


# -- ranges ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "status", "content_range", "body"),
    [
        ("bytes=0-9", 206, "bytes 0-9/3000", CONTENT[:10]),
        ("bytes=10-19", 206, "bytes 10-19/3000", CONTENT[10:20]),
        ("bytes=-5", 206, "bytes 2995-2999/3000", CONTENT[-5:]),
        ("bytes=2990-", 206, "bytes 2990-2999/3000", CONTENT[2990:]),
        ("bytes=2990-5000", 206, "bytes 2990-2999/3000", CONTENT[2990:]),
        ("bytes=-5000", 200, None, CONTENT),  # suffix longer than the file: all of it
        ("bytes=0-", 200, None, CONTENT),
        ("bytes=0-2999", 200, None, CONTENT),
        ("bytes=0-1,5-6", 200, None, CONTENT),  # several ranges: the whole file
        ("bytes=x-y", 200, None, CONTENT),  # unparseable: ignored
        ("items=0-1", 200, None, CONTENT),
        ("bytes=3000-", 416, "bytes */3000", b""),
        ("bytes=5-4", 416, "bytes */3000", b""),
        ("bytes=-0", 416, "bytes */3000", b""),
    ],
)
async def test_range_requests(serve, root, header, status, content_range, body) -> None:
    srv = await serve(Application(static_path=str(root)))
    r = await get(srv, "/static/a.txt", headers={"Range": header})
    assert r.status_code == status
    assert r.headers.get("content-range") == content_range
    assert r.content == body
    assert r.headers["content-length"] == str(len(body))


async def test_range_requests_match_tornado(serve, root) -> None:
    from tests.support.web import serve_tornado

    ours = await serve(Application(static_path=str(root)))
    theirs = await serve_tornado([], static_path=str(root))
    try:
        for header in ["bytes=0-9", "bytes=-5", "bytes=2990-", "bytes=3000-", "bytes=0-1,5-6"]:
            a = await get(ours, "/static/a.txt", headers={"Range": header})
            b = await get(theirs, "/static/a.txt", headers={"Range": header})
            assert (a.status_code, a.headers.get("content-range"), a.content) == (
                b.status_code,
                b.headers.get("content-range"),
                b.content,
            ), header
    finally:
        await theirs.stop()


# -- path safety ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "status"),
    [
        ("/static/../secret.txt", 403),
        ("/static/%2e%2e/secret.txt", 403),
        ("/static/%2E%2E/%2e%2e/etc/passwd", 403),
        ("/static/sub/../../secret.txt", 403),
        ("/static//etc/passwd", 403),
        ("/static/%2Fetc%2Fpasswd", 403),
        ("/static/a.txt%00.png", 404),
        ("/static/sub", 403),  # a directory, and no default_filename
        ("/static/", 403),
        ("/static/sub/../a.txt", 200),  # stays inside: fine
        ("/static/inner-link.txt", 200),  # a link to a file inside the root
    ],
)
async def test_path_traversal_refused(serve, root, target, status) -> None:
    srv = await serve(Application(static_path=str(root)))
    assert await raw_status(srv, target) == status


async def test_path_traversal_matches_tornado(serve, root) -> None:
    from tests.support.web import serve_tornado

    ours = await serve(Application(static_path=str(root)))
    theirs = await serve_tornado([], static_path=str(root))
    try:
        for target in [
            "/static/../secret.txt",
            "/static/%2e%2e/secret.txt",
            "/static//etc/passwd",
            "/static/escape",
            "/static/inner-link.txt",
            "/static/fifo",
            "/static/sub",
            "/static/sub/../a.txt",
        ]:
            assert await raw_status(ours, target) == await raw_status(theirs, target), target
    finally:
        await theirs.stop()


async def test_symlink_out_of_root_refused(serve, root) -> None:
    srv = await serve(Application(static_path=str(root)))
    r = await get(srv, "/static/escape")
    assert r.status_code == 403
    assert b"secret" not in r.content


async def test_allowed_symlink_directory(serve, root, tmp_path) -> None:
    args = {"path": str(root), "allowed_symlink_directory": [str(root), str(tmp_path)]}
    srv = await serve(Application([(r"/f/(.*)", StaticFileHandler, args)]))
    assert (await get(srv, "/f/escape")).text == "top secret"
    assert await raw_status(srv, "/f/../secret.txt") == 403  # still no traversal


async def test_fifo_is_not_a_file(serve, root) -> None:
    # Opening a FIFO would block the server: refused from its stat alone.
    srv = await serve(Application(static_path=str(root)))
    assert (await get(srv, "/static/fifo")).status_code == 403


async def test_root_prefix_is_not_a_sibling_directory(serve, root, tmp_path) -> None:
    sibling = tmp_path / "static-old"
    sibling.mkdir()
    (sibling / "x.txt").write_text("sibling")
    srv = await serve(Application(static_path=str(root)))
    assert await raw_status(srv, "/static/../static-old/x.txt") == 403


async def test_default_filename_redirects_and_serves(serve, root) -> None:
    app = Application(
        [(r"/files/(.*)", StaticFileHandler, {"path": str(root), "default_filename": "index.html"})]
    )
    srv = await serve(app)
    r = await get(srv, "/files/sub")
    assert r.status_code == 301
    assert r.headers["location"] == "/files/sub/"
    r = await get(srv, "/files/sub/")
    assert r.status_code == 200
    assert r.text == "<p>index</p>"
    # "//host" would be a protocol-relative redirect: refused.
    assert await raw_status(srv, "//files/sub") in (403, 404)


# -- versioning and static_url --------------------------------------------------------


class UrlHandler(RequestHandler):
    def get(self) -> None:
        self.write(
            self.static_url(self.get_argument("p"), include_host=bool(self.get_argument("h", "")))
        )


async def test_static_url_has_content_version(serve, root) -> None:
    srv = await serve(Application([(r"/url", UrlHandler)], static_path=str(root)))
    url = (await get(srv, "/url?p=a.txt")).text
    assert url == f"/static/a.txt?v={sha512(CONTENT)}"
    full = (await get(srv, "/url?p=a.txt&h=1")).text
    assert full == f"http://127.0.0.1:{srv.port}{url}"
    missing = (await get(srv, "/url?p=missing.txt")).text
    assert missing == "/static/missing.txt"  # unreadable: no version, no error


async def test_versioned_request_gets_long_cache_headers(serve, root) -> None:
    srv = await serve(Application([(r"/url", UrlHandler)], static_path=str(root)))
    url = (await get(srv, "/url?p=a.txt")).text
    r = await get(srv, url)
    assert r.status_code == 200
    assert r.headers["cache-control"] == f"max-age={StaticFileHandler.CACHE_MAX_AGE}"
    assert "expires" in r.headers


async def test_static_hash_cache(serve, root) -> None:
    srv = await serve(Application([(r"/url", UrlHandler)], static_path=str(root)))
    before = (await get(srv, "/url?p=style.css")).text
    (root / "style.css").write_text("body { color: blue }\n")
    assert (await get(srv, "/url?p=style.css")).text == before  # cached
    StaticFileHandler.reset()
    assert (await get(srv, "/url?p=style.css")).text != before


async def test_static_hash_cache_off_in_debug(serve, root) -> None:
    app = Application([(r"/url", UrlHandler)], static_path=str(root), debug=True, autoreload=False)
    srv = await serve(app)
    before = (await get(srv, "/url?p=style.css")).text
    (root / "style.css").write_text("body { color: green }\n")
    after = (await get(srv, "/url?p=style.css")).text
    assert after != before
    assert after.endswith(sha512(b"body { color: green }\n"))


def test_classmethods(root) -> None:
    settings = {"static_path": str(root)}
    assert StaticFileHandler.get_version(settings, "a.txt") == sha512(CONTENT)
    assert StaticFileHandler.make_static_url(settings, "a.txt", include_version=False) == (
        "/static/a.txt"
    )
    assert StaticFileHandler.get_absolute_path(str(root), "sub/index.html") == str(
        root / "sub" / "index.html"
    )
    content = StaticFileHandler.get_content(str(root / "a.txt"), 5, 15)
    assert b"".join(content) == CONTENT[5:15]  # type: ignore[arg-type]
    assert StaticFileHandler.get_content_version(str(root / "a.txt")) == sha512(CONTENT)


# -- versions: never read outside the root or anything but a file; bounded ------------


@pytest.mark.parametrize("name", ["sub", "fifo", "zero"])
def test_no_version_for_what_is_not_a_file(
    root: Path, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Bug: get_version("fifo") (static_url) blocked forever in open(); a link to
    /dev/zero would hash for ever."""
    (root / "zero").symlink_to("/dev/zero")
    with caplog.at_level(logging.ERROR, logger="tornadish.general"):
        assert StaticFileHandler.get_version({"static_path": str(root)}, name) is None
    assert any(
        "Could not open static file" in r.getMessage() and "is not a file" in r.getMessage()
        for r in caplog.records
    )


def test_version_path_may_not_leave_the_root(root: Path) -> None:
    with pytest.raises(HTTPError) as e:
        StaticFileHandler.get_version({"static_path": str(root)}, "../secret.txt")
    assert e.value.status_code == 403


def test_version_of_too_large_content_is_none(root: Path, caplog: pytest.LogCaptureFixture) -> None:
    class Small(StaticFileHandler):
        MAX_VERSION_CONTENT_SIZE = len(CONTENT)

    settings = {"static_path": str(root)}
    assert Small.get_version(settings, "a.txt") == sha512(CONTENT)
    Small.reset()
    Small.MAX_VERSION_CONTENT_SIZE -= 1
    with caplog.at_level(logging.ERROR, logger="tornadish.general"):
        assert Small.get_version(settings, "a.txt") is None
    assert "larger than MAX_VERSION_CONTENT_SIZE" in caplog.text


def test_version_cache_forgets_the_least_recently_used(root: Path) -> None:
    reads: list[str] = []

    class Limited(StaticFileHandler):
        MAX_CACHED_VERSIONS = 2

        @classmethod
        def get_content_version(cls, abspath: str) -> str:
            reads.append(os.path.basename(abspath))
            return super().get_content_version(abspath)

    Limited.reset()
    settings = {"static_path": str(root)}
    for name in ["a.txt", "style.css", "a.txt", "data.json", "a.txt", "style.css"]:
        assert Limited.get_version(settings, name) == sha512((root / name).read_bytes())
    # a.txt was used more recently than style.css when data.json came: only style.css
    # was forgotten and read again.
    assert reads == ["a.txt", "style.css", "data.json", "style.css"]
    assert len(Limited._static_hashes) == 2


class MultiRoot(StaticFileHandler):
    """Searches several directories and never calls StaticFileHandler.initialize (as
    Jupyter's FileFindHandler): the checks run against the directory that matched."""

    def initialize(self, path: list[str]) -> None:  # type: ignore[override]
        self.root = tuple(os.path.abspath(p) + os.path.sep for p in path)  # type: ignore[assignment]
        self.default_filename = None

    @classmethod
    def get_absolute_path(cls, roots: Any, path: str) -> str:
        for r in roots:
            candidate = os.path.abspath(os.path.join(r, path))
            if os.path.exists(candidate):
                return candidate
        return os.path.abspath(os.path.join(roots[0], path))

    def validate_absolute_path(self, root: Any, absolute_path: str) -> str | None:
        for candidate in self.root:
            if (absolute_path + os.path.sep).startswith(candidate):
                root = candidate
                break
        return super().validate_absolute_path(root, absolute_path)


async def test_subclass_with_several_roots(serve, root: Path, tmp_path: Path) -> None:
    """Bug: a subclass not calling our initialize() failed with AttributeError (500)."""
    other = tmp_path / "other"
    other.mkdir()
    (other / "two.txt").write_text("two")
    (other / "link.txt").symlink_to(root / "a.txt")  # into the other root: refused too
    paths = [str(root), str(other)]
    srv = await serve(Application([(r"/m/(.*)", MultiRoot, {"path": paths})]))
    assert (await get(srv, "/m/a.txt")).content == CONTENT
    assert (await get(srv, "/m/two.txt")).text == "two"
    assert (await get(srv, "/m/link.txt")).status_code == 403
    assert (await get(srv, "/m/escape")).status_code == 403


async def test_static_url_without_static_path_raises(serve) -> None:
    class H(RequestHandler):
        def get(self) -> None:
            self.write(self.static_url("x"))

    srv = await serve(Application([(r"/", H)]))
    assert (await get(srv, "/")).status_code == 500


# -- large files ------------------------------------------------------------------------


async def test_large_file_streamed_intact(serve, root, loop_factory) -> None:
    data = os.urandom(5 * 1024 * 1024 + 123)
    (root / "big.bin").write_bytes(data)
    srv = await serve(Application(static_path=str(root)))
    client = httpx.AsyncClient()
    async with client, client.stream("GET", srv.base_url + "/static/big.bin") as r:
        assert r.headers["content-length"] == str(len(data))
        got = b"".join([chunk async for chunk in r.aiter_bytes()])
    assert got == data
    r = await get(srv, "/static/big.bin", headers={"Range": "bytes=1000000-"})
    assert r.status_code == 206
    assert r.content == data[1000000:]


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
async def test_curl_range_and_resume(serve, root, tmp_path) -> None:
    import asyncio

    srv = await serve(Application(static_path=str(root)))
    out = tmp_path / "partial.txt"
    out.write_bytes(CONTENT[:1000])  # a download cut short
    proc = await asyncio.create_subprocess_exec(
        "curl",
        "-s",
        "-C",
        "-",
        "-o",
        str(out),
        srv.base_url + "/static/a.txt",
        stdout=subprocess.PIPE,
    )
    await proc.wait()
    assert out.read_bytes() == CONTENT
