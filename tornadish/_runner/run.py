"""``tornadish.run``: serve an application in production, in one process or several.

One process: a fresh event loop (uvloop when installed), the server, and signal
handlers; SIGTERM or SIGINT starts a graceful shutdown (the drain:
:mod:`tornadish._server.shutdown`), after which the tasks still pending on the loop (a
WebSocket's callbacks, the application's own) are cancelled and given a moment to
unwind, as ``asyncio.run`` does, so none is destroyed pending; then ``run`` returns (so a
script ends with exit status 0).

Several processes (``workers=N``): the calling process becomes a supervisor that forks
N workers (:func:`tornadish.process.fork_processes`), restarts one that dies from a signal
or a non-zero exit, and passes SIGTERM/SIGINT on, exiting 0 once every worker has shut
down gracefully. With ``SO_REUSEPORT`` each worker binds the port itself, so the kernel
spreads connections over the workers' own accept queues; without it (or for ``port=0``,
which must name one port for all), the socket is bound before forking and shared. On
SIGTERM each worker closes its listener at once (serving what its accept queue holds),
then serves on as usual for ``_SIBLINGS_DELAY`` before its drain tells clients to leave:
by then its siblings have closed theirs, so a client that reconnects is refused rather
than caught in a sibling's accept queue as the kernel resets it.
"""

from __future__ import annotations

import asyncio
import errno
import signal
import socket
from collections.abc import Iterable
from typing import Any

from tornadish import netutil
from tornadish._http.engines import resolve_http
from tornadish._http.ws_engines import resolve_ws
from tornadish._io import processes
from tornadish._runner.prometheus import multiprocess_metrics
from tornadish._server.httpserver import HTTPServer
from tornadish._server.shutdown import shutdown_server
from tornadish.log import gen_log

__all__ = ["BindError", "listening_urls", "run"]

# After the server's shutdown: how long the tasks left on the loop get to unwind.
_UNWIND = 5.0
# With several workers: how long a worker that has closed its listener keeps serving as
# usual before telling clients to leave, so that its siblings (signalled at the same time,
# but perhaps not yet scheduled) close theirs first (see tornadish._server.shutdown).
_SIBLINGS_DELAY = 0.25


class BindError(OSError):
    """The port could not be bound (in use, or not ours to take); ``str()`` is one
    line naming the address. An :class:`OSError` with the original ``errno``."""

    def __str__(self) -> str:
        return str(self.strerror)


def run(
    app: Any,
    port: int = 8888,
    address: str | None = None,
    *,
    workers: int = 1,
    grace: float = 30.0,
    reload: bool = False,
    uvloop: bool | None = None,
    http: str | None = None,
    ws: str | None = None,
    **server_kwargs: Any,
) -> None:
    """Serve ``app`` on ``address``:``port`` until SIGTERM or SIGINT, then shut down
    gracefully (requests in progress get ``grace`` seconds) and return.

    ``workers``: the number of processes (``0`` or ``None``: one per CPU); with the
    application's ``metrics`` setting, in prometheus_client's multiprocess mode
    (``tornadish._runner.prometheus``).
    ``reload``: restart the process when a source file or template changes
    (:mod:`tornadish.autoreload`; single process only); also on with the application's
    ``debug``/``autoreload`` setting. ``uvloop``: run on uvloop (``None``: when it is
    installed, unless ``TORNADISH_NO_UVLOOP`` is set; see
    :meth:`~tornadish.ioloop.IOLoop.configure_uvloop`). ``http``: the HTTP/1.1 engine,
    ``"auto"`` (httptools when installed, else h11; the default unless
    ``TORNADISH_HTTP`` says otherwise), ``"h11"`` or ``"httptools"``; ``ws``: the
    WebSocket engine, ``"auto"`` (the ``websockets`` library when installed, else
    wsproto; the default unless ``TORNADISH_WS`` says otherwise), ``"wsproto"`` or
    ``"websockets"``; both checked before anything is bound. Other keyword arguments go
    to the ``HTTPServer`` constructor (``xheaders=True`` behind a proxy,
    ``max_body_size``, ...). A port that cannot be bound (taken, or privileged)
    raises :class:`BindError`, an :class:`OSError` whose message is one line, before
    any worker starts. Once listening, it logs where, as URLs:
    ``Serving on http://127.0.0.1:8888/ (HTTP/1.1 engine: httptools, ...)``.

    >>> import tornadish
    >>> tornadish.run(app, port=8000, workers=4, xheaders=True)  # doctest: +SKIP
    """
    server_kwargs["http"] = resolve_http(http)  # a bad name or a missing extra: fail now
    server_kwargs["ws"] = resolve_ws(ws)
    settings = getattr(app, "settings", None) or {}
    reload = reload or bool(settings.get("autoreload"))
    if workers != 1 and reload:
        raise ValueError("reload=True (or debug/autoreload) needs workers=1")
    sockets: list[socket.socket] = []
    reuse_port = workers != 1 and port != 0 and hasattr(socket, "SO_REUSEPORT")
    if reuse_port:
        # Each worker binds for itself; a port taken is said once, here, rather than
        # by every worker as it dies and is restarted.
        _probe(port, address)
    else:
        sockets = _bind(port, address)
    if workers != 1:
        # With the metrics setting: prometheus_client's multiprocess mode (see there).
        metrics = multiprocess_metrics(settings)
        on_exit = None if metrics is None else metrics.worker_exited
        try:
            # Returns only in a worker; the supervisor exits in there.
            processes.fork_processes(workers or None, on_exit=on_exit)
        except BaseException:
            if metrics is not None:
                metrics.close()
            raise
    if reuse_port:
        sockets = _bind(port, address, reuse_port=True)
    from tornadish.ioloop import IOLoop

    if uvloop is not None:
        IOLoop.configure_uvloop(uvloop)
    io_loop = IOLoop()
    delay = _SIBLINGS_DELAY if workers != 1 else 0.0
    try:
        io_loop.run_sync(lambda: _serve(app, sockets, grace, reload, server_kwargs, delay))
    finally:
        io_loop.close(all_fds=False)


