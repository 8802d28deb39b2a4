"""What a message's body becomes before its delegate sees it: decompressed and cut into
bounded pieces. One wrapper delegate, used by tornadish's server (``decompress_request``,
``chunk_size``) and by ``tornadish.http1connection`` (``decompress``).

Rules of the house: no I/O; the wrapped delegate's awaitables are passed up (so reading
waits for them), and a piece is never handed over before the previous one's awaitable
is done.
"""

from __future__ import annotations

import zlib
from collections.abc import Awaitable, Iterator

from tornadish._http import codings
from tornadish._http.contract import HTTPConnection, HTTPMessageDelegate
from tornadish._http.headers import HTTPHeaders, HTTPInputError
from tornadish._http.parse import RequestStartLine, ResponseStartLine
from tornadish.util import GzipDecompressor

__all__ = ["BodyDecoder", "BodyTooLarge"]

# Request codings beyond Tornado's gzip, where this process can undo them.
_MORE_CODINGS = frozenset(c for c in ("br", "zstd") if c in codings.AVAILABLE)


def _pieces(decoder: codings.Decoder, data: bytes, size: int) -> Iterator[bytes]:
    """What ``data`` decodes to, at most ``size`` bytes at a time (so a bomb is caught
    by the size check before it is all in memory)."""
    out = decoder.decompress(data, size)
    while out:
        yield out
        if decoder.needs_input or decoder.eof:
            return
        out = decoder.decompress(b"", size)


class BodyTooLarge(HTTPInputError):
    """A body that grew past the connection's ``max_body_size`` once decompressed: the
    connection answers it as it answers any body over its limit (400, or a route's
    413)."""


class BodyDecoder(HTTPMessageDelegate):
    """Wraps ``delegate``: its ``data_received`` gets pieces of at most ``chunk_size``
    bytes (Tornado's promise), ``Content-Encoding: gzip`` bodies decompressed where
    ``gzip`` (and br and zstd ones, where their packages are installed: see
    :mod:`tornadish._http.codings`), the decompressed size bounded by
    ``conn.max_body_size`` (read at each piece: a streaming handler's ``prepare()`` may
    change it)."""

    def __init__(
        self, delegate: HTTPMessageDelegate, chunk_size: int, conn: HTTPConnection, gzip: bool
    ) -> None:
        self._delegate = delegate
        self._chunk_size = chunk_size
        self._gzip = gzip
        self._gunzip: GzipDecompressor | None = None
        self._decoder: codings.Decoder | None = None  # br or zstd
        self._coding = ""
        self._conn = conn
        self._inflated = 0

    def headers_received(
        self, start_line: RequestStartLine | ResponseStartLine, headers: HTTPHeaders
    ) -> Awaitable[None] | None:
        coding = headers.get("Content-Encoding", "").strip().lower() if self._gzip else ""
        if coding == "gzip":
            self._gunzip = GzipDecompressor()
        elif coding in _MORE_CODINGS:
            self._decoder = codings.decoder(coding)
        if self._gunzip is not None or self._decoder is not None:
            self._coding = coding
            # As Tornado: the delegate sees a plain body, and where it came from.
            headers.add("X-Consumed-Content-Encoding", headers["Content-Encoding"])
            del headers["Content-Encoding"]
        return self._delegate.headers_received(start_line, headers)

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        gunzip = self._gunzip
        size = self._chunk_size
        if gunzip is not None:
            return self._deliver(self._inflate(gunzip.pieces(chunk, size)))
        if self._decoder is not None:
            return self._deliver(self._inflate(_pieces(self._decoder, chunk, size)))
        if len(chunk) <= size:
            return self._delegate.data_received(chunk)
        return self._deliver(chunk[i : i + size] for i in range(0, len(chunk), size))

    def _inflate(self, pieces: Iterator[bytes]) -> Iterator[bytes]:
        try:
            for out in pieces:
                # The limit applies to what the application gets: a few kilobytes of
                # gzip can inflate to gigabytes (a "gzip bomb").
                self._inflated += len(out)
                if self._inflated > self._conn.max_body_size:
                    raise BodyTooLarge("decompressed body too large")
                yield out
        except HTTPInputError:
            raise
        except Exception as e:  # zlib.error, brotli.error, ZstdError: the client's bytes
            raise HTTPInputError(f"invalid {self._coding} data: {e}") from None

    def _deliver(self, pieces: Iterator[bytes]) -> Awaitable[None] | None:
        for piece in pieces:
            result = self._delegate.data_received(piece)
            if result is not None:
                return self._after(result, pieces)
        return None

    async def _after(self, pending: Awaitable[None], pieces: Iterator[bytes]) -> None:
        await pending
        more = self._deliver(pieces)
        if more is not None:
            await more

    def finish(self) -> None:
        if self._gunzip is not None:
            try:
                self._gunzip.flush()  # a stream cut off inside a member
            except zlib.error as e:
                raise HTTPInputError(f"invalid gzip data: {e}") from None
        if self._decoder is not None and not self._decoder.eof:
            raise HTTPInputError(f"incomplete {self._coding} data")
        self._delegate.finish()

    def on_connection_close(self) -> None:
        self._delegate.on_connection_close()
