"""``SelectorThread`` and ``AddThreadSelectorEventLoop``, as in Tornado 6.

They give an event loop without the ``add_reader`` family (Windows' proactor loop) those
methods, by running :func:`select.select` in a hidden daemon thread and calling back on
the loop's own thread. tornadish never needs them itself (on Linux and macOS every asyncio
loop has ``add_reader``), but they wrap any loop, so code that builds them works here too.
"""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import errno
import functools
import select
import socket
import threading
from collections.abc import AsyncGenerator, Callable
from typing import Any, Protocol

__all__ = ["AddThreadSelectorEventLoop", "SelectorThread"]


class _HasFileno(Protocol):
    def fileno(self) -> int: ...


_FileDescriptorLike = int | _HasFileno

_selector_loops: set[SelectorThread] = set()


def _atexit_callback() -> None:
    # Join the daemon threads (and close their wakers) before the interpreter shuts down;
    # close() removes each from the set, hence the copy.
    for loop in list(_selector_loops):
        loop.close()
    _selector_loops.clear()


atexit.register(_atexit_callback)


class SelectorThread:
    """``add_reader``/``add_writer``/``remove_*`` served by a background select thread.

    Callbacks run on ``real_loop``'s thread, in the context that was current when this
    object was made. The thread starts once the loop runs, and stops on :meth:`close`, at
    the loop's ``shutdown_asyncgens`` or at interpreter exit.
    """

    _closed = False

    def __init__(self, real_loop: asyncio.AbstractEventLoop) -> None:
        self._main_thread_ctx = contextvars.copy_context()
        self._real_loop = real_loop
        self._select_cond = threading.Condition()
        self._select_args: tuple[list[_FileDescriptorLike], list[_FileDescriptorLike]] | None = None
        self._closing_selector = False
        self._thread: threading.Thread | None = None
        self._thread_manager_task: asyncio.Task[None] | None = None
        self._thread_manager_handle = self._thread_manager()

        async def thread_manager_step() -> None:
            await self._thread_manager_handle.__anext__()

        def start_thread_manager() -> None:
            # Keep the task referenced: the loop holds only a weak reference.
            self._thread_manager_task = self._real_loop.create_task(thread_manager_step())

        # Start the thread once the loop runs: a loop closed without running would
        # otherwise leave it behind.
        self._real_loop.call_soon(start_thread_manager, context=self._main_thread_ctx)

        self._readers: dict[_FileDescriptorLike, Callable[[], Any]] = {}
        self._writers: dict[_FileDescriptorLike, Callable[[], Any]] = {}
        # A byte on _waker_w wakes the select thread (it always watches _waker_r).
        self._waker_r, self._waker_w = socket.socketpair()
        self._waker_r.setblocking(False)
        self._waker_w.setblocking(False)
        _selector_loops.add(self)
        self.add_reader(self._waker_r, self._consume_waker)

    def close(self) -> None:
        """Stop and join the select thread and close the waker sockets (idempotent)."""
        if self._closed:
            return
        with self._select_cond:
            self._closing_selector = True
            self._select_cond.notify()
        self._wake_selector()
        if self._thread is not None:
            self._thread.join()
        task = self._thread_manager_task
        if task is not None:
            if not task.done():
                # The loop stopped before the task's first step: it can never leave
                # PENDING now, so silence its "destroyed but pending" report and close
                # the coroutine it never entered.
                task._log_destroy_pending = False  # type: ignore[attr-defined]
                task.cancel()
                coro = task.get_coro()
                if coro is not None:
                    coro.close()
            self._thread_manager_task = None
        _selector_loops.discard(self)
        self.remove_reader(self._waker_r)
        self._waker_r.close()
        self._waker_w.close()
        self._closed = True

    async def _thread_manager(self) -> AsyncGenerator[None, None]:
        # A daemon thread, so the atexit hook can still stop it; the generator's yield
        # lets the loop's shutdown_asyncgens() close us with GeneratorExit.
        self._thread = threading.Thread(
            name="Tornado selector", daemon=True, target=self._run_select
        )
        self._thread.start()
        self._start_select()
        try:
            yield
        except GeneratorExit:
            self.close()
            raise

    def _wake_selector(self) -> None:
        if self._closed:
            return
        try:
            self._waker_w.send(b"a")
        except BlockingIOError:
            pass

    def _consume_waker(self) -> None:
        try:
            self._waker_r.recv(1024)
        except BlockingIOError:
            pass

    def _start_select(self) -> None:
        # Snapshot the fd sets on the loop thread, so the select thread never reads the
        # dicts while they change.
        with self._select_cond:
            assert self._select_args is None
            self._select_args = (list(self._readers), list(self._writers))
            self._select_cond.notify()

    def _run_select(self) -> None:
        while True:
            with self._select_cond:
                while self._select_args is None and not self._closing_selector:
                    self._select_cond.wait()
                if self._closing_selector:
                    return
                assert self._select_args is not None
                to_read, to_write = self._select_args
                self._select_args = None
            try:
                # Windows reports a failed connect only as an exceptional condition, so
                # writers are watched for errors too and merged in.
                rs, ws, xs = select.select(to_read, to_write, to_write)
                ws = ws + xs
            except OSError as e:
                # An fd removed and closed on the loop thread before select() ran: if
                # the waker has something to say, go back for the fresh fd sets.
                if e.errno == getattr(errno, "WSAENOTSOCK", errno.EBADF):
                    rs, _, _ = select.select([self._waker_r.fileno()], [], [], 0)
                    if rs:
                        ws = []
                    else:
                        raise
                else:
                    raise
            try:
                self._real_loop.call_soon_threadsafe(
                    self._handle_select, rs, ws, context=self._main_thread_ctx
                )
            except (RuntimeError, AttributeError):
                # The loop is closed (a proactor loop may say AttributeError): nothing
                # can run the callbacks any more.
                pass

    def _handle_select(self, rs: list[_FileDescriptorLike], ws: list[_FileDescriptorLike]) -> None:
        for r in rs:
            self._handle_event(r, self._readers)
        for w in ws:
            self._handle_event(w, self._writers)
        self._start_select()

    def _handle_event(
        self, fd: _FileDescriptorLike, cb_map: dict[_FileDescriptorLike, Callable[[], Any]]
    ) -> None:
        callback = cb_map.get(fd)
        if callback is not None:
            callback()

    def add_reader(
        self, fd: _FileDescriptorLike, callback: Callable[..., object], *args: Any
    ) -> None:
        self._readers[fd] = functools.partial(callback, *args)
        self._wake_selector()

    def add_writer(
        self, fd: _FileDescriptorLike, callback: Callable[..., object], *args: Any
    ) -> None:
        self._writers[fd] = functools.partial(callback, *args)
        self._wake_selector()

    def remove_reader(self, fd: _FileDescriptorLike) -> bool:
        if self._readers.pop(fd, None) is None:
            return False
        self._wake_selector()
        return True

    def remove_writer(self, fd: _FileDescriptorLike) -> bool:
        if self._writers.pop(fd, None) is None:
            return False
        self._wake_selector()
        return True


