"""The development loop, in subprocesses over real sockets: ``python -m tornadish run
--reload`` restarts when a module changes, survives the user's syntax and import errors
(it logs them, their file and line, and waits for the fix, as Tornado's autoreload
wrapper does), and leaves template edits to the template loader, which recompiles them
in the same process, so open WebSockets stay open."""

from __future__ import annotations

import os
import re
import subprocess
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from websockets.sync.client import connect

from tests.runner.test_run import get, run_args, spawn, wait_listening
from tests.support.servers import free_port

pytestmark = pytest.mark.skipif(os.name != "posix", reason="exec, POSIX signals")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return tmp_path


def _bump(path: Path, text: str) -> None:
    path.write_text(text)
    # Make sure the mtime moves even on coarse-grained filesystems.
    later = time.time() + 2
    os.utime(path, (later, later))


def _change_until(path: Path, text: str, done: Callable[[], bool], log: Path) -> None:
    """Write ``text`` to ``path`` until ``done()``: a change made before the watcher
    has started (a loaded machine) is made again."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        _bump(path, text)
        bumped = time.monotonic()
        while time.monotonic() - bumped < 1.2:
            if done():
                return
            time.sleep(0.1)
    pytest.fail("no reload: " + log.read_text())


# Both ways of noticing changes: watchfiles' notifications (when installed) and polling.
RELOADERS = [
    pytest.param("watchfiles", id="watchfiles"),
    pytest.param("polling", id="polling"),
]


def reloader_env(reloader: str) -> dict[str, str]:
    if reloader == "watchfiles":
        pytest.importorskip("watchfiles")
        return {"TORNADISH_RELOAD_POLL": ""}
    return {"TORNADISH_RELOAD_POLL": "1"}


@pytest.mark.parametrize("reloader", RELOADERS)
def test_reload_reexecs_when_an_imported_module_changes(
    project: Path, procs: list[subprocess.Popen[bytes]], reloader: str
) -> None:
    (project / "message.py").write_text('TEXT = "one"\n')
    (project / "msgapp.py").write_text(
        textwrap.dedent(
            """
            import message
            from tornadish.web import Application, RequestHandler

            class Msg(RequestHandler):
                def get(self):
                    self.write(message.TEXT)

            app = Application([(r"/", Msg)])
            """
        )
    )
    port = free_port()
    proc = spawn(run_args("msgapp:app", port, "--reload"), project, reloader_env(reloader))
    procs.append(proc)
    wait_listening(port, proc, project)
    assert get(port) == (200, "one")

    def answers_two() -> bool:
        try:
            return get(port, timeout=1) == (200, "two")
        except OSError:
            return False

    log = project / "server.log"
    _change_until(project / "message.py", 'TEXT = "two"\n', answers_two, log)
    assert proc.poll() is None  # same process (exec keeps the pid)
    expected = "watching for changes with" if reloader == "watchfiles" else "polling for"
    assert f"Autoreload: {expected}" in log.read_text()


def test_debug_application_listen_watches_extra_files(
    tmp_path: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    port = free_port()
    (tmp_path / "config.txt").write_text("a")
    (tmp_path / "dev.py").write_text(
        textwrap.dedent(
            f"""
            import asyncio
            from tornadish import autoreload
            from tornadish.web import Application, RequestHandler

            with open("starts.txt", "a") as f:
                f.write("start\\n")

            class Hi(RequestHandler):
                def get(self):
                    self.write("hi")

            async def main():
                autoreload.watch("config.txt")
                Application([(r"/", Hi)], debug=True).listen({port}, "127.0.0.1")
                await asyncio.Event().wait()

            asyncio.run(main())
            """
        )
    )
    proc = spawn(["dev.py"], tmp_path)
    procs.append(proc)
    wait_listening(port, proc, tmp_path)
    time.sleep(0.6)
    _bump(tmp_path / "config.txt", "b")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if (tmp_path / "starts.txt").read_text().count("start") >= 2:
            break
        time.sleep(0.1)
    else:
        pytest.fail("no reload: " + (tmp_path / "server.log").read_text())
    wait_listening(port, proc, tmp_path)


def _answers(port: int, expected: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return get(port, timeout=1) == (200, expected)
        except OSError:
            return False

    return check


def _wait_for_log(log: Path, text: str, proc: subprocess.Popen[bytes], timeout: float = 15) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = log.read_text()
        if text in content:
            return content
        assert proc.poll() is None, f"the server exited ({proc.returncode}):\n{content}"
        time.sleep(0.1)
    pytest.fail(f"{text!r} never logged:\n{log.read_text()}")


GOOD_APP = """\
from tornadish.web import Application, RequestHandler

class Hello(RequestHandler):
    def get(self):
        self.write("%s")

app = Application([(r"/", Hello)])
"""

BROKEN_APP = """\
from tornadish.web import Application, RequestHandler

class Hello(RequestHandler):
    def get(self)
        self.write("broken")

