"""ASGI both ways: serve a tornadish ``Application`` from an ASGI server, and mount an
ASGI application inside a tornadish one.

Outward — any ASGI 3 server (uvicorn, hypercorn, daphne) runs the application::

    # myapp.py                         then:  uvicorn myapp:asgi_app
    app = Application([(r"/", MainHandler)])
    asgi_app = app.asgi                # an ASGIAdapter, made once per application

The request goes through the same dispatcher as with tornadish's own server: the adapter
plays the part of the connection (:class:`ASGIConnection`), so handlers, streaming
bodies, ``flush()`` and ``on_connection_close`` behave the same. Lifespan events run the
adapter's ``on_startup``/``on_shutdown`` hooks.

Inward — :class:`ASGIHandler` serves any ASGI app (Starlette, FastAPI, ...) under a
route::

    Application([(r"/api/.*", ASGIHandler, {"asgi_app": starlette_app,
                                             "root_path": "/api"})])

WebSockets cross in both directions too (:mod:`tornadish._asgi.websocket`,
:mod:`tornadish._web.asgi_mount`): a ``WebSocketHandler`` served by an ASGI server sees
the same ``open``/``on_message``/``write_message``/``close`` as under tornadish's own
server, and ``ASGIHandler`` forwards WebSocket requests to the
mounted app's ``websocket`` scope.
"""

from __future__ import annotations

from tornadish._asgi.adapter import ASGIAdapter
from tornadish._asgi.connection import (
    ASGIApp,
    ASGIConnection,
    Message,
    Receive,
    Scope,
    Send,
)
from tornadish._web.asgi_mount import ASGIHandler

__all__ = [
    "ASGIAdapter",
    "ASGIApp",
    "ASGIConnection",
    "ASGIHandler",
    "Message",
    "Receive",
    "Scope",
    "Send",
]
