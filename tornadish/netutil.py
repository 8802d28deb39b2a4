"""Socket helpers with Tornado's names: listening sockets, name resolution, TLS contexts.

- :func:`bind_sockets` / :func:`bind_unix_socket` create listening sockets, as
  ``HTTPServer.bind`` and ``tornadish.run`` use them; :func:`add_accept_handler` accepts
  connections on one with the event loop (Tornado's API for raw sockets).
- :class:`Resolver` is configurable (``Resolver.configure(...)``); the default,
  :class:`DefaultLoopResolver`, is the event loop's own ``getaddrinfo``. The executor-based
  resolvers are Tornado's deprecated ones, kept so code naming them keeps working.
- :func:`ssl_options_to_context` turns the dict form of ``ssl_options`` into an
  :class:`ssl.SSLContext`; :func:`ssl_wrap_socket` wraps a plain socket with it.

This is a foundation module: it imports nothing of tornadish above ``ioloop``,
``concurrent`` and ``util``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import functools
import os
import socket
import ssl
import stat
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from tornadish.concurrent import dummy_executor, run_on_executor
from tornadish.ioloop import IOLoop
from tornadish.util import Configurable, errno_from_exception

__all__ = [
    "BlockingResolver",
    "DefaultExecutorResolver",
    "DefaultLoopResolver",
    "ExecutorResolver",
    "OverrideResolver",
    "Resolver",
    "ThreadedResolver",
    "add_accept_handler",
    "bind_sockets",
    "bind_unix_socket",
    "is_valid_ip",
    "ssl_options_to_context",
    "ssl_wrap_socket",
]

_DEFAULT_BACKLOG = 1024
"""The ``listen()`` backlog, and how many connections one readiness event accepts at most.

