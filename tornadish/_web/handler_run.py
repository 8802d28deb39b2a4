"""``HandlerRun``: the lifecycle API between the dispatcher and one handler.

The dispatcher (``Application``'s) reads the request; the handler answers it. This
module is the narrow seam between them, so the handler's private state is touched here
and nowhere else in the dispatcher.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from tornadish._http.request import HTTPServerRequest
from tornadish._web.drain import run_task
from tornadish._web.handler import RequestHandler
from tornadish._web.route_policy import log_timeout
from tornadish._web.uploads import MultipartUpload
from tornadish.log import app_log

__all__ = ["HandlerRun"]


class HandlerRun:
    """One handler answering one request: the lifecycle API between the dispatcher
    (``Application``'s, which reads the request) and the handler.

    The dispatcher makes the handler, then ``HandlerRun(handler, transforms, uploads,
    streaming)`` gives it the application's output transforms (made for this request)
    and the multipart upload parsed while the body arrived, and :meth:`execute` runs
    it: once the whole body is in, or, with ``streaming`` (a ``@stream_request_body``
    handler), as soon as the head is in, followed by, in this order:

    1. :meth:`until_prepared`: what to wait on before reading any body (``prepare()``
       may change the body limits or refuse the request), or None;
    2. :meth:`body_chunk` for each chunk: it reaches ``data_received`` once
       ``prepare()`` has returned, and is dropped once the handler has answered;
    3. :meth:`body_complete` at the end of the body: the HTTP method runs; or
       :meth:`connection_lost` if the connection closes first: the handler's
       ``on_connection_close`` runs, which by default ends the wait for the body
       (the request then ends without a response, ``on_finish`` still runs).

    On a route with a policy (:mod:`~tornadish._web.route_policy`): :meth:`deadline`
    before :meth:`execute`, then :meth:`cancel` when the client goes away
    (``cancel_on_disconnect``), :meth:`time_out` when the ``request_timeout`` runs out.
    """

    __slots__ = ("handler",)

    def __init__(
        self,
        handler: RequestHandler,
        transforms: Sequence[Callable[[HTTPServerRequest], Any]],
        uploads: MultipartUpload | None = None,
        streaming: bool = False,
    ) -> None:
        self.handler = handler
        if transforms:
            handler._transforms = [t(handler.request) for t in transforms]
        if uploads is not None:
            handler._uploads = uploads  # checked, then closed with the request
        if streaming:
            loop = asyncio.get_running_loop()
            handler._body_future = loop.create_future()
            handler._prepared_future = loop.create_future()

    def execute(
        self, path_args: Sequence[bytes | None], path_kwargs: dict[str, bytes | None]
    ) -> Awaitable[None] | None:
        """Run the handler; a task comes back only if something has to wait (its
        coroutine, which a graceful shutdown waits for, then cancels)."""
        pending = self.handler._execute(path_args, path_kwargs)
        return None if pending is None else run_task(self.handler, pending)

    def until_prepared(self) -> Awaitable[None] | None:
        """With ``streaming``: None once ``prepare()`` has run, else what to wait on."""
        prepared = self.handler._prepared_future
        if prepared is None or prepared.done():
            return None
        return prepared

    def body_chunk(self, chunk: bytes) -> Awaitable[None] | None:
        """With ``streaming``: deliver ``chunk``; an awaitable pauses reading."""
        handler = self.handler
        if handler._finished:
            return None  # answered already (an error in prepare): drop the body
        prepared = handler._prepared_future
        if prepared is not None and not prepared.done():
            return self._chunk_after_prepare(prepared, chunk)
        return handler.data_received(chunk)

    async def _chunk_after_prepare(self, prepared: asyncio.Future[None], chunk: bytes) -> None:
        await prepared
        handler = self.handler
        if not handler._finished:
            result = handler.data_received(chunk)
            if result is not None:
                await result

    def body_complete(self) -> None:
        """With ``streaming``: the whole body has arrived."""
        body = self.handler._body_future
        if body is not None and not body.done():
            body.set_result(None)

    def connection_lost(self) -> None:
        """The connection closed; the handler hears it if its body is still coming."""
        body = self.handler._body_future
        if body is not None and not body.done():
            self.handler.on_connection_close()

    # -- the route's policy (route_policy.py) ------------------------------------------

    def deadline(self, timer: asyncio.TimerHandle) -> None:
        """The route's ``request_timeout`` timer: the handler cancels it when the request
        is over (``on_finish`` runs), :meth:`time_out` runs if it fires first."""
        self.handler._request_timer = timer

    def cancel(self, task: asyncio.Future[None]) -> None:
        """The client went away and the handler asked to stop then
        (``cancel_on_disconnect``): cancel the task running its coroutine. Its
        ``finally`` blocks run, then ``on_finish`` (also if the task is cancelled before
        it started); nothing is logged, nobody being left to answer."""
        if task.done():
            return
        coro = task.get_coro() if isinstance(task, asyncio.Task) else None
        if inspect.iscoroutine(coro) and inspect.getcoroutinestate(coro) == inspect.CORO_CREATED:
            # The client left in the very turn the task was made: cancelled before its
            # first step, the handler's own path would never run and its method's
            # coroutine would be left never awaited (a RuntimeWarning). Let it take that
            # step (to its first await), then cancel.
            asyncio.get_running_loop().call_soon(task.cancel)
        else:
            task.cancel()
        task.add_done_callback(self._cancelled)

    def _cancelled(self, task: asyncio.Future[None]) -> None:
        # The handler's own path (_continue_async) has finished the request, unless the
        # task was cancelled by someone else before its first step. (The drain's done
        # callback, drain.run_task, does the same for every cancelled task; this one
        # keeps the policy whole on its own.)
        self.handler.abandon_response()

    def time_out(self, task: asyncio.Future[None] | None, seconds: float) -> None:
        """The route's ``request_timeout`` ran out: the client gets a 503 (or, if the
        response has started, the connection is closed), ``on_finish`` runs, and the task
        running the handler's coroutine is cancelled (its ``finally`` blocks run)."""
        handler = self.handler
        if handler._finished:
            return
        started = handler._headers_written
        log_timeout(handler.request, seconds, started)
        if started:
            handler.abandon_response()  # a half-sent response cannot become a 503
        else:
            try:
                handler.send_error(503)
            except Exception:
                app_log.error("Exception in exception handler", exc_info=True)
                handler.abandon_response()
        if task is not None and not task.done():
            task.cancel()
