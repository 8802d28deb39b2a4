"""``IOLoop``: Tornado's event-loop API as a thin facade over an asyncio event loop.

tornadish has no event loop of its own. Every :class:`IOLoop` wraps exactly one asyncio
loop (uvloop's when it is installed, unless switched off), and every asyncio loop has at
most one :class:`IOLoop`, so ``IOLoop.current()`` returns the same object for as long as
the loop lives.

The classic Tornado entry points work unchanged::

    from tornadish.ioloop import IOLoop, PeriodicCallback

    def tick() -> None:
        print("tick")

    PeriodicCallback(tick, 1000).start()  # every second
    IOLoop.current().call_later(5, IOLoop.current().stop)
    IOLoop.current().start()

and so does running one coroutine to completion::

    async def main() -> int:
        return 42

    IOLoop.current().run_sync(main)  # -> 42

Inside ``asyncio.run(...)`` (or any running loop) ``IOLoop.current()`` is the running loop.

Choosing the loop implementation: new loops created by tornadish use
``uvloop.new_event_loop()`` when uvloop can be imported, unless the environment variable
``TORNADISH_NO_UVLOOP`` is set to a true value (``1``, ``yes``, ``true``) or
:meth:`IOLoop.configure_uvloop` was called with ``False``. Loops created elsewhere (for
example by ``asyncio.run``) are used as they are.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime
import functools
import inspect
import math
import numbers
import os
import random
import sys
import threading
import warnings
import weakref
from collections.abc import Callable
from typing import Any, ClassVar, Literal, TypeVar, overload

from tornadish._ioloop_fds import FdHandlers
from tornadish.log import app_log
from tornadish.util import TimeoutError, import_object

__all__ = ["IOLoop", "PeriodicCallback", "TimeoutError"]

_T = TypeVar("_T")


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _thread_loop() -> asyncio.AbstractEventLoop | None:
    """The loop ``asyncio.set_event_loop`` made current for this thread, if any.

    ``asyncio.get_event_loop()`` would do, except that before 3.14 it may create a loop
    behind our back (with a DeprecationWarning on 3.12/3.13); we want to create the loop
    ourselves so that uvloop is used.
    """
    if sys.version_info >= (3, 14):
        # get_event_loop() no longer creates loops, so it never warns.
        try:
            return asyncio.get_event_loop()
        except RuntimeError:
            return None
    policy = asyncio.get_event_loop_policy()
    local = getattr(policy, "_local", None)
    if local is not None:
        # BaseDefaultEventLoopPolicy (and uvloop's policy, a subclass) keep the thread's
        # loop here; reading it cannot create or warn.
        loop: asyncio.AbstractEventLoop | None = getattr(local, "_loop", None)
        return loop
    # A third-party policy: ask it, silencing the "no current event loop" deprecation.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            return policy.get_event_loop()
        except RuntimeError:
            return None


def _this_threads_loop() -> asyncio.AbstractEventLoop | None:
    """The running loop, else the thread's current loop unless it is closed."""
    loop = _running_loop() or _thread_loop()
    return loop if loop is not None and not loop.is_closed() else None


def _env_disables_uvloop() -> bool:
    return os.environ.get("TORNADISH_NO_UVLOOP", "").strip().lower() in ("1", "true", "yes", "on")


def _current_asyncio_loop() -> asyncio.AbstractEventLoop:
    """The running loop, else the loop ``IOLoop.current()`` would use (created if need be)."""
    loop = _running_loop()
    if loop is not None:
        return loop
    return IOLoop.current().asyncio_loop


