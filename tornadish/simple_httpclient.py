"""Tornado's ``simple_httpclient`` names, for code that imports them from here.

tornadish has one client implementation; ``SimpleAsyncHTTPClient`` is
:class:`~tornadish.httpclient.AsyncHTTPClient` under Tornado's name (unlike Tornado's,
it keeps connections alive), with its own shared instance per loop as in Tornado.

>>> from tornadish.simple_httpclient import HTTPTimeoutError
>>> HTTPTimeoutError("Timeout during request").code
599
"""

from __future__ import annotations

from tornadish.httpclient import AsyncHTTPClient, HTTPStreamClosedError, HTTPTimeoutError

__all__ = ["HTTPStreamClosedError", "HTTPTimeoutError", "SimpleAsyncHTTPClient"]


class SimpleAsyncHTTPClient(AsyncHTTPClient):
    """Tornado's default ``AsyncHTTPClient`` implementation, by its name."""
