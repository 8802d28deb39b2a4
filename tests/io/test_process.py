"""``tornadish.process``: Tornado 6.6.1's ``process_test.py`` ported (every assertion kept,
``tornado`` -> ``tornadish``), then our own tests: ``Subprocess`` on both asyncio's loop
and uvloop, exit codes and signals, ``wait_for_exit`` errors, pipes, and the pieces of
``fork_processes`` Tornado's test leaves out.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
import unittest
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tornadish import process, testing
from tornadish._io import subprocess as subprocess_impl
from tornadish.process import Subprocess
from tornadish.testing import gen_test

REPO = Path(__file__).resolve().parents[2]
skipIfNonUnix = unittest.skipIf(os.name != "posix" or sys.platform == "cygwin", "non-unix")


class AsyncTestCase(testing.AsyncTestCase):
    """``tornadish.testing.AsyncTestCase`` that fails when anything is logged (as
    Tornado's ``tornado.test.util.AsyncTestCase`` does)."""

    def setUp(self) -> None:
        no_logs = self.assertNoLogs()
        no_logs.__enter__()
        self.addCleanup(no_logs.__exit__, None, None, None)
        super().setUp()


# -- Tornado's process_test.py ----------------------------------------------------------

# The multi-process test runs in a fresh interpreter: fork() with threads left over from
# other tests (a resolver's pool) warns on Python 3.12+, and the fork must come first.
_MULTI_PROCESS_TEST_SCRIPT = """\
import asyncio
import logging
import os
import signal
import sys

from tornadish.httpclient import HTTPClient, HTTPError
from tornadish.httpserver import HTTPServer
from tornadish.log import gen_log
from tornadish.process import fork_processes, task_id
from tornadish.simple_httpclient import SimpleAsyncHTTPClient
from tornadish.testing import ExpectLog, bind_unused_port
from tornadish.web import Application, RequestHandler


class ProcessHandler(RequestHandler):
    def get(self):
        if self.get_argument("exit", None):
            # os._exit, not sys.exit: nothing may catch it
            os._exit(int(self.get_argument("exit")))
        if self.get_argument("signal", None):
            os.kill(os.getpid(), int(self.get_argument("signal")))
        self.write(str(os.getpid()))


def main():
    with ExpectLog(
        gen_log, "(Starting .* processes|child .* exited|uncaught exception)"
    ):
        sock, port = bind_unused_port()

        def get_url(path):
            return "http://127.0.0.1:%d%s" % (port, path)

        # ensure that none of these processes live too long
        signal.alarm(5)  # master process
        try:
            id = fork_processes(3, max_restarts=3)
            assert id is not None
            signal.alarm(5)  # child processes
        except SystemExit as e:
            # if we exit cleanly from fork_processes, all the child processes
            # finished with status 0
            assert e.code == 0, "fork_processes exited with %r" % (e.code,)
            assert task_id() is None
            sock.close()
            return
        try:
            if id in (0, 1):
                assert id == task_id()

                async def f():
                    server = HTTPServer(Application([("/", ProcessHandler)]))
                    server.add_sockets([sock])
                    await asyncio.Event().wait()

                asyncio.run(f())
            elif id == 2:
                assert id == task_id()
                sock.close()
                client = HTTPClient(SimpleAsyncHTTPClient)

                def fetch(url, fail_ok=False):
                    try:
                        # One connection per fetch, as Tornado's simple client makes:
                        # ours keeps connections alive and sends an idempotent request
                        # again when a reused connection drops, so "?exit=0" on a
                        # connection to a worker that just exited would stop two.
                        return client.fetch(get_url(url), headers={"Connection": "close"})
                    except HTTPError as e:
                        if not (fail_ok and e.code == 599):
                            raise

                # Make two processes exit abnormally
                fetch("/?exit=2", fail_ok=True)
                fetch("/?exit=3", fail_ok=True)

                # They've been restarted, so a new fetch will work
                int(fetch("/").body)

                # Now kill them normally so they won't be restarted
                fetch("/?exit=0", fail_ok=True)
                # One process left; watch it's pid change
                pid = int(fetch("/").body)
                fetch("/?exit=4", fail_ok=True)
                pid2 = int(fetch("/").body)
                assert pid != pid2

                # Kill the last one so we shut down cleanly
                fetch("/?exit=0", fail_ok=True)

                os._exit(0)
        except Exception:
            logging.error("exception in child process %d", id, exc_info=True)
            raise


if __name__ == "__main__":
    main()
"""


@skipIfNonUnix
class ProcessTest(unittest.TestCase):
    def test_multi_process(self):
        parts = [str(REPO)]
        if "PYTHONPATH" in os.environ:
            parts += os.environ["PYTHONPATH"].split(os.pathsep)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(parts))

        result = subprocess.run(
            [sys.executable, "-c", _MULTI_PROCESS_TEST_SCRIPT],
            env=env,
            capture_output=True,
            timeout=30,
        )
        if result.returncode != 0:
            self.fail(
                "test_multi_process subprocess exited with status %d\n"
                "----- stdout -----\n%s"
                "----- stderr -----\n%s"
                % (
                    result.returncode,
                    result.stdout.decode("utf-8", errors="replace"),
                    result.stderr.decode("utf-8", errors="replace"),
                )
            )


