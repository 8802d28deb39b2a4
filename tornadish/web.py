"""The web framework: ``Application``, ``RequestHandler`` and friends.

This module is the face Tornado users import from; the pieces live in small private
modules (routing, the handler, the application and dispatcher, errors, cookies).

>>> from tornadish.web import Application, RequestHandler
>>> class MainHandler(RequestHandler):
...     def get(self):
...         self.write("Hello, world")
>>> app = Application([(r"/", MainHandler)])
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ._application import Application, ErrorHandler
from ._handler import RequestHandler, stream_request_body
from ._server_protocol import StreamClosedError
from ._web_errors import Finish, HTTPError, MissingArgumentError
from .routing import URLSpec, url

__all__ = [
    "Application",
    "ErrorHandler",
    "FallbackHandler",
    "Finish",
    "HTTPError",
    "MissingArgumentError",
    "RedirectHandler",
    "RequestHandler",
    "StreamClosedError",
    "URLSpec",
    "addslash",
    "removeslash",
    "stream_request_body",
    "url",
]

_F = TypeVar("_F", bound=Callable[..., Any])


class RedirectHandler(RequestHandler):
    """Redirects to ``url`` (``{0}``, ``{1}``... are replaced by the path groups; the
    query string is carried over).

    >>> Application([(r"/old/(.*)", RedirectHandler, {"url": "/new/{0}"})])  # doctest: +SKIP
    """

    def initialize(self, url: str, permanent: bool = True) -> None:  # type: ignore[override]
        self._url = url
        self._permanent = permanent

    def get(self, *args: Any, **kwargs: Any) -> None:
        to_url = self._url.format(*args, **kwargs)
        if self.request.query_arguments:
            from .httputil import url_concat

            to_url = url_concat(
                to_url,
                [
                    (k, v.decode("latin-1"))
                    for k, vs in self.request.query_arguments.items()
                    for v in vs
                ],
            )
        self.redirect(to_url, permanent=self._permanent)


class FallbackHandler(RequestHandler):
    """Hands the request to ``fallback``, a plain request callback such as a
    :class:`~tornadish.wsgi.WSGIContainer`, which answers through the connection.

    >>> Application([
    ...     (r"/ws", MyWebSocketHandler),
    ...     (r".*", FallbackHandler, {"fallback": WSGIContainer(flask_app)}),
    ... ])                                                       # doctest: +SKIP
    """

    def initialize(self, fallback: Callable[[Any], object]) -> None:  # type: ignore[override]
        self.fallback = fallback

    def prepare(self) -> None:
        self.fallback(self.request)
        # The fallback owns the response from here on; the handler must not write one.
        self._finished = True
        self.on_finish()


def removeslash(method: _F) -> _F:
    """Decorator: redirect ``/path/`` to ``/path`` (GET/HEAD), else 404."""

    @functools.wraps(method)
    def wrapper(self: RequestHandler, *args: Any, **kwargs: Any) -> Awaitable[None] | None:
        if self.request.path.endswith("/"):
            if self.request.method in ("GET", "HEAD"):
                uri = self.request.path.rstrip("/")
                if uri:
                    if self.request.query:
                        uri += "?" + self.request.query
                    self.redirect(uri, permanent=True)
                    return None
            else:
                raise HTTPError(404)
        return method(self, *args, **kwargs)  # type: ignore[no-any-return]

    return wrapper  # type: ignore[return-value]


def addslash(method: _F) -> _F:
    """Decorator: redirect ``/path`` to ``/path/`` (GET/HEAD), else 404."""

    @functools.wraps(method)
    def wrapper(self: RequestHandler, *args: Any, **kwargs: Any) -> Awaitable[None] | None:
        if not self.request.path.endswith("/"):
            if self.request.method in ("GET", "HEAD"):
                uri = self.request.path + "/"
                if self.request.query:
                    uri += "?" + self.request.query
                self.redirect(uri, permanent=True)
                return None
            raise HTTPError(404)
        return method(self, *args, **kwargs)  # type: ignore[no-any-return]

    return wrapper  # type: ignore[return-value]
