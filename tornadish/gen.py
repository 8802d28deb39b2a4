"""Tornado's ``tornado.gen``: legacy generator coroutines and helpers for awaitables.

New code should use ``async def``/``await``; everything here also works with those.

Combining and bounding awaitables::

    from tornadish import gen

    async def fetch_both():
        a, b = await gen.multi([fetch("a"), fetch("b")])          # like asyncio.gather
        by_name = await gen.multi({"a": fetch("a"), "b": fetch("b")})
        return await gen.with_timeout(datetime.timedelta(seconds=5), fetch("c"))

Old-style coroutines keep working::

    @gen.coroutine
    def get_user(uid):
        row = yield db.fetch(uid)                    # any awaitable or Future
        a, b = yield [load_a(row), load_b(row)]      # lists and dicts run in parallel
        raise gen.Return(row)                        # or simply ``return row``

Calling a ``@gen.coroutine`` function runs it up to its first unfinished ``yield`` at
once and returns an :class:`asyncio.Future` for its result. Each call gets its own copy of
the caller's :mod:`contextvars` context, kept for all of its steps.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextvars
import datetime
import functools
import inspect
from collections.abc import Callable, Generator, Iterable, Mapping
from typing import Any, ParamSpec, TypeVar, overload

from tornadish.ioloop import IOLoop, _current_asyncio_loop
from tornadish.log import app_log
from tornadish.util import TimeoutError

__all__ = [
    "BadYieldError",
    "Multi",
    "Return",
    "TimeoutError",
    "WaitIterator",
    "convert_yielded",
    "coroutine",
    "is_coroutine_function",
    "maybe_future",
    "moment",
    "multi",
    "multi_future",
    "sleep",
    "with_timeout",
]

_T = TypeVar("_T")
_K = TypeVar("_K")
_P = ParamSpec("_P")

_QuietExceptions = type[BaseException] | tuple[type[BaseException], ...]


class BadYieldError(Exception):
    """A coroutine yielded (or :func:`convert_yielded` got) something that is not awaitable."""


class Return(Exception):
    """Raise ``Return(value)`` in a :func:`coroutine` to make ``value`` its result.

    A plain ``return value`` does the same in any current Python; this exists for code
    written before that was possible::

        @gen.coroutine
        def answer():
            yield gen.sleep(0.1)
            raise gen.Return(42)
    """

    def __init__(self, value: Any = None) -> None:
        super().__init__(value)
        self.value = value


class _Moment:
    """Yield (or await) this to let the loop run one iteration before continuing."""

    def __await__(self) -> Generator[None, None, None]:
        # A bare yield is how an asyncio task hands control back for one iteration.
        yield

    def __repr__(self) -> str:
        return "<tornadish.gen.moment>"


moment = _Moment()
"""Give other callbacks one loop iteration: ``yield gen.moment`` or ``await gen.moment``.

