"""``multipart/form-data`` parsed while it arrives, large files spooled to disk.

The application's dispatcher feeds body chunks here instead of buffering the body, so an
upload of any size (up to ``max_body_size``) costs a bounded amount of memory:

- each uploaded file stays in memory up to ``upload_spool_threshold`` bytes (setting,
  default 1 MiB); past that it moves to an anonymous temporary file in
  ``upload_tmp_dir`` (setting; the system default otherwise). Anonymous: the file has no
  name on disk, so nothing is left behind even if the process dies;
- ``request.files[name]`` holds :class:`UploadedFile` objects (Tornado's ``filename``,
  ``body``, ``content_type``, plus ``file`` and ``size``);
- the raw body is kept as ``request.body`` only while it is small (at most the spool
  threshold): past that ``request.body`` is ``b""``;
- temporary files are closed (and so deleted) when the request finishes, fails, or the
  client goes away mid-body;
- a spool that cannot be written (a full disk) is not a crash: the error is logged once
  and the request is answered ``507 Insufficient Storage`` (``500`` for other I/O
  errors) when its handler would run.

A malformed body is not refused on the spot: the error is kept and raised when the
handler would run, so the 400 goes through the handler's own ``write_error``.
"""

from __future__ import annotations

import errno
import io
import tempfile
from typing import IO, Any

from tornadish._http.headers import HTTPHeaders, HTTPInputError
from tornadish._http.parse import (
    HTTPFile,
    MultipartFormDataParser,
    _parse_header,
    get_parse_body_config,
)
from tornadish._web.errors import HTTPError
from tornadish.log import gen_log

__all__ = ["MultipartUpload", "UploadedFile"]

DEFAULT_SPOOL_THRESHOLD = 1 << 20


class UploadedFile(HTTPFile):
    """A file from a ``multipart/form-data`` upload.

    Tornado's fields ``filename``, ``content_type`` and ``body``, plus ``size`` (bytes)
    and ``file``, a binary file object positioned at the start of the content.

    For a file larger than ``upload_spool_threshold`` the content lives in a temporary
    file: ``body`` then reads it (the whole file, on every access), so prefer ``file``
    for large uploads, e.g. ``shutil.copyfileobj(f.file, dest)``. The temporary file is
    closed and gone once the request has finished: copy what you want to keep.
    """

    filename: str
    content_type: str
    size: int

    def __init__(
        self,
        filename: str,
        content_type: str,
        size: int,
        body: bytes | None = None,
        file: IO[bytes] | None = None,
    ) -> None:
        super().__init__(filename=filename, content_type=content_type, size=size)
        self._spool = file
        if body is not None:
            self["body"] = body

    @property
    def spooled(self) -> bool:
        """True when the content is in a temporary file rather than in memory."""
        return self._spool is not None

    @property
    def file(self) -> IO[bytes]:
        """The content as a binary file object (a fresh ``BytesIO`` for small files)."""
        if self._spool is not None:
            self._spool.seek(0)
            return self._spool
        return io.BytesIO(dict.__getitem__(self, "body"))

    @property
    def body(self) -> bytes:  # type: ignore[override]  # a field in HTTPFile, read-only here
        """The content as bytes (read from the temporary file when spooled)."""
        spool = self._spool
        if spool is None:
            return dict.__getitem__(self, "body")  # type: ignore[no-any-return]
        spool.seek(0)
        return spool.read()

    def __getitem__(self, key: str) -> Any:
        if key == "body" and self._spool is not None:
            return self.body
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        """``dict.get`` that also reads a spooled ``body``."""
        if key == "body" and self._spool is not None:
            return self.body
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        return key == "body" or super().__contains__(key)

    def close(self) -> None:
        """Close (and so delete) the temporary file, if any."""
        if self._spool is not None:
            self._spool.close()