class IOLoop(FdHandlers):
    """Tornado's ``IOLoop`` over an asyncio event loop.

    ``IOLoop()`` creates a *new* asyncio loop (uvloop when available) and, with
    ``make_current=True`` (the default, as in Tornado 6), makes it the thread's current
    event loop; ``close()`` undoes that. ``IOLoop(asyncio_loop=loop)`` wraps an existing
    loop instead. Most code never constructs one and uses :meth:`current` instead.

    Only :meth:`add_callback` (and :meth:`stop`) may be called from other threads; every
    other method must run on the loop's thread, as in Tornado.

    As in Tornado, ``IOLoop()`` builds an ``AsyncIOLoop`` (or the class chosen with
    :meth:`configure`) and ``IOLoop.current()`` wraps the thread's loop in an
    ``AsyncIOMainLoop`` (both in :mod:`tornadish.platform.asyncio`).
    """

    # One IOLoop per asyncio loop. Weak keys so loops nobody else references can be
    # collected (wrappers made by current() hold their loop weakly to allow that).
    _by_loop: ClassVar[weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, IOLoop]] = (
        weakref.WeakKeyDictionary()
    )
    _ioloop_for_asyncio = _by_loop  # Tornado's name (its tests count entries for leaks)
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()
    _uvloop_choice: ClassVar[bool | None] = None
    _configured: ClassVar[tuple[type[IOLoop] | None, dict[str, Any]]] = (None, {})

    def __new__(cls, *args: Any, **kwargs: Any) -> IOLoop:
        # IOLoop() builds the configured class, as Tornado's Configurable does; a
        # subclass builds itself. Python then runs that class's __init__.
        impl = cls.configured_class() if cls is IOLoop else cls
        return super().__new__(impl)

    def __init__(
        self,
        make_current: bool | None = None,
        *,
        asyncio_loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        if make_current is None:
            make_current = bool(IOLoop._configured[1].get("make_current", True))
        created = asyncio_loop is None
        loop = IOLoop._new_asyncio_loop() if asyncio_loop is None else asyncio_loop
        self._setup(loop, strong=True)
        with IOLoop._registry_lock:
            IOLoop._forget_closed_loops()
            existing = IOLoop._by_loop.get(loop)
            if existing is not None:
                if created:
                    loop.close()
                raise RuntimeError(f"IOLoop {existing!r} already wraps asyncio loop {loop!r}")
            IOLoop._by_loop[loop] = self
        if make_current:
            self._make_current()

    def _setup(self, loop: asyncio.AbstractEventLoop, *, strong: bool) -> None:
        self._strong_loop: asyncio.AbstractEventLoop | None = loop if strong else None
        self._weak_loop: weakref.ref[asyncio.AbstractEventLoop] = weakref.ref(loop)
        self._setup_fd_handlers()
        # The IOStreams on this loop: Tornado's close(all_fds=True) closes their sockets
        # (they are its handlers); ours live in transports, so they are closed by name.
        self._streams: weakref.WeakSet[Any] = weakref.WeakSet()
        self._executor: concurrent.futures.Executor | None = None
        self._made_current = False
        self._previous_loop: asyncio.AbstractEventLoop | None = None
        self._closing = False
        # asyncio keeps only weak references to tasks; coroutines returned by callbacks
        # must not be collected half-way, so hold them until they finish.
        self._pending: set[asyncio.Future[Any]] = set()

    @staticmethod
    def _forget_closed_loops() -> None:
        # Loops closed through asyncio (not IOLoop.close) would otherwise keep their
        # strongly-held IOLoop in the registry forever.
        for loop in list(IOLoop._by_loop.keys()):
            if loop.is_closed():
                IOLoop._by_loop.pop(loop, None)

    @staticmethod
    def _for_loop(loop: asyncio.AbstractEventLoop, *, strong: bool = False) -> IOLoop:
        """The IOLoop wrapping ``loop``, created on first use."""
        ioloop = IOLoop._by_loop.get(loop)
        if ioloop is not None:
            return ioloop
        with IOLoop._registry_lock:
            ioloop = IOLoop._by_loop.get(loop)
            if ioloop is None:
                IOLoop._forget_closed_loops()
                ioloop = AsyncIOMainLoop.__new__(AsyncIOMainLoop)
                ioloop._setup(loop, strong=strong)
                IOLoop._by_loop[loop] = ioloop
            return ioloop

    # -- choosing and finding loops ------------------------------------------------------

    @classmethod
    def configure(cls, impl: type[IOLoop] | str | None, **kwargs: Any) -> None:
        """Choose the class ``IOLoop()`` builds: an IOLoop subclass or its dotted name
        (``"tornadish.platform.asyncio.AsyncIOLoop"``), or ``None`` for the default,
        ``AsyncIOLoop``. ``make_current`` may be given as its default.

        Every IOLoop here is asyncio-based, so this only picks among subclasses (as
        Tornado 6, which accepts only asyncio ones); the loop *implementation* is
        chosen with :meth:`configure_uvloop`.
        """
        if isinstance(impl, str):
            impl = import_object(impl)
        if impl is not None and not (isinstance(impl, type) and issubclass(impl, IOLoop)):
            raise ValueError(f"Invalid subclass of IOLoop: {impl!r}")
        if set(kwargs) - {"make_current"}:
            raise TypeError(f"IOLoop.configure takes only make_current, not {sorted(kwargs)}")
        IOLoop._configured = (impl, dict(kwargs))

    @classmethod
    def configured_class(cls) -> type[IOLoop]:
        """The class ``IOLoop()`` builds (see :meth:`configure`)."""
        return IOLoop._configured[0] or AsyncIOLoop

    @classmethod
    def configure_uvloop(cls, enabled: bool | None) -> None:
        """Choose whether loops tornadish creates from now on use uvloop.

        ``True``/``False`` force the choice (``True`` still needs uvloop installed);
        ``None`` returns to the default: uvloop if importable, unless the environment
        variable ``TORNADISH_NO_UVLOOP`` is true. Existing loops are not affected.

        >>> IOLoop.configure_uvloop(False)   # plain asyncio loops from now on
        >>> IOLoop.configure_uvloop(None)    # back to the default
        """
        cls._uvloop_choice = enabled

    @classmethod
    def uvloop_enabled(cls) -> bool:
        """Whether the next loop tornadish creates will be a uvloop loop."""
        wanted = cls._uvloop_choice
        if wanted is None:
            wanted = not _env_disables_uvloop()
        if not wanted:
            return False
        try:
            import uvloop  # noqa: F401
        except ImportError:
            return False
        return True

    @classmethod
    def _new_asyncio_loop(cls) -> asyncio.AbstractEventLoop:
        if cls.uvloop_enabled():
            import uvloop

            loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
            return loop
        return asyncio.new_event_loop()

    @overload
    @staticmethod
    def current() -> IOLoop: ...

    @overload
    @staticmethod
    def current(instance: Literal[True]) -> IOLoop: ...

    @overload
    @staticmethod
    def current(instance: bool) -> IOLoop | None: ...

    @staticmethod
    def current(instance: bool = True) -> IOLoop | None:
        """The running loop's IOLoop; else the thread's current loop's; else a new one.

        A new loop (uvloop when enabled) is made the thread's current asyncio loop, so
        ``IOLoop.current()`` keeps returning it and ``start()`` runs it. With
        ``instance=False`` nothing is created and ``None`` is returned instead.

        Unlike Tornado, a thread's current loop that has been closed is not reused: a
        fresh loop replaces it.
        """
        loop = _this_threads_loop()
        if loop is not None:
            return IOLoop._for_loop(loop)
        if not instance:
            return None
        loop = IOLoop._new_asyncio_loop()
        ioloop = IOLoop._for_loop(loop, strong=True)
        ioloop._made_current = True
        asyncio.set_event_loop(loop)
        return ioloop

    @staticmethod
    def instance() -> IOLoop:
        """Alias for :meth:`current` (deprecated in Tornado since 5.0)."""
        return IOLoop.current()

    def make_current(self) -> None:
        """Make this loop the thread's current asyncio loop (deprecated, as in Tornado)."""
        warnings.warn(
            "make_current is deprecated; start the event loop first", DeprecationWarning, 2
        )
        self._make_current()

    def install(self) -> None:
        """Make this the thread's current loop, if it is not already (Tornado 4 code's
        ``AsyncIOMainLoop().install()``; an alias of ``make_current`` since Tornado 5)."""
        if _thread_loop() is not self.asyncio_loop:
            self._make_current()

    def _make_current(self) -> None:
        if not self._made_current:
            self._previous_loop = _thread_loop()
            self._made_current = True
        asyncio.set_event_loop(self.asyncio_loop)

    @staticmethod
    def clear_current() -> None:
        """Undo :meth:`make_current` for this thread (deprecated, as in Tornado)."""
        warnings.warn("clear_current is deprecated", DeprecationWarning, 2)
        current = IOLoop.current(instance=False)
        if current is not None:
            current._clear_current_hook()

    @staticmethod
    def clear_instance() -> None:
        """Alias for :meth:`clear_current` (deprecated)."""
        IOLoop.clear_current()

    def _clear_current_hook(self) -> None:
        if self._made_current:
            if _thread_loop() is self._weak_loop():
                asyncio.set_event_loop(self._previous_loop)
            self._made_current = False
            self._previous_loop = None

    @property
    def asyncio_loop(self) -> asyncio.AbstractEventLoop:
        """The asyncio event loop this IOLoop wraps."""
        loop = self._strong_loop
        if loop is None:
            loop = self._weak_loop()
            if loop is None:
                raise RuntimeError("the asyncio loop behind this IOLoop no longer exists")
        return loop

    def __repr__(self) -> str:
        loop = self._weak_loop()
        return f"<{type(self).__name__} asyncio_loop={loop!r}>"

    # -- running ------------------------------------------------------------------------

    def start(self) -> None:
        """Run the loop until :meth:`stop` is called (``asyncio_loop.run_forever()``)."""
        self.asyncio_loop.run_forever()

    def stop(self) -> None:
        """Stop the loop after the current iteration; ``start()`` then returns.

        May be called from another thread. If the loop is not running, the next
        ``start()`` returns after one iteration, as in Tornado.
        """
        loop = self.asyncio_loop
        if _running_loop() is loop or not loop.is_running():
            loop.stop()
            return
        try:
            loop.call_soon_threadsafe(loop.stop)
        except RuntimeError:
            pass  # closed meanwhile: nothing left to stop

    def close(self, all_fds: bool = False) -> None:
        """Close the asyncio loop, dropping fd handlers (and closing the fds, and the
        IOStreams on the loop, if ``all_fds``).

        A loop this IOLoop made current stops being the thread's current loop. Closing
        twice is harmless; closing a running loop raises ``RuntimeError``.
        """
        if self._closing:
            return
        loop = self.asyncio_loop
        if loop.is_running():
            raise RuntimeError("Cannot close a running IOLoop; stop it first")
        self._closing = True
        self._remove_all_handlers(all_fds)
        streams = list(self._streams) if all_fds else []
        for stream in streams:
            stream.close()
        if streams and not loop.is_closed():
            # A transport finishes closing (and closes its socket) a loop turn later.
            loop.run_until_complete(asyncio.sleep(0))
        with IOLoop._registry_lock:
            if IOLoop._by_loop.get(loop) is self:
                del IOLoop._by_loop[loop]
        self._clear_current_hook()
        loop.close()
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None

    def run_sync(self, func: Callable[[], Any], timeout: float | None = None) -> Any:
        """Start the loop, run ``func``, stop the loop, and return ``func``'s result.

        ``func`` may be a coroutine function or return any awaitable (or a list/dict of
        them) or ``None``; another value raises ``gen.BadYieldError``, as in Tornado.
        An exception from it is re-raised here. If
        ``timeout`` seconds pass first, the work is cancelled and
        :class:`~tornadish.util.TimeoutError` is raised. If something else stops the
        loop first, ``RuntimeError`` is raised.

        >>> async def main() -> str:
        ...     return "done"
        >>> IOLoop(make_current=False).run_sync(main)
        'done'
        """
        loop = self.asyncio_loop
        started: list[asyncio.Future[Any]] = []
        timed_out = False

        def begin() -> None:
            try:
                result = func()
                future = _as_future(result, loop)
            except Exception as exc:
                future = loop.create_future()
                future.set_exception(exc)
            started.append(future)
            future.add_done_callback(lambda _: loop.stop())

        def expire() -> None:
            nonlocal timed_out
            timed_out = True
            # Cancelling lets the work clean up; its completion then stops the loop.
            if not started or not started[0].cancel():
                loop.stop()

        loop.call_soon(begin)
        handle = loop.call_later(timeout, expire) if timeout is not None else None
        try:
            self.start()
        finally:
            if handle is not None:
                handle.cancel()
        if started:
            future = started[0]
            if future.done() and not (timed_out and future.cancelled()):
                return future.result()
            if timed_out:
                # The work is finished (or abandoned); keep asyncio from warning later.
                if future.done() and not future.cancelled():
                    future.exception()
                raise TimeoutError(f"Operation timed out after {timeout} seconds")
        raise RuntimeError("Event loop stopped before Future completed.")

    def time(self) -> float:
        """The loop's clock (``asyncio_loop.time()``, monotonic), the base for deadlines."""
        return self.asyncio_loop.time()

    # -- callbacks and timers -----------------------------------------------------------

    def add_callback(self, callback: Callable[..., object], *args: Any, **kwargs: Any) -> None:
        """Call ``callback(*args, **kwargs)`` on the next loop iteration.

        Safe to call from any thread. Exceptions are logged to ``tornadish.application``;
        if the callback returns an awaitable, it is run and its failure logged too.
        Calls on a closed loop are silently dropped, as in Tornado.
        """
        loop = self.asyncio_loop
        call = functools.partial(callback, *args, **kwargs) if args or kwargs else callback
        try:
            if _running_loop() is loop:
                loop.call_soon(self._run_callback, call)
            else:
                loop.call_soon_threadsafe(self._run_callback, call)
        except RuntimeError:
            pass  # "Event loop is closed"

    def add_callback_from_signal(
        self, callback: Callable[..., object], *args: Any, **kwargs: Any
    ) -> None:
        """Like :meth:`add_callback`, for signal handlers (deprecated, as in Tornado 6.4).

        Prefer ``asyncio_loop.add_signal_handler``.
        """
        warnings.warn("add_callback_from_signal is deprecated", DeprecationWarning, 2)
        call = functools.partial(callback, *args, **kwargs)
        try:
            self.asyncio_loop.call_soon_threadsafe(self._run_callback, call)
        except RuntimeError:
            pass

    def spawn_callback(self, callback: Callable[..., object], *args: Any, **kwargs: Any) -> None:
        """Same as :meth:`add_callback` (as in Tornado 6)."""
        self.add_callback(callback, *args, **kwargs)

    def _run_callback(self, callback: Callable[[], object]) -> None:
        try:
            result = callback()
        except asyncio.CancelledError:
            return
        except Exception:
            app_log.error("Exception in callback %r", callback, exc_info=True)
            return
        if result is not None:
            self._watch(result, callback)

    def _watch(self, result: object, callback: Callable[[], object]) -> None:
        """Run an awaitable a callback returned, logging its failure."""
        from tornadish.gen import BadYieldError, convert_yielded

        try:
            future = convert_yielded(result)
        except BadYieldError:
            return  # an ordinary return value: ignore it, as Tornado does
        self._pending.add(future)
        future.add_done_callback(functools.partial(self._finish_watched, callback))

    def _finish_watched(self, callback: Callable[[], object], future: asyncio.Future[Any]) -> None:
        self._pending.discard(future)
        if future.cancelled():
            return
        exc = future.exception()
        if exc is not None:
            app_log.error("Exception in callback %r", callback, exc_info=exc)

    def call_at(
        self, when: float, callback: Callable[..., object], *args: Any, **kwargs: Any
    ) -> asyncio.TimerHandle:
        """Call ``callback`` at ``when`` (in :meth:`time` terms); returns a cancellable handle."""
        call = functools.partial(callback, *args, **kwargs)
        return self.asyncio_loop.call_at(when, self._run_callback, call)

    def call_later(
        self, delay: float, callback: Callable[..., object], *args: Any, **kwargs: Any
    ) -> asyncio.TimerHandle:
        """Call ``callback`` after ``delay`` seconds; returns a cancellable handle."""
        call = functools.partial(callback, *args, **kwargs)
        return self.asyncio_loop.call_later(delay, self._run_callback, call)

    def add_timeout(
        self,
        deadline: float | datetime.timedelta,
        callback: Callable[..., object],
        *args: Any,
        **kwargs: Any,
    ) -> asyncio.TimerHandle:
        """Call ``callback`` at ``deadline``: a :meth:`time` value or a ``timedelta`` from now.

        >>> loop = IOLoop(make_current=False)
        >>> handle = loop.add_timeout(datetime.timedelta(seconds=1), print, "late")
        >>> loop.remove_timeout(handle)
        >>> loop.close()
        """
        # Typed loosely on purpose: callers from untyped code pass anything.
        value: object = deadline
        if isinstance(value, datetime.timedelta):
            return self.call_later(value.total_seconds(), callback, *args, **kwargs)
        if isinstance(value, numbers.Real):
            return self.call_at(float(value), callback, *args, **kwargs)
        raise TypeError(f"Unsupported deadline {deadline!r}")

    def remove_timeout(self, timeout: object) -> None:
        """Cancel a handle returned by :meth:`add_timeout`, :meth:`call_at` or :meth:`call_later`.

        Cancelling an expired or already cancelled handle (or ``None``) does nothing.
        """
        if timeout is None:
            return
        cancel = getattr(timeout, "cancel", None)
        if not callable(cancel):
            raise TypeError(f"not a timeout handle: {timeout!r}")
        cancel()

    @overload
    def add_future(
        self, future: asyncio.Future[_T], callback: Callable[[asyncio.Future[_T]], object]
    ) -> None: ...

    @overload
    def add_future(
        self,
        future: concurrent.futures.Future[_T],
        callback: Callable[[concurrent.futures.Future[_T]], object],
    ) -> None: ...

    def add_future(self, future: Any, callback: Callable[[Any], object]) -> None:
        """Call ``callback(future)`` on the loop once ``future`` is done.

        Accepts asyncio futures and ``concurrent.futures.Future`` (whose callback is
        routed back to this loop's thread). Errors in ``callback`` are logged.
        """
        if isinstance(future, asyncio.Future):
            future.add_done_callback(
                lambda done: self._run_callback(functools.partial(callback, done))
            )
        elif isinstance(future, concurrent.futures.Future):
            future.add_done_callback(lambda done: self.add_callback(callback, done))
        else:
            raise TypeError(f"add_future needs a Future, not {future!r}")

    def run_in_executor(
        self,
        executor: concurrent.futures.Executor | None,
        func: Callable[..., _T],
        *args: Any,
    ) -> asyncio.Future[_T]:
        """Run ``func(*args)`` in ``executor`` (``None``: the default one); await the result.

        Use ``functools.partial`` for keyword arguments.
        """
        if executor is None:
            executor = self._executor
        return self.asyncio_loop.run_in_executor(executor, func, *args)

    def set_default_executor(self, executor: concurrent.futures.Executor) -> None:
        """Use ``executor`` when :meth:`run_in_executor` is given ``None``.

        Unlike asyncio's own setter, any ``Executor`` is accepted, as in Tornado.
        """
        if isinstance(executor, concurrent.futures.ThreadPoolExecutor):
            self.asyncio_loop.set_default_executor(executor)
            self._executor = None
        else:
            self._executor = executor


class AsyncIOMainLoop(IOLoop):
    """The :class:`IOLoop` of this thread's asyncio loop, the kind ``IOLoop.current()``
    returns (public as ``tornadish.platform.asyncio.AsyncIOMainLoop``).

    That is the running loop, else the thread's current loop, else a new loop (uvloop
    when enabled) made current. As in Tornado, an asyncio loop has one IOLoop: once
    ``IOLoop.current()`` has made one for this loop, constructing an
    ``AsyncIOMainLoop`` raises ``RuntimeError``. Keyword arguments (Tornado's
    ``make_current``) have nothing to do: the loop is the thread's already.
    """

    def __init__(self, **kwargs: Any) -> None:
        loop = _this_threads_loop()
        if loop is None:
            # A new loop, made the thread's current one (and closed by close()).
            super().__init__(make_current=True)
        else:
            # It is the thread's loop already; close() closes it, as in Tornado.
            super().__init__(make_current=False, asyncio_loop=loop)


class AsyncIOLoop(IOLoop):
    """An :class:`IOLoop` on a new asyncio event loop (uvloop when enabled), or on
    ``asyncio_loop`` when given: what ``IOLoop()`` builds (public as
    ``tornadish.platform.asyncio.AsyncIOLoop``).

    ``make_current`` (default true) makes it the thread's current loop until
    :meth:`close`.
    """

    def __init__(
        self,
        make_current: bool | None = None,
        *,
        asyncio_loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(make_current=make_current, asyncio_loop=asyncio_loop)


def _as_future(result: object, loop: asyncio.AbstractEventLoop) -> asyncio.Future[Any]:
    """A future for whatever ``run_sync``'s function returned."""
    from tornadish.gen import convert_yielded

    if result is not None:
        # Anything but None must be awaitable: gen.BadYieldError otherwise, as in Tornado.
        return convert_yielded(result)
    future = loop.create_future()
    future.set_result(result)
    return future


class PeriodicCallback:
    """Call ``callback`` every ``callback_time`` milliseconds (or a ``timedelta``).

    The schedule stays aligned to the start time: if a call (including an awaited
    coroutine) overruns, missed ticks are skipped rather than run late or in parallel.
    ``jitter`` (for example ``0.1``) randomises each interval by up to ±5% so that many
    timers with one period do not fire together.

    >>> pc = PeriodicCallback(lambda: None, 500)   # every half second
    >>> pc.is_running()
    False

    ``start()`` binds to ``IOLoop.current()``, so a callback made in another thread can
    be started with ``io_loop.add_callback(pc.start)``.
    """

    def __init__(
        self,
        callback: Callable[[], object],
        callback_time: float | datetime.timedelta,
        jitter: float = 0,
    ) -> None:
        self.callback = callback
        if isinstance(callback_time, datetime.timedelta):
            callback_time = callback_time / datetime.timedelta(milliseconds=1)
        if not callback_time > 0:
            raise ValueError("Periodic callback must have a positive callback_time")
        self.callback_time: float = callback_time
        self.jitter = jitter
        self.io_loop: IOLoop | None = None
        self._running = False
        self._timer: asyncio.TimerHandle | None = None
        self._next_timeout = 0.0
        self._in_flight: asyncio.Future[Any] | None = None
        # Bumped by start() so a coroutine from before a stop()/start() cycle does not
        # schedule a second chain of timers when it finally finishes.
        self._generation = 0

    def start(self) -> None:
        """Start calling; the first call comes one period from now."""
        if self._running:
            return
        self.io_loop = IOLoop.current()
        self._running = True
        self._generation += 1
        self._next_timeout = self.io_loop.time()
        self._schedule_next()

    def stop(self) -> None:
        """Stop calling (a coroutine already running is left to finish)."""
        self._running = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def is_running(self) -> bool:
        """Whether :meth:`start` was called and :meth:`stop` was not since."""
        return self._running

    def _run(self) -> None:
        self._timer = None
        if not self._running:
            return
        if self._in_flight is not None:
            # A restart left the previous run going; never run two at once.
            self._schedule_next()
            return
        try:
            result = self.callback()
        except Exception:
            app_log.error("Exception in callback %r", self.callback, exc_info=True)
            result = None
        if result is not None and inspect.isawaitable(result):
            assert self.io_loop is not None
            future = asyncio.ensure_future(result, loop=self.io_loop.asyncio_loop)
            self._in_flight = future
            future.add_done_callback(functools.partial(self._run_done, self._generation))
            return
        self._schedule_next()

    def _run_done(self, generation: int, future: asyncio.Future[Any]) -> None:
        self._in_flight = None
        if not future.cancelled():
            exc = future.exception()
            if exc is not None:
                app_log.error("Exception in callback %r", self.callback, exc_info=exc)
        if generation == self._generation:
            self._schedule_next()

    def _schedule_next(self) -> None:
        if not self._running or self.io_loop is None:
            return
        self._update_next(self.io_loop.time())
        self._timer = self.io_loop.asyncio_loop.call_at(self._next_timeout, self._run)

    def _update_next(self, now: float) -> None:
        """Move ``_next_timeout`` to the next tick after ``now`` (Tornado's name)."""
        period = self.callback_time / 1000.0
        if self.jitter:
            period *= 1 + self.jitter * (random.random() - 0.5)
        if self._next_timeout <= now:
            # Stay on the grid that started at start(): skip every tick already missed.
            missed = math.floor((now - self._next_timeout) / period)
            self._next_timeout += (missed + 1) * period
        else:
            # Clock went backwards (or a restart raced); still move forward one period.
            self._next_timeout += period