app = Application([(r"/", Hello)])
"""


@pytest.mark.parametrize("reloader", RELOADERS)
def test_reload_survives_a_syntax_error_and_serves_the_fix(
    project: Path, procs: list[subprocess.Popen[bytes]], reloader: str
) -> None:
    app = project / "webapp.py"
    app.write_text(GOOD_APP % "one")
    port = free_port()
    proc = spawn(run_args("webapp:app", port, "--reload"), project, reloader_env(reloader))
    procs.append(proc)
    wait_listening(port, proc, project)
    assert get(port) == (200, "one")
    log = project / "server.log"

    # Broken: the process (exec keeps its pid) stays alive, says where, stops serving.
    _change_until(app, BROKEN_APP, lambda: "SyntaxError" in log.read_text(), log)
    content = _wait_for_log(log, "SyntaxError: expected ':'", proc)
    assert "Could not load webapp:app; waiting for a change to try again" in content
    assert f'File "{app}", line 4' in content and "def get(self)" in content
    assert "importlib" not in content and "tornadish/_runner" not in content, content
    assert "Traceback" not in content  # no frame of the user's: nothing but the error
    assert proc.poll() is None
    with pytest.raises(OSError):
        get(port, timeout=1)

    # Fixed: it tries again by itself and serves the new code.
    _change_until(app, GOOD_APP % "two", _answers(port, "two"), log)
    assert proc.poll() is None


def test_reload_waits_out_an_import_error_in_a_users_module_from_the_start(
    project: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    (project / "helper.py").write_text("import os\n\nimport not_installed_anywhere\n")
    (project / "webapp.py").write_text("import helper\n\n" + GOOD_APP % "fixed")
    port = free_port()
    proc = spawn(run_args("webapp:app", port, "--reload"), project, reloader_env("polling"))
    procs.append(proc)
    log = project / "server.log"
    content = _wait_for_log(log, "ModuleNotFoundError", proc)
    # The user's frames, innermost last, and nothing of the machinery in between.
    assert content.index(f'File "{project / "webapp.py"}", line 1') < content.index(
        f'File "{project / "helper.py"}", line 3'
    ), content
    assert "No module named 'not_installed_anywhere'" in content
    assert "importlib" not in content and "tornadish/_runner" not in content, content
    time.sleep(1.0)  # it keeps waiting rather than exiting or spinning
    assert proc.poll() is None and content.count("Could not load") == 1

    _change_until(project / "helper.py", "import os\n", _answers(port, "fixed"), log)
    assert proc.poll() is None


TEMPLATE_APP = """\
import os
from tornadish.web import Application, RequestHandler
from tornadish.websocket import WebSocketHandler

TOKEN = os.urandom(8).hex()  # one per process image: a restart (exec) makes another
with open("starts.txt", "a") as f:
    f.write(TOKEN + "\\n")

class Page(RequestHandler):
    def get(self):
        self.render("page.html", pid=os.getpid(), token=TOKEN)

class Echo(WebSocketHandler):
    def on_message(self, message):
        self.write_message(message)

def make_app():
    here = os.path.dirname(os.path.abspath(__file__))
    return Application(
        [(r"/", Page), (r"/ws", Echo)], template_path=os.path.join(here, "templates")
    )
"""


@pytest.mark.parametrize("reloader", RELOADERS)
def test_debug_serves_an_edited_template_from_the_same_process(
    tmp_path: Path, procs: list[subprocess.Popen[bytes]], reloader: str
) -> None:
    for attempt in range(3):
        project = tmp_path / f"attempt{attempt}"
        project.mkdir()
        log = project / "server.log"
        try:
            _edit_a_template_under_debug(project, procs, reloader)
            return
        except (AssertionError, pytest.fail.Exception):
            # The server watches every imported module, tornadish's own included: a
            # change to one of those (a checkout, an editor) restarts it rightly. Only
            # such a restart, not one for a file of the test's, is worth another try.
            restarts = re.findall(r"(\S+) modified; restarting", log.read_text())
            if not restarts or any(path.startswith(str(project)) for path in restarts):
                raise
    pytest.fail("restarted by changes to the installed modules, three times over")


def _edit_a_template_under_debug(
    project: Path, procs: list[subprocess.Popen[bytes]], reloader: str
) -> None:
    (project / "templates").mkdir()
    page = project / "templates" / "page.html"
    page.write_text("v1 {{ 1 + 1 }} {{ pid }} {{ token }}")
    (project / "tplapp.py").write_text(TEMPLATE_APP)
    port = free_port()
    proc = spawn(run_args("tplapp:make_app", port, "--debug"), project, reloader_env(reloader))
    procs.append(proc)
    wait_listening(port, proc, project)
    status, body = get(port)
    [token] = (project / "starts.txt").read_text().split()
    assert (status, body) == (200, f"v1 2 {proc.pid} {token}")
    log = project / "server.log"
    _wait_for_log(log, "Autoreload:", proc)  # the watcher is up: it would see the edit
    # Polling takes its first look (the mtimes it compares with) after one interval: an
    # edit before that would be its starting point, not a change it could react to.
    time.sleep(1.0)

    with connect(f"ws://127.0.0.1:{port}/ws", proxy=None, open_timeout=5) as ws:
        ws.send("before")
        assert ws.recv(5) == "before"
        _change_until(
            page,
            "v2 {{ 2 + 2 }} {{ pid }} {{ token }}",
            _answers(port, f"v2 4 {proc.pid} {token}"),
            log,
        )
        time.sleep(1.5)  # past a polling round and a notification: nothing restarts
        assert (project / "starts.txt").read_text().split() == [token], log.read_text()
        ws.send("after")  # the same connection: nothing dropped it
        assert ws.recv(5) == "after"
    assert "restarting" not in log.read_text()
    proc.kill()
    proc.wait(5)
