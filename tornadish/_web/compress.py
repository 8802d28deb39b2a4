"""Output transforms: ``OutputTransform`` (the hook), ``ContentEncoding`` (what
``compress_response=True`` uses: br, zstd or gzip by the request's ``Accept-Encoding``)
and Tornado's gzip-only ``GZipContentEncoding``.

An application lists transform *classes*; each request that runs a handler gets fresh
instances, which see the response head and every body chunk on its way out.
Applications without transforms pay nothing: the handler's transform list stays empty.
The codings themselves are :mod:`tornadish._http.codings`'.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tornadish._http import codings

if TYPE_CHECKING:
    from tornadish._http.headers import HTTPHeaders
    from tornadish._http.request import HTTPServerRequest

__all__ = ["ContentEncoding", "GZipContentEncoding", "OutputTransform"]

# The compressible types beside text/* that Tornado's gzip transform knows.
_TORNADO_TYPES = frozenset(
    [
        "application/javascript",
        "application/x-javascript",
        "application/xml",
        "application/atom+xml",
        "application/json",
        "application/xhtml+xml",
        "image/svg+xml",
    ]
)


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


class ContentEncoding(OutputTransform):
    """Compress responses with the best coding the client accepts: br, zstd or gzip
    (RFC 9110 §12.5.3 negotiation, see :func:`tornadish._http.codings.choose`; br and
    zstd when their packages are installed, the ``brotli`` and ``zstd`` extras).

    What ``compress_response=True`` installs. Only compressible types (``text/*`` but
    ``text/event-stream``, and the types in ``CONTENT_TYPES``) are compressed, never a
    body known to be shorter than ``MIN_LENGTH``, never a response that already has a
    ``Content-Encoding``, and never a partial (206) response, whose ``Content-Range``
    counts uncompressed bytes. Every response gets ``Vary: Accept-Encoding``, since
    caches must not hand a compressed body to a client that did not ask for one.

    Streaming responses work: each ``flush()`` sends what has been compressed so far
    (a sync flush of the coding), so a client sees the data without waiting for the end.
    """

    CONTENT_TYPES: set[str] = {*_TORNADO_TYPES, "application/manifest+json", "application/wasm"}
    #: The codings offered, best first (those installed, see the class docstring).
    CODINGS: tuple[str, ...] = codings.AVAILABLE
    #: Compression levels; None: the coding's default (gzip 6, br 4, zstd 3).
    LEVELS: dict[str, int] = {}
    MIN_LENGTH = 1024

    def __init__(self, request: HTTPServerRequest) -> None:
        accept = request.headers.get("Accept-Encoding", "")
        self._coding = codings.choose(accept, self.CODINGS) if accept else None
        self._encoder: codings.Encoder | None = None

    def _compressible_type(self, ctype: str) -> bool:
        if ctype.startswith("text/"):
            return ctype != "text/event-stream"  # a stream of events is never buffered
        return ctype in self.CONTENT_TYPES

    def transform_first_chunk(
        self, status_code: int, headers: HTTPHeaders, chunk: bytes, finishing: bool
    ) -> tuple[int, HTTPHeaders, bytes]:
        vary = headers.get("Vary")
        if vary is None:
            headers["Vary"] = "Accept-Encoding"
        elif "accept-encoding" not in vary.lower():
            headers["Vary"] = vary + ", Accept-Encoding"
        coding = self._coding
        if coding is None or not self._should_compress(status_code, headers, chunk, finishing):
            self._coding = None
            return status_code, headers, chunk
        headers["Content-Encoding"] = coding
        self._encoder = codings.encoder(coding, self._level(coding))
        chunk = self.transform_chunk(chunk, finishing)
        if "Content-Length" in headers:
            # The length changed. Known again only if this is the whole body;
            # otherwise the response falls back to chunked encoding.
            if finishing:
                headers["Content-Length"] = str(len(chunk))
            else:
                del headers["Content-Length"]
        return status_code, headers, chunk

    def _level(self, coding: str) -> int | None:
        return self.LEVELS.get(coding)

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
        encoder = self._encoder
        if encoder is None:
            return chunk
        data = encoder.compress(chunk) if chunk else b""
        if finishing:
            return data + encoder.finish()
        # A sync flush on every flush(): the client can decompress what it has so far
        # (events streamed through a compressor would otherwise stall in it).
        return data + encoder.flush()


class GZipContentEncoding(ContentEncoding):
    """Tornado's transform: gzip only, for clients that send ``Accept-Encoding: gzip``
    (``ContentEncoding`` otherwise; ``GZIP_LEVEL`` as in Tornado)."""

    CODINGS = ("gzip",)
    CONTENT_TYPES = set(_TORNADO_TYPES)
    GZIP_LEVEL = 6

    def __init__(self, request: HTTPServerRequest) -> None:
        super().__init__(request)
        # Tornado's test: "gzip" anywhere in the header (no q-values).
        self._coding = "gzip" if "gzip" in request.headers.get("Accept-Encoding", "") else None

    def _level(self, coding: str) -> int | None:
        return self.GZIP_LEVEL

    @property
    def _gzipping(self) -> bool:
        return self._coding is not None
