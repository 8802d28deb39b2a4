"""Run a WSGI application (Flask, Django, ...) under tornadish.

>>> from tornadish.web import Application, FallbackHandler
>>> from tornadish.wsgi import WSGIContainer
>>> container = WSGIContainer(flask_app)                            # doctest: +SKIP
>>> app = Application([
...     (r"/api/.*", ApiHandler),
...     (r".*", FallbackHandler, {"fallback": container}),
... ])                                                              # doctest: +SKIP

WSGI is synchronous. As in Tornado 6, without an ``executor`` the application (and the
reading of the body it returns) runs on the event loop's thread, one request at a time,
which is what an application that is not thread-safe needs. Pass an executor (a
``ThreadPoolExecutor``, once the application is known to be thread-safe) to run it
there instead, so that it never blocks the loop::

    WSGIContainer(flask_app, executor=concurrent.futures.ThreadPoolExecutor(8))

The request body is read in full before the application runs; ``wsgi.input`` holds it,
``CONTENT_LENGTH`` is its length (also for a chunked request, which has no
``Content-Length`` header, so Flask and Django read it), and ``wsgi.input_terminated``
says the stream ends with it. The response is buffered before it is sent, as WSGI's
``start_response`` may be called late.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import sys
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote_to_bytes

from tornadish._http.request import HTTPServerRequest
from tornadish.concurrent import dummy_executor
from tornadish.log import access_log, app_log

__all__ = ["HTTPRequest", "WSGIApp", "WSGIContainer", "to_wsgi_str"]

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

HTTPRequest = HTTPServerRequest
"""Tornado's old name for :class:`~tornadish.httputil.HTTPServerRequest` here."""


def to_wsgi_str(s: bytes) -> str:
    """Bytes as a WSGI "native string" (PEP 3333): each byte one latin-1 character."""
    return s.decode("latin1")


class WSGIContainer:
    """Makes a WSGI application a tornadish request callback.

    Use it with :class:`~tornadish.web.FallbackHandler` (to mix it with handlers) or
    give it to ``HTTPServer`` directly. ``executor`` runs the WSGI code; by default it
    runs on the loop's thread (:data:`~tornadish.concurrent.dummy_executor`), as in
    Tornado 6.
    """

    def __init__(
        self, wsgi_application: WSGIApp, executor: concurrent.futures.Executor | None = None
    ) -> None:
        self.wsgi_application = wsgi_application
        self.executor: concurrent.futures.Executor = (
            dummy_executor if executor is None else executor
        )
        # Strong references to running requests (the loop keeps only weak ones).
        self._tasks: set[asyncio.Task[None]] = set()

    def __call__(self, request: HTTPServerRequest) -> None:
        task = asyncio.get_running_loop().create_task(self.handle_request(request))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def handle_request(self, request: HTTPServerRequest) -> None:
        """Run the WSGI application for ``request`` and send its response."""
        loop = asyncio.get_running_loop()
        environ = self.environ(request)
        try:
            status, headers, body = await loop.run_in_executor(
                self.executor, self._run_app, environ
            )
        except Exception:
            app_log.error("Uncaught exception in WSGI application", exc_info=True)
            status = "500 Internal Server Error"
            headers = [("Content-Type", "text/plain")]
            body = b"500: Internal Server Error"
        code_text, _, reason = status.partition(" ")
        code = int(code_text)
        names = {name.lower() for name, _ in headers}
        if "content-length" not in names and code not in (204, 304) and code >= 200:
            headers.append(("Content-Length", str(len(body))))
        if "content-type" not in names and code not in (204, 304):
            headers.append(("Content-Type", "text/html; charset=UTF-8"))
        if "server" not in names:
            headers.append(("Server", "tornadish/wsgi"))
        raw = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in headers]
        conn = request.connection
        assert conn is not None, "a WSGI request is answered on its connection"
        conn.send_response(code, reason or "Unknown", raw, body, True)
        self._log(code, request)

    def _run_app(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        started: list[Any] = []
        written: list[bytes] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            if exc_info is not None and started:
                raise exc_info[1].with_traceback(exc_info[2])
            started[:] = [status, list(headers)]
            return written.append

        result = self.wsgi_application(environ, start_response)
        try:
            written.extend(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        if not started:
            raise RuntimeError("WSGI app did not call start_response")
        return started[0], started[1], b"".join(written)

    def environ(self, request: HTTPServerRequest) -> dict[str, Any]:
        """The WSGI environ for ``request`` (PEP 3333).

        ``wsgi.multithread`` is true when an executor other than the loop's thread runs
        the application. ``CONTENT_LENGTH`` is the length of the buffered body wherever
        there is one (a chunked body has no ``Content-Length`` header, and a decompressed
        one no longer has the header's length), and ``wsgi.input_terminated`` is true:
        ``wsgi.input`` ends at the end of the body. (A method, not a static method,
        since Tornado 6.3.)
        """
        hostport = request.host.rsplit(":", 1)
        if len(hostport) == 2 and hostport[1].isdigit():
            host, port = hostport[0], hostport[1]
        else:
            host = request.host
            port = "443" if request.protocol == "https" else "80"
        environ: dict[str, Any] = {
            "REQUEST_METHOD": request.method,
            "SCRIPT_NAME": "",
            # PEP 3333: native strings holding the decoded bytes, latin-1 mapped.
            "PATH_INFO": to_wsgi_str(unquote_to_bytes(request.path)),
            "QUERY_STRING": request.query,
            "REMOTE_ADDR": request.remote_ip or "",
            "SERVER_NAME": host,
            "SERVER_PORT": port,
            "SERVER_PROTOCOL": request.version,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": request.protocol,
            "wsgi.input": io.BytesIO(request.body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": self.executor is not dummy_executor,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            # The input stream ends where the body does (the server read it in full).
            "wsgi.input_terminated": True,
        }
        for name, value in request.headers.get_all():
            if name in ("Content-Type", "Content-Length"):
                environ[name.upper().replace("-", "_")] = value
                continue
            key = "HTTP_" + name.replace("-", "_").upper()
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        if request.body or "CONTENT_LENGTH" in environ:
            # What wsgi.input holds: Django and Flask read CONTENT_LENGTH bytes (none
            # without it), so a chunked body would otherwise arrive empty.
            environ["CONTENT_LENGTH"] = str(len(request.body))
        return environ

    def _log(self, status_code: int, request: HTTPServerRequest) -> None:
        if status_code < 400:
            log_method = access_log.info
        elif status_code < 500:
            log_method = access_log.warning
        else:
            log_method = access_log.error
        log_method("%d %s %s (%s)", status_code, request.method, request.uri, request.remote_ip)
