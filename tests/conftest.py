"""Shared fixtures: async tests run on a fresh event loop each, servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.servers import RunningServer, start_server

# Async tests run through tornadish's own pytest plugin (tornadish.pytest_plugin), on
# the loop of its ``io_loop`` fixture. By default that is the stdlib loop here; tests that
# take ``loop_factory`` run on both the stdlib loop and uvloop.


@pytest.fixture
def io_loop_factory(request: pytest.FixtureRequest) -> Callable[[], asyncio.AbstractEventLoop]:
    if "loop_factory" in request.fixturenames:
        return request.getfixturevalue("loop_factory")  # type: ignore[no-any-return]
    return asyncio.new_event_loop


@pytest.fixture(params=["asyncio", "uvloop"])
def loop_factory(request: pytest.FixtureRequest) -> Callable[[], asyncio.AbstractEventLoop]:
    """Parametrize a test over the stdlib loop and uvloop."""
    if request.param == "uvloop":
        uvloop = pytest.importorskip("uvloop")
        return uvloop.new_event_loop  # type: ignore[no-any-return]
    return asyncio.new_event_loop


# Both HTTP/1.1 engines, the way uvicorn's ``http_protocol_cls`` fixture does it: a test
# that takes ``http_engine`` (or any test of a folder whose conftest's
# ``pytest_generate_tests`` calls ``each_http_engine``) runs once per engine, with
# ``TORNADISH_HTTP`` naming it, so every server it starts (and every worker process)
# parses with that engine. ``TORNADISH_HTTP=h11 make test``
# runs the whole suite on one engine instead.
def _engines(env: str, both: list[str]) -> list[str]:
    """The engines to run on: the one ``env`` names, else both."""
    chosen = os.environ.get(env, "").strip().lower()
    return [chosen] if chosen not in ("", "auto") else both


def _use_engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, env: str) -> str:
    """Make ``request.param`` the engine ``env`` names for this test (skipped when it is
    a C engine whose package is not installed)."""
    engine: str = request.param
    if engine in ("httptools", "websockets") and importlib.util.find_spec(engine) is None:
        pytest.skip(f"the {engine} engine needs {engine}: pip install 'tornadish[speed]'")
    monkeypatch.setenv(env, engine)
    return engine


HTTP_ENGINES = _engines("TORNADISH_HTTP", ["h11", "httptools"])


@pytest.fixture(params=HTTP_ENGINES)
def http_engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The HTTP/1.1 engine this run of the test uses: ``"h11"`` or ``"httptools"``."""
    return _use_engine(request, monkeypatch, "TORNADISH_HTTP")


def each_http_engine(metafunc: pytest.Metafunc) -> None:
    """Run the test once per engine even where it does not ask for ``http_engine``
    (a folder's ``pytest_generate_tests`` calls this; unittest classes, which pytest
    cannot parametrize, run on the default engine)."""
    if "http_engine" not in metafunc.fixturenames:
        metafunc.fixturenames.append("http_engine")
        metafunc.parametrize("http_engine", HTTP_ENGINES, indirect=True)


# Both WebSocket engines, the same way: a test that takes ``ws_engine`` (every test under
# tests/websocket/ does, through its conftest) runs once on wsproto and once on the
# ``websockets`` library, with ``TORNADISH_WS`` naming it, so every WebSocket it opens,
# server or client side, parses frames with that engine. ``TORNADISH_WS=wsproto``
# narrows the suite to one engine.
WS_ENGINES = _engines("TORNADISH_WS", ["wsproto", "websockets"])


@pytest.fixture(params=WS_ENGINES)
def ws_engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The WebSocket engine this run of the test uses: ``"wsproto"`` or ``"websockets"``."""
    return _use_engine(request, monkeypatch, "TORNADISH_WS")


@pytest.fixture(scope="session")
def self_signed_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A fresh self-signed certificate for 127.0.0.1 and localhost: (cert path, key path).

    Made with the openssl CLI; the tests that need it are skipped without one.
    """
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "cert.pem", where / "key.pem"
    command = ["openssl", "req", "-x509", "-newkey", "ec"]
    command += ["-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"]
    command += ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"]
    command += ["-keyout", str(key), "-out", str(cert)]
    try:
        subprocess.run(command, check=True, capture_output=True, timeout=30)
    except (FileNotFoundError, subprocess.CalledProcessError) as e:
        pytest.skip(f"needs a working openssl CLI to make a certificate: {e}")
    return str(cert), str(key)


class _Serve:
    def __init__(self) -> None:
        self.started: list[RunningServer] = []

    async def __call__(self, app: Any, **kwargs: Any) -> RunningServer:
        srv = await start_server(app, **kwargs)
        self.started.append(srv)
        return srv

    async def shutdown(self) -> None:
        for srv in self.started:
            srv.server.stop()
            await asyncio.wait_for(srv.server.close_all_connections(), 5)
        self.started = []


@pytest.fixture
def serve(io_loop: Any) -> Any:
    """``srv = await serve(app, **server_kwargs)``; servers are stopped after the test."""
    s = _Serve()
    yield s
    # Servers die with the loop that runs them: stop them while it still exists.
    io_loop.asyncio_loop.run_until_complete(s.shutdown())
