"""Content codings (RFC 9110 §8.4): gzip, br and zstd, and choosing one by
``Accept-Encoding``.

Rules of this module:

1. gzip is always there (zlib); br needs the ``brotli`` package and zstd
   ``compression.zstd`` (Python 3.14+) or ``backports.zstd`` (the ``brotli`` and ``zstd``
   extras). What is installed is found once, at import.
2. :func:`choose` reads ``Accept-Encoding`` as RFC 9110 §12.5.3 says: q-values, ``q=0``
   as a refusal (also of what ``*`` would admit), ``*`` for any coding not named. Among
   the codings with the highest weight, br, then zstd, then gzip (the smallest output
   first). Answers are cached per header value (bounded): clients repeat theirs.
3. An :class:`Encoder` compresses a response in pieces: ``compress`` what is written,
   ``flush`` at each ``flush()`` of the handler (the client can decode all it has
   received), ``finish`` at the end. A :class:`Decoder` undoes one for request bodies
   and client responses, in pieces too, so a small body that inflates hugely is caught
   by the caller's size check before it is all in memory.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["AVAILABLE", "Decoder", "Encoder", "choose", "decoder", "encoder"]

_brotli: Any
try:
    import brotli as _brotli  # type: ignore[import-untyped, no-redef]
except ImportError:  # the brotli extra is not installed
    _brotli = None

_zstd: Any
try:
    from compression import zstd as _zstd  # type: ignore[import-not-found, no-redef]
except ImportError:
    try:
        from backports import zstd as _zstd
    except ImportError:  # neither Python 3.14 nor the zstd extra
        _zstd = None

#: The codings this process can produce, in order of preference at equal weight.
AVAILABLE: tuple[str, ...] = tuple(
    name
    for name, present in (("br", _brotli is not None), ("zstd", _zstd is not None), ("gzip", True))
    if present
)

GZIP_LEVEL = 6
BROTLI_QUALITY = 4  # what CDNs use on the fly: most of br's gain at gzip's cost
ZSTD_LEVEL = 3  # zstd's own default

_CHOSEN: dict[tuple[str, tuple[str, ...]], str | None] = {}
_CHOSEN_LIMIT = 512


def choose(accept_encoding: str, offered: tuple[str, ...] = AVAILABLE) -> str | None:
    """The coding to answer with, from the request's ``Accept-Encoding``, among
    ``offered`` (in order of preference); None for identity.

    >>> choose("gzip, deflate, br;q=0.9", ("br", "gzip"))
    'gzip'
    >>> choose("*;q=0.5, gzip;q=0", ("br", "gzip"))
    'br'
    """
    key = (accept_encoding, offered)
    if key in _CHOSEN:
        return _CHOSEN[key]
    weights: dict[str, float] = {}
    for item in accept_encoding.split(","):
        name, _, params = item.partition(";")
        name = name.strip().lower()
        if not name:
            continue
        q = 1.0
        for param in params.split(";"):
            pname, _, pvalue = param.partition("=")
            if pname.strip().lower() == "q":
                try:
                    q = float(pvalue.strip())
                except ValueError:
                    q = 0.0  # a malformed weight admits nothing
        if name == "x-gzip":
            name = "gzip"  # RFC 9110 §8.4.1.3
        weights[name] = max(q, weights.get(name, 0.0)) if name in weights else q
    best: str | None = None
    best_q = 0.0
    star = weights.get("*")
    for name in offered:
        q = weights.get(name, star if star is not None else 0.0)
        if q > best_q:
            best, best_q = name, q
    if len(_CHOSEN) >= _CHOSEN_LIMIT:
        _CHOSEN.clear()
    _CHOSEN[key] = best
    return best


class Encoder(Protocol):
    """Compresses one response in pieces (see the module's rules)."""

    def compress(self, data: bytes) -> bytes: ...

    def flush(self) -> bytes: ...

    def finish(self) -> bytes: ...


class _Gzip:
    __slots__ = ("_z",)

    def __init__(self, level: int) -> None:
        # wbits 16+: the gzip container (header and CRC), as browsers expect.
        self._z = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)

    def compress(self, data: bytes) -> bytes:
        return self._z.compress(data)

    def flush(self) -> bytes:
        return self._z.flush(zlib.Z_SYNC_FLUSH)

    def finish(self) -> bytes:
        return self._z.flush(zlib.Z_FINISH)


