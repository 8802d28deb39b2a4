"""Tornado 6.6.1's ``tornado/test/tcpserver_test.py``, ported to ``tornadish.tcpserver``.

``tornado`` is replaced by ``tornadish`` and every assertion kept; the tests run over real
sockets, and the helpers from ``tornado.test.util`` are in ``tests/io/tornado_util.py``.
"""

from __future__ import annotations

import os
import platform
import socket
import ssl
import subprocess
import sys
import textwrap
from typing import Any

import tornadish
from tornadish import gen
from tornadish.iostream import IOStream, SSLIOStream, StreamClosedError
from tornadish.log import app_log
from tornadish.tcpclient import TCPClient
from tornadish.tcpserver import TCPServer
from tornadish.testing import ExpectLog, bind_unused_port, gen_test

from tests.io.tornado_util import AsyncTestCase, TestCase, skipIfNonUnix


class TCPServerTest(AsyncTestCase):
    @gen_test
    def test_handle_stream_coroutine_logging(self):
        # handle_stream may be a coroutine and any exception in its
        # Future will be logged.
        class TestServer(TCPServer):
            @gen.coroutine
            def handle_stream(self, stream, address):
                yield stream.read_bytes(len(b"hello"))
                stream.close()
                1 / 0  # noqa: B018

        server = client = None
        try:
            sock, port = bind_unused_port()
            server = TestServer()
            server.add_socket(sock)
            client = IOStream(socket.socket())
            with ExpectLog(app_log, "Exception in callback"):
                yield client.connect(("localhost", port))
                yield client.write(b"hello")
                yield client.read_until_close()
                yield gen.moment
        finally:
            if server is not None:
                server.stop()
            if client is not None:
                client.close()

    @gen_test
    def test_handle_stream_native_coroutine(self):
        # handle_stream may be a native coroutine.

        class TestServer(TCPServer):
            async def handle_stream(self, stream, address):
                stream.write(b"data")
                stream.close()

        sock, port = bind_unused_port()
        server = TestServer()
        server.add_socket(sock)
        client = IOStream(socket.socket())
        yield client.connect(("localhost", port))
        result = yield client.read_until_close()
        self.assertEqual(result, b"data")
        server.stop()
        client.close()

    def test_stop_twice(self):
        sock, _port = bind_unused_port()
        server = TCPServer()
        server.add_socket(sock)
        server.stop()
        server.stop()

    @gen_test
    def test_stop_in_callback(self):
        # Issue #2069: calling server.stop() in a loop callback should not
        # raise EBADF when the loop handles other server connection
        # requests in the same loop iteration

        class TestServer(TCPServer):
            @gen.coroutine
            def handle_stream(self, stream, address):
                server.stop()
                yield stream.read_until_close()

        sock, port = bind_unused_port()
        server = TestServer()
        server.add_socket(sock)
        server_addr = ("localhost", port)
        N = 40
        clients = [IOStream(socket.socket()) for i in range(N)]
        connected_clients = []

        @gen.coroutine
        def connect(c):
            try:
                yield c.connect(server_addr)
            except OSError:
                pass
            else:
                connected_clients.append(c)

        yield [connect(c) for c in clients]

        self.assertGreater(len(connected_clients), 0, "all clients failed connecting")
        try:
            if len(connected_clients) == N:
                # Ideally we'd make the test deterministic, but we're testing
                # for a race condition in combination with the system's TCP stack...
                self.skipTest(
                    "at least one client should fail connecting for the test to be meaningful"
                )
        finally:
            for c in connected_clients:
                c.close()

        # Here tearDown() would re-raise the EBADF encountered in the IO loop


