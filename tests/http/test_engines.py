"""Choosing the HTTP/1.1 engine: ``http=``, ``TORNADISH_HTTP``, ``"auto"``, and a clear
error when httptools is asked for and missing (issue 15)."""

from __future__ import annotations

import pytest

from tornadish._http import engines
from tornadish._http.engines import client_session_class, resolve_http, server_session_class
from tornadish._http.h11_client import H11ClientSession
from tornadish._http.h11_session import ServerSession
from tornadish._runner.run import run
from tornadish.httpserver import HTTPServer
from tornadish.web import Application


def test_explicit_choice_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORNADISH_HTTP", "httptools")
    assert resolve_http("h11") == "h11"
    assert resolve_http(" H11 ") == "h11"
    monkeypatch.setenv("TORNADISH_HTTP", "h11")
    assert resolve_http() == "h11"


def test_auto_takes_httptools_only_where_it_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TORNADISH_HTTP", raising=False)
    expected = "httptools" if engines.installed("httptools") else "h11"
    assert resolve_http() == expected and resolve_http("auto") == expected
    monkeypatch.setattr(engines, "installed", lambda package: False)
    assert resolve_http("auto") == "h11"


def test_a_missing_httptools_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engines, "installed", lambda package: False)
    with pytest.raises(ImportError, match=r"pip install 'tornadish\[speed\]'"):
        resolve_http("httptools")
    with pytest.raises(ImportError, match="httptools"):
        HTTPServer(Application(), http="httptools")
    # tornadish.run refuses before it binds anything.
    with pytest.raises(ImportError):
        run(Application(), port=0, http="httptools")


def test_unknown_engine_names_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="auto, h11, httptools"):
        resolve_http("llhttp")
    monkeypatch.setenv("TORNADISH_HTTP", "fast")
    with pytest.raises(ValueError):
        HTTPServer(Application())


def test_the_engine_decides_the_session_classes() -> None:
    assert server_session_class("h11") is ServerSession
    assert client_session_class("h11") is H11ClientSession
    server = HTTPServer(Application(), http="h11")
    assert server.params.http == "h11" and server.params.session_class is ServerSession
    if engines.installed("httptools"):
        from tornadish._http.httptools_session import HttptoolsSession

        fast = HTTPServer(Application(), http="httptools")
        assert fast.params.session_class is HttptoolsSession


def test_the_command_line_passes_http_on(monkeypatch: pytest.MonkeyPatch) -> None:
    from tornadish import __main__ as cli

    seen: dict[str, object] = {}
    monkeypatch.setattr("tornadish._runner.run.run", lambda app, **kw: seen.update(kw))
    monkeypatch.setattr(cli, "load_app", lambda spec: Application())
    cli.main(["run", "anything:app", "--http", "h11"])
    assert seen["http"] == "h11"
    cli.main(["run", "anything:app"])
    assert seen["http"] is None  # TORNADISH_HTTP, else auto
    with pytest.raises(SystemExit):
        cli._parser().parse_args(["run", "anything:app", "--http", "fast"])