Tornado uses 128; production servers behind a load balancer see bursts larger than that,
and the kernel caps the value at ``net.core.somaxconn`` anyway."""

# A resolver thread encoding a unicode host name imports ``encodings.idna``; if that first
# happens while the main thread holds the import lock (a module resolving at import time),
# the two deadlock. Loading the codecs now, on the importing thread, avoids it.
"foo".encode("idna")
"foo".encode("latin1")


# Made lazily, not at import: loading the platform's certificate store may start threads
# (macOS), and a thread running at ``os.fork()`` (``fork_processes``) is unsafe.
# ssl.Purpose names the side being authenticated: SERVER_AUTH is a client's context.
@functools.lru_cache(maxsize=1)
def _client_ssl_defaults() -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ctx.options |= ssl.OP_NO_COMPRESSION
    return ctx


@functools.lru_cache(maxsize=1)
def _server_ssl_defaults() -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.options |= ssl.OP_NO_COMPRESSION
    return ctx


# -- listening sockets ------------------------------------------------------------------


def bind_sockets(
    port: int,
    address: str | None = None,
    family: socket.AddressFamily = socket.AF_UNSPEC,
    backlog: int = _DEFAULT_BACKLOG,
    flags: int | None = None,
    reuse_port: bool = False,
) -> list[socket.socket]:
    """Create listening, non-blocking sockets bound to ``address``:``port``.

    ``address`` may be an IP address, a host name (every address it resolves to is bound)
    or ``None``/``""`` for all interfaces; ``family`` restricts to ``AF_INET`` or
    ``AF_INET6``. ``port=0`` picks a free port; when several sockets are bound (IPv4 and
    IPv6) they all share the port the first one got. ``flags`` are ``AI_*`` flags for
    ``getaddrinfo`` (default ``AI_PASSIVE``); ``reuse_port`` sets ``SO_REUSEPORT``
    (``ValueError`` where the platform lacks it).

    >>> socks = bind_sockets(0, "127.0.0.1")
    >>> [s.family.name for s in socks]
    ['AF_INET']
    >>> for s in socks:
    ...     s.close()
    """
    if reuse_port and not hasattr(socket, "SO_REUSEPORT"):
        raise ValueError("the platform doesn't support SO_REUSEPORT")
    sockets: list[socket.socket] = []
    if address == "":
        address = None
    if not socket.has_ipv6 and family == socket.AF_UNSPEC:
        # A Python built without IPv6 still gets AF_INET6 results from getaddrinfo.
        family = socket.AF_INET
    if flags is None:
        flags = socket.AI_PASSIVE
    bound_port: int | None = None
    seen: set[Any] = set()
    infos = socket.getaddrinfo(address, port, family, socket.SOCK_STREAM, 0, flags)
    try:
        for info in sorted(infos, key=lambda x: x[0]):
            if info in seen:
                continue
            seen.add(info)
            af, socktype, proto, _canon, sockaddr = info
            if (
                sys.platform == "darwin"
                and address == "localhost"
                and af == socket.AF_INET6
                and sockaddr[3] != 0
            ):
                # macOS lists the link-local fe80::1%lo0 for localhost, and its firewall
                # then asks, again and again, whether to allow it.
                continue
            try:
                sock = socket.socket(af, socktype, proto)
            except OSError as e:
                if errno_from_exception(e) == errno.EAFNOSUPPORT:
                    continue
                raise
            try:
                bound = _bind_one(sock, af, sockaddr, bound_port, backlog, reuse_port, address)
            except BaseException:
                sock.close()
                raise
            if bound is None:
                sock.close()
                continue
            bound_port = bound
            sockets.append(sock)
    except BaseException:
        for s in sockets:
            s.close()
        raise
    return sockets


def _bind_one(
    sock: socket.socket,
    af: int,
    sockaddr: Any,
    bound_port: int | None,
    backlog: int,
    reuse_port: bool,
    address: str | None,
) -> int | None:
    """Set ``sock`` up and make it listen; its port, or None to skip this address."""
    if os.name != "nt":
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        except OSError as e:
            if errno_from_exception(e) != errno.ENOPROTOOPT:  # GNU Hurd lacks it
                raise
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    if af == socket.AF_INET6 and hasattr(socket, "IPPROTO_IPV6"):
        # Linux lets an IPv6 socket take IPv4 too, which makes binding 0.0.0.0 and :: on
        # the same port collide; other systems need two sockets anyway. Always two.
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    host, requested_port = sockaddr[0], sockaddr[1]
    if requested_port == 0 and bound_port is not None:
        sockaddr = (host, bound_port, *tuple(sockaddr[2:]))
    sock.setblocking(False)
    try:
        sock.bind(sockaddr)
    except OSError as e:
        if (
            errno_from_exception(e) == errno.EADDRNOTAVAIL
            and address == "localhost"
            and sockaddr[0] == "::1"
        ):
            # IPv6 half-disabled (Docker's default): "localhost" resolves to ::1 but it
            # cannot be bound. Only this case is skipped; elsewhere it is a real error.
            return None
        raise
    port: int = sock.getsockname()[1]
    sock.listen(backlog)
    return port


if hasattr(socket, "AF_UNIX"):

    def bind_unix_socket(
        file: str, mode: int = 0o600, backlog: int = _DEFAULT_BACKLOG
    ) -> socket.socket:
        """A listening, non-blocking Unix-domain socket at ``file``.

        A socket file already there is replaced; any other file raises ``ValueError``.
        A name starting with a NUL byte is in Linux's abstract namespace (no file).
        Returns one socket, not a list as :func:`bind_sockets` does.
        """
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            except OSError as e:
                if errno_from_exception(e) != errno.ENOPROTOOPT:
                    raise
            sock.setblocking(False)
            if file.startswith("\0"):
                sock.bind(file)
            else:
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


def add_accept_handler(
    sock: socket.socket, callback: Callable[[socket.socket, Any], None]
) -> Callable[[], None]:
    """Accept connections on the listening ``sock`` with the current event loop.

    Each accepted connection is passed as ``callback(connection, address)``. Returns a
    function that stops accepting (the socket itself stays open).

    >>> import asyncio
    >>> async def main():
    ...     accepted = asyncio.Event()
    ...     [listener] = bind_sockets(0, "127.0.0.1")
    ...     stop = add_accept_handler(listener, lambda conn, addr: (conn.close(), accepted.set()))
    ...     _, writer = await asyncio.open_connection(*listener.getsockname())
    ...     await accepted.wait()
    ...     stop(); writer.close(); listener.close()
    ...     return "accepted"
    >>> asyncio.run(main())
    'accepted'
    """
    io_loop = IOLoop.current()
    removed = False

    def accept_handler(_fd: Any, _events: int) -> None:
        # Accept a bounded number per readiness event, so a flood of connections cannot
        # starve other work; and not "all there are", which would upset the balance
        # between processes sharing the socket.
        for _ in range(_DEFAULT_BACKLOG):
            if removed:
                return  # the socket was probably closed by an earlier callback
            try:
                connection, address = sock.accept()
            except BlockingIOError:
                return  # nothing more waiting
            except ConnectionAbortedError:
                continue  # closed while in the accept queue (seen on FreeBSD)
            callback(connection, address)

    def remove_handler() -> None:
        nonlocal removed
        io_loop.remove_handler(sock)
        removed = True

    io_loop.add_handler(sock, accept_handler, IOLoop.READ)
    return remove_handler


def is_valid_ip(ip: str) -> bool:
    """True if ``ip`` is a literal IPv4 or IPv6 address (not a host name).

    >>> is_valid_ip("127.0.0.1"), is_valid_ip("::1"), is_valid_ip("localhost")
    (True, True, False)
    """
    if not ip or "\x00" in ip:
        # getaddrinfo reads "" as localhost and stops at a NUL byte.
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
        # The idna codec rejects labels over 63 characters, even with AI_NUMERICHOST.
        return False


# -- resolvers --------------------------------------------------------------------------


class Resolver(Configurable):
    """Asynchronous name resolution, configurable for the whole process.

    ``Resolver()`` builds the configured implementation, :class:`DefaultLoopResolver`
    unless :meth:`~tornadish.util.Configurable.configure` chose another::

        Resolver.configure("tornadish.netutil.ThreadedResolver", num_threads=4)

    Implementations: :class:`DefaultLoopResolver`, :class:`OverrideResolver`, and
    Tornado's deprecated :class:`DefaultExecutorResolver`, :class:`ExecutorResolver`,
    :class:`BlockingResolver` and :class:`ThreadedResolver`.

    >>> import asyncio
    >>> infos = asyncio.run(Resolver().resolve("127.0.0.1", 80))
    >>> (socket.AF_INET, ("127.0.0.1", 80)) in infos
    True
    """

    @classmethod
    def configurable_base(cls) -> type[Resolver]:
        """:class:`Resolver` itself."""
        return Resolver

    @classmethod
    def configurable_default(cls) -> type[Resolver]:
        """:class:`DefaultLoopResolver`."""
        return DefaultLoopResolver

    def resolve(
        self, host: str, port: int, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> Awaitable[list[tuple[int, Any]]]:
        """Resolve ``host`` (a name or a literal address) to ``(family, address)`` pairs.

        ``address`` is what ``socket.connect`` takes: ``(host, port)`` for IPv4, more
        fields for IPv6. A name that cannot be resolved raises :class:`OSError`
        (``socket.gaierror``).
        """
        raise NotImplementedError()

    def close(self) -> None:
        """Release what the resolver holds (a thread pool, for some implementations)."""


def _resolve_addr(
    host: str, port: int, family: socket.AddressFamily = socket.AF_UNSPEC
) -> list[tuple[int, Any]]:
    # A socket type is passed because Solaris fails on ports missing from /etc/services
    # without one; the addresses remain good for datagram sockets too.
    infos = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
    return [(fam, address) for fam, _type, _proto, _canon, address in infos]


class DefaultLoopResolver(Resolver):
    """Resolution by the running event loop's ``getaddrinfo`` (the default)."""

    async def resolve(
        self, host: str, port: int, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> list[tuple[int, Any]]:
        """See :meth:`Resolver.resolve`."""
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, family=family, type=socket.SOCK_STREAM)
        return [(fam, address) for fam, _type, _proto, _canon, address in infos]


