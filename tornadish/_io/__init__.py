"""Layer 2, shared asyncio glue: what every role (server, client, ASGI) does with a
transport the same way.

Rules of this folder:

1. Flow control (pausing/resuming writes, drain waiters) and deadline timers are written
   here once, and every protocol object uses them.
2. It imports only ``tornadish._http`` and the foundation. A module here knows no role:
   the WebSocket connection serves the server and the client alike.
3. Processes live here too: forking workers (``processes``, which the server uses) and
   ``Subprocess`` (``subprocess``, whose pipes are ``PipeIOStream`` objects); the public
   ``tornadish.process`` re-exports both.
"""
