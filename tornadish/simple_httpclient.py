"""Tornado's ``simple_httpclient`` names, for code that imports them from here.

tornadish has one client implementation; ``SimpleAsyncHTTPClient`` is
:class:`~tornadish.httpclient.AsyncHTTPClient` itself (unlike Tornado's, it keeps
connections alive).

>>> from tornadish.simple_httpclient import HTTPTimeoutError
>>> HTTPTimeoutError("Timeout during request").code
599
"""

from __future__ import annotations

from tornadish.httpclient import AsyncHTTPClient, HTTPStreamClosedError, HTTPTimeoutError

__all__ = ["HTTPStreamClosedError", "HTTPTimeoutError", "SimpleAsyncHTTPClient"]

SimpleAsyncHTTPClient = AsyncHTTPClient
