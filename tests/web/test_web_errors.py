"""Errors in the web core, over real sockets: HTTPError, Finish, MissingArgumentError,
send_error/write_error, 405 + Allow, tracebacks, logging, and robustness when the
response itself cannot be built. Tornado runs side by side where it is the reference."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest

from tornadish.web import Application, Finish, HTTPError, MissingArgumentError, RequestHandler

APP = "tornadish.application"
GEN = "tornadish.general"
ACCESS = "tornadish.access"


async def fetch(base_url: str, path: str, method: str = "GET", **kw: Any) -> httpx.Response:
    async with httpx.AsyncClient() as c:
        return await c.request(method, base_url + path, **kw)


async def both(
    serve: Any,
    make: Any,
    path: str,
    method: str = "GET",
    pattern: str = r"/(\w*)",
    settings: dict[str, Any] | None = None,
    **kw: Any,
) -> tuple[httpx.Response, httpx.Response]:
    """``make(base, HTTPError, Finish)`` served on tornadish and on Tornado."""
    import tornado.httpserver
    import tornado.netutil
    import tornado.web

    settings = settings or {}
    srv = await serve(Application([(pattern, make(RequestHandler, HTTPError, Finish))], **settings))
    tapp = tornado.web.Application(
        [(pattern, make(tornado.web.RequestHandler, tornado.web.HTTPError, tornado.web.Finish))],
        **settings,
    )
    tserver = tornado.httpserver.HTTPServer(tapp)
    socks = tornado.netutil.bind_sockets(0, "127.0.0.1")
    tserver.add_sockets(socks)
    try:
        ours = await fetch(srv.base_url, path, method, **kw)
        theirs = await fetch(f"http://127.0.0.1:{socks[0].getsockname()[1]}", path, method, **kw)
    finally:
        tserver.stop()
        await tserver.close_all_connections()
    return ours, theirs


def assert_same(ours: httpx.Response, theirs: httpx.Response, body: bool = True) -> None:
    assert ours.status_code == theirs.status_code
    assert ours.reason_phrase == theirs.reason_phrase
    if body:
        assert ours.content == theirs.content
    assert ours.headers.get("content-type") == theirs.headers.get("content-type")


# -- the exception classes ------------------------------------------------------------------


def test_http_error_attributes_and_str() -> None:
    e = HTTPError(403, "user %s may not see %s", "bob", "/admin")
    assert e.status_code == 403
    assert e.log_message == "user %s may not see %s"
    assert e.args == ("bob", "/admin")
    assert e.reason is None
    assert str(e) == "HTTP 403: Forbidden (user bob may not see /admin)"
    assert str(HTTPError(404)) == "HTTP 404: Not Found"
    assert str(HTTPError(599)) == "HTTP 599: Unknown"
    assert str(HTTPError(400, reason="Nope")) == "HTTP 400: Nope"
    # A log message without args is not %-formatted (a literal % is fine).
    assert str(HTTPError(400, "100% wrong")) == "HTTP 400: Bad Request (100% wrong)"
    assert HTTPError().status_code == 500
    m = MissingArgumentError("name")
    assert isinstance(m, HTTPError)
    assert (m.status_code, m.arg_name) == (400, "name")
    assert str(m) == "HTTP 400: Bad Request (Missing argument name)"


def test_exception_classes_match_tornado_str() -> None:
    import tornado.web

    cases: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
        ((403, "user %s", "bob"), {}),
        ((404,), {}),
        ((599,), {}),
        ((400,), {"reason": "Nope"}),
        ((400, "100% wrong"), {}),
    ]
    for args, kwargs in cases:
        assert str(HTTPError(*args, **kwargs)) == str(tornado.web.HTTPError(*args, **kwargs))
    assert str(MissingArgumentError("x")) == str(tornado.web.MissingArgumentError("x"))


# -- HTTPError over the wire --------------------------------------------------------------------


def make_raiser(base: Any, http_error: Any, finish: Any) -> Any:
    class Raiser(base):  # type: ignore[misc]
        def get(self, what: str) -> None:
            if what == "forbidden":
                raise http_error(403)
            if what == "logged":
                raise http_error(409, "conflict on %s", "thing")
            if what == "reason":
                raise http_error(418, reason="Short and Stout")
            if what == "unknown":
                raise http_error(599)
            if what == "badreason":
                raise http_error(400, reason="<script>")
            if what == "notmodified":
                raise http_error(304, reason="Foo")
            if what == "nocontent":
                self.set_header("Content-Language", "en")
                raise http_error(204)
            if what == "finish":
                self.set_status(201)
                raise finish("made")
            if what == "finishdict":
                raise finish({"ok": True})
            if what == "finishempty":
                self.write("partial ")
                raise finish()
            if what == "senderror":
                self.write("discarded")
                self.send_error(503, reason="Maintenance")
                return
            if what == "zero":
                1 / 0  # noqa: B018
            self.write("fine")

        async def post(self, what: str) -> None:
            await asyncio.sleep(0)
            raise http_error(422, "bad %s", what)

    return Raiser


@pytest.mark.parametrize(
    "what",
    [
        "forbidden",
        "logged",
        "reason",
        "unknown",
        "badreason",
        "notmodified",
        "nocontent",
        "finish",
        "finishdict",
        "finishempty",
        "senderror",
        "zero",
        "ok",
    ],
)
async def test_errors_match_tornado(serve: Any, what: str) -> None:
    # Bug: HTTPError(304) or (204) wrote an error page that the status forbids; the
    # response was never sent and the connection dropped.
    ours, theirs = await both(serve, make_raiser, f"/{what}")
    assert_same(ours, theirs)
    if what in ("notmodified", "nocontent"):
        assert ours.content == b"" and "content-language" not in ours.headers


async def test_http_error_status_reason_and_log(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    srv = await serve(Application([(r"/(\w*)", make_raiser(RequestHandler, HTTPError, Finish))]))
    r = await fetch(srv.base_url, "/forbidden")
    assert (r.status_code, r.reason_phrase) == (403, "Forbidden")
    assert r.text == "<html><title>403: Forbidden</title><body>403: Forbidden</body></html>"
    # No log_message: nothing but the access line.
    assert not [rec for rec in caplog.records if rec.name in (GEN, APP)]
    r = await fetch(srv.base_url, "/logged")
    assert r.status_code == 409
    assert "conflict" not in r.text  # the log message never reaches the client
    recs = [rec for rec in caplog.records if rec.name == GEN]
    assert len(recs) == 1 and recs[0].levelno == logging.WARNING
    assert recs[0].getMessage() == "409 GET /logged (127.0.0.1): conflict on thing"
    r = await fetch(srv.base_url, "/reason")
    assert (r.status_code, r.reason_phrase) == (418, "Short and Stout")
    assert "418: Short and Stout" in r.text
    r = await fetch(srv.base_url, "/unknown")
    assert (r.status_code, r.reason_phrase) == (599, "Unknown")
    r = await fetch(srv.base_url, "/badreason")
    assert (r.status_code, r.reason_phrase) == (400, "Unknown")
    assert "<script>" not in r.text
    caplog.clear()
    r = await fetch(srv.base_url, "/x", "POST")
    assert r.status_code == 422
    assert [rec.getMessage() for rec in caplog.records if rec.name == GEN] == [
        "422 POST /x (127.0.0.1): bad x"
    ]


async def test_finish_exception(serve: Any) -> None:
    srv = await serve(Application([(r"/(\w*)", make_raiser(RequestHandler, HTTPError, Finish))]))
    r = await fetch(srv.base_url, "/finish")
    assert (r.status_code, r.text) == (201, "made")
    r = await fetch(srv.base_url, "/finishdict")
    assert r.json() == {"ok": True}
    r = await fetch(srv.base_url, "/finishempty")
    assert (r.status_code, r.text) == (200, "partial ")


async def test_finish_in_prepare_skips_method_and_is_not_logged(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[str] = []

    class H(RequestHandler):
        def prepare(self) -> None:
            self.set_status(401)
            raise Finish("login first")

        def get(self) -> None:
            ran.append("get")

    srv = await serve(Application([(r"/", H)]))
    r = await fetch(srv.base_url, "/")
    assert (r.status_code, r.text) == (401, "login first")
    assert ran == []
    assert not [rec for rec in caplog.records if rec.name in (APP, GEN)]


async def test_send_error_and_custom_write_error(serve: Any) -> None:
    seen: list[tuple[int, Any]] = []

    class H(RequestHandler):
        def get(self, what: str) -> None:
            if what == "raise":
                raise ValueError("oops")
            if what == "http":
                raise HTTPError(404, "not here")
            self.send_error(402, custom="value")

        def write_error(self, status_code: int, **kwargs: Any) -> None:
            exc = kwargs.get("exc_info")
            seen.append((status_code, exc[0] if exc else kwargs.get("custom")))
            self.set_header("X-Error", "custom")
            self.finish({"status": status_code, "reason": self._reason})

    srv = await serve(Application([(r"/(\w+)", H)]))
    r = await fetch(srv.base_url, "/raise")
    assert r.status_code == 500
    assert r.json() == {"status": 500, "reason": "Internal Server Error"}
    assert r.headers["x-error"] == "custom"
    assert r.headers["content-type"] == "application/json; charset=UTF-8"
    r = await fetch(srv.base_url, "/http")
    assert r.json() == {"status": 404, "reason": "Not Found"}
    r = await fetch(srv.base_url, "/plain")
    assert (r.status_code, r.reason_phrase) == (402, "Payment Required")
    assert seen == [(500, ValueError), (404, HTTPError), (402, "value")]


async def test_write_error_that_raises_still_finishes(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    class H(RequestHandler):
        def get(self) -> None:
            raise HTTPError(400)

        def write_error(self, status_code: int, **kwargs: Any) -> None:
            raise RuntimeError("write_error broke")

    srv = await serve(Application([(r"/", H)]))
    r = await fetch(srv.base_url, "/")
    assert r.status_code == 400
    assert r.content == b""
    assert any(rec.name == APP and "write_error" in rec.getMessage() for rec in caplog.records)
    r = await fetch(srv.base_url, "/")  # and the server goes on
    assert r.status_code == 400


async def test_send_error_after_flush_closes_the_chunked_response(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    class H(RequestHandler):
        async def get(self) -> None:
            self.write("partial")
            await self.flush()
            raise ValueError("after flush")

    srv = await serve(Application([(r"/", H)]))
    raw = await srv.raw(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n")
    assert raw.endswith(b"\r\n\r\n7\r\npartial\r\n0\r\n\r\n")
    msgs = [rec.getMessage() for rec in caplog.records]
    assert any("Cannot send error response after headers written" in m for m in msgs)
    assert any(rec.name == APP and rec.exc_info for rec in caplog.records)


# -- tracebacks -----------------------------------------------------------------------------------


class Crash(RequestHandler):
    def get(self) -> None:
        raise ZeroDivisionError("secret detail")


@pytest.mark.parametrize(
    "settings,shown",
    [
        ({}, False),
        ({"serve_traceback": True}, True),
        ({"debug": True}, True),
        ({"debug": True, "serve_traceback": False}, False),
    ],
    ids=["default", "serve_traceback", "debug", "debug-without-traceback"],
)
async def test_traceback_only_with_serve_traceback_or_debug(
    serve: Any, settings: dict[str, Any], shown: bool
) -> None:
    srv = await serve(Application([(r"/", Crash)], **settings))
    r = await fetch(srv.base_url, "/")
    assert r.status_code == 500
    if shown:
        assert r.headers["content-type"].startswith("text/plain")
        assert "Traceback (most recent call last)" in r.text
        assert "ZeroDivisionError: secret detail" in r.text
    else:
        assert "secret detail" not in r.text
        assert "Traceback" not in r.text
        assert r.text == (
            "<html><title>500: Internal Server Error</title>"
            "<body>500: Internal Server Error</body></html>"
        )


async def test_traceback_body_like_tornado(serve: Any) -> None:
    def make(base: Any, http_error: Any, finish: Any) -> Any:
        class H(base):  # type: ignore[misc]
            def get(self, _: str) -> None:
                raise ZeroDivisionError("secret detail")

        return H

    ours, theirs = await both(serve, make, "/", settings={"serve_traceback": True})
    assert_same(ours, theirs, body=False)
    assert ours.text.splitlines()[-1] == theirs.text.splitlines()[-1]


# -- 405 ------------------------------------------------------------------------------------------


class GetOnly(RequestHandler):
    def get(self) -> None:
        self.write("got")


class GetPost(RequestHandler):
    def get(self) -> None:
        self.write("got")

    async def post(self) -> None:
        self.write("posted")

    def delete(self) -> None:
        pass


async def test_405_with_allow_header(serve: Any) -> None:
    srv = await serve(Application([(r"/get", GetOnly), (r"/getpost", GetPost)]))
    async with httpx.AsyncClient(base_url=srv.base_url) as c:
        for method in ("POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"):
            r = await c.request(method, "/get")
            assert r.status_code == 405, method
            assert r.reason_phrase == "Method Not Allowed"
            assert r.headers["allow"] == "GET", method
        r = await c.put("/getpost")
        assert r.status_code == 405
        assert r.headers["allow"] == "GET, POST, DELETE"
        assert (await c.post("/getpost")).text == "posted"


@pytest.mark.parametrize("method", ["PROPFIND", "TRACE", "CONNECTX", "get"])
async def test_unknown_method_is_405_with_allow(serve: Any, method: str) -> None:
    srv = await serve(Application([(r"/", GetPost)]))
    raw = await srv.raw(f"{method} / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    head = raw.split(b"\r\n\r\n")[0].decode()
    assert head.startswith("HTTP/1.1 405 Method Not Allowed"), head
    assert "\r\nAllow: GET, POST, DELETE\r\n" in head + "\r\n"


async def test_405_matches_tornado_status_and_body(serve: Any) -> None:
    def make(base: Any, http_error: Any, finish: Any) -> Any:
        class H(base):  # type: ignore[misc]
            def get(self, _: str) -> None:
                self.write("x")

        return H

    for method in ("POST", "PROPFIND", "DELETE"):
        ours, theirs = await both(serve, make, "/", method=method)
        assert_same(ours, theirs)
        assert ours.status_code == 405


async def test_extended_supported_methods(serve: Any) -> None:
    class Dav(RequestHandler):
        SUPPORTED_METHODS = (*RequestHandler.SUPPORTED_METHODS, "PROPFIND")

        def propfind(self) -> None:
            self.set_status(207)
            self.write("multi")

    srv = await serve(Application([(r"/", Dav)]))
    r = await fetch(srv.base_url, "/", "PROPFIND")
    assert (r.status_code, r.text) == (207, "multi")
    r = await fetch(srv.base_url, "/", "GET")
    assert r.status_code == 405
    assert r.headers["allow"] == "PROPFIND"


# -- the response itself is bad -------------------------------------------------------------------


@pytest.mark.parametrize("what", ["name", "status-high", "status-low", "content-length"])
async def test_unsendable_response_becomes_500(
    serve: Any, caplog: pytest.LogCaptureFixture, what: str
) -> None:
    class H(RequestHandler):
        def get(self) -> None:
            if what == "name":
                self.set_header("X-Bad Name", "v")
            elif what == "status-high":
                self.set_status(1000)
            elif what == "status-low":
                self.set_status(99)
            else:
                self.set_header("Content-Length", "abc")
            self.write("body")

    class Fine(RequestHandler):
        def get(self) -> None:
            self.write("fine")

    srv = await serve(Application([(r"/", H), (r"/fine", Fine)]))
    raw = await srv.raw(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 500 Internal Server Error\r\n"), raw
    assert b"X-Bad" not in raw
    assert any(rec.name == APP and rec.exc_info for rec in caplog.records)
    assert (await fetch(srv.base_url, "/fine")).text == "fine"


async def test_wrong_content_length_closes_connection_without_hanging(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The response head already went into the state machine when the body turns out
    short: nothing valid can follow, so the connection is dropped (not left hanging) and
    on_finish still runs."""
    finished = asyncio.Event()

    class H(RequestHandler):
        def get(self) -> None:
            self.set_header("Content-Length", "100")
            self.write("short")

        def on_finish(self) -> None:
            finished.set()

    class Fine(RequestHandler):
        def get(self) -> None:
            self.write("fine")

    srv = await serve(Application([(r"/", H), (r"/fine", Fine)]))
    raw = await srv.raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", timeout=3)
    assert b"200 OK" not in raw or len(raw.split(b"\r\n\r\n", 1)[1]) < 100
    await asyncio.wait_for(finished.wait(), 2)
    assert any(rec.name == APP and rec.levelno == logging.ERROR for rec in caplog.records)
    assert (await fetch(srv.base_url, "/fine")).text == "fine"


