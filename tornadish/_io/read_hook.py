"""Tornado's ``read_from_fd`` hook on a stream whose reads an asyncio transport does.

In Tornado every byte a stream reads passes through ``read_from_fd(buf)``, and code
that wraps it (to count bytes, to see a reset, in Tornado's own tests) relies on that.
Here the transport has read the bytes before the stream sees them, so the transport's
delivery stands in for the file. Rules of this module:

1. A stream whose ``read_from_fd`` is overridden (by a subclass, or on the instance at
   any time) gets its bytes through it: what the transport delivers waits in an inbox
   that the default ``read_from_fd`` reads, and Tornado's read step calls the override
   until it returns ``None`` (nothing waiting) or ``0`` (the end of the stream).
2. Any other stream takes the transport's bytes directly: the same bytes in the same
   order as the default hook would give, without the copy.
3. An exception from the hook closes the stream with it as ``error``, logged as Tornado
   logs it (``error on read: ...``) unless it says the peer reset the connection, which
   is a close like any other (Tornado's rule, for platforms that report a clean close
   so); a pending ``read_until_close`` then still gets the buffered bytes.
"""

from __future__ import annotations

from typing import Any

from tornadish.log import gen_log

__all__ = ["ReadFromFd"]


class ReadFromFd:
    """The ``read_from_fd`` half of Tornado's ``BaseIOStream`` (see the module)."""

    # Where the transport's bytes wait for an overridden hook; created on first use.
    _inbox: bytearray | None = None
    _inbox_eof = False
    # Set for each subclass: whether it overrides read_from_fd.
    _read_hook_overridden = False

    # What the stream provides (BaseIOStream).
    read_chunk_size: int
    _closed: bool

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._read_hook_overridden = cls.read_from_fd is not ReadFromFd.read_from_fd

    def read_from_fd(self, buf: bytearray | memoryview) -> int | None:
        """Move up to ``len(buf)`` bytes the transport delivered into ``buf``; return
        their count, ``None`` if none is waiting, ``0`` at the end of the stream
        (Tornado's contract).

        Override it to see (or alter) every byte the stream reads: the stream then
        calls it whenever the transport delivers bytes or the end of the stream. Not
        overridden, the stream takes the transport's bytes directly, and a direct call
        finds nothing waiting.
        """
        inbox = self._inbox
        if not inbox:
            return 0 if self._inbox_eof else None
        size = min(len(buf), len(inbox))
        buf[:size] = inbox[:size]
        del inbox[:size]
        return size

    def _read_hooked(self) -> bool:
        """True if this stream's bytes go through an overridden ``read_from_fd``."""
        return self._read_hook_overridden or "read_from_fd" in self.__dict__

    def _eof(self) -> None:
        """The transport saw the end of the stream: the stream closes (Tornado keeps no
        half-open streams), after the hook has seen the end where there is one."""
        if self._closed:
            return
        if self._read_hooked():
            self._hooked_read(None)
        else:
            self.close()

    def _hooked_read(self, data: bytes | None) -> None:
        """Tornado's read step: queue ``data`` (``None``: the end of the stream) for
        the hook, then hand the stream what the hook returns."""
        if data is None:
            self._inbox_eof = True
        elif self._inbox is None:
            self._inbox = bytearray(data)
        else:
            self._inbox += data
        while not self._closed:
            buf = bytearray(self.read_chunk_size)
            try:
                size = self.read_from_fd(buf)
            except Exception as e:
                if not self._is_connreset(e):
                    gen_log.warning("error on read: %s" % e)
                self.close(exc_info=e)
                return
            if size is None:
                break
            if size == 0:
                self.close()
                return
            self._data(bytes(memoryview(buf)[:size]))
        if self._inbox_eof and not self._closed:
            self.close()  # a hook that never reports the end: the transport has ended

    # What the stream provides (BaseIOStream); declared for the type checker.
    def _data(self, data: bytes) -> None:
        raise NotImplementedError

    def _is_connreset(self, exc: BaseException) -> bool:
        raise NotImplementedError

    def close(self, exc_info: Any = False) -> None:
        raise NotImplementedError
