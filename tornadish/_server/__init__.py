"""Layer 3, server glue: the ``asyncio.Protocol`` per server connection, listening
sockets, limits, shutdown.

Rules of this folder:

1. A connection is a thin adapter: bytes go to the engine's session in ``tornadish._http``,
   its events become calls on the application's ``HTTPMessageDelegate``; the web layer
   answers through the connection contract and never sees an engine object.
2. It imports ``_io``, ``_http`` and the foundation only — never ``_client``, ``_asgi``
   or anything above.

Where things are: ``connection`` (a connection's state, limits, deadlines, closing),
``reading`` (the read loop), ``protocol`` (the request/response cycle and the connection
contract; ``HTTP1ServerProtocol``), ``proxy_headers`` (``xheaders``), ``params``,
``httpserver`` (``HTTPServer``), ``shutdown``. Flow control and the deadline timer are
``tornadish._io.flow_control``'s.
"""