@pytest.mark.parametrize(
    ("declared", "chunks", "message"),
    [
        ("42", ["ok"], "Tried to write 40 bytes less than Content-Length"),
        ("2", ["hello"], "Tried to write more data than Content-Length"),
        ("10", ["abc", "de"], "Tried to write 5 bytes less than Content-Length"),
        ("4", ["abc", "de"], "Tried to write more data than Content-Length"),
    ],
)
async def test_body_contradicting_content_length_is_logged_like_tornado(
    serve: Any, caplog: pytest.LogCaptureFixture, declared: str, chunks: list[str], message: str
) -> None:
    """Bug: the error path then tried to send a 500 on a connection whose state machine
    had already failed ("Exception in exception handler"). Now, as in Tornado: the error
    in Tornado's words, the handler's error logged, the connection closed."""
    errors: list[Exception] = []

    class H(RequestHandler):
        async def get(self) -> None:
            self.set_header("Content-Length", declared)
            try:
                for chunk in chunks[:-1]:
                    self.write(chunk)
                    await self.flush()
                self.finish(chunks[-1])
            except Exception as e:
                errors.append(e)
                raise

    srv = await serve(Application([(r"/", H)]))
    caplog.set_level(logging.ERROR)
    with pytest.raises(httpx.HTTPError):
        await fetch(srv.base_url, "/")
    assert [str(e) for e in errors] == [message]
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("Uncaught exception GET /") for m in messages)
    assert "Cannot send error response after headers written" in messages
    assert not any("Exception in exception handler" in m for m in messages)


