"""A full disk during an upload.

Uploaded files past ``upload_spool_threshold`` are spooled to ``upload_tmp_dir``. When
that disk fills up the client gets ``507 Insufficient Storage`` (a server-side
condition, so a 5xx, but not a crash: no traceback, one error line for the operator),
every temporary file is closed, nothing leaks, and the server keeps serving.

Two ways to fill the disk: a real 64 KiB tmpfs (needs the right to mount, i.e. root
in a container; skipped otherwise) and, everywhere, a spool file whose writes fail
with ``ENOSPC`` after a few KiB.
"""

from __future__ import annotations

import errno
import logging
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from tornadish.web import Application, RequestHandler

from .test_faults import Book, Leaks, errors_logged, still_serves, warm_up

pytestmark = pytest.mark.timeout_async(120)


def upload_app(book: Book, tmp_dir: Path) -> Application:
    class Hello(RequestHandler):
        def get(self) -> None:
            self.write("Hello")

    class Upload(RequestHandler):
        def initialize(self) -> None:
            book.new(self)

        def on_finish(self) -> None:
            book.finish(self)

        def post(self) -> None:
            self.write({k: [f.size for f in v] for k, v in self.request.files.items()})

    return Application(
        [(r"/", Hello), (r"/upload", Upload)],
        upload_spool_threshold=1024,
        upload_tmp_dir=str(tmp_dir),
    )


class _FillingFile:
    """A real temporary file that fails with ENOSPC once ``room`` bytes are written."""

    def __init__(self, real: IO[bytes], room: int) -> None:
        self._real = real
        self._room = room

    def write(self, data: Any) -> int:
        n = len(data)
        if n > self._room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._room -= n
        return self._real.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


@pytest.fixture
def simulated_full_disk(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    real = tempfile.TemporaryFile

    def filling(*args: Any, **kwargs: Any) -> Any:
        return _FillingFile(real(*args, **kwargs), room=8192)

    monkeypatch.setattr(tempfile, "TemporaryFile", filling)
    return tmp_path


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    try:
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
            check=True,
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError) as e:
        pytest.skip(f"cannot mount a tmpfs here ({e}); the simulated variant covers it")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False, timeout=10)


async def upload_too_big(serve: Any, tmp_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    book = Book()
    srv = await serve(upload_app(book, tmp_dir))
    await warm_up(srv.port)
    leaks = Leaks(tmp_dir)
    big = os.urandom(256 * 1024)
    async with httpx.AsyncClient(timeout=30) as client:
        r = await client.post(
            f"http://127.0.0.1:{srv.port}/upload",
            files={"f": ("big.bin", big)},
            data={"note": "x"},
        )
        assert r.status_code == 507, r.text
        assert "Traceback" not in r.text
        # A small upload (kept in memory) still works on the same server.
        r = await client.post(
            f"http://127.0.0.1:{srv.port}/upload", files={"f": ("s.bin", b"small")}
        )
        assert r.status_code == 200 and r.json() == {"f": [5]}
    await leaks.check()
    await book.all_finished()
    await still_serves(srv.port)
    errors = errors_logged(caplog)
    assert len(errors) == 1 and "No space left on device" in errors[0], errors
    assert all(r.exc_info is None for r in caplog.records if r.levelno >= logging.ERROR)


async def test_full_disk_during_upload_simulated(
    serve: Any, simulated_full_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await upload_too_big(serve, simulated_full_disk, caplog)


async def test_full_disk_during_upload_real_tmpfs(
    serve: Any, tiny_tmpfs: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await upload_too_big(serve, tiny_tmpfs, caplog)
