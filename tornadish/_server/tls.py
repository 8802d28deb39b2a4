"""Accepting TLS connections so that a failed handshake is seen.

Rules of this module:

1. A TLS listener is not handed to ``loop.create_server(ssl=...)``: asyncio (and uvloop)
   would run each handshake themselves and drop a failed one without a word, so a
   plain-HTTP client on the HTTPS port, a client refusing our certificate or a protocol
   mismatch would leave no trace. :func:`accept_tls` accepts the sockets itself
   (``netutil.add_accept_handler``, as Tornado's ``TCPServer`` does) and gives each to
   ``loop.connect_accepted_socket(ssl=...)``, whose await reports the handshake's
   failure; the HTTP protocol is made by that call and sees ``connection_made`` once
   the handshake is done, before any request byte.
2. A failed handshake is logged as Tornado logs it: ``SSL Error on <fd> <peer>:
   <error>`` at WARNING, without a traceback (Tornado's tests and users' log filters
   match on it). A peer that simply went away (EOF, reset, the handshake timeout) is
   noise at scale: DEBUG.
3. Handshakes in flight are tasks in ``pending``, the server's to cancel
   (``HTTPServer.close_all_connections`` and shutdown): they belong to no HTTP
   connection yet. A cancelled one closes its socket.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable
from typing import Any

from tornadish.log import gen_log
from tornadish.netutil import add_accept_handler

__all__ = ["accept_tls"]

# The listen backlog of a TLS listener, as create_server's for plain ones.
_BACKLOG = 1024


def accept_tls(
    sock: socket.socket,
    context: ssl.SSLContext,
    make_protocol: Callable[[], asyncio.Protocol],
    pending: set[asyncio.Task[None]],
) -> Callable[[], None]:
    """Accept TLS connections on the listening ``sock`` (see the module's rules);
    returns the function that stops accepting (the socket stays open)."""
    sock.listen(_BACKLOG)

    def accepted(conn: socket.socket, address: Any) -> None:
        conn.setblocking(False)
        task = asyncio.get_running_loop().create_task(
            _handshake(conn, address, context, make_protocol)
        )
        pending.add(task)
        task.add_done_callback(pending.discard)

    return add_accept_handler(sock, accepted)


async def _handshake(
    conn: socket.socket,
    address: Any,
    context: ssl.SSLContext,
    make_protocol: Callable[[], asyncio.Protocol],
) -> None:
    fd = conn.fileno()  # for the log line: a failed handshake closes the socket
    try:
        await asyncio.get_running_loop().connect_accepted_socket(make_protocol, conn, ssl=context)
    except (ssl.SSLEOFError, ConnectionError, TimeoutError) as e:
        gen_log.debug("TLS handshake with %s abandoned: %r", address, e)
        conn.close()
    except (ssl.SSLError, OSError) as e:
        gen_log.warning("SSL Error on %s %s: %s", fd, address, e)
        conn.close()
    except asyncio.CancelledError:
        conn.close()
        raise
