"""Socket helpers: binding listening sockets, validating addresses, TLS contexts."""

from __future__ import annotations

import errno
import os
import socket
import ssl
import stat
from typing import Any

__all__ = ["bind_sockets", "bind_unix_socket", "is_valid_ip", "ssl_options_to_context"]

_DEFAULT_BACKLOG = 1024


def bind_sockets(
    port: int,
    address: str | None = None,
    family: socket.AddressFamily = socket.AF_UNSPEC,
    backlog: int = _DEFAULT_BACKLOG,
    flags: int | None = None,
    reuse_port: bool = False,
) -> list[socket.socket]:
    """Create listening, non-blocking sockets bound to ``address``:``port``.

    ``address`` may be a host name (every address it resolves to is bound) or empty for
    all interfaces. ``port=0`` picks a free port; when several sockets are bound (IPv4
    and IPv6) they all share the port the first one got, as Tornado does.
    """
    if reuse_port and not hasattr(socket, "SO_REUSEPORT"):
        raise ValueError("the platform doesn't support SO_REUSEPORT")
    sockets: list[socket.socket] = []
    if address == "":
        address = None
    if not socket.has_ipv6 and family == socket.AF_UNSPEC:
        family = socket.AF_INET
    if flags is None:
        flags = socket.AI_PASSIVE
    bound_port: int | None = None
    seen: set[Any] = set()
    infos = socket.getaddrinfo(address, port, family, socket.SOCK_STREAM, 0, flags)
    for af, socktype, proto, _canon, sockaddr in sorted(infos, key=lambda x: x[0]):
        if sockaddr in seen:
            continue
        seen.add(sockaddr)
        if af == socket.AF_INET6 and len(sockaddr) > 3 and sockaddr[3] != 0:
            continue  # link-local addresses with a scope id cannot be bound this way
        try:
            sock = socket.socket(af, socktype, proto)
        except OSError as e:
            if e.errno == errno.EAFNOSUPPORT:
                continue
            raise
        try:
            if os.name != "nt":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if af == socket.AF_INET6:
                # Bind IPv6 sockets to IPv6 only, so the IPv4 socket for the same port
                # does not collide with it on dual-stack hosts.
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            host, requested_port = sockaddr[0], sockaddr[1]
            if requested_port == 0 and bound_port is not None:
                sockaddr = (host, bound_port, *tuple(sockaddr[2:]))  # type: ignore[assignment]
            sock.setblocking(False)
            sock.bind(sockaddr)
            bound_port = sock.getsockname()[1]
            sock.listen(backlog)
        except BaseException:
            sock.close()
            for s in sockets:
                s.close()
            raise
        sockets.append(sock)
    return sockets


def bind_unix_socket(
    file: str, mode: int = 0o600, backlog: int = _DEFAULT_BACKLOG
) -> socket.socket:
    """A listening Unix-domain socket at ``file`` (a stale socket file is replaced)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setblocking(False)
        try:
            st = os.stat(file)
        except FileNotFoundError:
            pass
        else:
            if stat.S_ISSOCK(st.st_mode):
                os.remove(file)
            else:
                raise ValueError(f"File {file} exists and is not a socket")
        sock.bind(file)
        os.chmod(file, mode)
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


def is_valid_ip(ip: str) -> bool:
    """True if ``ip`` is a literal IPv4 or IPv6 address (not a host name)."""
    if not ip or "\x00" in ip:
        return False
    try:
        res = socket.getaddrinfo(
            ip, 0, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST
        )
        return bool(res)
    except socket.gaierror as e:
        if e.args[0] == socket.EAI_NONAME:
            return False
        raise
    except UnicodeError:
        return False


_SSL_OPTION_KEYS = frozenset(
    ["ssl_version", "certfile", "keyfile", "cert_reqs", "ca_certs", "ciphers"]
)


def ssl_options_to_context(
    ssl_options: dict[str, Any] | ssl.SSLContext, server_side: bool = True
) -> ssl.SSLContext:
    """Turn Tornado-style ``ssl_options`` (a dict of ``ssl.wrap_socket`` arguments) into an
    ``SSLContext``; a context passes through unchanged."""
    if isinstance(ssl_options, ssl.SSLContext):
        return ssl_options
    unknown = set(ssl_options) - _SSL_OPTION_KEYS
    if unknown:
        raise ValueError(f"unsupported ssl_options: {sorted(unknown)}")
    default = ssl.PROTOCOL_TLS_SERVER if server_side else ssl.PROTOCOL_TLS_CLIENT
    ctx = ssl.SSLContext(ssl_options.get("ssl_version", default))
    if "certfile" in ssl_options:
        ctx.load_cert_chain(ssl_options["certfile"], ssl_options.get("keyfile"))
    if "cert_reqs" in ssl_options:
        ctx.verify_mode = ssl_options["cert_reqs"]
    if "ca_certs" in ssl_options:
        ctx.load_verify_locations(ssl_options["ca_certs"])
    if "ciphers" in ssl_options:
        ctx.set_ciphers(ssl_options["ciphers"])
    return ctx
