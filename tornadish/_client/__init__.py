"""Layer 3, client glue: the HTTP client's connections, keep-alive pool and request
preparation (under the public ``tornadish.httpclient``).

Rules of this folder:

1. ``connection`` is the only client module that drives h11; ``connection_base`` is
   what it and ``h2_connection`` share; ``request`` is pure preparation; ``pool`` owns
   slots and idle connections.
2. It imports ``_io``, ``_http`` and the foundation only.
"""
