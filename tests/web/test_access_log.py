"""The structured access log and request ids (``log_format="json"``, ``request_id``),
over real sockets: one JSON object per request carrying every field, the same fields
as the record's extras, ``X-Request-ID`` taken (when fit), made, and echoed."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any

import httpx
import pytest

from tornadish._http.request import HTTPServerRequest
from tornadish._http.request_id import request_id, valid_request_id
from tornadish._web.access_log import FIELDS
from tornadish.web import Application, RequestHandler, url

from tests.support.web import ACCESS, get

HEX32 = re.compile(r"[0-9a-f]{32}")


class Hello(RequestHandler):
    def get(self, name: str = "") -> None:
        self.write("hello " + name)

    def post(self, name: str = "") -> None:
        self.write(self.request.body)


class Seen(RequestHandler):
    def get(self) -> None:
        self.write({"id": self.request.id, "again": self.request.id})


class Boom(RequestHandler):
    def get(self) -> None:
        raise RuntimeError("boom")


class Streamed(RequestHandler):
    async def get(self) -> None:
        for _ in range(3):
            self.write(b"x" * 1000)
            await self.flush()


def _app(**settings: Any) -> Application:
    return Application(
        [
            url(r"/hello/(\w+)", Hello, name="hello"),
            (r"/seen", Seen),
            (r"/boom", Boom),
            (r"/streamed", Streamed),
        ],
        **settings,
    )


def _lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == ACCESS]


async def test_json_line_carries_every_field_and_the_same_extras(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=ACCESS)
    srv = await serve(_app(log_format="json"))
    async with httpx.AsyncClient(base_url=srv.base_url) as client:
        r = await client.post(
            "/hello/ann?token=secret",
            content=b"12345",
            headers={"User-Agent": "probe/1.0", "X-Request-ID": "req-7"},
        )
        assert r.text == "12345"
        assert (await client.get("/nowhere")).status_code == 404
        assert (await client.get("/boom")).status_code == 500
    first, unmatched, boom = _lines(caplog)
    fields = json.loads(first.getMessage())
    assert list(fields) == list(FIELDS)
    assert fields["method"] == "POST"
    assert fields["path"] == "/hello/ann"  # no query string: it may carry tokens
    assert fields["status"] == 200
    assert fields["bytes"] == 5
    assert isinstance(fields["duration_ms"], float) and 0 <= fields["duration_ms"] < 5000
    assert fields["remote_ip"] == "127.0.0.1"
    assert fields["user_agent"] == "probe/1.0"
    assert fields["route"] == "hello"  # the URLSpec's name
    assert fields["request_id"] == "req-7"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", fields["time"])
    for name in FIELDS:  # a JSON formatter sees them as the record's own fields
        assert getattr(first, name) == fields[name]
    assert first.levelno == logging.INFO
    missing = json.loads(unmatched.getMessage())
    assert (missing["status"], missing["route"], unmatched.levelno) == (404, None, logging.WARNING)
    failed = json.loads(boom.getMessage())
    assert (failed["status"], failed["route"], boom.levelno) == (500, "/boom", logging.ERROR)
    assert failed["bytes"] > 0  # the error page


async def test_bytes_are_what_was_sent_compressed_streamed_or_not(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=ACCESS)
    srv = await serve(_app(log_format="json", compress_response=True))
    async with httpx.AsyncClient(base_url=srv.base_url) as client:
        r = await client.get("/streamed", headers={"Accept-Encoding": "identity"})
        assert len(r.content) == 3000
        r = await client.get("/streamed", headers={"Accept-Encoding": "gzip"})
        assert r.headers["Content-Encoding"] == "gzip"
        assert len(r.content) == 3000  # httpx decoded it
        r = await client.head("/hello/x")
        assert r.status_code == 405
    plain, gzipped, head = (json.loads(rec.getMessage()) for rec in _lines(caplog))
    assert plain["bytes"] == 3000
    assert 0 < gzipped["bytes"] < 200  # 3000 x's, gzipped, as sent
    assert head["bytes"] == 0


async def test_request_id_taken_replaced_or_made_and_echoed(serve: Any) -> None:
    srv = await serve(_app(log_format="json"))
    async with httpx.AsyncClient(base_url=srv.base_url) as client:
        given = await client.get("/seen", headers={"X-Request-ID": "abc.DEF_1:2/3+4=5@6-7"})
        assert given.json()["id"] == "abc.DEF_1:2/3+4=5@6-7"
        assert given.headers["X-Request-ID"] == "abc.DEF_1:2/3+4=5@6-7"
        made = await client.get("/seen")
        assert HEX32.fullmatch(made.json()["id"])
        assert made.json()["again"] == made.json()["id"]  # made once, then kept
        assert made.headers["X-Request-ID"] == made.json()["id"]
        for bad in (b"has space", b"x" * 129, b'quote"', "caf\u00e9".encode()):
            replaced = await client.get("/seen", headers=[(b"X-Request-ID", bad)])
            assert HEX32.fullmatch(replaced.json()["id"]), bad
            assert replaced.headers["X-Request-ID"] == replaced.json()["id"]
        # Error pages carry it too (the header is set as the response goes out).
        assert HEX32.fullmatch((await client.get("/boom")).headers["X-Request-ID"])
        assert HEX32.fullmatch((await client.get("/nowhere")).headers["X-Request-ID"])


@pytest.mark.parametrize(
    ("settings", "echoed"),
    [
        ({}, False),
        ({"log_format": "text"}, False),
        ({"request_id": True}, True),
        ({"log_format": "json"}, True),
        ({"log_format": "json", "request_id": False}, False),
    ],
)
async def test_request_id_echoed_only_when_asked(
    serve: Any, settings: dict[str, Any], echoed: bool
) -> None:
    srv = await serve(_app(**settings))
    r = await get(srv, "/seen", headers={"X-Request-ID": "given-1"})
    assert r.json()["id"] == "given-1"  # request.id exists either way
    assert ("X-Request-ID" in r.headers) is echoed
    if echoed:
        assert r.headers["X-Request-ID"] == "given-1"


async def test_log_function_still_wins_over_the_json_line(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[tuple[int, str]] = []

    def log_function(handler: RequestHandler) -> None:
        seen.append((handler.get_status(), handler.request.id))

    caplog.set_level(logging.DEBUG, logger=ACCESS)
    srv = await serve(_app(log_format="json", log_function=log_function))
    r = await get(srv, "/hello/bo", headers={"X-Request-ID": "mine"})
    assert r.headers["X-Request-ID"] == "mine"
    assert seen == [(200, "mine")]
    assert _lines(caplog) == []


async def test_the_text_line_is_tornados_whatever_else_is_on(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # With request ids echoed the access log goes through tornadish._web.access_log's
    # copy of Application.log_request's line: the two must not drift apart.
    caplog.set_level(logging.DEBUG, logger=ACCESS)
    lines = []
    for settings in ({}, {"request_id": True}):
        caplog.clear()
        srv = await serve(_app(**settings))
        await get(srv, "/hello/x?q=1")
        await get(srv, "/nowhere")
        lines.append([(r.levelno, r.msg, r.args[:2]) for r in _lines(caplog)])  # type: ignore[index]
    assert lines[0] == lines[1]
    assert lines[0][0] == (logging.INFO, "%d %s %.2fms", (200, "GET /hello/x?q=1 (127.0.0.1)"))
    assert lines[0][1][0] == logging.WARNING


async def test_log_format_is_checked_at_start_up() -> None:
    with pytest.raises(ValueError, match="log_format"):
        Application([], log_format="xml")


def test_request_id_rules() -> None:
    assert valid_request_id("a") and valid_request_id("x" * 128)
    assert not valid_request_id("") and not valid_request_id("x" * 129)
    assert not valid_request_id("new\nline") and not valid_request_id("tab\t")
    assert request_id("keep-me") == "keep-me"
    assert HEX32.fullmatch(request_id(None))
    assert request_id(None) != request_id(None)


def test_request_id_is_made_only_when_asked() -> None:
    request = HTTPServerRequest("GET", "/")
    assert request._id is None  # nothing made at construction
    made = request.id
    assert HEX32.fullmatch(made) and request.id == made


async def test_ids_stay_apart_across_concurrent_requests(serve: Any) -> None:
    srv = await serve(_app(request_id=True))
    async with httpx.AsyncClient(base_url=srv.base_url) as client:
        answers = await asyncio.gather(*(client.get("/seen") for _ in range(20)))
    ids = {r.json()["id"] for r in answers}
    assert len(ids) == 20
    assert all(r.headers["X-Request-ID"] == r.json()["id"] for r in answers)
