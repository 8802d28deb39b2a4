"""The file-descriptor half of :class:`~tornadish.ioloop.IOLoop`: Tornado's
``add_handler``/``update_handler``/``remove_handler`` over asyncio's ``add_reader`` and
``add_writer``.

A mixin, so that ``tornadish/ioloop.py`` stays about loops, callbacks and timers; it
needs only the ``asyncio_loop`` the IOLoop wraps. asyncio reports errors and hang-ups
as readability, so handlers see ``READ`` (or ``WRITE``), never ``ERROR`` on its own.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

from tornadish.log import app_log

__all__ = ["FdHandlers"]


class _Selectable(Protocol):
    """Anything with a file descriptor, such as a socket or a pipe's file object."""

    def fileno(self) -> int: ...

    def close(self) -> None: ...


class FdHandlers:
    """Watch file descriptors on the wrapped asyncio loop (mixed into ``IOLoop``)."""

    NONE: ClassVar[int] = 0
    """No events (for :meth:`update_handler`)."""
    READ: ClassVar[int] = 0x001
    """The fd is readable."""
    WRITE: ClassVar[int] = 0x004
    """The fd is writable."""
    ERROR: ClassVar[int] = 0x018
    """Error or hang-up; asyncio reports these as readability, so handlers see ``READ``."""

    _handlers: dict[int, tuple[int | _Selectable, Callable[..., object]]]
    _readers: set[int]
    _writers: set[int]

    def _setup_fd_handlers(self) -> None:
        self._handlers = {}
        self._readers = set()
        self._writers = set()

    @property
    def asyncio_loop(self) -> asyncio.AbstractEventLoop:
        """The asyncio event loop (the IOLoop's)."""
        raise NotImplementedError()

    def _remove_all_handlers(self, close_fds: bool) -> None:
        """Stop watching every fd (and close them if ``close_fds``), for ``close()``."""
        for fd, (fileobj, _) in list(self._handlers.items()):
            self.remove_handler(fd)
            if close_fds:
                self.close_fd(fileobj)

    def split_fd(self, fd: int | _Selectable) -> tuple[int, int | _Selectable]:
        """Return ``(descriptor, original object)`` for an fd or a file-like object."""
        if isinstance(fd, int):
            return fd, fd
        return fd.fileno(), fd

    def close_fd(self, fd: int | _Selectable) -> None:
        """Close an fd or a file-like object, ignoring ``OSError``."""
        try:
            if isinstance(fd, int):
                os.close(fd)
            else:
                fd.close()
        except OSError:
            pass

    @property
    def selector_loop(self) -> asyncio.AbstractEventLoop:
        """The event loop that watches descriptors for :meth:`add_handler` (Tornado's
        attribute): the asyncio loop itself, which on every platform tornadish serves
        (a selector loop or uvloop) can watch them."""
        return self.asyncio_loop

    def add_handler(
        self, fd: int | _Selectable, handler: Callable[[Any, int], object], events: int
    ) -> None:
        """Call ``handler(fd, events)`` when ``fd`` is ready for ``events`` (READ | WRITE).

        ``fd`` may be an int or an object with ``fileno()``; the handler receives the
        object given here. Adding the same fd twice raises ``ValueError``.
        """
        number, fileobj = self.split_fd(fd)
        if number in self._handlers:
            raise ValueError(f"fd {number} added twice")
        self._handlers[number] = (fileobj, handler)
        self.update_handler(number, events)

    def update_handler(self, fd: int | _Selectable, events: int) -> None:
        """Change the events a handler added with :meth:`add_handler` listens for."""
        number, _ = self.split_fd(fd)
        loop = self.asyncio_loop
        if events & self.READ:
            if number not in self._readers:
                loop.add_reader(number, self._handle_events, number, self.READ)
                self._readers.add(number)
        elif number in self._readers:
            loop.remove_reader(number)
            self._readers.discard(number)
        if events & self.WRITE:
            if number not in self._writers:
                loop.add_writer(number, self._handle_events, number, self.WRITE)
                self._writers.add(number)
        elif number in self._writers:
            loop.remove_writer(number)
            self._writers.discard(number)

    def remove_handler(self, fd: int | _Selectable) -> None:
        """Stop watching ``fd`` (does nothing if it is not watched)."""
        number, _ = self.split_fd(fd)
        if self._handlers.pop(number, None) is not None:
            self.update_handler(number, self.NONE)

    def _handle_events(self, number: int, events: int) -> None:
        entry = self._handlers.get(number)
        if entry is None:
            return
        fileobj, handler = entry
        try:
            handler(fileobj, events)
        except Exception:
            app_log.error("Exception in I/O handler for fd %s", number, exc_info=True)
