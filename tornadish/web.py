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
import re
import string
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from tornadish._http.contract import StreamClosedError
from tornadish._http.parse import url_concat
from tornadish._web.application import Application, ErrorHandler
from tornadish._web.compress import ContentEncoding, GZipContentEncoding, OutputTransform
from tornadish._web.errors import Finish, HTTPError, MissingArgumentError
from tornadish._web.handler import RequestHandler, stream_request_body
from tornadish._web.routing import URLSpec, url
from tornadish._web.security import authenticated, is_protocol_relative
from tornadish._web.signing import (
    _create_signature_v1 as _create_signature_v1,
)
from tornadish._web.signing import (
    _create_signature_v2 as _create_signature_v2,
)
from tornadish._web.signing import (
    create_signed_value,
    decode_signed_value,
    get_signature_key_version,
)
from tornadish._web.static import StaticFileHandler
from tornadish._web.uimodule import TemplateModule, UIModule

__all__ = [
    "Application",
    "ContentEncoding",
    "ErrorHandler",
    "FallbackHandler",
    "Finish",
    "GZipContentEncoding",
    "HTTPError",
    "MissingArgumentError",
    "OutputTransform",
    "RedirectHandler",
    "RequestHandler",
    "StaticFileHandler",
    "StreamClosedError",
    "TemplateModule",
    "UIModule",
    "URLSpec",
    "addslash",
    "asynchronous",
    "authenticated",
    "create_signed_value",
    "decode_signed_value",
    "get_signature_key_version",
    "removeslash",
    "stream_request_body",
    "url",
]

_F = TypeVar("_F", bound=Callable[..., Any])

# Controls but HTAB, and DEL; characters beyond latin-1 are fine (sent as UTF-8).
_FORBIDDEN_IN_LOCATION = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class RedirectHandler(RequestHandler):
    """Redirects to ``url`` (``{0}``, ``{1}``... are replaced by the path groups; the
    query string is carried over).

    >>> Application([(r"/old/(.*)", RedirectHandler, {"url": "/new/{0}"})])  # doctest: +SKIP

    The scheme and host of the target come from ``url`` alone: a request whose path
    groups would change them (``/{0}`` with ``//evil.com``), or put control
    characters into the ``Location`` header, is answered 400 — not an open redirect.
    """

    def initialize(self, url: str, permanent: bool = True) -> None:
        self._url = url
        self._permanent = permanent

    def get(self, *args: Any, **kwargs: Any) -> None:
        to_url = self._url.format(*args, **kwargs)
        try:
            if self.request.query_arguments:
                # Before the origin check: url_concat re-splits the URL and may change it.
                # Raw bytes values: urlencode re-quotes them as they came (UTF-8 or not).
                to_url = url_concat(
                    to_url,
                    [(k, v) for k, vs in self.request.query_arguments.items() for v in vs],
                )
            same_origin = _same_origin_as_template(self._url, to_url)
        except ValueError:  # urlsplit refuses some malformed URLs (bad IPv6 brackets)
            same_origin = False
        if not same_origin:
            raise HTTPError(400, "Redirect URL cannot change the scheme or netloc")
        if _FORBIDDEN_IN_LOCATION.search(to_url):
            # A 400 naming the cause, rather than a 500 from set_header.
            raise HTTPError(400, "Redirect URL contains invalid characters")
        self.redirect(to_url, permanent=self._permanent)


def _origin(url: str) -> tuple[str, str]:
    # (scheme, netloc) as a browser would find them: it cleans the URL up first, reads
    # "\\" as "/" and skips any number of slashes before a host.
    cleaned = url.strip("".join(chr(i) for i in range(0x21)))
    cleaned = cleaned.replace("\t", "").replace("\n", "").replace("\r", "").replace("\\", "/")
    scheme, sep, rest = cleaned.partition(":")
    if sep and scheme.isascii() and scheme.isalpha():
        cleaned = scheme + ":" + ("//" + rest.lstrip("/") if rest.startswith("//") else rest)
    elif cleaned.startswith("//"):
        cleaned = "//" + cleaned.lstrip("/")
    parts = urllib.parse.urlsplit(cleaned)
    return parts.scheme.lower(), parts.netloc.lower()


def _same_origin_as_template(template: str, url: str) -> bool:
    """Whether ``url``, made from ``template`` by substitutions, keeps the scheme and
    host the template's literal prefix fixes."""
    prefix = ""
    substituted = False
    for literal, field, _spec, _conv in string.Formatter().parse(template):
        prefix += literal
        if field is not None:
            substituted = True
            break
    try:
        scheme, netloc = _origin(prefix)
        if substituted and scheme in ("http", "https") and not netloc:
            return False  # the host would come from the request
        return _origin(url) == (scheme, netloc)
    except ValueError:  # urlsplit refuses some malformed URLs (bad IPv6 brackets)
        return False


class FallbackHandler(RequestHandler):
    """Hands the request to ``fallback``, a plain request callback such as a
    :class:`~tornadish.wsgi.WSGIContainer`, which answers through the connection.

    >>> Application([
    ...     (r"/ws", MyWebSocketHandler),
    ...     (r".*", FallbackHandler, {"fallback": WSGIContainer(flask_app)}),
    ... ])                                                       # doctest: +SKIP
    """

    def initialize(self, fallback: Callable[[Any], object]) -> None:
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
                if is_protocol_relative(uri):
                    # //evil.com/ would redirect to another site.
                    raise HTTPError(403, "cannot redirect path with two initial slashes")
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
                if is_protocol_relative(uri):
                    # //evil.com would redirect to another site.
                    raise HTTPError(403, "cannot redirect path with two initial slashes")
                if self.request.query:
                    uri += "?" + self.request.query
                self.redirect(uri, permanent=True)
                return None
            raise HTTPError(404)
        return method(self, *args, **kwargs)  # type: ignore[no-any-return]

    return wrapper  # type: ignore[return-value]


def asynchronous(method: _F) -> _F:
    """Deprecated compatibility shim for Tornado < 6's ``@tornado.web.asynchronous``.

    Tornado 6 removed it (use coroutines instead). The wrapped method runs with
    ``self._auto_finish = False``: the response stays open after it returns until the
    handler calls :meth:`~RequestHandler.finish` itself. If the method returns an
    awaitable, it is scheduled on the loop; when it completes the request is finished
    (if it is not already) and an exception it raises is handled like one raised by the
    method (as Tornado 5 did).
    """
    import asyncio
    import inspect
    import warnings

    warnings.warn(
        "@asynchronous is deprecated (removed in Tornado 6); use coroutines instead",
        DeprecationWarning,
        stacklevel=2,
    )

    @functools.wraps(method)
    def wrapper(self: RequestHandler, *args: Any, **kwargs: Any) -> None:
        self._auto_finish = False
        result = method(self, *args, **kwargs)
        if result is not None and inspect.isawaitable(result):
            from tornadish.gen import convert_yielded

            future = asyncio.ensure_future(convert_yielded(result))

            def complete(f: asyncio.Future[Any]) -> None:
                if f.cancelled():
                    return
                exc = f.exception()
                if exc is not None:
                    self._handle_request_exception(exc)
                elif not self._finished:
                    self.finish()

            future.add_done_callback(complete)

    return wrapper  # type: ignore[return-value]
