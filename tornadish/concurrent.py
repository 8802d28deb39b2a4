"""Helpers for working with futures, asyncio's and ``concurrent.futures``' alike.

As in Tornado 6, :class:`Future` *is* :class:`asyncio.Future`; the helpers smooth over
the differences between it and :class:`concurrent.futures.Future` (thread safety,
cancellation, callbacks on completed futures).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent import futures
from types import TracebackType
from typing import Any, TypeVar, Union

from tornadish.log import app_log

__all__ = [
    "FUTURES",
    "DummyExecutor",
    "Future",
    "ReturnValueIgnoredError",
    "chain_future",
    "dummy_executor",
    "future_add_done_callback",
    "future_set_exc_info",
    "future_set_exception_unless_cancelled",
    "future_set_result_unless_cancelled",
    "is_future",
    "run_on_executor",
]

_T = TypeVar("_T")

Future = asyncio.Future
"""Tornado's ``Future`` is asyncio's."""

FUTURES = (futures.Future, Future)
"""The future classes :func:`is_future` recognises."""

# A union alias rather than ``|``: it is evaluated at runtime, where asyncio.Future[_T]
# and futures.Future[_T] are generic aliases that only combine through Union.
_AnyFuture = Union["futures.Future[_T]", "asyncio.Future[_T]"]


class ReturnValueIgnoredError(Exception):
    """Raised by Tornado when a callback's return value would be lost (kept for imports)."""


def is_future(x: Any) -> bool:
    """Whether ``x`` is an asyncio or a ``concurrent.futures`` future.

    >>> import concurrent.futures
    >>> is_future(concurrent.futures.Future()), is_future(42)
    (True, False)
    """
    return isinstance(x, FUTURES)


class DummyExecutor(futures.Executor):
    """An executor that runs each call at once, in the caller's thread.

    Handy in tests or where a blocking call is known to be quick:

    >>> dummy_executor.submit(pow, 2, 10).result()
    1024
    """

    def submit(  # type: ignore[override]
        self, fn: Callable[..., _T], *args: Any, **kwargs: Any
    ) -> futures.Future[_T]:
        """Run ``fn(*args, **kwargs)`` now; return a future holding its result or error."""
        future: futures.Future[_T] = futures.Future()
        try:
            future_set_result_unless_cancelled(future, fn(*args, **kwargs))
        except Exception as e:
            future_set_exception_unless_cancelled(future, e)
        return future

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        """Nothing to shut down."""


dummy_executor = DummyExecutor()
"""A shared :class:`DummyExecutor`."""


def run_on_executor(*args: Any, **kwargs: Any) -> Callable[..., Any]:
    """Decorate a method so that calling it runs it on an executor and returns a future.

    The executor is ``self.executor``; ``@run_on_executor(executor="_pool")`` names a
    different attribute. The returned :class:`asyncio.Future` belongs to the running
    event loop, so call the method from a coroutine and ``await`` it::

        class Handler:
            executor = concurrent.futures.ThreadPoolExecutor(4)

            @run_on_executor
            def digest(self, data: bytes) -> str:
                return hashlib.sha256(data).hexdigest()

        # in a coroutine:
        hexdigest = await handler.digest(b"...")
    """

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        attr = kwargs.get("executor", "executor")

        @functools.wraps(fn)
        def wrapper(self: Any, *a: Any, **kw: Any) -> asyncio.Future[Any]:
            executor: futures.Executor = getattr(self, attr)
            return asyncio.wrap_future(executor.submit(fn, self, *a, **kw))

        return wrapper

    if args and kwargs:
        raise ValueError("cannot combine positional and keyword args")
    if len(args) == 1:
        return decorator(args[0])
    if len(args) != 0:
        raise ValueError(f"expected 1 argument, got {len(args)}")
    return decorator


def _copy_state(src: _AnyFuture[_T], dst: _AnyFuture[_T]) -> None:
    if dst.done():
        return
    if src.cancelled():
        dst.cancel()
        return
    exc = src.exception()
    if exc is not None:
        dst.set_exception(exc)
    else:
        dst.set_result(src.result())


def chain_future(a: _AnyFuture[_T], b: _AnyFuture[_T]) -> None:
    """Make ``b`` finish like ``a``: same result, same exception, or cancelled.

    Either may be an asyncio or a ``concurrent.futures`` future; nothing is copied if
    ``b`` is already done by then. Completion of a thread-pool future is handed to the
    loop of an asyncio ``b``, so ``b`` is only ever touched from its own thread.

    >>> import concurrent.futures
    >>> a, b = concurrent.futures.Future(), concurrent.futures.Future()
    >>> chain_future(a, b)
    >>> a.set_result(42)
    >>> b.result()
    42
    """
    if isinstance(b, asyncio.Future) and not isinstance(a, asyncio.Future):
        loop = b.get_loop()

        def to_loop(src: futures.Future[_T]) -> None:
            try:
                loop.call_soon_threadsafe(_copy_state, src, b)
            except RuntimeError:
                pass  # the loop is closed: nobody can wait on ``b`` any more

        a.add_done_callback(to_loop)
    else:
        future_add_done_callback(a, lambda src: _copy_state(src, b))


def future_set_result_unless_cancelled(future: _AnyFuture[_T], value: _T) -> None:
    """Set ``future``'s result unless it was cancelled (then do nothing).

    Saves a check before ``set_result`` on a future a caller may have given up on.
    """
    if not future.cancelled():
        future.set_result(value)


def future_set_exception_unless_cancelled(future: _AnyFuture[_T], exc: BaseException) -> None:
    """Set ``future``'s exception, or log it to ``app_log`` if the future was cancelled.

    Logging rather than dropping it keeps the error visible when nobody waits anymore.
    """
    if not future.cancelled():
        future.set_exception(exc)
    else:
        app_log.error("Exception after Future was cancelled", exc_info=exc)


def future_set_exc_info(
    future: _AnyFuture[_T],
    exc_info: tuple[type[BaseException] | None, BaseException | None, TracebackType | None],
) -> None:
    """Set the exception of a ``sys.exc_info()`` triple on ``future`` (see above)."""
    if exc_info[1] is None:
        raise Exception("future_set_exc_info called with no exception")
    future_set_exception_unless_cancelled(future, exc_info[1])


def future_add_done_callback(
    future: _AnyFuture[_T], callback: Callable[[_AnyFuture[_T]], None]
) -> None:
    """Call ``callback(future)`` once ``future`` is done; right away if it already is.

    Unlike ``add_done_callback`` on an asyncio future (which always waits for the next
    loop iteration), a finished future runs the callback before this returns.
    """
    if future.done():
        callback(future)
    else:
        future.add_done_callback(callback)