@skipIfNonUnix
class TestMultiprocess(TestCase):
    # These tests verify that the two multiprocess examples from the
    # TCPServer docs work. Both tests start a server with three worker
    # processes, each of which prints its task id to stdout (a single
    # byte, so we don't have to worry about atomicity of the shared
    # stdout stream) and then exits.
    def run_subproc(self, code: str) -> tuple[str, str]:
        args = [sys.executable, "-Werror::DeprecationWarning"]
        if sys.platform == "darwin" and platform.machine() == "x86_64":
            # os.fork() warns when the process is multi-threaded, but it asks
            # the OS for the thread count, so OS-level threads that have no
            # Python state are counted too. An x86_64 interpreter on macOS
            # starts with a second such thread before any user code runs, so
            # the warning says nothing about what tornadish is doing:
            #     arch -x86_64 python3.15 -Werror -c 'import os; os.fork()'
            # fails, while the arm64 half of the same universal2 build passes.
            # Reported as https://github.com/python/cpython/issues/157870; run
            # that one-liner to check whether this is still needed. Ignore just
            # that one message; every other DeprecationWarning stays fatal, and
            # arm64 macOS keeps the strict check. A filter's message field
            # matches the start of the warning text.
            args.append("-Wignore:This process (pid=:DeprecationWarning")
        try:
            result = subprocess.run(
                args,
                capture_output=True,
                input=code,
                encoding="utf8",
                check=True,
            )
        except subprocess.CalledProcessError as e:
            raise RuntimeError(
                f"Process returned {e.returncode} stdout={e.stdout} stderr={e.stderr}"
            ) from e
        return result.stdout, result.stderr

    def test_listen_single(self):
        # As a sanity check, run the single-process version through this test
        # harness too.
        code = textwrap.dedent("""
            import asyncio
            from tornadish.tcpserver import TCPServer

            async def main():
                server = TCPServer()
                server.listen(0, address='127.0.0.1')

            asyncio.run(main())
            print('012', end='')
        """)
        out, err = self.run_subproc(code)
        self.assertEqual("".join(sorted(out)), "012")
        self.assertEqual(err, "")

    def test_bind_start(self):
        code = textwrap.dedent("""
            import warnings

            from tornadish.ioloop import IOLoop
            from tornadish.process import task_id
            from tornadish.tcpserver import TCPServer

            warnings.simplefilter("ignore", DeprecationWarning)

            server = TCPServer()
            server.bind(0, address='127.0.0.1')
            server.start(3)
            IOLoop.current().run_sync(lambda: None)
            print(task_id(), end='')
        """)
        out, err = self.run_subproc(code)
        self.assertEqual("".join(sorted(out)), "012")
        self.assertEqual(err, "")

    def test_add_sockets(self):
        code = textwrap.dedent("""
            import asyncio
            from tornadish.netutil import bind_sockets
            from tornadish.process import fork_processes, task_id
            from tornadish.ioloop import IOLoop
            from tornadish.tcpserver import TCPServer

            sockets = bind_sockets(0, address='127.0.0.1')
            fork_processes(3)
            async def post_fork_main():
                server = TCPServer()
                server.add_sockets(sockets)
            asyncio.run(post_fork_main())
            print(task_id(), end='')
        """)
        out, err = self.run_subproc(code)
        self.assertEqual("".join(sorted(out)), "012")
        self.assertEqual(err, "")

    def test_listen_multi_reuse_port(self):
        code = textwrap.dedent("""
            import asyncio
            import socket
            from tornadish.netutil import bind_sockets
            from tornadish.process import task_id, fork_processes
            from tornadish.tcpserver import TCPServer

            # Pick an unused port which we will be able to bind to multiple times.
            (sock,) = bind_sockets(0, address='127.0.0.1',
                family=socket.AF_INET, reuse_port=True)
            port = sock.getsockname()[1]

            fork_processes(3)

            async def main():
                server = TCPServer()
                server.listen(port, address='127.0.0.1', reuse_port=True)
            asyncio.run(main())
            print(task_id(), end='')
            """)
        out, err = self.run_subproc(code)
        self.assertEqual("".join(sorted(out)), "012")
        self.assertEqual(err, "")


# -- tornadish's own checks: TLS, stream options, bind/start, over real sockets ---------

CERTS = os.path.join(os.path.dirname(tornadish.__file__), "_testcerts")
CERT, KEY = os.path.join(CERTS, "test.crt"), os.path.join(CERTS, "test.key")


def _client_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class EchoServer(TCPServer):
    """Echoes lines back; records the streams it was given."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.streams: list[IOStream] = []

    async def handle_stream(self, stream: IOStream, address: Any) -> None:
        self.streams.append(stream)
        try:
            while True:
                line = await stream.read_until(b"\n")
                await stream.write(line)
        except StreamClosedError:
            pass


class TCPServerEchoTest(AsyncTestCase):
    async def _echo(self, server: EchoServer, ssl_options: Any = None) -> IOStream:
        sock, port = bind_unused_port()
        server.add_socket(sock)
        client = TCPClient()
        try:
            stream = await client.connect("127.0.0.1", port, ssl_options=ssl_options)
            await stream.write(b"ping\n")
            self.assertEqual(await stream.read_until(b"\n"), b"ping\n")
            return stream
        finally:
            client.close()

    @gen_test
    async def test_plain_echo_and_stream_options(self):
        server = EchoServer(max_buffer_size=4096, read_chunk_size=512)
        stream = await self._echo(server)
        self.assertIsInstance(server.streams[0], IOStream)
        self.assertNotIsInstance(server.streams[0], SSLIOStream)
        self.assertEqual(server.streams[0].max_buffer_size, 4096)
        self.assertEqual(server.streams[0].read_chunk_size, 512)
        stream.close()
        server.stop()

    @gen_test
    async def test_tls_echo_with_dict_options(self):
        server = EchoServer(ssl_options={"certfile": CERT, "keyfile": KEY})
        stream = await self._echo(server, ssl_options=_client_context())
        self.assertIsInstance(stream, SSLIOStream)
        self.assertIsInstance(server.streams[0], SSLIOStream)
        stream.close()
        server.stop()

    @gen_test
    async def test_tls_echo_with_context(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(CERT, KEY)
        server = EchoServer(ssl_options=ctx)
        stream = await self._echo(server, ssl_options={"cert_reqs": ssl.CERT_NONE})
        self.assertIsInstance(stream, SSLIOStream)
        stream.close()
        server.stop()

    @gen_test
    async def test_bind_then_start(self):
        server = EchoServer()
        server.bind(0, address="127.0.0.1", family=socket.AF_INET)
        [sock] = server._pending_sockets
        port = sock.getsockname()[1]
        server.start()
        server.bind(0, address="127.0.0.1", family=socket.AF_INET)  # after start: at once
        self.assertEqual(len(server._sockets), 2)
        client = TCPClient()
        stream = await client.connect("127.0.0.1", port)
        await stream.write(b"x\n")
        self.assertEqual(await stream.read_until(b"\n"), b"x\n")
        stream.close()
        client.close()
        server.stop()


class TCPServerSSLOptionsTest(TestCase):
    def test_missing_certfile_key(self):
        with self.assertRaises(KeyError):
            TCPServer(ssl_options={"keyfile": KEY})

    def test_certfile_not_found(self):
        with self.assertRaises(ValueError):
            TCPServer(ssl_options={"certfile": "/nonexistent/cert.pem"})

    def test_keyfile_not_found(self):
        with self.assertRaises(ValueError):
            TCPServer(ssl_options={"certfile": CERT, "keyfile": "/nonexistent/key.pem"})
