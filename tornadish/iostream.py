"""Tornado's ``tornado.iostream``: buffered byte streams over sockets, TLS and pipes.

The streams run on asyncio transports (see :mod:`tornadish._io.iostream`); the API and
its semantics are Tornado 6's, futures only:

>>> stream = IOStream(socket.socket())  # doctest: +SKIP
>>> await stream.connect(("127.0.0.1", 8888))  # doctest: +SKIP
>>> await stream.write(b"PING\\r\\n")  # doctest: +SKIP
>>> await stream.read_until(b"\\r\\n")  # doctest: +SKIP

``StreamClosedError`` is also what ``await self.flush()`` raises in a handler once the
client has gone.
"""

from __future__ import annotations

from tornadish._io.iostream import (
    BaseIOStream,
    IOStream,
    PipeIOStream,
    SSLIOStream,
    StreamBufferFullError,
    StreamClosedError,
    UnsatisfiableReadError,
)
from tornadish._io.iostream import StreamBuffer as _StreamBuffer

__all__ = [
    "BaseIOStream",
    "IOStream",
    "PipeIOStream",
    "SSLIOStream",
    "StreamBufferFullError",
    "StreamClosedError",
    "UnsatisfiableReadError",
    "_StreamBuffer",
]
