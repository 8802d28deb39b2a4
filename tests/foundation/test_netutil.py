"""``tornadish.netutil``: Tornado 6.6.1's ``netutil_test.py`` ported (every assertion kept,
``tornado`` -> ``tornadish``), then our own tests of what it leaves out: the default and
configured resolvers, ``add_accept_handler``, Unix sockets and TLS, over real sockets on
both asyncio's loop and uvloop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import os
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import sys
import tempfile
import threading
import time
import typing
import unittest
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tornadish import testing
from tornadish.netutil import (
    _DEFAULT_BACKLOG,
    BlockingResolver,
    DefaultExecutorResolver,
    DefaultLoopResolver,
    ExecutorResolver,
    OverrideResolver,
    Resolver,
    ThreadedResolver,
    add_accept_handler,
    bind_sockets,
    bind_unix_socket,
    is_valid_ip,
    ssl_options_to_context,
    ssl_wrap_socket,
)
from tornadish.testing import AsyncHTTPSTestCase, bind_unused_port, gen_test

REPO = Path(__file__).resolve().parents[2]


class AsyncTestCase(testing.AsyncTestCase):
    """``tornadish.testing.AsyncTestCase`` that fails when anything is logged (as
    Tornado's ``tornado.test.util.AsyncTestCase`` does)."""

    def setUp(self) -> None:
        no_logs = self.assertNoLogs()
        no_logs.__enter__()
        self.addCleanup(no_logs.__exit__, None, None, None)
        super().setUp()


# -- Tornado's netutil_test.py ----------------------------------------------------------


class _ResolverTestMixin(AsyncTestCase):
    resolver: typing.Any = None

    @gen_test
    def test_localhost(self):
        addrinfo = yield self.resolver.resolve("localhost", 80, socket.AF_UNSPEC)
        # localhost is the IPv4 loopback, the IPv6 one, or both.
        self.assertTrue(
            ((socket.AF_INET, ("127.0.0.1", 80)) in addrinfo)
            or ((socket.AF_INET6, ("::1", 80)) in addrinfo),
            f"loopback address not found in {addrinfo}",
        )


class _ResolverErrorTestMixin(AsyncTestCase):
    resolver: typing.Any = None

    @gen_test
    def test_bad_host(self):
        with self.assertRaises(IOError):
            yield self.resolver.resolve("an invalid domain", 80, socket.AF_UNSPEC)


# The mixins hold tests but are no test cases of their own (Tornado's abstract_base_test).
_ResolverTestMixin.__test__ = False  # type: ignore[attr-defined]
_ResolverErrorTestMixin.__test__ = False  # type: ignore[attr-defined]


def _failing_getaddrinfo(*args: Any, **kwargs: Any) -> Any:
    """Stands in for getaddrinfo: name resolution errors are not reliably reproducible."""
    raise socket.gaierror(errno.EIO, "mock: lookup failed")


class BlockingResolverTest(_ResolverTestMixin):
    __test__ = True

    def setUp(self):
        super().setUp()
        self.resolver = BlockingResolver()


class BlockingResolverErrorTest(_ResolverErrorTestMixin):
    __test__ = True

    def setUp(self):
        super().setUp()
        self.resolver = BlockingResolver()
        self.real_getaddrinfo = socket.getaddrinfo
        socket.getaddrinfo = _failing_getaddrinfo

    def tearDown(self):
        socket.getaddrinfo = self.real_getaddrinfo
        super().tearDown()


class OverrideResolverTest(_ResolverTestMixin):
    __test__ = True

    def setUp(self):
        super().setUp()
        mapping = {
            ("google.com", 80): ("1.2.3.4", 80),
            ("google.com", 80, socket.AF_INET): ("1.2.3.4", 80),
            ("google.com", 80, socket.AF_INET6): (
                "2a02:6b8:7c:40c:c51e:495f:e23a:3",
                80,
            ),
        }
        self.resolver = OverrideResolver(BlockingResolver(), mapping)

    @gen_test
    def test_resolve_multiaddr(self):
        result = yield self.resolver.resolve("google.com", 80, socket.AF_INET)
        self.assertIn((socket.AF_INET, ("1.2.3.4", 80)), result)

        result = yield self.resolver.resolve("google.com", 80, socket.AF_INET6)
        self.assertIn((socket.AF_INET6, ("2a02:6b8:7c:40c:c51e:495f:e23a:3", 80, 0, 0)), result)


class ThreadedResolverTest(_ResolverTestMixin):
    __test__ = True

    def setUp(self):
        super().setUp()
        self.resolver = ThreadedResolver()

    def tearDown(self):
        self.resolver.close()
        # The pool is shared by every ThreadedResolver: shut it down for the next test.
        if ThreadedResolver._threadpool is not None:
            ThreadedResolver._threadpool.shutdown(wait=True)
            ThreadedResolver._threadpool = None
        super().tearDown()


class ThreadedResolverErrorTest(_ResolverErrorTestMixin):
    __test__ = True

    def setUp(self):
        super().setUp()
        # As in Tornado's test: a BlockingResolver (a ThreadedResolver's thread would
        # not see the patched getaddrinfo any differently; see our own test below).
        self.resolver = BlockingResolver()
        self.real_getaddrinfo = socket.getaddrinfo
        socket.getaddrinfo = _failing_getaddrinfo

    def tearDown(self):
        socket.getaddrinfo = self.real_getaddrinfo
        super().tearDown()


_RESOLVE_AT_IMPORT = """\
from tornadish.ioloop import IOLoop
from tornadish.netutil import ThreadedResolver

# Resolving a unicode host name on a thread imports encodings.idna there, while the main
# thread holds the import lock for this module: netutil preloads the codec to avoid that.
resolver = ThreadedResolver()
IOLoop.current().run_sync(lambda: resolver.resolve("localhost", 80))
"""


@unittest.skipIf(sys.platform == "win32", "preexec_fn not available on win32")
class ThreadedResolverImportTest(unittest.TestCase):
    def test_import(self):
        TIMEOUT = 5
        tmp = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, tmp)
        (tmp / "resolve_test_helper.py").write_text(_RESOLVE_AT_IMPORT)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp), str(REPO)]))
        command = [sys.executable, "-c", "import resolve_test_helper"]

        start = time.time()
        popen = subprocess.Popen(command, env=env, preexec_fn=lambda: signal.alarm(TIMEOUT))
        while time.time() - start < TIMEOUT:
            return_code = popen.poll()
            if return_code is not None:
                self.assertEqual(0, return_code)
                return  # Success.
            time.sleep(0.05)

        self.fail("import timed out")


