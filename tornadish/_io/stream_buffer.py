"""The write buffer of a stream: bytes waiting for the transport, as Tornado's
``_StreamBuffer`` keeps them (its tests check the layout: small pieces merged, large
ones kept as views of the caller's object and released once consumed)."""

from __future__ import annotations

import collections

__all__ = ["StreamBuffer"]


class StreamBuffer:
    """Bytes waiting to be written, with large pieces kept without copying.

    Small pieces are merged into bytearrays; a piece over ``_large_buf_threshold`` bytes
    is kept as a view of the caller's object and released once consumed (or on
    :meth:`clear`), so a caller's bytearray can be resized again.

    >>> buf = StreamBuffer()
    >>> buf.append(b"hello ")
    >>> buf.append(b"world")
    >>> with buf.peek(20) as view:
    ...     bytes(view)
    b'hello world'
    >>> buf.advance(6)
    >>> len(buf)
    5
    """

    _large_buf_threshold = 2048

    def __init__(self) -> None:
        # (is_view, data): a view of a caller's large object, or a bytearray of ours.
        self._buffers: collections.deque[tuple[bool, bytearray | memoryview]] = collections.deque()
        self._first_pos = 0  # bytes of the first piece already consumed
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def append(self, data: bytes | bytearray | memoryview) -> None:
        """Add ``data`` at the end (a byte-format buffer)."""
        size = len(data)
        if size > self._large_buf_threshold:
            self._buffers.append((True, memoryview(data)))
        elif size:
            buffers = self._buffers
            if buffers:
                is_view, last = buffers[-1]
                if not is_view and len(last) < self._large_buf_threshold:
                    last += data  # type: ignore[operator]  # a bytearray of ours
                    self._size += size
                    return
            buffers.append((False, bytearray(data)))
        self._size += size

    def peek(self, size: int) -> memoryview:
        """A view of at most ``size`` bytes (perhaps fewer) at the front; release it
        (``with``) before the buffer changes."""
        assert size > 0
        if not self._buffers:
            return memoryview(b"")
        is_view, first = self._buffers[0]
        pos = self._first_pos
        if is_view:
            return first[pos : pos + size]  # type: ignore[return-value]
        # Only the slice may outlive this call: a bytearray with a view cannot resize.
        with memoryview(first) as whole:
            return whole[pos : pos + size]

    def advance(self, size: int) -> None:
        """Drop ``size`` bytes from the front."""
        assert 0 < size <= self._size
        self._size -= size
        buffers = self._buffers
        pos = self._first_pos
        while size:
            is_view, first = buffers[0]
            left = len(first) - pos
            if size >= left:
                buffers.popleft()
                if is_view:
                    first.release()  # type: ignore[union-attr]
                size -= left
                pos = 0
            elif is_view:
                pos += size
                size = 0
            else:
                del first[: pos + size]  # type: ignore[union-attr]  # a bytearray
                pos = size = 0
        self._first_pos = pos

    def clear(self) -> None:
        """Drop everything, releasing the views of callers' objects."""
        for is_view, data in self._buffers:
            if is_view:
                data.release()  # type: ignore[union-attr]
        self._buffers.clear()
        self._first_pos = self._size = 0

    def pop_all(self) -> bytes:
        """Everything, as one ``bytes``; the buffer is then empty."""
        parts = []
        while self._size:
            with self.peek(self._size) as view:
                parts.append(view.tobytes())
            self.advance(len(parts[-1]))
        return b"".join(parts)
