"""Layer 1, protocol: what HTTP and WebSocket *are*, with no I/O.

Rules of this folder:

1. Nothing here touches a socket, a transport, a loop or a clock (``time.time()`` for a
   request's start stamp and for the ``Date`` header, in ``answers``, are the
   exceptions). Bytes and values in, values and bytes out,
   so every rule can be tested without a network.
2. It imports only the foundation (``escape``, ``util``, ``log``) and the engines (h11,
   httptools, wsproto, websockets' sans-IO protocol, python-multipart) — never a higher
   layer. The engines' private state is never read or written.

``contract`` is the connection contract every higher layer programs against;
``h11_session`` the sans-IO HTTP/1.1 seam; ``headers``, ``parse``, ``forms`` (request
bodies) and ``request`` the request model; ``websocket`` the rules of the WebSocket
handshake and messages, ``permessage_deflate`` its compression (bounded inflating);
``ws_events`` the WebSocket seam's vocabulary, spoken by one session per engine
(``ws_wsproto``, ``ws_websockets``), chosen by ``ws_engines``; ``sse`` the
``text/event-stream`` format of server-sent events; ``answers`` what the server says on
its own (``Date``, ``Server``, its refusals).
"""
