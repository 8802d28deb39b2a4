"""Request bodies: multipart parsed while it arrives with files spooled to disk, streaming
handlers, and bounded memory for large uploads (measured on a server subprocess)."""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tornadish.web import Application, RequestHandler, stream_request_body

from tests.support.procstat import vm
from tests.support.rawhttp import RawConn, request

BOUNDARY = "----tornadishBoundary7MA4YWxk"


def part_head(name: str, filename: str | None = None, ctype: str | None = None) -> bytes:
    disp = f'form-data; name="{name}"'
    if filename is not None:
        disp += f'; filename="{filename}"'
    head = f"--{BOUNDARY}\r\nContent-Disposition: {disp}\r\n"
    if ctype:
        head += f"Content-Type: {ctype}\r\n"
    return (head + "\r\n").encode()


def multipart(*parts: tuple[bytes, bytes]) -> bytes:
    body = b"".join(head + data + b"\r\n" for head, data in parts)
    return body + f"--{BOUNDARY}--\r\n".encode()


MP = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


def open_fds_under(directory: Path, pid: int | str = "self") -> list[str]:
    """Open file descriptors of ``pid`` that point into ``directory`` (unlinked or not)."""
    found = []
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        if target.startswith(str(directory)):
            found.append(target)
    return found


class UploadInfo(RequestHandler):
    seen_fds: list[str]

    def post(self) -> None:
        tmp = self.settings.get("upload_tmp_dir")
        UploadInfo.seen_fds = open_fds_under(Path(tmp)) if tmp else []
        out: dict[str, Any] = {
            "args": {k: self.get_body_arguments(k) for k in self.request.body_arguments}
        }
        files = {}
        for name, fs in self.request.files.items():
            f = fs[0]
            files[name] = {
                "filename": f.filename,
                "content_type": f["content_type"],
                "size": f.size,
                "spooled": f.spooled,
                "body_len": len(f.body),
                "body_head": f["body"][:8].decode("latin-1"),
                "file_len": len(f.file.read()),
            }
        out["files"] = files
        out["raw_body_len"] = len(self.request.body)
        self.write(out)


def upload_app(**settings: Any) -> Application:
    return Application([(r"/up", UploadInfo)], **settings)


# -- multipart parsing ------------------------------------------------------------------


async def test_small_form_keeps_tornado_shape(serve) -> None:
    body = multipart(
        (part_head("title"), b"hello"),
        (part_head("doc", "a.txt", "text/plain"), b"file content"),
    )
    srv = await serve(upload_app())
    async with httpx.AsyncClient() as client:
        r = await client.post(srv.base_url + "/up", content=body, headers=MP)
    info = r.json()
    assert info["args"] == {"title": ["hello"]}
    assert info["files"]["doc"] == {
        "filename": "a.txt",
        "content_type": "text/plain",
        "size": 12,
        "spooled": False,
        "body_len": 12,
        "body_head": "file con",
        "file_len": 12,
    }
    assert info["raw_body_len"] == len(body)  # small: request.body as in Tornado


async def test_httpx_files_upload(serve) -> None:
    srv = await serve(upload_app())
    async with httpx.AsyncClient() as client:
        r = await client.post(
            srv.base_url + "/up",
            data={"a": "1"},
            files={"f": ("x.bin", b"\0" * 100, "application/x-raw")},
        )
    info = r.json()
    assert info["args"] == {"a": ["1"]}
    assert info["files"]["f"]["size"] == 100
    assert info["files"]["f"]["content_type"] == "application/x-raw"


async def test_file_part_without_a_body_through_the_server(serve) -> None:
    # The header block's CRLF doubles as the one before the next delimiter (RFC 2046);
    # the spooling parser finishes the part empty, as Tornado's parser reads it.
    body = (
        part_head("empty", "e.txt")
        + part_head("doc", "a.txt", "text/plain")
        + b"content\r\n"
        + f"--{BOUNDARY}--\r\n".encode()
    )
    srv = await serve(upload_app())
    async with httpx.AsyncClient() as client:
        r = await client.post(srv.base_url + "/up", content=body, headers=MP)
    files = r.json()["files"]
    assert files["empty"]["filename"] == "e.txt" and files["empty"]["size"] == 0
    assert files["doc"]["body_head"] == "content"


