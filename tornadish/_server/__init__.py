"""Layer 3, server glue: the ``asyncio.Protocol`` per server connection, listening
sockets, limits, shutdown.

Rules of this folder:

1. A connection is a thin adapter: bytes go to the engine's session in ``tornadish._http``,
   its events become calls on the application's ``HTTPMessageDelegate``; the web layer
   answers through the connection contract and never sees an engine object.
2. It imports ``_io``, ``_http`` and the foundation only — never ``_client``, ``_asgi``
   or anything above.
"""
