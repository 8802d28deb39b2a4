"""Tornado's ``tornado.platform.asyncio`` names, for code that still uses them.

In tornadish every :class:`~tornadish.ioloop.IOLoop` already is a facade over an asyncio
event loop and every future is an asyncio future, so nothing here bridges anything: these
are the old spellings of what now happens by itself. The Tornado 4/5 start-up idiom
works as it did::

    from tornadish.platform.asyncio import AsyncIOMainLoop
    from tornadish.ioloop import IOLoop

    AsyncIOMainLoop().install()   # wrap the thread's asyncio loop; make it current
    IOLoop.current().run_sync(connect_to_database)
    app.listen(8888)
    IOLoop.current().start()

- :class:`AsyncIOMainLoop` wraps the asyncio loop of this thread (the running one, or
  the thread's current one, or a new one: uvloop when enabled, see
  :mod:`tornadish.ioloop`).
- :class:`AsyncIOLoop` is an IOLoop on a new asyncio loop (what ``IOLoop()`` makes).
- :func:`to_tornado_future` and :func:`to_asyncio_future` convert between two kinds of
  future that are one kind here.
- ``AnyThreadEventLoopPolicy`` lets ``asyncio.get_event_loop()`` create a loop in any
  thread. Event loop policies are deprecated from Python 3.14, so the class is built
  only when the name is first used.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import warnings
from typing import TYPE_CHECKING, Any

from tornadish.gen import convert_yielded
from tornadish.ioloop import AsyncIOLoop, AsyncIOMainLoop, IOLoop
from tornadish.platform._selector_thread import (
    AddThreadSelectorEventLoop,
    SelectorThread,
)
from tornadish.platform._selector_thread import (
    _atexit_callback as _atexit_callback,
)
from tornadish.platform._selector_thread import (
    _selector_loops as _selector_loops,
)

__all__ = [
    "AddThreadSelectorEventLoop",
    "AnyThreadEventLoopPolicy",
    "AsyncIOLoop",
    "AsyncIOMainLoop",
    "BaseAsyncIOLoop",
    "SelectorThread",
    "to_asyncio_future",
    "to_tornado_future",
]

#: Every IOLoop is asyncio-based; ``isinstance(loop, BaseAsyncIOLoop)`` is always true.
BaseAsyncIOLoop = IOLoop


def to_tornado_future(asyncio_future: asyncio.Future[Any]) -> asyncio.Future[Any]:
    """Return ``asyncio_future`` (tornadish futures are asyncio futures)."""
    return asyncio_future


def to_asyncio_future(tornado_future: Any) -> asyncio.Future[Any]:
    """An asyncio future for anything ``yield`` accepted in a Tornado coroutine (a future,
    a coroutine, a list or dict of them): :func:`tornadish.gen.convert_yielded`."""
    return convert_yielded(tornado_future)


_policy_class: type[Any] | None = None
_policy_lock = threading.Lock()


def __getattr__(name: str) -> Any:
    # Built on first use: naming asyncio.DefaultEventLoopPolicy warns on Python 3.14+.
    if name != "AnyThreadEventLoopPolicy":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    global _policy_class
    with _policy_lock:
        if _policy_class is None:
            _policy_class = _make_policy_class()
        return _policy_class


def _make_policy_class() -> type[Any]:
    base: type[Any] = asyncio.DefaultEventLoopPolicy
    if sys.platform == "win32" and hasattr(asyncio, "WindowsSelectorEventLoopPolicy"):
        base = asyncio.WindowsSelectorEventLoopPolicy

    class AnyThreadEventLoopPolicy(base):  # type: ignore[misc]
        """An event loop policy under which ``asyncio.get_event_loop()`` (and so
        ``IOLoop.current()`` in old code) creates a loop in any thread, not only the
        main one, as Tornado did before 5.0. New loops are uvloop's when enabled.

        >>> asyncio.set_event_loop_policy(AnyThreadEventLoopPolicy())  # doctest: +SKIP

        Deprecated, as in Tornado: prefer ``asyncio.run`` or
        ``asyncio.new_event_loop()`` in the threads that need a loop.
        """

        def __init__(self) -> None:
            super().__init__()
            warnings.warn(
                "AnyThreadEventLoopPolicy is deprecated; use asyncio.run or "
                "asyncio.new_event_loop in the thread instead",
                DeprecationWarning,
                stacklevel=2,
            )

        def get_event_loop(self) -> asyncio.AbstractEventLoop:
            try:
                loop: asyncio.AbstractEventLoop = super().get_event_loop()
                return loop
            except RuntimeError:  # no current event loop in a thread other than main
                loop = IOLoop._new_asyncio_loop()
                self.set_event_loop(loop)
                return loop

    AnyThreadEventLoopPolicy.__qualname__ = "AnyThreadEventLoopPolicy"
    return AnyThreadEventLoopPolicy


if TYPE_CHECKING:  # the name exists, through __getattr__
    AnyThreadEventLoopPolicy: type[asyncio.AbstractEventLoopPolicy]