class IsValidIPTest(unittest.TestCase):
    def test_is_valid_ip(self):
        self.assertTrue(is_valid_ip("127.0.0.1"))
        self.assertTrue(is_valid_ip("4.4.4.4"))
        self.assertTrue(is_valid_ip("::1"))
        self.assertTrue(is_valid_ip("2620:0:1cfe:face:b00c::3"))
        self.assertFalse(is_valid_ip("www.google.com"))
        self.assertFalse(is_valid_ip("localhost"))
        self.assertFalse(is_valid_ip("4.4.4.4<"))
        self.assertFalse(is_valid_ip(" 127.0.0.1"))
        self.assertFalse(is_valid_ip(""))
        self.assertFalse(is_valid_ip(" "))
        self.assertFalse(is_valid_ip("\n"))
        self.assertFalse(is_valid_ip("\x00"))
        self.assertFalse(is_valid_ip("a" * 100))


class TestPortAllocation(unittest.TestCase):
    def test_same_port_allocation(self):
        sockets = bind_sockets(0, "localhost")
        try:
            port = sockets[0].getsockname()[1]
            self.assertTrue(all(s.getsockname()[1] == port for s in sockets[1:]))
        finally:
            for sock in sockets:
                sock.close()

    @unittest.skipIf(not hasattr(socket, "SO_REUSEPORT"), "SO_REUSEPORT is not supported")
    def test_reuse_port(self):
        sockets: list[socket.socket] = []
        sock, port = bind_unused_port(reuse_port=True)
        try:
            sockets = bind_sockets(port, "127.0.0.1", reuse_port=True)
            self.assertTrue(all(s.getsockname()[1] == port for s in sockets))
        finally:
            sock.close()
            for sock in sockets:
                sock.close()


# -- our own: resolvers -----------------------------------------------------------------