@skipIfNonUnix
class SubprocessTest(AsyncTestCase):
    def term_and_wait(self, subproc):
        subproc.proc.terminate()
        subproc.proc.wait()

    @gen_test
    def test_subprocess(self):
        subproc = Subprocess(
            [sys.executable, "-u", "-i", "-I"],
            stdin=Subprocess.STREAM,
            stdout=Subprocess.STREAM,
            stderr=subprocess.STDOUT,
        )
        self.addCleanup(lambda: self.term_and_wait(subproc))
        self.addCleanup(subproc.stdout.close)
        self.addCleanup(subproc.stdin.close)
        yield subproc.stdout.read_until(b">>> ")
        subproc.stdin.write(b"print('hello')\n")
        data = yield subproc.stdout.read_until(b"\n")
        self.assertEqual(data, b"hello\n")

        yield subproc.stdout.read_until(b">>> ")
        subproc.stdin.write(b"raise SystemExit\n")
        data = yield subproc.stdout.read_until_close()
        self.assertEqual(data, b"")

    @gen_test
    def test_close_stdin(self):
        # Close the parent's stdin handle and see that the child recognizes it.
        subproc = Subprocess(
            [sys.executable, "-u", "-i", "-I"],
            stdin=Subprocess.STREAM,
            stdout=Subprocess.STREAM,
            stderr=subprocess.STDOUT,
        )
        self.addCleanup(lambda: self.term_and_wait(subproc))
        yield subproc.stdout.read_until(b">>> ")
        subproc.stdin.close()
        data = yield subproc.stdout.read_until_close()
        self.assertEqual(data, b"\n")

    @gen_test
    def test_stderr(self):
        subproc = Subprocess(
            [sys.executable, "-u", "-c", r"import sys; sys.stderr.write('hello\n')"],
            stderr=Subprocess.STREAM,
        )
        self.addCleanup(lambda: self.term_and_wait(subproc))
        data = yield subproc.stderr.read_until(b"\n")
        self.assertEqual(data, b"hello\n")
        subproc.stderr.close()

    def test_sigchild(self):
        Subprocess.initialize()
        self.addCleanup(Subprocess.uninitialize)
        subproc = Subprocess([sys.executable, "-c", "pass"])
        subproc.set_exit_callback(self.stop)
        ret = self.wait()
        self.assertEqual(ret, 0)
        self.assertEqual(subproc.returncode, ret)

    @gen_test
    def test_sigchild_future(self):
        Subprocess.initialize()
        self.addCleanup(Subprocess.uninitialize)
        subproc = Subprocess([sys.executable, "-c", "pass"])
        ret = yield subproc.wait_for_exit()
        self.assertEqual(ret, 0)
        self.assertEqual(subproc.returncode, ret)

    def test_sigchild_signal(self):
        Subprocess.initialize()
        self.addCleanup(Subprocess.uninitialize)
        subproc = Subprocess(
            [sys.executable, "-c", "import time; time.sleep(30)"],
            stdout=Subprocess.STREAM,
        )
        self.addCleanup(subproc.stdout.close)
        subproc.set_exit_callback(self.stop)

        # Killed too soon after it starts, a child may report SIGKILL (seen on macOS).
        time.sleep(0.1)

        os.kill(subproc.pid, signal.SIGTERM)
        try:
            ret = self.wait()
        except AssertionError:
            # Did the child close its stdout (the parent missed the exit) or not (the
            # child did not terminate)?
            fut = subproc.stdout.read_until_close()
            fut.add_done_callback(lambda f: self.stop())
            try:
                self.wait()
            except AssertionError:
                raise AssertionError("subprocess failed to terminate") from None
            else:
                raise AssertionError(
                    "subprocess closed stdout but failed to get termination signal"
                ) from None
        self.assertEqual(subproc.returncode, ret)
        self.assertEqual(ret, -signal.SIGTERM)

    @gen_test
    def test_wait_for_exit_raise(self):
        Subprocess.initialize()
        self.addCleanup(Subprocess.uninitialize)
        subproc = Subprocess([sys.executable, "-c", "import sys; sys.exit(1)"])
        with self.assertRaises(subprocess.CalledProcessError) as cm:
            yield subproc.wait_for_exit()
        self.assertEqual(cm.exception.returncode, 1)

    @gen_test
    def test_wait_for_exit_raise_disabled(self):
        Subprocess.initialize()
        self.addCleanup(Subprocess.uninitialize)
        subproc = Subprocess([sys.executable, "-c", "import sys; sys.exit(1)"])
        ret = yield subproc.wait_for_exit(raise_error=False)
        self.assertEqual(ret, 1)


