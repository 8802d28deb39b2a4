"""What the server's connection contracts share, whatever the protocol: the request's
body limits, the graceful drain, and telling a request its connection is gone.

Two objects implement :class:`~tornadish._http.contract.HTTPConnection` on the server:
the HTTP/1.1 connection (:mod:`.protocol`, one request at a time) and the HTTP/2 stream
(:mod:`.h2_stream`, one per request). Rules of this module:

1. What does not depend on the protocol is written here once: the limits a handler
   sets on the request being read and the server's drain. (How a request hears that
   its connection went, :func:`~tornadish._http.contract.notify_close`, is every
   connection's, the ASGI one's too: it lives with the contract.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tornadish._http.contract import HTTPConnection
from tornadish._http.headers import HTTPInputError
from tornadish.log import gen_log

if TYPE_CHECKING:
    from tornadish._server.params import ServerParams

__all__ = ["ServerContract", "consumption_failed"]


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


def consumption_failed(
    fut: asyncio.Future[None],
    bad_body: Callable[[HTTPInputError], None],
    fail: Callable[[int, str], None],
) -> bool:
    """Whether the delegate failed to consume a body chunk (``fut``, what it returned,
    has failed), the request then answered alike on every protocol: ``bad_body(exc)``
    for a body that could not be decoded, else the error logged and ``fail(500,
    ...)``. False when it succeeded (``fut`` must be done and not cancelled)."""
    exc = fut.exception()
    if exc is None:
        return False
    if isinstance(exc, HTTPInputError):
        bad_body(exc)
    else:
        gen_log.error("Uncaught exception in request body handling", exc_info=exc)
        fail(500, "internal error while reading the request")
    return True
