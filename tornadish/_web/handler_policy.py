"""What a handler class declares beyond Tornado's: what happens when its client goes
away, and the body limit, body timeout and deadline of its requests.

``RequestHandler`` inherits :class:`HandlerPolicyMixin`. Rules of this module:

1. The policy is class attributes, read once per class when a route is made
   (:mod:`~tornadish._web.route_policy`), never per request: a handler that sets none
   of them costs nothing more per request.
2. The client going away is heard in one place, the handler's close callback, which
   calls :meth:`HandlerPolicyMixin._client_gone` after ``on_connection_close``: the
   waiters of :meth:`~HandlerPolicyMixin.disconnected` resolve there. Cancelling the
   handler's task (``cancel_on_disconnect``) and the ``request_timeout`` are the
   dispatcher's (through ``HandlerRun``), which owns the task.
"""

from __future__ import annotations

import asyncio

__all__ = ["HandlerPolicyMixin"]


class HandlerPolicyMixin:
    """The disconnect policy and the per-route limits of a ``RequestHandler``.

    >>> class Report(RequestHandler):                         # doctest: +SKIP
    ...     cancel_on_disconnect = True   # stop working for a client that left
    ...     request_timeout = 30.0        # answer 503 rather than keep the client longer
    ...     async def get(self):
    ...         self.write(await build_report())
    """

    #: Cancel the handler's coroutine (its ``prepare`` or HTTP method, the task the
    #: request runs in) as soon as the client goes away: ``finally`` blocks and
    #: ``on_finish`` run, nothing is logged as an error. The default keeps Tornado's
    #: behaviour: ``on_connection_close`` runs and the coroutine runs on.
    cancel_on_disconnect: bool = False
    #: The largest request body this handler's routes accept, in bytes; a larger one is
    #: answered ``413 Content Too Large`` before any of it is read (a declared
    #: ``Content-Length``) or as it grows past the limit (chunked, or decompressed with
    #: ``decompress_request``). None: the server's ``max_body_size`` (answered 400, as
    #: Tornado does). ``url(..., max_body_size=...)`` wins over it.
    max_body_size: int | None = None
    #: Seconds a request body may stay silent on this handler's routes (408 past it).
    #: None: the server's ``body_timeout``. ``url(..., body_timeout=...)`` wins over it.
    body_timeout: float | None = None
    #: Seconds from the request's head to the end of its response. Past it the handler's
    #: task is cancelled (``finally`` blocks and ``on_finish`` run) and the client gets
    #: ``503 Service Unavailable``, or, if the response has started, the connection is
    #: closed. None: no deadline. ``url(..., request_timeout=...)`` wins over it.
    request_timeout: float | None = None

    # RequestHandler's: set once the client has gone (its close callback ran).
    _connection_lost: bool
    # Futures handed out by disconnected(), resolved by _client_gone().
    _disconnect_waiters: list[asyncio.Future[None]] | None = None
    # The route's request_timeout timer, given by HandlerRun; cancelled when the request
    # is over (on_finish runs), so a finished request is not kept until it fires.
    _request_timer: asyncio.TimerHandle | None = None

    def disconnected(self) -> asyncio.Future[None]:
        """A future that resolves once the client has gone away (closed the connection,
        or half-closed it, as for ``on_connection_close``) while this request is being
        handled; resolved already if it has. Each call returns a new future, so one
        that is cancelled (by ``asyncio.wait_for``) leaves the others be.

        Any handler may race it against its work:

        >>> async def get(self):                              # doctest: +SKIP
        ...     work = asyncio.ensure_future(self.compute())
        ...     await asyncio.wait([work, self.disconnected()],
        ...                        return_when=asyncio.FIRST_COMPLETED)
        ...     if not work.done():   # the client left: stop computing for it
        ...         work.cancel()
        ...         return
        ...     self.write(work.result())

        Once the response is finished the request is over and it no longer resolves.
        """
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._connection_lost:
            fut.set_result(None)
            return fut
        waiters = self._disconnect_waiters
        if waiters is None:
            self._disconnect_waiters = [fut]
        else:
            # Forget those already done (cancelled by a timeout): a loop that asks
            # again and again must not grow the list.
            waiters[:] = [w for w in waiters if not w.done()]
            waiters.append(fut)
        return fut

    def _client_gone(self) -> None:
        """The client went away: resolve the waiters of :meth:`disconnected`."""
        waiters, self._disconnect_waiters = self._disconnect_waiters, None
        if waiters:
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)
