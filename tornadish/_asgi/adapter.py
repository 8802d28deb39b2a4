"""The outward ASGI bridge: :class:`ASGIAdapter` serves a tornadish ``Application`` from
any ASGI 3 server (lifespan, ``http`` and ``websocket`` scopes)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

from tornadish._asgi.connection import (
    ASGIConnection,
    Receive,
    Scope,
    Send,
    _error_response,
    _TooLarge,
    request_head,
)
from tornadish._asgi.websocket import serve_websocket
from tornadish._http.contract import HTTPServerConnectionDelegate, StreamClosedError
from tornadish._http.headers import HTTPInputError
from tornadish._io.drain import Drain
from tornadish.log import app_log, gen_log

__all__ = ["ASGIAdapter"]

# How long handlers cancelled by the lifespan's shutdown get to unwind (finally, on_finish).
_UNWIND = 2.0


class ASGIAdapter:
    """An ASGI 3 application serving a tornadish ``Application`` (or any
    ``HTTPServerConnectionDelegate``).

    >>> adapter = ASGIAdapter(Application([(r"/", MainHandler)]))   # doctest: +SKIP
    >>> adapter.on_startup.append(open_database)                      # doctest: +SKIP
    >>> uvicorn.run(adapter)                                          # doctest: +SKIP

    ``Application.asgi`` returns one made for you. ``on_startup``/``on_shutdown`` hold
    callables (plain or ``async``) run on the lifespan startup and shutdown events.

    The lifespan's shutdown also drains what the ASGI server left running: it completes
    ``RequestHandler.shutting_down``, waits up to :attr:`shutdown_grace` seconds for the
    handlers' tasks, then cancels those left and lets them unwind, before the
    ``on_shutdown`` hooks run. (ASGI servers send it once their own drain is over, so
    streams that wait on ``shutting_down`` only end within the server's own timeout:
    ``--timeout-graceful-shutdown`` for uvicorn.)
    """

    #: Seconds the lifespan's shutdown waits for handlers still running. Short: the ASGI
    #: server has given its connections their grace period already.
    shutdown_grace: float = 1.0

    def __init__(self, application: HTTPServerConnectionDelegate) -> None:
        self.application = application
        self.on_startup: list[Callable[[], object]] = []
        self.on_shutdown: list[Callable[[], object]] = []
        self._drain = Drain()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            await serve_websocket(self.application, scope, receive, send, self._drain)
        else:
            raise ValueError(f"unsupported ASGI scope type {kind!r}")

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await _run_all(self.on_startup)
                except Exception as e:
                    app_log.exception("Error in ASGI startup hook")
                    await send({"type": "lifespan.startup.failed", "message": str(e)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self._drained()
                try:
                    await _run_all(self.on_shutdown)
                except Exception as e:
                    app_log.exception("Error in ASGI shutdown hook")
                    await send({"type": "lifespan.shutdown.failed", "message": str(e)})
                    return
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        conn = ASGIConnection(scope, send, self._drain)
        start_line, headers = request_head(scope, scope["method"])
        delegate = self.application.start_request(conn, conn)
        try:
            pending = delegate.headers_received(start_line, headers)
            if pending is not None:
                await pending
            received = 0
            more = True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    conn.lost()
                    delegate.on_connection_close()
                    return
                chunk = message.get("body", b"")
                more = message.get("more_body", False)
                if not chunk or conn.response_finished:
                    continue  # answered early: read and drop the rest
                received += len(chunk)
                if received > conn.max_body_size:
                    raise _TooLarge()
                pending = delegate.data_received(chunk)
                if pending is not None:
                    await pending
            if not conn.response_finished:
                delegate.finish()
        except _TooLarge:
            # As the HTTP server answers (docs/migrating.md): 400 with Tornado's words,
            # or 413 over a route's own limit.
            status = conn.too_large_status
            if status == 400:
                gen_log.info(
                    "Malformed HTTP message from %s: Content-Length too long", conn.remote_ip
                )
            else:
                gen_log.info("Request body too large from %s (%d)", conn.remote_ip, status)
            _error_response(conn, status, delegate)
        except HTTPInputError as e:
            gen_log.info("Bad request body from %s: %s", conn.remote_ip, e)
            _error_response(conn, 400, delegate)
        except Exception:
            app_log.error("Uncaught exception handling an ASGI request", exc_info=True)
            _error_response(conn, 500, delegate)
        # Wait for the response, noticing a client that goes away meanwhile (long polls).
        watcher = asyncio.ensure_future(_watch_disconnect(receive, conn, delegate))
        try:
            await conn.wait_sent()
        finally:
            watcher.cancel()
        if conn.aborted and conn.response_started:
            # The response cannot be completed; only failing the call makes the server
            # drop the connection instead of ending the body cleanly.
            raise StreamClosedError()

    async def _drained(self) -> None:
        # Handlers still running when the ASGI server has finished (or given up on) its
        # connections: told, waited for, then cancelled so that they unwind.
        drain = self._drain
        drain.start()
        if not await drain.wait(self.shutdown_grace):
            gen_log.warning("Cancelling %d handler task(s) still running", drain.held)
            stuck = await drain.cancel(_UNWIND)
            if stuck:
                gen_log.warning("%d handler task(s) did not finish after being cancelled", stuck)


async def _watch_disconnect(receive: Receive, conn: ASGIConnection, delegate: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            if not conn.response_finished:
                conn.lost()
                delegate.on_connection_close()
            return


async def _run_all(hooks: list[Callable[[], object]]) -> None:
    for hook in hooks:
        result = hook()
        if inspect.isawaitable(result):
            await result
