"""Status codes, reasons and response headers: set/add/clear, defaults, refused line breaks,
Date/Server/Content-Length."""

from __future__ import annotations

import datetime
import email.utils
import logging
import time
from typing import Any

import pytest

from tornadish.web import Application, RequestHandler

from tests.support.web import APP, compare, get, parse_raw


async def test_set_status_custom_reason_and_unknown_code(serve: Any) -> None:
    def make(base: Any) -> Any:
        class H(base):  # type: ignore[misc]
            def get(self) -> None:
                code = int(self.get_argument("code"))
                reason = self.get_argument("reason", None)
                self.set_status(code, reason)
                self.write("body")

        return H

    ours, _ = await compare(serve, make, "/?code=201&reason=Made%20It")
    assert (ours.status_code, ours.reason_phrase) == (201, "Made It")
    ours, _ = await compare(serve, make, "/?code=418")
    assert ours.reason_phrase == "I'm a Teapot"
    ours, _ = await compare(serve, make, "/?code=299")
    assert (ours.status_code, ours.reason_phrase) == (299, "Unknown")
    ours, _ = await compare(serve, make, "/?code=404")
    assert ours.text == "body"


async def test_set_add_clear_header(serve: Any) -> None:
    class H(RequestHandler):
        def get(self) -> None:
            self.set_header("X-One", "1")
            self.set_header("X-One", "one")  # replaces
            self.add_header("X-Multi", "a")
            self.add_header("X-Multi", "b")
            self.set_header("X-Int", 42)
            self.set_header("X-Bytes", b"raw")
            self.set_header(
                "X-Date", datetime.datetime(2020, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
            )
            self.set_header("X-Gone", "soon")
            self.clear_header("X-Gone")
            self.clear_header("Server")
            self.clear_header("X-Never-Set")
            self.write("ok")

    srv = await serve(Application([(r"/", H)]))
    r = await get(srv, "/")
    assert r.headers["x-one"] == "one"
    assert r.headers.get_list("x-multi") == ["a", "b"]
    assert r.headers["x-int"] == "42"
    assert r.headers["x-bytes"] == "raw"
    assert r.headers["x-date"] == "Thu, 02 Jan 2020 03:04:05 GMT"
    assert "x-gone" not in r.headers
    assert "server" not in r.headers


async def test_set_default_headers_and_clear_resets_them(serve: Any) -> None:
    class H(RequestHandler):
        def set_default_headers(self) -> None:
            self.set_header("X-Default", "yes")
            self.clear_header("Server")

        def get(self) -> None:
            self.set_header("X-Temp", "1")
            self.write("discarded")
            self.clear()
            self.write("after clear")

    srv = await serve(Application([(r"/", H)]))
    r = await get(srv, "/")
    assert r.text == "after clear"
    assert r.headers["x-default"] == "yes"
    assert "x-temp" not in r.headers and "server" not in r.headers
    assert r.headers["content-type"] == "text/html; charset=UTF-8"


@pytest.mark.parametrize(
    "value",
    ["bad\r\nX-Injected: 1", "bad\nX-Injected: 1", "bad\rX-Injected: 1", "nul\x00"],
    ids=["crlf", "lf", "cr", "nul"],
)
async def test_header_value_with_line_break_is_refused(
    serve: Any, caplog: pytest.LogCaptureFixture, value: str
) -> None:
    class H(RequestHandler):
        def get(self) -> None:
            self.set_header("X-Evil", value)
            self.write("should not be sent")

    srv = await serve(Application([(r"/", H)]))
    raw = await srv.raw(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    status, headers, body = parse_raw(raw)
    assert status == "HTTP/1.1 500 Internal Server Error"
    assert "x-injected" not in headers and "x-evil" not in headers
    assert b"X-Injected" not in raw
    assert b"should not be sent" not in body
    assert any(r.name == APP and r.levelno == logging.ERROR for r in caplog.records)


async def test_add_header_and_header_name_refuse_line_breaks(serve: Any) -> None:
    class H(RequestHandler):
        def get(self) -> None:
            which = self.get_argument("which")
            if which == "add":
                self.add_header("X-Evil", "a\r\nX-Injected: 1")
            elif which == "redirect":
                self.redirect("/x\r\nX-Injected: 1")
            else:
                self.set_cookie("c", "v", path="/\r\nX-Injected: 1")
            self.write("never")

    srv = await serve(Application([(r"/", H)]))
    for which in ("add", "redirect", "cookie"):
        raw = await srv.raw(
            f"GET /?which={which} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
        )
        status, headers, _ = parse_raw(raw)
        assert status.startswith("HTTP/1.1 500"), (which, raw)
        assert "x-injected" not in headers, which


async def test_date_server_content_length_present(serve: Any) -> None:
    class H(RequestHandler):
        def get(self) -> None:
            self.write("hello")

    srv = await serve(Application([(r"/", H)]))
    before = time.time()
    r = await get(srv, "/")
    assert r.headers["server"].startswith("tornadish")
    assert r.headers["content-length"] == "5"
    date = email.utils.parsedate_to_datetime(r.headers["date"]).timestamp()
    assert before - 2 <= date <= time.time() + 1
    assert r.headers["date"].endswith(" GMT")
