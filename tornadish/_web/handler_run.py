"""``HandlerRun``: the lifecycle API between the dispatcher and one handler.

The dispatcher (``Application``'s) reads the request; the handler answers it. This
module is the narrow seam between them, so the handler's private state is touched here
and nowhere else in the dispatcher.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from tornadish._http.request import HTTPServerRequest
from tornadish._web.handler import RequestHandler
from tornadish._web.uploads import MultipartUpload

__all__ = ["HandlerRun", "streams_request_body"]


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
        """Run the handler; an awaitable comes back only if something has to wait (the
        dispatcher runs it as a task)."""
        return self.handler._execute(*path_args, **path_kwargs)

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


def streams_request_body(handler_class: type[RequestHandler]) -> bool:
    """True if ``handler_class`` is decorated with :func:`stream_request_body`."""
    return handler_class._stream_request_body