class DefaultExecutorResolver(Resolver):
    """Resolution by ``socket.getaddrinfo`` on the loop's default executor.

    Deprecated in Tornado 6.2: use :class:`DefaultLoopResolver`.
    """

    async def resolve(
        self, host: str, port: int, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> list[tuple[int, Any]]:
        """See :meth:`Resolver.resolve`."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, _resolve_addr, host, port, family)


class ExecutorResolver(Resolver):
    """Resolution by ``socket.getaddrinfo`` on a ``concurrent.futures`` executor.

    Without an ``executor`` the lookup runs at once, blocking the loop. The executor is
    shut down by :meth:`close` unless ``close_executor=False``.

    Deprecated in Tornado 5.0: use :class:`DefaultLoopResolver`.
    """

    executor: concurrent.futures.Executor | None
    close_executor: bool

    def initialize(
        self, executor: concurrent.futures.Executor | None = None, close_executor: bool = True
    ) -> None:
        """Use ``executor`` (default: run the lookup in the calling thread)."""
        if executor is not None:
            self.executor = executor
            self.close_executor = close_executor
        else:
            self.executor = dummy_executor
            self.close_executor = False

    def close(self) -> None:
        """Shut the executor down if this resolver owns it."""
        if self.close_executor and self.executor is not None:
            self.executor.shutdown()
        self.executor = None

    @run_on_executor
    def resolve(
        self, host: str, port: int, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> list[tuple[int, Any]]:
        """See :meth:`Resolver.resolve`."""
        return _resolve_addr(host, port, family)


class BlockingResolver(ExecutorResolver):
    """Resolution by ``socket.getaddrinfo`` in the loop's thread (the loop waits).

    Deprecated in Tornado 5.0: use :class:`DefaultLoopResolver`.
    """

    def initialize(self) -> None:  # type: ignore[override]
        """No arguments: the lookup always runs in the calling thread."""
        super().initialize()


class ThreadedResolver(ExecutorResolver):
    """Resolution on a thread pool shared by every ``ThreadedResolver`` of the process.

    The first one created sets the pool's size (``num_threads``); a pool inherited
    across ``fork`` (whose threads did not survive) is replaced.

    Deprecated in Tornado 5.0: use :class:`DefaultLoopResolver`.
    """

    # Process-wide, as in Tornado: the pool is shared by design.
    _threadpool: concurrent.futures.ThreadPoolExecutor | None = None
    _threadpool_pid: int | None = None

    def initialize(self, num_threads: int = 10) -> None:  # type: ignore[override]
        """Use the shared pool, creating it with ``num_threads`` threads if needed."""
        threadpool = ThreadedResolver._create_threadpool(num_threads)
        super().initialize(executor=threadpool, close_executor=False)

    @classmethod
    def _create_threadpool(cls, num_threads: int) -> concurrent.futures.ThreadPoolExecutor:
        pid = os.getpid()
        if cls._threadpool_pid != pid:
            cls._threadpool = None
        if cls._threadpool is None:
            cls._threadpool = concurrent.futures.ThreadPoolExecutor(num_threads)
            cls._threadpool_pid = pid
        return cls._threadpool


class OverrideResolver(Resolver):
    """Another resolver with some names (or name, port, family) mapped elsewhere.

    Handy to point a test, or one deployment, at other hosts without touching DNS::

        OverrideResolver(DefaultLoopResolver(), {
            "example.com": "127.0.1.1",                                # host to host
            ("login.example.com", 443): ("localhost", 1443),           # host, port
            ("login.example.com", 443, socket.AF_INET6): ("::1", 1443),  # ... family
        })

    The most specific key wins. :meth:`close` closes the wrapped resolver.
    """

    resolver: Resolver
    mapping: dict[Any, Any]

    def initialize(self, resolver: Resolver, mapping: dict[Any, Any]) -> None:
        """Wrap ``resolver`` with the overrides in ``mapping``."""
        self.resolver = resolver
        self.mapping = mapping

    def close(self) -> None:
        """Close the wrapped resolver."""
        self.resolver.close()

    def resolve(
        self, host: str, port: int, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> Awaitable[list[tuple[int, Any]]]:
        """See :meth:`Resolver.resolve`; overridden names are resolved as mapped."""
        if (host, port, family) in self.mapping:
            host, port = self.mapping[(host, port, family)]
        elif (host, port) in self.mapping:
            host, port = self.mapping[(host, port)]
        elif host in self.mapping:
            host = self.mapping[host]
        return self.resolver.resolve(host, port, family)


# -- TLS --------------------------------------------------------------------------------

# The ``ssl.wrap_socket`` keywords that have an ``SSLContext`` equivalent.
_SSL_CONTEXT_KEYWORDS = frozenset(
    ["ssl_version", "certfile", "keyfile", "cert_reqs", "ca_certs", "ciphers"]
)


def check_server_ssl_options(ssl_options: dict[str, Any] | ssl.SSLContext | None) -> None:
    """Fail at start-up, not at the first client, on a server's dict ``ssl_options``
    without a ``certfile`` (``KeyError``) or naming files that do not exist
    (``ValueError``), as Tornado's servers do."""
    if not isinstance(ssl_options, dict):
        return
    if "certfile" not in ssl_options:
        raise KeyError('missing key "certfile" in ssl_options')
    if not os.path.exists(ssl_options["certfile"]):
        raise ValueError(f'certfile "{ssl_options["certfile"]}" does not exist')
    if "keyfile" in ssl_options and not os.path.exists(ssl_options["keyfile"]):
        raise ValueError(f'keyfile "{ssl_options["keyfile"]}" does not exist')


def ssl_options_to_context(
    ssl_options: dict[str, Any] | ssl.SSLContext, server_side: bool | None = None
) -> ssl.SSLContext:
    """Turn Tornado's dict form of ``ssl_options`` into an :class:`ssl.SSLContext`.

    A context passes through unchanged. The dict may hold ``ssl_version``, ``certfile``,
    ``keyfile``, ``cert_reqs``, ``ca_certs`` and ``ciphers``; any other key raises
    ``ValueError``. ``server_side`` picks ``PROTOCOL_TLS_SERVER`` or
    ``PROTOCOL_TLS_CLIENT``; left out, the generic ``PROTOCOL_TLS`` is used, which
    Python 3.10+ reports as deprecated. TLS compression (CRIME) is always off.

    >>> ctx = ssl_options_to_context({"cert_reqs": ssl.CERT_NONE}, server_side=False)
    >>> ctx.verify_mode == ssl.CERT_NONE, ctx.check_hostname
    (True, False)
    """
    if isinstance(ssl_options, ssl.SSLContext):
        return ssl_options
    unknown = set(ssl_options) - _SSL_CONTEXT_KEYWORDS
    if unknown:
        raise ValueError(f"unsupported ssl_options: {sorted(unknown)}")
    if server_side is None:
        default_version = ssl.PROTOCOL_TLS
    elif server_side:
        default_version = ssl.PROTOCOL_TLS_SERVER
    else:
        default_version = ssl.PROTOCOL_TLS_CLIENT
    context = ssl.SSLContext(ssl_options.get("ssl_version", default_version))
    if "certfile" in ssl_options:
        context.load_cert_chain(ssl_options["certfile"], ssl_options.get("keyfile"))
    if "cert_reqs" in ssl_options:
        if ssl_options["cert_reqs"] == ssl.CERT_NONE:
            # PROTOCOL_TLS_CLIENT turns hostname checking on, which CERT_NONE forbids.
            context.check_hostname = False
        context.verify_mode = ssl_options["cert_reqs"]
    if "ca_certs" in ssl_options:
        context.load_verify_locations(ssl_options["ca_certs"])
    if "ciphers" in ssl_options:
        context.set_ciphers(ssl_options["ciphers"])
    context.options |= ssl.OP_NO_COMPRESSION
    return context


def ssl_wrap_socket(
    socket: socket.socket,
    ssl_options: dict[str, Any] | ssl.SSLContext,
    server_hostname: str | None = None,
    server_side: bool | None = None,
    **kwargs: Any,
) -> ssl.SSLSocket:
    """Wrap a connected socket in TLS with ``ssl_options`` (a dict or a context).

    ``server_hostname`` is sent as SNI (and checked, where the context checks host
    names); other keyword arguments go to :meth:`ssl.SSLContext.wrap_socket`.
    """
    context = ssl_options_to_context(ssl_options, server_side=server_side)
    return context.wrap_socket(
        socket, server_hostname=server_hostname, server_side=bool(server_side), **kwargs
    )
