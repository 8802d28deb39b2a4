"""Streams over pipes: :class:`PipeIOStream` (Unix only, as in Tornado).

Rules of this module:

1. The file descriptor's access mode says which way the pipe goes: a read end gets
   ``loop.connect_read_pipe``, a write end ``loop.connect_write_pipe``; a descriptor
   open both ways (a tty, a socket) gets both, the reading one on a duplicate.
2. The transports are made by the stream's attach task; until then, writes wait in the
   stream's buffer (and still go out if the stream is closed meanwhile:
   ``stream.write(data); stream.close()`` is how a child's stdin is fed).
"""

from __future__ import annotations

import io
import os
import sys

from tornadish._io.stream_base import (
    HANDED_OVER,
    NOT_STARTED,
    READ,
    WRITE,
    BaseIOStream,
    StreamProtocol,
)

__all__ = ["PipeIOStream"]


class PipeIOStream(BaseIOStream):
    """A stream over a pipe's file descriptor (Tornado's ``PipeIOStream``), such as one
    end from ``os.pipe()``; it takes the descriptor over and closes it with the stream.

    >>> r, w = os.pipe()  # doctest: +SKIP
    >>> reader, writer = PipeIOStream(r), PipeIOStream(w)  # doctest: +SKIP
    >>> await writer.write(b"hello\\n")  # doctest: +SKIP
    >>> await reader.read_until(b"\\n")  # doctest: +SKIP
    b'hello\\n'
    """

    def __init__(
        self,
        fd: int,
        max_buffer_size: int | None = None,
        read_chunk_size: int | None = None,
        max_write_buffer_size: int | None = None,
    ) -> None:
        if sys.platform == "win32":
            raise AssertionError("PipeIOStream is not supported on Windows")
        import fcntl

        #: The file descriptor.
        self.fd = fd
        mode = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE
        self._readable = mode in (os.O_RDONLY, os.O_RDWR)
        self._writable = mode in (os.O_WRONLY, os.O_RDWR)
        os.set_blocking(fd, False)
        super().__init__(max_buffer_size, read_chunk_size, max_write_buffer_size)
        self._owned_files: list[io.FileIO] = []  # not yet given to a transport
        self._attach_task = self._loop.create_task(self._attach_pipes())

    def fileno(self) -> int:
        """The file descriptor."""
        return self.fd

    def _can_write(self) -> bool:
        return self._writable

    async def _attach_pipes(self) -> None:
        loop = self._loop
        self._attach_phase = HANDED_OVER
        # The read end of a two-way descriptor is a duplicate: each transport closes
        # its own.
        files = []
        if self._writable:
            files.append((WRITE, io.FileIO(self.fd, "w")))
        if self._readable:
            fd = os.dup(self.fd) if self._writable else self.fd
            files.append((READ, io.FileIO(fd, "r")))
        self._owned_files = [f for _, f in files]
        try:
            for role, file in files:
                protocol = StreamProtocol(self, role)
                if role == WRITE:
                    await loop.connect_write_pipe(lambda p=protocol: p, file)  # type: ignore[misc]
                else:
                    await loop.connect_read_pipe(lambda p=protocol: p, file)  # type: ignore[misc]
                self._owned_files.remove(file)
        except BaseException as e:
            # A transport that failed (or was cancelled) has let go of the descriptor:
            # uvloop has closed it already, asyncio closes the file object later.
            # Closing the file object now, before anything can reuse the number,
            # leaves no stale one behind to close someone else's descriptor.
            self._close_owned()
            if not isinstance(e, Exception):
                raise
            self._attach_failed(e)

    def _close_owned(self) -> None:
        files, self._owned_files = self._owned_files, []
        for file in files:
            try:
                file.close()
            except OSError:
                pass  # closed already (by uvloop): the file object is marked closed now

    def _close_file(self) -> None:
        if self._attach_phase == NOT_STARTED:
            os.close(self.fd)
        else:
            self._close_owned()
