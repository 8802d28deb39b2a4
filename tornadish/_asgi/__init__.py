"""Layer 3, ASGI glue: an ASGI server plays the connection.

Rules of this folder:

1. The adapter turns ASGI scopes and messages into the same delegate calls the native
   server makes, and implements the same connection contract, so the web layer cannot
   tell the difference.
2. It imports ``_io``, ``_http`` and the foundation only; mounting an ASGI app *inside*
   an application needs a handler, so that lives in ``tornadish._web.asgi_mount``.
"""