async def test_large_file_spools_to_tmp_dir_and_is_closed_after(serve, tmp_path) -> None:
    data = os.urandom(300_000)
    body = multipart((part_head("f", "big.bin", "application/octet-stream"), data))
    srv = await serve(upload_app(upload_spool_threshold=64 * 1024, upload_tmp_dir=str(tmp_path)))
    async with httpx.AsyncClient() as client:
        r = await client.post(srv.base_url + "/up", content=body, headers=MP)
    info = r.json()["files"]["f"]
    assert info["spooled"] is True
    assert info["size"] == info["body_len"] == info["file_len"] == len(data)
    assert r.json()["raw_body_len"] == 0  # request.body is not kept for a large upload
    assert len(UploadInfo.seen_fds) == 1  # spooled into upload_tmp_dir while handled
    assert open_fds_under(tmp_path) == []  # closed (and so gone) after the request
    assert os.listdir(tmp_path) == []


async def test_spooled_content_is_exact(serve, tmp_path) -> None:
    data = os.urandom(200_000)

    class Check(RequestHandler):
        def post(self) -> None:
            f = self.request.files["f"][0]
            self.write("ok" if f.body == data and f.file.read() == data else "bad")

    srv = await serve(
        Application([(r"/", Check)], upload_spool_threshold=1000, upload_tmp_dir=str(tmp_path))
    )
    body = multipart((part_head("f", "d.bin"), data))
    conn = await RawConn.open(srv.port)
    # Dribbled in small pieces: boundaries split across reads must not matter.
    conn.send(request("POST", "/", {**MP, "Content-Length": str(len(body))}))
    for i in range(0, len(body), 7919):
        await conn.send_drain(body[i : i + 7919])
    assert (await conn.response()).body == b"ok"
    conn.close()


@pytest.mark.parametrize(
    "body",
    [
        b"garbage without boundaries",
        multipart((part_head("a"), b"1"))[:-10],  # no closing boundary
        f"--{BOUNDARY}\r\nContent-Disposition: attachment\r\n\r\nx\r\n--{BOUNDARY}--\r\n".encode(),
    ],
)
async def test_malformed_multipart_is_400_through_the_handler(serve, body) -> None:
    class H(RequestHandler):
        def post(self) -> None:
            self.write("ran")

        def write_error(self, status_code: int, **kwargs: Any) -> None:
            self.write(f"custom {status_code}")

    srv = await serve(Application([(r"/", H)]))
    async with httpx.AsyncClient() as client:
        r = await client.post(srv.base_url + "/", content=body, headers=MP)
    assert r.status_code == 400
    assert r.text == "custom 400"


async def test_missing_boundary_is_400(serve) -> None:
    srv = await serve(upload_app())
    async with httpx.AsyncClient() as client:
        r = await client.post(
            srv.base_url + "/up", content=b"x", headers={"Content-Type": "multipart/form-data"}
        )
    assert r.status_code == 400


async def test_abandoned_upload_leaves_no_temp_file(serve, tmp_path) -> None:
    srv = await serve(upload_app(upload_spool_threshold=1024, upload_tmp_dir=str(tmp_path)))
    head = part_head("f", "big.bin")
    conn = await RawConn.open(srv.port)
    conn.send(request("POST", "/up", {**MP, "Content-Length": "10000000"}))
    await conn.send_drain(head + b"x" * 200_000)
    for _ in range(100):  # the server has spooled some of it
        if open_fds_under(tmp_path):
            break
        await asyncio.sleep(0.01)
    assert open_fds_under(tmp_path)
    conn.close()
    for _ in range(100):
        if not open_fds_under(tmp_path):
            break
        await asyncio.sleep(0.01)
    assert open_fds_under(tmp_path) == []
    assert os.listdir(tmp_path) == []


async def test_handler_error_still_closes_temp_files(serve, tmp_path) -> None:
    class Boom(RequestHandler):
        def post(self) -> None:
            raise RuntimeError("boom")

    srv = await serve(
        Application([(r"/", Boom)], upload_spool_threshold=10, upload_tmp_dir=str(tmp_path))
    )
    body = multipart((part_head("f", "a.bin"), b"y" * 5000))
    async with httpx.AsyncClient() as client:
        r = await client.post(srv.base_url + "/", content=body, headers=MP)
    assert r.status_code == 500
    assert open_fds_under(tmp_path) == []


# -- streaming request bodies ----------------------------------------------------------


@stream_request_body
class StreamCount(RequestHandler):
    def prepare(self) -> None:
        if self.get_query_argument("big", ""):
            self.request.connection.set_max_body_size(4 << 20)  # type: ignore[union-attr]
        self.total = 0
        self.chunks = 0

    async def data_received(self, chunk: bytes) -> None:
        self.total += len(chunk)
        self.chunks += 1
        await asyncio.sleep(0)  # an async consumer: reading waits for it

    def put(self) -> None:
        self.write({"total": self.total, "chunks": self.chunks})