``yield None`` (a bare ``yield``) does the same in a :func:`coroutine`.
"""

# asyncio keeps only weak references to tasks; tasks created here for yielded coroutines
# must survive until they finish even if nothing else holds them.
_background: set[asyncio.Future[Any]] = set()


def _keep_alive(future: asyncio.Future[Any]) -> None:
    _background.add(future)
    future.add_done_callback(_background.discard)


def _resolve(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


_ASYNCIO_LOOP_FILE = asyncio.base_events.__file__


def _new_future() -> asyncio.Future[Any]:
    """A Future on the current loop whose asyncio debug "created at" names the caller.

    With the loop in debug mode asyncio records where each Future was made; the frames
    of this module and of the loop's ``create_future`` are dropped from that record so
    it points at the user's call.
    """
    future = _current_asyncio_loop().create_future()
    source = getattr(future, "_source_traceback", None)
    while source and (source[-1][0] == __file__ or source[-1][0] == _ASYNCIO_LOOP_FILE):
        del source[-1]
    return future


def _failed_future(exc: BaseException) -> asyncio.Future[Any]:
    future = _new_future()
    future.set_exception(exc)
    return future


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    if future.done():
        app_log.error("Exception after Future was cancelled", exc_info=exc)
    else:
        future.set_exception(exc)


def _outcome(future: asyncio.Future[Any]) -> tuple[Any, BaseException | None]:
    if future.cancelled():
        try:
            future.result()  # builds the CancelledError with its message
        except asyncio.CancelledError as cancelled:
            return None, cancelled
    # exception() rather than a raising result(): a raise here would add this frame,
    # which holds the Future, to the traceback the Future holds, a reference cycle
    # that keeps the failed coroutine's locals alive until the next collection.
    exc = future.exception()
    if exc is not None:
        return None, exc
    return future.result(), None


@functools.singledispatch
def convert_yielded(yielded: Any) -> asyncio.Future[Any]:
    """Turn anything a coroutine may yield into an :class:`asyncio.Future`.

    Futures pass through; coroutines and other awaitables become tasks; lists and dicts
    become :func:`multi`; ``concurrent.futures.Future`` is wrapped; ``None`` and
    :data:`moment` resolve on the next loop iteration. Anything else raises
    :class:`BadYieldError`. More types can be added with ``convert_yielded.register``
    (it is a :func:`functools.singledispatch` function)::

        @gen.convert_yielded.register(MyDeferred)
        def _(d):
            return d.as_future()
    """
    if yielded is None or yielded is moment:
        loop = _current_asyncio_loop()
        future = loop.create_future()
        loop.call_soon(_resolve, future, None)
        return future
    if inspect.isawaitable(yielded):
        task = asyncio.ensure_future(yielded, loop=_current_asyncio_loop())
        _keep_alive(task)
        return task
    raise BadYieldError(f"yielded unknown object {yielded!r}")


@convert_yielded.register(asyncio.Future)
def _convert_future(yielded: asyncio.Future[Any]) -> asyncio.Future[Any]:
    return yielded


@convert_yielded.register(concurrent.futures.Future)
def _convert_concurrent(yielded: concurrent.futures.Future[Any]) -> asyncio.Future[Any]:
    return asyncio.wrap_future(yielded, loop=_current_asyncio_loop())


@convert_yielded.register(list)
@convert_yielded.register(dict)
def _convert_collection(yielded: list[Any] | dict[Any, Any]) -> asyncio.Future[Any]:
    return multi(yielded)


# -- @coroutine -----------------------------------------------------------------------------


class _Runner:
    """Drives one generator coroutine: sends results of what it yields back into it."""

    __slots__ = (
        "_ctx",
        "_finished",
        "_gen",
        "_loop",
        "_moment",
        "_owns_waiting",
        "_result",
        "_waiting",
    )

    def __init__(
        self,
        gen: Generator[Any, Any, Any],
        result: asyncio.Future[Any],
        ctx: contextvars.Context,
    ) -> None:
        self._gen = gen
        self._result: asyncio.Future[Any] | None = result
        self._ctx = ctx
        self._loop = result.get_loop()
        self._waiting: asyncio.Future[Any] | None = None
        self._owns_waiting = False
        self._moment: asyncio.Handle | None = None
        self._finished = False
        result.add_done_callback(self._on_result_done, context=ctx)

    def _step(self, value: Any, error: BaseException | None) -> None:
        """Resume the generator and keep going until it waits on something unfinished."""
        gen = self._gen
        while True:
            try:
                yielded = gen.send(value) if error is None else gen.throw(error)
            except (StopIteration, Return) as stop:
                _resolve(self._finish(), stop.value)
                return
            except asyncio.CancelledError:
                self._finish().cancel()
                return
            except Exception as exc:
                # The traceback holds this frame; keeping the result Future out of it
                # (and out of the Runner) avoids a cycle that would keep the
                # coroutine's locals alive until the next garbage collection.
                _fail(self._finish(), exc)
                return
            finally:
                # Drop the exception so its traceback does not keep the frame alive.
                error = None
            value = None
            if yielded is None or yielded is moment:
                self._moment = self._loop.call_soon(self._after_moment, context=self._ctx)
                return
            try:
                future = convert_yielded(yielded)
            except BadYieldError as exc:
                # As in Tornado, the error is raised at the yield so the coroutine sees it.
                error = exc
                continue
            if future.done():
                value, error = _outcome(future)
                continue
            self._waiting = future
            self._owns_waiting = future is not yielded
            future.add_done_callback(self._on_waited_done, context=self._ctx)
            return

    def _finish(self) -> asyncio.Future[Any]:
        """Mark the generator finished and hand over (and let go of) the result Future."""
        self._finished = True
        result, self._result = self._result, None
        assert result is not None, "a coroutine finishes once"
        # Saves a useless loop callback per coroutine once the result is set.
        result.remove_done_callback(self._on_result_done)
        return result

    def _after_moment(self) -> None:
        self._moment = None
        self._step(None, None)

    def _on_waited_done(self, future: asyncio.Future[Any]) -> None:
        if future is not self._waiting:
            return  # abandoned after cancellation
        self._waiting = None
        value, error = _outcome(future)
        self._step(value, error)

    def _on_result_done(self, result: asyncio.Future[Any]) -> None:
        if self._finished or not result.cancelled():
            return
        # Cancelled from outside: raise CancelledError at the pending yield so the
        # coroutine's ``finally`` blocks run, as they would in an asyncio task.
        if self._moment is not None:
            self._moment.cancel()
            self._moment = None
        waiting = self._waiting
        if waiting is not None:
            self._waiting = None
            waiting.remove_done_callback(self._on_waited_done)
            if self._owns_waiting:
                # Only what this coroutine itself started; shared futures are left alone.
                waiting.cancel()
        self._step(None, asyncio.CancelledError())


@overload
def coroutine(
    func: Callable[_P, Generator[Any, Any, _T]],
) -> Callable[_P, asyncio.Future[_T]]: ...


@overload
def coroutine(func: Callable[_P, _T]) -> Callable[_P, asyncio.Future[_T]]: ...


def coroutine(func: Callable[_P, Any]) -> Callable[_P, asyncio.Future[Any]]:
    """Decorator for generator-based coroutines (Tornado's ``@gen.coroutine``).

    Inside, ``yield`` any awaitable, Future, or a list/dict of them (run in parallel,
    see :func:`multi`) to get its result; finish with ``return value`` or
    ``raise gen.Return(value)``. The decorated function returns an
    :class:`asyncio.Future`, so it can be awaited from ``async def`` code and yielded
    from other coroutines. A decorated function that is not a generator simply has its
    return value (or exception) wrapped in a finished Future.

    The body runs synchronously up to the first ``yield`` of something unfinished.
    Cancelling the returned Future raises ``CancelledError`` at the pending ``yield``.

    >>> @coroutine
    ... def double(x):
    ...     yield moment
    ...     return 2 * x
    >>> IOLoop(make_current=False).run_sync(lambda: double(21))
    42
    """

    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> asyncio.Future[Any]:
        # Every step runs in this one copy, so context variables set by the coroutine
        # persist across its yields but never leak into the caller.
        ctx = contextvars.copy_context()
        try:
            value = ctx.run(func, *args, **kwargs)
        except (Return, StopIteration) as stop:
            value = stop.value
        except asyncio.CancelledError:
            # As for an asyncio task, raising CancelledError means "cancelled".
            cancelled = _new_future()
            cancelled.cancel()
            return cancelled
        except Exception as exc:
            # No local here holds the Future: this frame is in the exception's
            # traceback, and a cycle through it would keep the coroutine's locals alive.
            return _failed_future(exc)
        result = _new_future()
        if not isinstance(value, Generator):
            result.set_result(value)
            return result
        ctx.run(_Runner(value, result, ctx)._step, None, None)
        try:
            return result
        finally:
            # If the first steps failed, this frame is reachable from the traceback
            # stored in ``result`` (as the caller of the runner's frame): drop the
            # local so that no cycle keeps the coroutine's locals alive.
            del result

    # The marker Tornado uses, so code probing for it recognises these too.
    wrapper.__tornado_coroutine__ = True  # type: ignore[attr-defined]
    return wrapper


def is_coroutine_function(func: Any) -> bool:
    """Whether ``func`` was decorated with :func:`coroutine` (as in Tornado).

    Native ``async def`` functions return ``False``; use
    :func:`inspect.iscoroutinefunction` for those.
    """
    return bool(getattr(func, "__tornado_coroutine__", False))


# -- combining awaitables -------------------------------------------------------------------


@overload
def multi(  # type: ignore[overload-overlap]  # a Mapping is matched first, on purpose
    children: Mapping[_K, Any], quiet_exceptions: _QuietExceptions = ()
) -> asyncio.Future[dict[_K, Any]]: ...


@overload
def multi(
    children: Iterable[Any], quiet_exceptions: _QuietExceptions = ()
) -> asyncio.Future[list[Any]]: ...


def multi(children: Any, quiet_exceptions: _QuietExceptions = ()) -> asyncio.Future[Any]:
    """Wait for several awaitables in parallel; resolve to a list or dict of their results.

    ``children`` is a list (or other iterable) or a dict of awaitables; the result has
    the same shape. Every child is waited for even if one fails. The first failure (in
    ``children`` order) becomes the result's exception and later ones are logged to
    ``tornadish.application``, unless they are instances of ``quiet_exceptions``.
    Cancelling the result does not cancel the children (as in Tornado).

    >>> async def main():
    ...     return await multi({"a": sleep(0), "b": sleep(0)})
    >>> IOLoop(make_current=False).run_sync(main)
    {'a': None, 'b': None}
    """
    return multi_future(children, quiet_exceptions)


Multi = multi
"""Older name of :func:`multi` (Tornado's ``gen.Multi``), kept for compatibility."""


@overload
def multi_future(  # type: ignore[overload-overlap]  # a Mapping is matched first, on purpose
    children: Mapping[_K, Any], quiet_exceptions: _QuietExceptions = ()
) -> asyncio.Future[dict[_K, Any]]: ...


@overload
def multi_future(
    children: Iterable[Any], quiet_exceptions: _QuietExceptions = ()
) -> asyncio.Future[list[Any]]: ...


def multi_future(children: Any, quiet_exceptions: _QuietExceptions = ()) -> asyncio.Future[Any]:
    """Older name of :func:`multi`, kept for compatibility."""
    keys: list[Any] | None
    if isinstance(children, Mapping):
        keys = list(children.keys())
        values = list(children.values())
    else:
        keys = None
        values = list(children)
    futures = [convert_yielded(child) for child in values]
    loop = futures[0].get_loop() if futures else _current_asyncio_loop()
    combined: asyncio.Future[Any] = loop.create_future()

    def finish() -> None:
        results = []
        for future in futures:
            try:
                results.append(future.result())
            except (Exception, asyncio.CancelledError) as exc:
                if not combined.done():
                    combined.set_exception(exc)
                elif not isinstance(exc, asyncio.CancelledError) and not isinstance(
                    exc, quiet_exceptions
                ):
                    app_log.error("Multiple exceptions in yield list", exc_info=exc)
        if not combined.done():
            combined.set_result(
                dict(zip(keys, results, strict=True)) if keys is not None else results
            )

    pending = {future for future in futures if not future.done()}
    if not pending:
        finish()
        return combined

    def child_done(future: asyncio.Future[Any]) -> None:
        pending.discard(future)
        if not pending:
            finish()

    for future in pending:
        future.add_done_callback(child_done)
    return combined


def maybe_future(x: Any) -> asyncio.Future[Any]:
    """Return ``x`` if it is a Future, else a finished Future holding ``x``.

    Deprecated (as in Tornado since 4.3): yield or await values directly instead.
    """
    if isinstance(x, asyncio.Future):
        return x
    if isinstance(x, concurrent.futures.Future):
        return asyncio.wrap_future(x, loop=_current_asyncio_loop())
    future: asyncio.Future[Any] = _current_asyncio_loop().create_future()
    future.set_result(x)
    return future


def with_timeout(
    timeout: float | datetime.timedelta,
    future: Any,
    quiet_exceptions: _QuietExceptions = (),
    *,
    message: str | Callable[[], str] | None = None,
) -> asyncio.Future[Any]:
    """Wrap an awaitable so that it fails with :class:`TimeoutError` after ``timeout``.

    ``timeout`` is an absolute deadline in ``IOLoop.time()`` terms or a
    ``datetime.timedelta`` from now. As in Tornado, the wrapped work is *not* cancelled
    when the timeout expires (it may be shared); if it later fails, the failure is
    logged unless it is one of ``quiet_exceptions``. ``message`` (a string, or a callable
    returning one) becomes the error's message. To cancel on timeout, use
    ``asyncio.wait_for`` instead.

    >>> async def main():
    ...     try:
    ...         await with_timeout(datetime.timedelta(seconds=0.01), sleep(1))
    ...     except TimeoutError:
    ...         return "timed out"
    >>> IOLoop(make_current=False).run_sync(main)
    'timed out'
    """
    inner = convert_yielded(future)
    loop = inner.get_loop()
    io_loop = IOLoop._for_loop(loop)
    result: asyncio.Future[Any] = loop.create_future()

    def copy_outcome(done: asyncio.Future[Any]) -> None:
        if result.done():
            return
        if done.cancelled():
            result.cancel()
            return
        exc = done.exception()
        if exc is not None:
            result.set_exception(exc)
        else:
            result.set_result(done.result())

    def log_late_failure(done: asyncio.Future[Any]) -> None:
        if done.cancelled():
            return
        exc = done.exception()
        if exc is not None and not isinstance(exc, quiet_exceptions):
            app_log.error("Exception in Future %r after timeout", done, exc_info=exc)

    def expire() -> None:
        if not result.done():
            text = message() if callable(message) else (message or "Timeout")
            result.set_exception(TimeoutError(text))
        inner.add_done_callback(log_late_failure)

    handle = io_loop.add_timeout(timeout, expire)
    if inner.done():
        copy_outcome(inner)  # already finished: never report a timeout for it
    else:
        inner.add_done_callback(copy_outcome)
    # Finished either way (or cancelled by the caller): the timer is no longer needed.
    result.add_done_callback(lambda _: handle.cancel())
    return result


def sleep(duration: float) -> asyncio.Future[None]:
    """A Future that resolves to ``None`` after ``duration`` seconds.

    Works both as ``await gen.sleep(1)`` and ``yield gen.sleep(1)``.
    """
    loop = _current_asyncio_loop()
    future: asyncio.Future[None] = loop.create_future()
    handle = loop.call_later(duration, _resolve, future, None)
    future.add_done_callback(lambda _: handle.cancel())
    return future


class WaitIterator:
    """Iterate over awaitables in the order they finish.

    Pass awaitables positionally or by keyword (not both); :attr:`current_index` is then
    the position or keyword of the one just returned, :attr:`current_future` the Future::

        async for result in gen.WaitIterator(fetch(a), fetch(b)):
            ...

        waiter = gen.WaitIterator(first=fetch(a), second=fetch(b))
        while not waiter.done():
            try:
                result = await waiter.next()
            except Exception as e:
                print("error from", waiter.current_index, e)
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args and kwargs:
            raise ValueError("You must provide args or kwargs, not both")
        labelled: list[tuple[Any, Any]] = list(kwargs.items()) if kwargs else list(enumerate(args))
        # The same Future may be passed more than once: it is then returned once per
        # occurrence, with each of its labels in order.
        self._labels: dict[asyncio.Future[Any], collections.deque[Any]] = {}
        self._finished: collections.deque[asyncio.Future[Any]] = collections.deque()
        self._waiter: asyncio.Future[Any] | None = None
        self.current_index: Any = None
        """Index or keyword of the most recently returned awaitable."""
        self.current_future: asyncio.Future[Any] | None = None
        """The most recently returned Future."""
        futures = [(label, convert_yielded(item)) for label, item in labelled]
        for label, future in futures:
            self._labels.setdefault(future, collections.deque()).append(label)
        for _, future in futures:
            future.add_done_callback(self._child_done)

    def done(self) -> bool:
        """Whether every awaitable has been returned by :meth:`next`."""
        if self._finished or self._labels:
            return False
        self.current_index = self.current_future = None
        return True

    def next(self) -> asyncio.Future[Any]:
        """A Future for the next awaitable to finish (with its result or exception)."""
        self._waiter = _current_asyncio_loop().create_future()
        if self._finished:
            return self._deliver(self._finished.popleft())
        return self._waiter

    def _child_done(self, future: asyncio.Future[Any]) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._deliver(future)
        else:
            self._finished.append(future)

    def _deliver(self, future: asyncio.Future[Any]) -> asyncio.Future[Any]:
        waiter = self._waiter
        assert waiter is not None
        self._waiter = None
        self.current_future = future
        labels = self._labels[future]
        self.current_index = labels.popleft()
        if not labels:
            del self._labels[future]
        if future.cancelled():
            waiter.cancel()
        elif future.exception() is not None:
            waiter.set_exception(future.exception())  # type: ignore[arg-type]
        else:
            waiter.set_result(future.result())
        return waiter

    def __aiter__(self) -> WaitIterator:
        return self

    def __anext__(self) -> asyncio.Future[Any]:
        if self.done():
            raise StopAsyncIteration
        return self.next()
