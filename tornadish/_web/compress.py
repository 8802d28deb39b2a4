"""Output transforms: ``OutputTransform`` (the hook) and ``GZipContentEncoding``.

An application lists transform *classes* (``compress_response=True`` adds
``GZipContentEncoding``); each request that runs a handler gets fresh instances, which see
the response head and every body chunk on its way out. Applications without transforms
pay nothing: the handler's transform list stays empty.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tornadish._http.headers import HTTPHeaders
    from tornadish._http.request import HTTPServerRequest

__all__ = ["GZipContentEncoding", "OutputTransform"]


class OutputTransform:
    """Rewrites a response on its way out (Tornado's interface).

    ``transform_first_chunk`` sees the status, the headers and the first body chunk
    (``finishing`` is true when that chunk is the whole body); ``transform_chunk`` sees
    each later chunk.
    """

    def __init__(self, request: HTTPServerRequest) -> None:
        pass

    def transform_first_chunk(
        self, status_code: int, headers: HTTPHeaders, chunk: bytes, finishing: bool
    ) -> tuple[int, HTTPHeaders, bytes]:
        """Return the (possibly changed) status, headers and first chunk."""
        return status_code, headers, chunk

    def transform_chunk(self, chunk: bytes, finishing: bool) -> bytes:
        """Return the (possibly changed) later chunk."""
        return chunk


class GZipContentEncoding(OutputTransform):
    """Gzip responses for clients that send ``Accept-Encoding: gzip``.

    Enabled by the ``compress_response=True`` application setting. Only compressible
    types (``text/*`` and the types in ``CONTENT_TYPES``) are compressed, never a body
    known to be shorter than ``MIN_LENGTH``, never a response that already has a
    ``Content-Encoding``, and never a partial (206) response, whose ``Content-Range``
    counts uncompressed bytes. Every response gets ``Vary: Accept-Encoding``, since
    caches must not hand a gzipped body to a client that did not ask for one.

    Streaming responses work: each ``flush()`` sends what has been compressed so far
    (a zlib sync flush), so a client sees the data without waiting for the end.
    """

    CONTENT_TYPES = {
        "application/javascript",
        "application/x-javascript",
        "application/xml",
        "application/atom+xml",
        "application/json",
        "application/xhtml+xml",
        "image/svg+xml",
    }
    GZIP_LEVEL = 6
    MIN_LENGTH = 1024

    def __init__(self, request: HTTPServerRequest) -> None:
        self._gzipping = "gzip" in request.headers.get("Accept-Encoding", "")
        self._compressor: zlib._Compress | None = None

    def _compressible_type(self, ctype: str) -> bool:
        return ctype.startswith("text/") or ctype in self.CONTENT_TYPES

    def transform_first_chunk(
        self, status_code: int, headers: HTTPHeaders, chunk: bytes, finishing: bool
    ) -> tuple[int, HTTPHeaders, bytes]:
        if "Vary" in headers:
            headers["Vary"] += ", Accept-Encoding"
        else:
            headers["Vary"] = "Accept-Encoding"
        if self._gzipping:
            self._gzipping = self._should_compress(status_code, headers, chunk, finishing)
        if self._gzipping:
            headers["Content-Encoding"] = "gzip"
            # wbits 16+: the gzip container (header and CRC), as browsers expect.
            self._compressor = zlib.compressobj(self.GZIP_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
            chunk = self.transform_chunk(chunk, finishing)
            if "Content-Length" in headers:
                # The length changed. Known again only if this is the whole body;
                # otherwise the response falls back to chunked encoding.
                if finishing:
                    headers["Content-Length"] = str(len(chunk))
                else:
                    del headers["Content-Length"]
        return status_code, headers, chunk

    def _should_compress(
        self, status_code: int, headers: HTTPHeaders, chunk: bytes, finishing: bool
    ) -> bool:
        if status_code == 206 or "Content-Encoding" in headers:
            return False
        ctype = headers.get("Content-Type", "").split(";")[0].strip()
        if not self._compressible_type(ctype):
            return False
        if finishing:
            return len(chunk) >= self.MIN_LENGTH
        declared = headers.get("Content-Length")
        if declared is not None and declared.isdigit():
            # A streamed body of known length (a static file): the same small-body rule.
            return int(declared) >= self.MIN_LENGTH
        return True

    def transform_chunk(self, chunk: bytes, finishing: bool) -> bytes:
        compressor = self._compressor
        if not self._gzipping or compressor is None:
            return chunk
        data = compressor.compress(chunk)
        if finishing:
            return data + compressor.flush(zlib.Z_FINISH)
        # A sync flush on every flush(): the client can decompress what it has so far
        # (server-sent events through gzip would otherwise stall in the compressor).
        return data + compressor.flush(zlib.Z_SYNC_FLUSH)