async def test_reason_phrase_cannot_split_the_response(serve: Any) -> None:
    def make(base: Any, http_error: Any, finish: Any) -> Any:
        class H(base):  # type: ignore[misc]
            def get(self, what: str) -> None:
                reasons = {
                    "crlf": "Bad\r\nX-Injected: 1",
                    "lt": "<b>",
                    "latin": "Bön",
                    "wide": "日本",
                    "tab": "A\tB",
                }
                self.set_status(200, reasons[what])
                self.write("body")

        return H

    for what, expected in (
        ("crlf", "Unknown"),
        ("lt", "Unknown"),
        ("wide", "Unknown"),
        ("tab", "A\tB"),
    ):
        ours, theirs = await both(serve, make, f"/{what}")
        assert_same(ours, theirs)
        assert ours.reason_phrase == expected
        assert "x-injected" not in ours.headers


# -- logging of uncaught exceptions ---------------------------------------------------------------


async def test_uncaught_exception_log_record(serve: Any, caplog: pytest.LogCaptureFixture) -> None:
    srv = await serve(Application([(r"/crash", Crash)]))
    r = await fetch(srv.base_url, "/crash?a=1")
    assert r.status_code == 500
    recs = [rec for rec in caplog.records if rec.name == APP]
    assert len(recs) == 1
    rec = recs[0]
    assert rec.levelno == logging.ERROR
    assert rec.getMessage().startswith("Uncaught exception GET /crash?a=1 (127.0.0.1)")
    assert rec.exc_info is not None and rec.exc_info[0] is ZeroDivisionError
    formatted = logging.Formatter().format(rec)
    assert "Traceback (most recent call last)" in formatted
    assert "secret detail" in formatted
    access = [rec for rec in caplog.records if rec.name == ACCESS]
    assert access and access[0].levelno == logging.ERROR


