"""``HTTPServer``: listening sockets plus one HTTP/1.1 protocol object per connection.

>>> from tornadish.web import Application
>>> server = HTTPServer(Application([]))     # doctest: +SKIP
>>> server.listen(8888)                      # doctest: +SKIP

``listen``/``add_sockets`` work both before the event loop runs (Tornado's
``server.listen(8888); IOLoop.current().start()``) and inside a running loop (the
sockets are bound and listening at once; accepting starts on the loop's next turn).
"""

from __future__ import annotations

from tornadish._http.contract import StreamClosedError
from tornadish._server.httpserver import HTTPServer

__all__ = ["HTTPServer", "StreamClosedError"]
