"""The permessage-deflate codec (RFC 7692) on its own: the compressor and the bounded
decompressor that ``BoundedDeflate`` and Tornado's private names share."""

from __future__ import annotations

import os
import zlib

import pytest

from tornadish._http.permessage_deflate import (
    BoundedDeflate,
    DecompressTooLargeError,
    PerMessageDeflateCompressor,
    PerMessageDeflateDecompressor,
)


@pytest.mark.parametrize("persistent", [True, False])
@pytest.mark.parametrize("wbits", [9, 12, 15, None])
def test_round_trip_message_after_message(persistent: bool, wbits: int | None) -> None:
    compressor = PerMessageDeflateCompressor(persistent, wbits)
    decompressor = PerMessageDeflateDecompressor(persistent, wbits, 1 << 20)
    for message in [b"hello " * 100, b"", os.urandom(3000), b"hello " * 100]:
        assert decompressor.decompress(compressor.compress(message)) == message


def test_the_sync_flush_tail_is_not_sent() -> None:
    """§7.2.1: the message ends without ``00 00 ff ff``; the receiver puts it back."""
    payload = PerMessageDeflateCompressor(False, None).compress(b"abc")
    raw = zlib.compressobj(6, zlib.DEFLATED, -15)
    assert payload + b"\x00\x00\xff\xff" == raw.compress(b"abc") + raw.flush(zlib.Z_SYNC_FLUSH)


def test_context_takeover_shrinks_a_repeated_message() -> None:
    message = os.urandom(500)
    taking_over = PerMessageDeflateCompressor(True, None)
    fresh = PerMessageDeflateCompressor(False, None)
    assert taking_over.compress(message) == fresh.compress(message)
    # The second copy refers back to the first: a few bytes, not 500.
    assert len(taking_over.compress(message)) < 20 < len(fresh.compress(message))


def test_compression_level_and_mem_level_are_honoured() -> None:
    message = b"tornadish " * 200
    stored = PerMessageDeflateCompressor(False, None, {"compression_level": 0})
    default = PerMessageDeflateCompressor(False, None, {"mem_level": 9})
    assert len(stored.compress(message)) > len(message) > len(default.compress(message))
    decompressor = PerMessageDeflateDecompressor(False, None, 1 << 20)
    assert decompressor.decompress(stored.compress(message)) == message


@pytest.mark.parametrize("wbits", [7, 16, 0])
def test_window_bits_outside_8_to_15_are_refused(wbits: int) -> None:
    with pytest.raises(ValueError, match="max_wbits"):
        PerMessageDeflateCompressor(False, wbits)
    with pytest.raises(ValueError, match="max_wbits"):
        PerMessageDeflateDecompressor(False, wbits, 100)


def test_a_message_at_the_limit_passes_and_one_byte_more_does_not() -> None:
    compressor = PerMessageDeflateCompressor(False, None)
    assert PerMessageDeflateDecompressor(False, None, 1000).decompress(
        compressor.compress(b"a" * 1000)
    ) == (b"a" * 1000)
    with pytest.raises(DecompressTooLargeError):
        PerMessageDeflateDecompressor(False, None, 1000).decompress(
            compressor.compress(b"a" * 1001)
        )


def test_a_bomb_is_refused_without_inflating_it() -> None:
    """16 MiB of zeros compress to ~16 KiB; inflating stops a byte past the limit."""
    bomb = PerMessageDeflateCompressor(False, None).compress(bytes(16 << 20))
    decompressor = PerMessageDeflateDecompressor(False, None, 1 << 20)
    fed = 0
    with pytest.raises(DecompressTooLargeError):
        for i in range(0, len(bomb), 1024):
            fed += len(decompressor.feed(bomb[i : i + 1024]))
    assert fed <= 1 << 20


def test_the_limit_counts_the_whole_message_across_pieces() -> None:
    payload = PerMessageDeflateCompressor(True, None).compress(os.urandom(600))
    decompressor = PerMessageDeflateDecompressor(True, None, 500)
    with pytest.raises(DecompressTooLargeError):
        for i in range(0, len(payload), 100):
            decompressor.feed(payload[i : i + 100])
    # The failed message left nothing behind: the next one starts afresh.
    ok = PerMessageDeflateCompressor(True, None).compress(b"fine")
    assert decompressor.decompress(ok) == b"fine"


def test_data_that_is_not_deflate_raises_zlib_error() -> None:
    with pytest.raises(zlib.error):
        PerMessageDeflateDecompressor(False, None, 100).decompress(b"\xff\xff\xff\xff")


def test_bounded_deflate_compresses_with_the_agreed_parameters() -> None:
    """What the connection sends is compressed with the side's agreed window and
    context takeover, and the tuning options it was built with."""
    ext = BoundedDeflate(1 << 20, {"compression_level": 0})
    assert ext.accept("permessage-deflate; server_no_context_takeover") is not None
    compressor = ext.compressor(client=False)
    assert ext.compressor(client=False) is compressor  # made once
    message = b"abc" * 100
    first, second = compressor.compress(message), compressor.compress(message)
    assert first == second and len(first) > len(message)  # stored, no takeover
