"""A route's policy: the body limit, body timeout and deadline its requests get, and
whether its handler is cancelled when the client goes away — resolved once, applied
per request.

Rules of this module:

1. Resolved at start-up: when a rule is made (``url(...)``'s keyword arguments win
   over the handler class's attributes of the same names), or, for a handler class
   reached another way (``default_handler_class``, ``get_handler_delegate``), once per
   class. A route that sets nothing has no policy (``None``); its requests pay one test
   of a slot in the dispatcher.
2. Applied when the route is matched, before any of the body is read, through the
   connection contract: the body limit as the application's own
   (``HTTPConnection.limit_body``: ``413 Content Too Large``, where the server-wide
   limit keeps Tornado's 400), the body timeout as the server's (408).
3. One timer per request, only on a route with a ``request_timeout``: armed when the
   head is read; handed to the handler once it exists (its ``on_finish`` cancels it);
   cancelled by the dispatcher when the request ends without a handler (the client
   left mid-body, the handler could not be made).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tornadish._http.contract import HTTPConnection
from tornadish._http.request import HTTPServerRequest
from tornadish.log import app_log

__all__ = ["RequestWatch", "RoutePolicy", "answer_timeout", "handler_policy", "route_policy"]


@dataclass(frozen=True, slots=True)
class RoutePolicy:
    """What a route asks of its requests beyond the server's defaults (None: the
    server's value, or no deadline)."""

    max_body_size: int | None = None
    body_timeout: float | None = None
    request_timeout: float | None = None
    cancel_on_disconnect: bool = False


_NOTHING = RoutePolicy()

# Per handler class, made the first time a class is served without a rule of its own.
# Weak: classes made at run time (tests, plugins) are not kept alive by it.
_BY_CLASS: weakref.WeakKeyDictionary[type, RoutePolicy | None] = weakref.WeakKeyDictionary()


def handler_policy(handler_class: type) -> RoutePolicy | None:
    """The policy ``handler_class``'s attributes declare (``cancel_on_disconnect``,
    ``max_body_size``, ``body_timeout``, ``request_timeout``), or None; read once per
    class."""
    try:
        return _BY_CLASS[handler_class]
    except KeyError:
        pass
    policy = _checked(
        handler_class.__name__,
        getattr(handler_class, "max_body_size", None),
        getattr(handler_class, "body_timeout", None),
        getattr(handler_class, "request_timeout", None),
        bool(getattr(handler_class, "cancel_on_disconnect", False)),
    )
    _BY_CLASS[handler_class] = policy
    return policy


def route_policy(
    target: Any,
    *,
    max_body_size: int | None = None,
    body_timeout: float | None = None,
    request_timeout: float | None = None,
) -> RoutePolicy | None:
    """The policy of a rule serving ``target``: the rule's settings (not None) over the
    handler class's attributes; None when neither sets anything."""
    base = handler_policy(target) if isinstance(target, type) else None
    if max_body_size is None and body_timeout is None and request_timeout is None:
        return base
    if not isinstance(target, type):
        raise TypeError(
            f"max_body_size, body_timeout and request_timeout apply to a RequestHandler "
            f"route, not to {target!r}"
        )
    if base is None:
        base = _NOTHING
    return _checked(
        target.__name__,
        base.max_body_size if max_body_size is None else max_body_size,
        base.body_timeout if body_timeout is None else body_timeout,
        base.request_timeout if request_timeout is None else request_timeout,
        base.cancel_on_disconnect,
    )


def _checked(
    where: str,
    max_body_size: Any,
    body_timeout: Any,
    request_timeout: Any,
    cancel_on_disconnect: bool,
) -> RoutePolicy | None:
    # A wrong value is refused when the route is made, not found by the first request.
    if max_body_size is not None and (
        isinstance(max_body_size, bool) or not isinstance(max_body_size, int) or max_body_size < 0
    ):
        raise ValueError(f"{where}: max_body_size must be a byte count >= 0, not {max_body_size!r}")
    for name, value in (("body_timeout", body_timeout), ("request_timeout", request_timeout)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0
        ):
            raise ValueError(f"{where}: {name} must be a number of seconds > 0, not {value!r}")
    policy = RoutePolicy(max_body_size, body_timeout, request_timeout, cancel_on_disconnect)
    return None if policy == _NOTHING else policy


class RequestWatch:
    """One request on a route with a policy, from its head to its end: the limits are
    applied to the connection at once, the deadline armed, and the handler's task (once
    there is one) kept for cancelling."""

    __slots__ = ("policy", "task", "timer")

    def __init__(
        self, policy: RoutePolicy, connection: HTTPConnection, on_timeout: Callable[[], None]
    ) -> None:
        self.policy = policy
        #: The task running the handler's coroutine, set by the dispatcher.
        self.task: asyncio.Future[None] | None = None
        self.timer: asyncio.TimerHandle | None = None
        if policy.max_body_size is not None:
            connection.limit_body(policy.max_body_size)
        if policy.body_timeout is not None:
            connection.set_body_timeout(policy.body_timeout)
        if policy.request_timeout is not None:
            loop = asyncio.get_running_loop()
            self.timer = loop.call_later(policy.request_timeout, on_timeout)

    def cancel_timer(self) -> None:
        """The request ended without a handler to cancel the deadline with."""
        timer = self.timer
        if timer is not None:
            timer.cancel()


def answer_timeout(
    connection: HTTPConnection | None, request: HTTPServerRequest, seconds: float
) -> None:
    """Answer 503 for a request whose ``request_timeout`` ran out before its handler
    existed (its body was still arriving)."""
    log_timeout(request, seconds, started=False)
    body = b"503: Service Unavailable"
    headers = [(b"Content-Length", str(len(body)).encode()), (b"Connection", b"close")]
    try:
        assert connection is not None, "no connection to answer on"
        connection.send_response(503, "Service Unavailable", headers, body, True)
    except Exception:
        app_log.error("Could not send a 503 response", exc_info=True)


def log_timeout(request: HTTPServerRequest, seconds: float, started: bool) -> None:
    """The warning for a request that ran past its route's ``request_timeout``."""
    app_log.warning(
        "Request took longer than its request_timeout (%gs), %s: %s %s (%s)",
        seconds,
        "connection closed" if started else "answered 503",
        request.method,
        request.uri,
        request.remote_ip,
    )