@pytest.fixture
def run(loop_factory: Callable[[], asyncio.AbstractEventLoop]) -> Iterator[Callable[..., Any]]:
    """Run a coroutine to completion on a fresh loop of each kind (asyncio, uvloop)."""
    loop = loop_factory()
    asyncio.set_event_loop(loop)
    try:
        yield lambda coro: loop.run_until_complete(asyncio.wait_for(coro, 10))
    finally:
        asyncio.set_event_loop(None)
        loop.close()


@pytest.fixture
def restore_resolver_configuration() -> Iterator[None]:
    saved = Resolver._save_configuration()
    yield
    Resolver._restore_configuration(saved)


def test_the_default_resolver_is_the_loops_getaddrinfo(
    restore_resolver_configuration: None,
) -> None:
    Resolver.configure(None)
    assert Resolver.configured_class() is DefaultLoopResolver
    assert type(Resolver()) is DefaultLoopResolver


def test_configure_by_name_with_default_keyword_arguments(
    restore_resolver_configuration: None,
) -> None:
    Resolver.configure("tornadish.netutil.ExecutorResolver", close_executor=False)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        resolver = Resolver(executor=pool)
        assert isinstance(resolver, ExecutorResolver)
        assert resolver.executor is pool and resolver.close_executor is False
        resolver.close()
        assert pool.submit(int, "7").result() == 7  # not shut down: it was not ours


def test_configure_refuses_a_class_that_is_no_resolver(
    restore_resolver_configuration: None,
) -> None:
    with pytest.raises(ValueError, match="Invalid subclass"):
        Resolver.configure(dict)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Invalid subclass"):
        Resolver.configure("tornadish.netutil.is_valid_ip")


def test_an_implementation_built_directly_ignores_the_configuration(
    restore_resolver_configuration: None,
) -> None:
    Resolver.configure(BlockingResolver)
    assert type(DefaultLoopResolver()) is DefaultLoopResolver
    assert type(Resolver()) is BlockingResolver


@pytest.mark.parametrize(
    "make",
    [DefaultLoopResolver, DefaultExecutorResolver, BlockingResolver, ThreadedResolver],
    ids=lambda c: c.__name__,
)
def test_each_resolver_resolves_literals_and_localhost(
    make: Callable[[], Resolver], run: Callable[..., Any]
) -> None:
    resolver = make()
    try:
        assert run(resolver.resolve("127.0.0.1", 8080)) == [(socket.AF_INET, ("127.0.0.1", 8080))]
        v6 = run(resolver.resolve("::1", 443, socket.AF_INET6))
        assert v6 == [(socket.AF_INET6, ("::1", 443, 0, 0))]
        local = run(resolver.resolve("localhost", 80, socket.AF_INET))
        assert local == [(socket.AF_INET, ("127.0.0.1", 80))]
    finally:
        resolver.close()


@pytest.mark.parametrize(
    "make",
    [DefaultLoopResolver, DefaultExecutorResolver, BlockingResolver, ThreadedResolver],
    ids=lambda c: c.__name__,
)
def test_each_resolver_raises_oserror_for_a_name_that_does_not_resolve(
    make: Callable[[], Resolver], run: Callable[..., Any]
) -> None:
    resolver = make()
    try:
        with pytest.raises(OSError):
            # A numeric-only lookup of a name fails at once, without asking any DNS.
            run(resolver.resolve("not a host name", 80, socket.AF_INET))
    finally:
        resolver.close()