async def test_custom_log_exception(serve: Any) -> None:
    seen: list[Any] = []

    class H(RequestHandler):
        def get(self) -> None:
            raise HTTPError(400, "quiet")

        def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
            seen.append(value)

    srv = await serve(Application([(r"/", H)]))
    r = await fetch(srv.base_url, "/")
    assert r.status_code == 400
    assert len(seen) == 1 and isinstance(seen[0], HTTPError)


async def test_malformed_form_body_is_400_and_server_survives(serve: Any) -> None:
    def make(base: Any, http_error: Any, finish: Any) -> Any:
        class H(base):  # type: ignore[misc]
            def post(self, _: str) -> None:
                self.write({"args": sorted(self.request.body_arguments)})

        return H

    bad: dict[str, Any] = {
        "content": b"garbage without boundary",
        "headers": {"Content-Type": "multipart/form-data; boundary=XYZ"},
    }
    ours, theirs = await both(serve, make, "/", method="POST", **bad)
    assert ours.status_code == theirs.status_code == 400
    srv = await serve(Application([(r"/(\w*)", make(RequestHandler, HTTPError, Finish))]))
    async with httpx.AsyncClient(base_url=srv.base_url) as c:
        assert (await c.post("/", **bad)).status_code == 400
        r = await c.post("/", data={"a": "1"})
        assert r.json() == {"args": ["a"]}