async def _serve(
    app: Any,
    sockets: list[socket.socket],
    grace: float,
    reload: bool,
    server_kwargs: dict[str, Any],
    siblings_delay: float,
) -> None:
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    signals = (signal.SIGTERM, signal.SIGINT)
    for sig in signals:
        loop.add_signal_handler(sig, stopping.set)
    server = HTTPServer(app, **server_kwargs)
    try:
        server.add_sockets(sockets)
        await server.wait_started()
        if reload:
            start_autoreload = getattr(app, "_start_autoreload", None)
            if start_autoreload is None:  # a plain request callback
                from tornadish import autoreload

                start_autoreload = autoreload.start
            start_autoreload()
        scheme = "https" if server_kwargs.get("ssl_options") else "http"
        gen_log.info("%s", _banner(sockets, scheme, server.params.http, server.params.ws))
        await stopping.wait()
        gen_log.info("Shutting down (grace period %.1fs)", grace)
        await shutdown_server(server, grace, siblings_delay=siblings_delay)
        await _cancel_leftovers(_UNWIND)
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


def _bind(port: int, address: str | None, reuse_port: bool = False) -> list[socket.socket]:
    try:
        return netutil.bind_sockets(port, address=address, reuse_port=reuse_port)
    except OSError as e:
        raise _bind_error(e, port, address) from e


def _bind_error(e: OSError, port: int, address: str | None) -> BindError:
    where = f"{_host(address)}:{port}" if address else f"port {port}"
    reason = (e.strerror or str(e)).lower()
    return BindError(e.errno, f"cannot listen on {where}: {reason}")


def _probe(port: int, address: str | None) -> None:
    """Raise :class:`BindError` if ``port`` cannot be bound with ``SO_REUSEPORT``.

    The sockets are bound and let go without listening, so that no connection queues
    on them (a listener closed with connections queued resets them; the old server of
    a rolling restart may share the port)."""
    infos = socket.getaddrinfo(address or None, port, 0, socket.SOCK_STREAM, 0, socket.AI_PASSIVE)
    for af, socktype, proto, _, sockaddr in infos:
        try:
            sock = socket.socket(af, socktype, proto)
        except OSError:
            continue  # an address family this host lacks: bind_sockets skips it too
        with sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if af == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(sockaddr)
            except OSError as e:
                if e.errno in (errno.EADDRINUSE, errno.EACCES):
                    raise _bind_error(e, port, address) from e
                # Anything else, bind_sockets judges (and says) in the workers.


def listening_urls(sockets: Iterable[socket.socket], scheme: str = "http") -> list[str]:
    """The URLs a browser on this host opens to reach ``sockets``, one per address
    (``0.0.0.0`` and ``::``, every interface, as the loopback address), in order."""
    urls: list[str] = []
    for sock in sockets:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            continue
        host, port = sock.getsockname()[:2]
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
        url = f"{scheme}://{_host(host)}:{port}/"
        if url not in urls:
            urls.append(url)
    return urls


def _banner(sockets: list[socket.socket], scheme: str, http: str, ws: str) -> str:
    """What the server says once it listens: clickable URLs, not address tuples."""
    urls = " and ".join(listening_urls(sockets, scheme)) or "no TCP socket"
    wildcard = any(
        s.family in (socket.AF_INET, socket.AF_INET6) and s.getsockname()[0] in ("0.0.0.0", "::")
        for s in sockets
    )
    where = "all interfaces; " if wildcard else ""
    return f"Serving on {urls} ({where}HTTP/1.1 engine: {http}, WebSocket engine: {ws})"


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


async def _cancel_leftovers(timeout: float) -> None:
    """Cancel every other task still pending on the loop (this process's loop, which
    closes next) and wait up to ``timeout`` seconds for them, and for what they start
    while they unwind, to finish."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    current = asyncio.current_task()
    cancelled: set[asyncio.Task[Any]] = set()
    while True:
        pending = {t for t in asyncio.all_tasks() if t is not current and not t.done()}
        left = deadline - loop.time()
        if not pending or left <= 0:
            break
        for task in pending - cancelled:
            task.cancel()
        cancelled |= pending
        await asyncio.wait(pending, timeout=left)
    for task in cancelled:
        if task.done() and not task.cancelled() and task.exception() is not None:
            gen_log.error("Task %r failed while stopping", task, exc_info=task.exception())
    if pending:
        gen_log.warning("%d task(s) still pending at exit", len(pending))
