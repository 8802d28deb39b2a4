"""The graceful drain, as a handler sees it: ``RequestHandler.shutting_down``, and the
handler's tasks put in the server's care.

Rules of this module:

1. The web layer reaches the server's drain only through the connection contract
   (:meth:`~tornadish._http.contract.HTTPConnection.shutting_down` and
   :meth:`~tornadish._http.contract.HTTPConnection.track_task`), never the server: a
   connection with no server to stop (WSGI, a test's) answers with a future that never
   completes, and keeps no task.
2. One future per request comes from the connection, made the first time the handler
   asks and kept on the handler (the server holds it only weakly, so a finished
   request leaves nothing behind); each read of ``shutting_down`` returns a shield of
   it, so a waiter that is cancelled (``asyncio.wait_for``) cancels only its own.
3. A task the drain cancelled before it ever ran (its handler never saw the
   ``CancelledError``) still ends its request: ``on_finish`` runs.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tornadish._web.handler import RequestHandler

__all__ = ["hold", "run_task", "shutting_down"]


def shutting_down(handler: RequestHandler) -> asyncio.Future[None]:
    """What ``handler.shutting_down`` returns (see the module's rules)."""
    fut = handler._shutdown_future
    if fut is None:
        conn = handler.request.connection
        if conn is not None:
            fut = conn.shutting_down()
        else:
            fut = asyncio.get_running_loop().create_future()
        handler._shutdown_future = fut
    return asyncio.shield(fut)


def run_task(handler: RequestHandler, pending: Awaitable[None]) -> asyncio.Future[None]:
    """The task that runs ``handler``'s coroutine ``pending``, in the server's care: a
    graceful shutdown waits for it, and cancels it once its grace period is over."""
    task = asyncio.ensure_future(pending)
    conn = handler.request.connection
    if conn is not None:
        conn.track_task(task)
        task.add_done_callback(functools.partial(_ended, handler))
    return task


def hold(handler: RequestHandler, task: asyncio.Future[Any]) -> None:
    """Put ``task`` (``handler``'s ``on_finish`` coroutine) in the server's care too."""
    conn = handler.request.connection
    if conn is not None:
        conn.track_task(task)


def _ended(handler: RequestHandler, task: asyncio.Future[None]) -> None:
    if task.cancelled():
        handler.abandon_response()  # a no-op unless the handler never unwound (rule 3)
