"""``tornadish.serve``: run an application inside an event loop someone else owns.

>>> import tornadish
>>> async def main(app):
...     async with tornadish.serve(app, port=0) as server:
...         print("listening on", server.port)
...         await asyncio.Event().wait()         # serve until cancelled
"""

from __future__ import annotations

import socket
from types import TracebackType
from typing import Any

from tornadish import netutil
from tornadish._server.httpserver import HTTPServer

__all__ = ["serve"]


class serve:  # lower case: used like a function, ``async with tornadish.serve(...)``
    """Async context manager: an :class:`~tornadish.httpserver.HTTPServer` for ``app``
    listening in the running loop for the duration of the block.

    Entering binds ``address``:``port`` (``port=0`` picks a free port; read it back as
    ``server.port``) and waits until the server accepts connections. Leaving, normally
    or by an exception or cancellation, shuts it down gracefully
    (:meth:`~tornadish.httpserver.HTTPServer.shutdown` with ``grace`` seconds).
    Other keyword arguments go to the ``HTTPServer`` constructor (``xheaders``,
    ``max_body_size``, ``ssl_options``, ...).
    """

    def __init__(
        self,
        app: Any,
        port: int = 0,
        address: str | None = "127.0.0.1",
        *,
        grace: float = 30.0,
        reuse_port: bool = False,
        family: socket.AddressFamily = socket.AF_UNSPEC,
        **server_kwargs: Any,
    ) -> None:
        self.app = app
        self.port = port
        self.address = address
        self.grace = grace
        self.reuse_port = reuse_port
        self.family = family
        self.server_kwargs = server_kwargs
        self.server: HTTPServer | None = None

    async def __aenter__(self) -> HTTPServer:
        server = HTTPServer(self.app, **self.server_kwargs)
        sockets = netutil.bind_sockets(
            self.port, address=self.address, family=self.family, reuse_port=self.reuse_port
        )
        server.add_sockets(sockets)
        await server.wait_started()
        self.server = server
        return server

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        server, self.server = self.server, None
        if server is not None:
            await server.shutdown(self.grace)
