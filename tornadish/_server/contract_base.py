"""What the server's connection contracts share, whatever the protocol: the request's
body limits, the graceful drain, and telling a request its connection is gone.

Two objects implement :class:`~tornadish._http.contract.HTTPConnection` on the server:
the HTTP/1.1 connection (:mod:`.protocol`, one request at a time) and the HTTP/2 stream
(:mod:`.h2_stream`, one per request). Rules of this module:

1. What does not depend on the protocol is written here once: the limits a handler
   sets on the request being read, the server's drain, and the order in which a
   request hears that its connection (or stream) went: the close callback, then the
   delegate's ``on_connection_close``, each once.
2. An exception from user code called here is logged, never raised: the connection
   that calls is in the middle of its own bookkeeping.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tornadish._http.contract import HTTPConnection, HTTPMessageDelegate
from tornadish.log import gen_log

if TYPE_CHECKING:
    from tornadish._server.params import ServerParams

__all__ = ["CloseCallbackView", "ServerContract", "notify_close"]


def notify_close(callback: Callable[[], None] | None, delegate: HTTPMessageDelegate | None) -> None:
    """Tell a request that its connection is gone (rule 1): ``callback()`` (the one
    ``set_close_callback`` gave), then ``delegate.on_connection_close()``. The caller
    forgets both first, so each runs once."""
    if callback is not None:
        try:
            callback()
        except Exception:
            gen_log.exception("Exception in connection close callback")
    if delegate is not None:
        try:
            delegate.on_connection_close()
        except Exception:
            gen_log.exception("Exception in on_connection_close")


class ServerContract(HTTPConnection):
    """The parts of the connection contract that do not depend on the protocol (rule
    1); the subclass holds ``_params``, ``_max_body_size`` and ``_too_large_status``
    (a body over the limit is answered that status)."""

    __slots__ = ()

    _params: ServerParams
    _max_body_size: int
    _too_large_status: int

    @property
    def max_body_size(self) -> int:
        """The body limit for the request being read (decompression checks it too)."""
        return self._max_body_size

    def set_max_body_size(self, max_body_size: int) -> None:
        """Change the body limit for the request being read (from a handler's
        ``prepare``); a larger body is answered 400, as in Tornado."""
        self._max_body_size = max_body_size
        self._too_large_status = 400

    def limit_body(self, max_body_size: int, status: int = 413) -> None:
        """Set a route's body limit for the request being read, refused with
        ``status`` (see the contract)."""
        self._max_body_size = max_body_size
        self._too_large_status = status

    def shutting_down(self) -> asyncio.Future[None]:
        """A new future that completes when the server starts a graceful shutdown (see
        the contract; the server's :class:`~tornadish._io.drain.Drain` hands it out)."""
        return self._params.drain.future()

    def track_task(self, task: asyncio.Future[Any]) -> None:
        """A graceful shutdown waits for ``task``, then cancels it (see the contract)."""
        self._params.drain.hold(task)


class CloseCallbackView:
    """What Tornado code reaching ``request.connection.stream`` sets a close callback
    on: the callback, run once when the connection (or stream) goes (rule 2)."""

    __slots__ = ("_close_callback",)

    def __init__(self) -> None:
        self._close_callback: Callable[[], None] | None = None

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        """Call ``callback()`` once the connection closes."""
        self._close_callback = callback

    def _run_close_callback(self) -> None:
        callback, self._close_callback = self._close_callback, None
        if callback is not None:
            try:
                callback()
            except Exception:
                gen_log.exception("Exception in stream close callback")
