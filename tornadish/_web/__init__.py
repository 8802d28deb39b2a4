"""Layer 4, the web core: application, handler lifecycle, routing, security, static
files, uploads, compression, templating — small modules the public ``RequestHandler``
and ``Application`` are assembled from.

Rules of this folder:

1. A handler sees an ``HTTPServerRequest`` and the connection contract of
   ``tornadish._http.contract``; never a protocol object, a transport or an engine.
2. It imports the layers below (``_server`` for ``Application.listen``, ``_asgi`` for
   ``Application.asgi``, ``_template``, ``_io``, ``_http``) and the foundation, never the
   public face above it.
"""