class _Brotli:
    __slots__ = ("_c",)

    def __init__(self, quality: int) -> None:
        assert _brotli is not None
        self._c = _brotli.Compressor(quality=quality)

    def compress(self, data: bytes) -> bytes:
        return bytes(self._c.process(data))

    def flush(self) -> bytes:
        return bytes(self._c.flush())

    def finish(self) -> bytes:
        return bytes(self._c.finish())


class _Zstd:
    __slots__ = ("_c",)

    def __init__(self, level: int) -> None:
        self._c = _zstd.ZstdCompressor(level=level)

    def compress(self, data: bytes) -> bytes:
        return bytes(self._c.compress(data, mode=self._c.CONTINUE))

    def flush(self) -> bytes:
        return bytes(self._c.flush(mode=self._c.FLUSH_BLOCK))

    def finish(self) -> bytes:
        return bytes(self._c.flush(mode=self._c.FLUSH_FRAME))


def encoder(coding: str, level: int | None = None) -> Encoder:
    """A fresh encoder for ``coding`` (one of :data:`AVAILABLE`), at ``level`` or the
    module's default for it."""
    if coding == "gzip":
        return _Gzip(GZIP_LEVEL if level is None else level)
    if coding == "br" and _brotli is not None:
        return _Brotli(BROTLI_QUALITY if level is None else level)
    if coding == "zstd" and _zstd is not None:
        return _Zstd(ZSTD_LEVEL if level is None else level)
    raise ValueError(f"content coding {coding!r} is not available here")


class Decoder(Protocol):
    """Undoes one coding in pieces; ``decompress`` returns at most ``max_length`` bytes
    where given, keeping the rest for the next call (see :attr:`needs_input`)."""

    def decompress(self, data: bytes, max_length: int = -1) -> bytes: ...

    @property
    def needs_input(self) -> bool: ...

    @property
    def eof(self) -> bool: ...


class _GzipDecoder:
    __slots__ = ("_z",)

    def __init__(self) -> None:
        self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        if max_length < 0:
            return self._z.decompress(self._z.unconsumed_tail + data)
        return self._z.decompress(self._z.unconsumed_tail + data, max_length)

    @property
    def needs_input(self) -> bool:
        return not self._z.unconsumed_tail

    @property
    def eof(self) -> bool:
        return self._z.eof


class _BrotliDecoder:
    __slots__ = ("_d",)

    def __init__(self) -> None:
        assert _brotli is not None
        self._d = _brotli.Decompressor()

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        if max_length < 0:
            return bytes(self._d.process(data))
        return bytes(self._d.process(data, output_buffer_limit=max_length))

    @property
    def needs_input(self) -> bool:
        can_accept = getattr(self._d, "can_accept_more_data", None)
        return True if can_accept is None else bool(can_accept())

    @property
    def eof(self) -> bool:
        return bool(self._d.is_finished())


class _ZstdDecoder:
    __slots__ = ("_d",)

    def __init__(self) -> None:
        self._d = _zstd.ZstdDecompressor()

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        return bytes(self._d.decompress(data, max_length))

    @property
    def needs_input(self) -> bool:
        return bool(self._d.needs_input)

    @property
    def eof(self) -> bool:
        return bool(self._d.eof)


_DECODERS: dict[str, Callable[[], Decoder]] = {"gzip": _GzipDecoder, "x-gzip": _GzipDecoder}
if _brotli is not None:
    _DECODERS["br"] = _BrotliDecoder
if _zstd is not None:
    _DECODERS["zstd"] = _ZstdDecoder


def decoder(coding: str) -> Decoder | None:
    """A fresh decoder for ``coding`` (case-insensitive), or None if this process
    cannot undo it."""
    make = _DECODERS.get(coding.strip().lower())
    return make() if make is not None else None