def test_the_threaded_resolver_uses_its_pool_off_the_loop_thread(run: Callable[..., Any]) -> None:
    threads: list[str] = []
    real = socket.getaddrinfo

    def recording(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return real(*args, **kwargs)

    resolver = ThreadedResolver(num_threads=2)
    socket.getaddrinfo = recording
    try:
        assert run(resolver.resolve("127.0.0.1", 1)) == [(socket.AF_INET, ("127.0.0.1", 1))]
    finally:
        socket.getaddrinfo = real
        resolver.close()
    assert threads and threads[0] != threading.current_thread().name
    assert ThreadedResolver._threadpool is not None  # shared, not shut down by close()


def test_an_owned_executor_is_shut_down_by_close(run: Callable[..., Any]) -> None:
    pool = concurrent.futures.ThreadPoolExecutor(1)
    resolver = ExecutorResolver(executor=pool)
    assert run(resolver.resolve("127.0.0.1", 1)) == [(socket.AF_INET, ("127.0.0.1", 1))]
    resolver.close()
    with pytest.raises(RuntimeError):
        pool.submit(int)


def test_override_resolver_most_specific_key_wins_and_close_reaches_the_wrapped(
    run: Callable[..., Any],
) -> None:
    closed: list[bool] = []

    class Inner(DefaultLoopResolver):
        def close(self) -> None:
            closed.append(True)

    resolver = OverrideResolver(
        Inner(),
        {
            "example.com": "127.0.0.2",
            ("example.com", 443): ("127.0.0.3", 8443),
            ("example.com", 443, socket.AF_INET): ("127.0.0.4", 9443),
        },
    )
    assert run(resolver.resolve("example.com", 80, socket.AF_INET)) == [
        (socket.AF_INET, ("127.0.0.2", 80))
    ]
    assert run(resolver.resolve("example.com", 443)) == [(socket.AF_INET, ("127.0.0.3", 8443))]
    assert run(resolver.resolve("example.com", 443, socket.AF_INET)) == [
        (socket.AF_INET, ("127.0.0.4", 9443))
    ]
    resolver.close()
    assert closed == [True]


# -- our own: listening sockets ---------------------------------------------------------


def test_bind_sockets_numeric_flags_and_all_interfaces() -> None:
    socks = bind_sockets(0, "127.0.0.1", flags=socket.AI_NUMERICHOST)
    try:
        assert [s.getsockname()[0] for s in socks] == ["127.0.0.1"]
        assert all(not s.getblocking() for s in socks)
    finally:
        for s in socks:
            s.close()
    with pytest.raises(socket.gaierror):
        bind_sockets(0, "localhost", flags=socket.AI_NUMERICHOST)
    socks = bind_sockets(0, "")
    try:
        assert {s.getsockname()[0] for s in socks} <= {"0.0.0.0", "::"}
        assert len({s.getsockname()[1] for s in socks}) == 1
        for s in socks:
            if s.family == socket.AF_INET6:
                assert s.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 1
    finally:
        for s in socks:
            s.close()


def test_bind_sockets_closes_what_it_bound_when_a_later_bind_fails() -> None:
    taken, port = bind_unused_port()
    try:
        before = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
        with pytest.raises(OSError) as info:
            bind_sockets(port, "127.0.0.1")
        assert info.value.errno == errno.EADDRINUSE
        if before is not None:
            assert len(os.listdir("/proc/self/fd")) == before
    finally:
        taken.close()


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no Unix sockets")
def test_bind_unix_socket_replaces_a_stale_socket_and_keeps_other_files(tmp_path: Path) -> None:
    path = str(tmp_path / "s.sock")
    first = bind_unix_socket(path, mode=0o660)
    first.close()  # the file stays behind, as after a crash
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o660
    second = bind_unix_socket(path)
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert not second.getblocking()
        client = socket.socket(socket.AF_UNIX)
        client.connect(path)
        client.close()
    finally:
        second.close()
    regular = tmp_path / "plain"
    regular.write_text("keep me")
    with pytest.raises(ValueError, match="exists and is not a socket"):
        bind_unix_socket(str(regular))
    assert regular.read_text() == "keep me"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux abstract namespace")
def test_bind_unix_socket_in_the_abstract_namespace() -> None:
    name = f"\0tornadish-test-{os.getpid()}"
    sock = bind_unix_socket(name)
    try:
        client = socket.socket(socket.AF_UNIX)
        client.connect(name)
        client.close()
    finally:
        sock.close()


def test_add_accept_handler_accepts_until_removed(run: Callable[..., Any]) -> None:
    [listener] = bind_sockets(0, "127.0.0.1", family=socket.AF_INET)
    port = listener.getsockname()[1]

    async def main() -> None:
        accepted: asyncio.Queue[tuple[socket.socket, Any]] = asyncio.Queue()
        remove = add_accept_handler(listener, lambda c, a: accepted.put_nowait((c, a)))
        writers = []
        for _ in range(3):
            _, w = await asyncio.open_connection("127.0.0.1", port)
            writers.append(w)
        peers = []
        for _ in writers:
            conn, address = await accepted.get()
            assert address[0] == "127.0.0.1"
            peers.append(address)
            conn.close()
        assert sorted(peers) == sorted(w.get_extra_info("sockname") for w in writers)
        remove()
        # After remove(), a new connection waits in the backlog: nobody accepts it.
        _, late = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.sleep(0.05)
        assert accepted.empty()
        listener.setblocking(True)
        listener.settimeout(1)
        conn, _ = listener.accept()  # still queued: accepting it by hand works
        conn.close()
        for w in [*writers, late]:
            w.close()

    try:
        run(main())
    finally:
        listener.close()


def test_add_accept_handler_bounds_the_accepts_per_wakeup(run: Callable[..., Any]) -> None:
    """One readiness event accepts at most ``_DEFAULT_BACKLOG`` connections, so a flood
    cannot starve the loop; the rest are accepted on the next event."""
    [listener] = bind_sockets(0, "127.0.0.1", family=socket.AF_INET)
    accepted: list[socket.socket] = []

    class FakeListener:
        def __init__(self, n: int) -> None:
            self.left = n

        def fileno(self) -> int:
            return listener.fileno()

        def accept(self) -> tuple[socket.socket, Any]:
            if not self.left:
                raise BlockingIOError
            self.left -= 1
            return listener, ("127.0.0.1", self.left)

    async def main() -> None:
        fake = FakeListener(_DEFAULT_BACKLOG + 5)
        remove = add_accept_handler(fake, lambda c, a: accepted.append(c))  # type: ignore[arg-type]
        client = socket.create_connection(listener.getsockname())  # makes the fd readable
        for _ in range(100):
            await asyncio.sleep(0)
            if not fake.left:
                break
        remove()
        client.close()
        assert fake.left == 0

    try:
        run(main())
    finally:
        listener.close()
    assert len(accepted) == _DEFAULT_BACKLOG + 5


# -- our own: TLS -----------------------------------------------------------------------


def test_ssl_options_to_context_server_side_picks_the_protocol() -> None:
    opts = AsyncHTTPSTestCase.default_ssl_options()
    server = ssl_options_to_context(opts, server_side=True)
    assert server.protocol == ssl.PROTOCOL_TLS_SERVER
    assert server.options & ssl.OP_NO_COMPRESSION
    client = ssl_options_to_context({}, server_side=False)
    assert client.protocol == ssl.PROTOCOL_TLS_CLIENT and client.check_hostname
    with pytest.warns(DeprecationWarning):
        generic = ssl_options_to_context({})  # PROTOCOL_TLS: deprecated by Python 3.10+
    assert generic.protocol == ssl.PROTOCOL_TLS
    assert ssl_options_to_context(server) is server
    with pytest.raises(ValueError, match="unsupported ssl_options"):
        ssl_options_to_context({"certfile": opts["certfile"], "do_handshake": True})


def test_ssl_wrap_socket_handshakes_with_the_test_certificate() -> None:
    server_sock, client_sock = socket.socketpair()
    opts = AsyncHTTPSTestCase.default_ssl_options()
    result: list[Any] = []

    def serve() -> None:
        try:
            tls = ssl_wrap_socket(server_sock, opts, server_side=True)
            result.append(tls.recv(5))
            tls.sendall(b"world")
            tls.close()
        except Exception as e:  # reported through the assertion below
            result.append(e)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        client = ssl_wrap_socket(
            client_sock,
            {"ca_certs": opts["certfile"]},
            server_hostname="localhost",
            server_side=False,
        )
        client.sendall(b"hello")
        assert client.recv(5) == b"world"
        assert client.server_hostname == "localhost"
        client.close()
    finally:
        thread.join(5)
        server_sock.close()
    assert result == [b"hello"]


def test_ssl_wrap_socket_checks_the_host_name() -> None:
    server_sock, client_sock = socket.socketpair()
    opts = AsyncHTTPSTestCase.default_ssl_options()

    def serve() -> None:
        try:
            ssl_wrap_socket(server_sock, opts, server_side=True).close()
        except (ssl.SSLError, OSError):
            pass  # the client hangs up mid-handshake

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with pytest.raises(ssl.SSLCertVerificationError):
            ssl_wrap_socket(
                client_sock,
                {"ca_certs": opts["certfile"]},
                server_hostname="other.example",
                server_side=False,
            )
    finally:
        client_sock.close()
        thread.join(5)
        server_sock.close()
