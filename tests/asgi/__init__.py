"""ASGI both ways and WSGI (tornadish._asgi, tornadish.asgi, tornadish.wsgi)."""
