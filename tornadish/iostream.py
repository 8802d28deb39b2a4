"""Compatibility module: ``tornado.iostream`` names that applications catch.

tornadish has no IOStream (asyncio transports do that work); what handlers see of it is
:class:`StreamClosedError`, raised by ``await self.flush()`` once the client has gone:

>>> from tornadish.iostream import StreamClosedError
"""

from __future__ import annotations

from tornadish._http.contract import StreamClosedError

__all__ = ["StreamClosedError"]