# -- our own: Subprocess ----------------------------------------------------------------


@pytest.fixture
def run(loop_factory: Callable[[], asyncio.AbstractEventLoop]) -> Iterator[Callable[..., Any]]:
    """Run a coroutine on a fresh loop of each kind (asyncio, uvloop), made current."""
    loop = loop_factory()
    asyncio.set_event_loop(loop)
    try:
        yield lambda coro: loop.run_until_complete(asyncio.wait_for(coro, 10))
    finally:
        Subprocess.uninitialize()
        asyncio.set_event_loop(None)
        loop.close()


@pytest.fixture(params=["pidfd", "fallback"])
def exit_watch(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each exit test runs with pidfds and without: then with the SIGCHLD handler Tornado
    uses on asyncio's loop, and with waitpid threads on uvloop (which keeps SIGCHLD)."""
    if request.param == "pidfd":
        if not subprocess_impl._pidfd_works():
            pytest.skip("no pidfd here")
    else:
        monkeypatch.setattr(subprocess_impl, "_PIDFD_WORKS", False)
        monkeypatch.setattr(subprocess_impl, "_open_pidfd", lambda pid: None)
    return str(request.param)


def test_exit_codes_and_signals(run: Callable[..., Any], exit_watch: str) -> None:
    async def main() -> None:
        codes = [
            await Subprocess([sys.executable, "-c", f"raise SystemExit({n})"]).wait_for_exit(
                raise_error=False
            )
            for n in (0, 3)
        ]
        assert codes == [0, 3]
        sleeper = Subprocess([sys.executable, "-c", "import time; time.sleep(30)"])
        waiting = sleeper.wait_for_exit(raise_error=False)
        await asyncio.sleep(0.1)
        sleeper.proc.send_signal(signal.SIGKILL)
        assert await waiting == -signal.SIGKILL
        assert sleeper.returncode == sleeper.proc.returncode == -signal.SIGKILL

    run(main())


def test_wait_for_exit_replaces_an_earlier_exit_callback(
    run: Callable[..., Any], exit_watch: str
) -> None:
    async def main() -> list[int]:
        children = [
            Subprocess([sys.executable, "-c", f"import time; time.sleep({d}); exit({n})"])
            for n, d in ((1, 0.3), (2, 0.0), (3, 0.15))
        ]
        order: list[int] = []
        for child in children:
            child.set_exit_callback(order.append)
        await asyncio.gather(*(c.wait_for_exit(raise_error=False) for c in children))
        return order

    # One callback per Subprocess, as in Tornado: wait_for_exit's took the place of
    # order.append, so the futures saw every exit and the list nothing.
    assert run(main()) == []


def test_exit_callback_order_follows_the_exits(run: Callable[..., Any], exit_watch: str) -> None:
    async def main() -> list[int]:
        done = asyncio.Event()
        order: list[int] = []

        def record(code: int) -> None:
            order.append(code)
            if len(order) == 3:
                done.set()

        for n, delay in ((1, 0.4), (2, 0.0), (3, 0.2)):
            child = Subprocess(
                [sys.executable, "-c", f"import time; time.sleep({delay}); exit({n})"]
            )
            child.set_exit_callback(record)
        await done.wait()
        return order

    assert run(main()) == [2, 3, 1]


def test_wait_for_exit_error_names_the_command(run: Callable[..., Any]) -> None:
    async def main() -> None:
        args = [sys.executable, "-c", "raise SystemExit(5)"]
        with pytest.raises(subprocess.CalledProcessError) as info:
            await Subprocess(args).wait_for_exit()
        assert info.value.returncode == 5
        assert info.value.cmd == args
        assert process.CalledProcessError is subprocess.CalledProcessError

    run(main())


def test_an_exit_callback_set_after_the_exit_still_runs(run: Callable[..., Any]) -> None:
    async def main() -> None:
        child = Subprocess([sys.executable, "-c", "pass"])
        assert await child.wait_for_exit() == 0
        again: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        child.set_exit_callback(again.set_result)
        assert await again == 0

    run(main())


def test_a_failing_exit_callback_is_logged(
    run: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> None:
        child = Subprocess([sys.executable, "-c", "pass"])

        def broken(code: int) -> None:
            raise RuntimeError("in the callback")

        child.set_exit_callback(broken)
        child.proc.wait()  # the exit is still reported once the loop sees it
        for _ in range(50):
            if child.returncode is not None:
                break
            await asyncio.sleep(0.01)

    run(main())
    assert any("Exception in exit callback" in r.getMessage() for r in caplog.records)


def test_pipes_that_are_not_streams_are_popens(run: Callable[..., Any]) -> None:
    async def main() -> None:
        child = Subprocess(
            [sys.executable, "-c", "import sys; print(sys.stdin.read().upper())"],
            stdin=subprocess.PIPE,
            stdout=Subprocess.STREAM,
        )
        assert child.stderr is None
        child.stdin.write(b"shout")
        child.stdin.close()
        assert await child.stdout.read_until_close() == b"SHOUT\n"
        assert await child.wait_for_exit() == 0
        child.stdout.close()

    run(main())


def test_a_failed_start_leaves_no_descriptor_open(run: Callable[..., Any]) -> None:
    def open_fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc")

    async def main() -> None:
        before = open_fds()
        with pytest.raises(FileNotFoundError):
            Subprocess(
                ["/nonexistent/command"],
                stdin=Subprocess.STREAM,
                stdout=Subprocess.STREAM,
                stderr=Subprocess.STREAM,
            )
        assert open_fds() == before

    run(main())


# -- our own: fork_processes ------------------------------------------------------------


def test_cpu_count_and_task_id_outside_workers() -> None:
    assert process.cpu_count() >= 1
    assert process.task_id() is None


def test_each_worker_gets_its_own_random_stream(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import os, random, sys
        from tornadish.process import fork_processes, task_id
        random.seed(42)  # the parent's state, which a plain fork would copy
        out = sys.argv[1]
        try:
            i = fork_processes(2, max_restarts=0)
        except SystemExit:
            raise
        with open(os.path.join(out, str(i)), "w") as f:
            f.write("%d %r" % (task_id(), random.random()))
        os._exit(0)
        """
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], env=env, capture_output=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    (id0, r0), (id1, r1) = ((tmp_path / n).read_text().split() for n in ("0", "1"))
    assert (id0, id1) == ("0", "1")
    assert r0 != r1