async def test_stream_request_body_async_data_received_and_limit(serve) -> None:
    srv = await serve(Application([(r"/", StreamCount)]), max_body_size=1 << 20)
    data = b"z" * (2 << 20)
    async with httpx.AsyncClient() as client:
        r = await client.put(srv.base_url + "/?big=1", content=data)
        assert r.json()["total"] == len(data)
        assert r.json()["chunks"] > 1
        r = await client.put(srv.base_url + "/", content=data)
        assert r.status_code == 400


# -- memory: a big upload to a server in a subprocess ------------------------------------

SERVER = """
import asyncio, sys
from tornadish.web import Application, RequestHandler
class Up(RequestHandler):
    def post(self):
        f = self.request.files["f"][0]
        self.write({"size": f.size, "spooled": f.spooled})
async def main():
    app = Application([(r"/up", Up)], upload_tmp_dir=sys.argv[2])
    app.listen(int(sys.argv[1]), "127.0.0.1", max_body_size=1 << 31)
    print("ready", flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


async def stream_upload(port: int, size: int, abandon_after: int | None = None) -> bytes:
    head = part_head("f", "big.bin", "application/octet-stream")
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    length = len(head) + size + len(tail)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request("POST", "/up", {**MP, "Content-Length": str(length)}) + head)
    block = os.urandom(256 * 1024)
    sent = 0
    while sent < size:
        n = min(len(block), size - sent)
        writer.write(block[:n])
        await writer.drain()
        sent += n
        if abandon_after is not None and sent >= abandon_after:
            writer.close()
            return b""
    writer.write(tail)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(65536), 30)
    writer.close()
    return data


@pytest.fixture
def upload_server(tmp_path: Path) -> Any:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tmp = tmp_path / "spool"
    tmp.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(port), str(tmp)],
        stdout=subprocess.PIPE,
        cwd=str(Path(__file__).resolve().parents[2]),
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"ready"
    yield proc, port, tmp
    proc.kill()
    proc.wait()


@pytest.mark.timeout(120)
async def test_200mib_upload_keeps_server_rss_flat(upload_server) -> None:
    proc, port, _tmp = upload_server
    await stream_upload(port, 1 << 20)  # warm up: imports, first buffers
    rss_before = vm(proc.pid, "VmRSS")
    t0 = time.monotonic()
    reply = await stream_upload(port, 200 << 20)
    elapsed = time.monotonic() - t0
    hwm = vm(proc.pid, "VmHWM")
    rss_after = vm(proc.pid, "VmRSS")
    assert b'"size": 209715200' in reply and b'"spooled": true' in reply
    growth = hwm - rss_before
    print(
        f"\n200 MiB upload: RSS before {rss_before >> 20} MiB, peak {hwm >> 20} MiB, "
        f"after {rss_after >> 20} MiB, peak growth {growth / 2**20:.1f} MiB, "
        f"{200 / elapsed:.0f} MiB/s"
    )
    assert growth < 40 << 20


@pytest.mark.timeout(60)
async def test_abandoned_upload_in_subprocess_leaves_nothing(upload_server) -> None:
    proc, port, tmp = upload_server
    await stream_upload(port, 50 << 20, abandon_after=20 << 20)
    for _ in range(200):
        if not open_fds_under(tmp, proc.pid):
            break
        await asyncio.sleep(0.02)
    assert open_fds_under(tmp, proc.pid) == []
    assert os.listdir(tmp) == []
    # And the server is fine afterwards.
    assert b'"size": 1000' in await stream_upload(port, 1000)


# -- a full disk during an upload ------------------------------------------------------------


async def test_upload_on_a_full_disk_is_507_not_a_crash(
    serve: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bug: ENOSPC while spooling escaped the parser: a 500, a traceback in the log and
    the connection dropped. Now: 507 through the handler, temp files closed."""
    real = tempfile.TemporaryFile

    class Full:
        def __init__(self) -> None:
            self.f = real(dir=tmp_path)

        def write(self, data: Any) -> int:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def close(self) -> None:
            self.f.close()

    monkeypatch.setattr(tempfile, "TemporaryFile", lambda *a, **k: Full())

    class Up(RequestHandler):
        def post(self) -> None:
            self.write("stored")

    app = Application([(r"/", Up)], upload_spool_threshold=10, upload_tmp_dir=str(tmp_path))
    srv = await serve(app)
    async with httpx.AsyncClient() as client:
        r = await client.post(srv.base_url, files={"f": ("a.bin", b"x" * 1000)})
    assert r.status_code == 507