class AddThreadSelectorEventLoop(asyncio.AbstractEventLoop):
    """A proxy for ``real_loop`` whose ``add_reader`` family runs on a :class:`SelectorThread`.

    Every other attribute is the wrapped loop's. Closing this closes the wrapped loop.
    Any loop can be wrapped; it is useful only for one without ``add_reader``.
    """

    MY_ATTRIBUTES = frozenset(
        {
            "_real_loop",
            "_selector",
            "add_reader",
            "add_writer",
            "close",
            "remove_reader",
            "remove_writer",
        }
    )

    def __getattribute__(self, name: str) -> Any:
        if name in AddThreadSelectorEventLoop.MY_ATTRIBUTES:
            return super().__getattribute__(name)
        return getattr(self._real_loop, name)

    def __init__(self, real_loop: asyncio.AbstractEventLoop) -> None:
        self._real_loop = real_loop
        self._selector = SelectorThread(real_loop)

    def close(self) -> None:
        self._selector.close()
        self._real_loop.close()

    def add_reader(  # type: ignore[override]  # a plain signature, not PEP 646's
        self, fd: Any, callback: Callable[..., object], *args: Any
    ) -> None:
        self._selector.add_reader(fd, callback, *args)

    def add_writer(  # type: ignore[override]  # a plain signature, not PEP 646's
        self, fd: Any, callback: Callable[..., object], *args: Any
    ) -> None:
        self._selector.add_writer(fd, callback, *args)

    def remove_reader(self, fd: Any) -> bool:
        return self._selector.remove_reader(fd)

    def remove_writer(self, fd: Any) -> bool:
        return self._selector.remove_writer(fd)
