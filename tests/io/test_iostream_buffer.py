"""``_StreamBuffer``, the write buffer of ``tornadish.iostream``: Tornado 6.6.1's
``TestStreamBuffer``, ported (the class is private, but Tornado's tests import it)."""

from __future__ import annotations

import os
import random
from typing import Any

import pytest

from tornadish.iostream import _StreamBuffer


def to_bytes(b: Any) -> bytes:
    if isinstance(b, (bytes, bytearray)):
        return bytes(b)
    assert isinstance(b, memoryview)
    return b.tobytes()


def make_streambuffer(large_buf_threshold: int = 10) -> _StreamBuffer:
    buf = _StreamBuffer()
    assert buf._large_buf_threshold
    buf._large_buf_threshold = large_buf_threshold
    return buf


def check_peek(buf: _StreamBuffer, expected: bytes) -> None:
    size = 1
    while size < 2 * len(expected):
        with buf.peek(size) as view:  # released before the buffer changes
            got = to_bytes(view)
        assert got
        assert len(got) <= size
        assert expected.startswith(got), (expected, got)
        size = (size * 3 + 1) // 2


def check_append_all_then_skip_all(
    rng: random.Random, buf: _StreamBuffer, objs: list[bytes], input_type: Any
) -> None:
    assert len(buf) == 0
    expected = b""
    for o in objs:
        expected += o
        buf.append(input_type(o))
        assert len(buf) == len(expected)
        check_peek(buf, expected)
    while expected:
        n = rng.randrange(1, len(expected) + 1)
        expected = expected[n:]
        buf.advance(n)
        assert len(buf) == len(expected)
        check_peek(buf, expected)
    assert len(buf) == 0


def assert_resizable(data: bytearray) -> None:
    data += b"!"  # BufferError if a view of it is still alive
    del data[-1:]


def assert_not_resizable(data: bytearray) -> None:
    with pytest.raises(BufferError):
        data += b"!"


@pytest.fixture
def rng() -> random.Random:
    return random.Random(42)


def test_small(rng: random.Random) -> None:
    objs = [b"12", b"345", b"67", b"89a", b"bcde", b"fgh", b"ijklmn"]
    for input_type in (bytes, bytearray, memoryview):
        check_append_all_then_skip_all(rng, make_streambuffer(), objs, input_type)
    # The merging of small pieces:
    buf = make_streambuffer(10)
    for _ in range(9):
        buf.append(b"x")
    assert len(buf._buffers) == 1
    for _ in range(9):
        buf.append(b"x")
    assert len(buf._buffers) == 2
    buf.advance(10)
    assert len(buf._buffers) == 1
    buf.advance(8)
    assert len(buf._buffers) == 0
    assert len(buf) == 0


def test_large(rng: random.Random) -> None:
    objs = [b"12" * 5, b"345" * 2, b"67" * 20, b"89a" * 12, b"bcde" * 1, b"fgh" * 7, b"ijklmn" * 2]
    for input_type in (bytes, bytearray, memoryview):
        check_append_all_then_skip_all(rng, make_streambuffer(), objs, input_type)
    # Large pieces are kept apart:
    buf = make_streambuffer(10)
    for _ in range(3):
        buf.append(b"x" * 11)
    assert len(buf._buffers) == 3
    buf.append(b"y")
    assert len(buf._buffers) == 4
    buf.append(b"z")
    assert len(buf._buffers) == 4
    buf.advance(33)
    assert len(buf._buffers) == 1
    buf.advance(2)
    assert len(buf._buffers) == 0
    assert len(buf) == 0


def test_release_large_views() -> None:
    # Large bytearrays are kept by reference, and released once consumed.
    buf = make_streambuffer(10)
    a = bytearray(b"a" * 20)
    b = bytearray(b"b" * 20)
    buf.append(a)
    buf.append(b)
    assert_not_resizable(a)
    buf.advance(15)
    assert_not_resizable(a)
    check_peek(buf, b"a" * 5 + b"b" * 20)
    buf.advance(10)
    assert_resizable(a)
    assert_not_resizable(b)
    buf.advance(15)
    assert_resizable(b)
    assert len(buf) == 0


def test_clear() -> None:
    buf = make_streambuffer(10)
    large = bytearray(b"x" * 20)
    buf.append(b"12345")
    buf.append(large)
    buf.append(b"67")
    buf.advance(3)
    assert_not_resizable(large)
    buf.clear()
    assert_resizable(large)
    assert len(buf) == 0
    assert len(buf._buffers) == 0
    with buf.peek(10) as view:
        assert len(view) == 0
    buf.append(b"abc")  # still usable
    check_peek(buf, b"abc")
    buf.advance(3)
    assert len(buf) == 0


def test_interleaved_random(rng: random.Random) -> None:
    for threshold in [1, 10, 100]:
        buf = make_streambuffer(threshold)
        expected = b""
        inputs = []
        for _ in range(500):
            if expected and rng.random() < 0.5:
                n = rng.randrange(1, len(expected) + 1)
                buf.advance(n)
                expected = expected[n:]
            else:
                data = os.urandom(rng.randrange(0, 3 * threshold))
                obj = rng.choice([bytes, bytearray, memoryview])(data)
                inputs.append(obj)
                buf.append(obj)
                expected += data
            assert len(buf) == len(expected)
            if expected:
                size = rng.randrange(1, 2 * len(expected) + 1)
                with buf.peek(size) as view:
                    got = view.tobytes()
                assert got
                assert expected.startswith(got)
        if expected:
            buf.advance(len(expected))
        assert len(buf) == 0
        for obj in inputs:
            if isinstance(obj, bytearray):
                assert_resizable(obj)


def test_pop_all() -> None:
    buf = make_streambuffer(4)
    large = bytearray(b"large!")
    buf.append(b"ab")
    buf.append(large)
    buf.append(b"cd")
    assert buf.pop_all() == b"ablarge!cd"
    assert len(buf) == 0
    assert_resizable(large)