class _SpoolingParser(MultipartFormDataParser):
    """The streaming parser, with file parts spooled past a threshold."""

    def __init__(
        self,
        boundary: bytes,
        arguments: dict[str, list[bytes]],
        files: dict[str, list[HTTPFile]],
        threshold: int,
        tmp_dir: str | None,
    ) -> None:
        super().__init__(boundary, arguments, files)
        self._threshold = threshold
        self._tmp_dir = tmp_dir
        self._size = 0
        self._spool: IO[bytes] | None = None
        self.spools: list[IO[bytes]] = []

    def _on_headers_finished(self) -> None:
        super()._on_headers_finished()
        self._size = 0
        self._spool = None

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        n = end - start
        self._size += n
        if not self._filename:
            super()._on_part_data(data, start, end)
            return
        spool = self._spool
        if spool is None:
            if self._size <= self._threshold:
                self._chunks.append(data[start:end])
                return
            # Anonymous (unlinked at once where the OS allows): nothing to clean up if
            # the process dies, and no name for another user to guess.
            spool = tempfile.TemporaryFile(dir=self._tmp_dir)  # noqa: SIM115 (closed by close())
            self.spools.append(spool)
            self._spool = spool
            for chunk in self._chunks:
                spool.write(chunk)
            self._chunks = []
        # A view, not a slice: the part's bytes go to disk without an extra copy.
        spool.write(memoryview(data)[start:end])

    def _on_part_end(self) -> None:
        if not self._filename:
            super()._on_part_end()
            return
        content_type = self._headers.get("Content-Type", "application/unknown")
        spool = self._spool
        if spool is None:
            upload = UploadedFile(
                self._filename, content_type, self._size, body=b"".join(self._chunks)
            )
            self._chunks = []
        else:
            spool.flush()
            upload = UploadedFile(self._filename, content_type, self._size, file=spool)
            self._spool = None
        self.files.setdefault(self._name, []).append(upload)


class MultipartUpload:
    """One ``multipart/form-data`` request body, parsed as it arrives.

    Built by the application's dispatcher at head time; ``feed`` each chunk, ``end``
    once the body is complete, ``close`` when the request is over.
    """

    __slots__ = ("_body_chunks", "_body_size", "_parser", "error", "request_body_limit")

    def __init__(
        self,
        content_type: str,
        headers: HTTPHeaders,
        arguments: dict[str, list[bytes]],
        files: dict[str, list[HTTPFile]],
        threshold: int,
        tmp_dir: str | None,
    ) -> None:
        self.error: HTTPInputError | HTTPError | None = None
        self._parser: _SpoolingParser | None = None
        self._body_chunks: list[bytes] | None = []
        self._body_size = 0
        # request.body keeps the raw bytes while they are few (Tornado code that reads
        # request.body keeps working for ordinary forms), never a large upload.
        self.request_body_limit = threshold
        try:
            if "Content-Encoding" in headers:
                raise HTTPInputError(f"Unsupported Content-Encoding: {headers['Content-Encoding']}")
            if not get_parse_body_config().multipart.enabled:
                raise HTTPInputError("multipart/form-data parsing is disabled")
            _, params = _parse_header(content_type)
            boundary = params.get("boundary")
            if not boundary:
                raise HTTPInputError("multipart boundary not found")
            self._parser = _SpoolingParser(
                boundary.encode("utf-8"), arguments, files, threshold, tmp_dir
            )
        except HTTPInputError as e:
            self._fail(e)

    def _fail(self, e: HTTPInputError) -> None:
        if not str(e).startswith("Invalid multipart/form-data"):
            e = HTTPInputError(f"Invalid multipart/form-data: {e}")
        self.error = e
        self._body_chunks = None
        self.close()
        self._parser = None  # the rest of the body is read and dropped

    def feed(self, chunk: bytes) -> None:
        """Parse the next body chunk (errors are kept for :meth:`check`)."""
        chunks = self._body_chunks
        if chunks is not None:
            self._body_size += len(chunk)
            if self._body_size <= self.request_body_limit:
                chunks.append(chunk)
            else:
                self._body_chunks = None
        parser = self._parser
        if parser is not None:
            try:
                parser.feed(chunk)
            except HTTPInputError as e:
                self._fail(e)
            except OSError as e:
                self._spool_failed(e)

    def _spool_failed(self, e: OSError) -> None:
        # Creating or writing a temporary file failed: the server's problem, not the
        # client's. One line for the operator (no traceback: the cause is all there is
        # to know); the handler answers with a 5xx through its own write_error.
        gen_log.error("Could not spool an upload to disk: %s", e)
        full = e.errno in (errno.ENOSPC, errno.EDQUOT)
        self._fail(HTTPInputError(str(e)))
        self.error = HTTPError(507 if full else 500)

    def end(self) -> bytes:
        """The body is complete: check it was, and return what ``request.body`` holds."""
        parser = self._parser
        if parser is not None:
            try:
                parser.close()
            except HTTPInputError as e:
                self._fail(e)
        chunks = self._body_chunks
        return b"".join(chunks) if chunks else b""

    def check(self) -> None:
        """Raise the body's parse error (``HTTPInputError``) or the spooling failure
        (``HTTPError``), if it had one."""
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        """Close every temporary file (idempotent)."""
        parser = self._parser
        if parser is not None:
            for spool in parser.spools:
                spool.close()
            parser.spools = []
