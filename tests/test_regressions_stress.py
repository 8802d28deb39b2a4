"""Regression tests for the bugs the stress suite (tests/stress, issue 9) found.

Each test names the bug it pins; the stress tests explore the same ground at scale.
"""

from __future__ import annotations

import asyncio
import errno
import os
import tempfile
from pathlib import Path
from typing import Any

import httpx
import jinja2
import pytest

from tornadish import escape
from tornadish._http.h11_session import ProtocolError, ServerSession
from tornadish.template import Template
from tornadish.web import (
    Application,
    RedirectHandler,
    RequestHandler,
    addslash,
    authenticated,
    removeslash,
)

from _rawhttp import RawConn, request

# -- a long poll whose client leaves must not leave its socket open ---------------------


def count_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize("style", ["parked", "cancelled"])
async def test_abandoned_long_poll_closes_its_connection(serve: Any, style: str) -> None:
    """Bug: a handler waiting for a client that then went away (FIN) ran on_finish but
    kept the half-closed socket open for good (CLOSE_WAIT, one fd per abandoned poll)."""
    events: list[str] = []

    class Poll(RequestHandler):
        async def get(self) -> None:
            if style == "parked":
                self._auto_finish = False  # finished by some callback, later
                return
            self.waiting = asyncio.get_running_loop().create_future()
            await self.waiting

        def on_connection_close(self) -> None:
            events.append("closed")
            if style == "cancelled":
                self.waiting.cancel()

        def on_finish(self) -> None:
            events.append("finished")

    srv = await serve(Application([(r"/", Poll)]))
    before = count_fds()
    conn = await RawConn.open(srv.port)
    conn.send(request())
    await asyncio.sleep(0.1)
    conn.close()
    for _ in range(200):
        if count_fds() <= before and events == ["closed", "finished"]:
            break
        await asyncio.sleep(0.02)
    assert events == ["closed", "finished"]
    assert count_fds() <= before, "the server kept the connection"


# -- protocol errors ------------------------------------------------------------------------


def test_head_request_with_a_broken_body_still_gets_its_error() -> None:
    """Bug: the 400 for a HEAD whose body was cut short was empty bytes (h11 refuses a
    body in the answer to HEAD), so the client got silence."""
    s = ServerSession(4096, 1024)
    s.receive_data(b"HEAD / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nab")
    s.next_event()  # the head
    assert s.next_event() == b"ab"
    s.next_event()  # NEED_DATA
    s.receive_data(b"")  # the client is gone, 3 bytes short
    with pytest.raises(ProtocolError) as info:
        s.next_event()
    out = s.error_response(info.value.status, "Bad Request", b"400 Bad Request\n")
    assert out.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert out.endswith(b"\r\n\r\n") and b"Connection: close" in out


def test_error_after_a_head_request_is_not_mistaken_for_one_to_head() -> None:
    """The next request on the connection is not a HEAD: its error answer has a body."""
    s = ServerSession(4096, 1024)
    s.receive_data(b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n")
    s.next_event()
    s.next_event()  # END
    s.response_head(200, "OK", [(b"Content-Length", b"0")])
    s.response_end()
    assert s.next_cycle()
    s.receive_data(b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nab")
    s.next_event()
    s.next_event()
    s.next_event()
    s.receive_data(b"")
    with pytest.raises(ProtocolError) as info:
        s.next_event()
    out = s.error_response(info.value.status, "Bad Request", b"400 Bad Request\n")
    assert out.endswith(b"\r\n\r\n400 Bad Request\n")


def test_http10_transfer_encoding_is_not_kept_alive() -> None:
    """Bug: HTTP/1.0 with Transfer-Encoding and Connection: keep-alive stayed open, so
    bytes after the message were read as another request (RFC 9112 §6.1: close)."""
    s = ServerSession(4096, 1024)
    s.receive_data(
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n0\r\n\r\n"
    )
    head = s.next_event()
    assert getattr(head, "keep_alive", None) is False


# -- a full disk during an upload ------------------------------------------------------------


async def test_upload_on_a_full_disk_is_507_not_a_crash(
    serve: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bug: ENOSPC while spooling escaped the parser: a 500, a traceback in the log and
    the connection dropped. Now: 507 through the handler, temp files closed."""
    real = tempfile.TemporaryFile

    class Full:
        def __init__(self) -> None:
            self.f = real(dir=tmp_path)

        def write(self, data: Any) -> int:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def close(self) -> None:
            self.f.close()

    monkeypatch.setattr(tempfile, "TemporaryFile", lambda *a, **k: Full())

    class Up(RequestHandler):
        def post(self) -> None:
            self.write("stored")

    app = Application([(r"/", Up)], upload_spool_threshold=10, upload_tmp_dir=str(tmp_path))
    srv = await serve(app)
    async with httpx.AsyncClient() as client:
        r = await client.post(srv.base_url, files={"f": ("a.bin", b"x" * 1000)})
    assert r.status_code == 507


# -- open redirects ----------------------------------------------------------------------------


class Slashless(RequestHandler):
    @removeslash
    def get(self, path: str) -> None:
        self.write("x")


class Slashful(RequestHandler):
    @addslash
    def get(self, path: str) -> None:
        self.write("x")


class Private(RequestHandler):
    @authenticated
    def get(self, path: str) -> None:
        self.write("x")


@pytest.mark.parametrize(
    ("handler", "target", "status"),
    [
        (Slashless, "//evil.com/", 403),
        (Slashless, "/\\evil.com/", 403),
        (Slashful, "//evil.com", 403),
        (Slashful, "/\\evil.com", 403),
        (Slashful, "/fine", 301),
    ],
)
async def test_slash_decorators_do_not_redirect_off_site(
    serve: Any, handler: type, target: str, status: int
) -> None:
    """Bug: removeslash/addslash redirected ``//evil.com/`` to ``//evil.com``."""
    srv = await serve(Application([(r"(/.*)", handler)]))
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", target))
    resp = await conn.response()
    conn.close()
    assert resp.status == status
    if status == 301:
        assert resp.header("Location") == "/fine/"


@pytest.mark.parametrize(
    ("target", "status", "location"),
    [
        ("/go/page", 301, "/page"),
        ("/go//evil.com", 400, None),
        ("/go/%5Cevil.com", 400, None),
        ("/go/a%0d%0aSet-Cookie:x=1", 400, None),
    ],
)
async def test_redirect_handler_cannot_be_sent_off_site(
    serve: Any, target: str, status: int, location: str | None
) -> None:
    """Bug: RedirectHandler with ``/{0}`` redirected to ``//evil.com``; CR/LF in a path
    group gave a 500."""
    srv = await serve(Application([(r"/go/(.*)", RedirectHandler, {"url": "/{0}"})]))
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", target))
    resp = await conn.response()
    conn.close()
    assert resp.status == status
    assert resp.header("Location") == location


async def test_authenticated_next_stays_on_the_site(serve: Any) -> None:
    """Bug: ``GET //evil.com/x`` on a protected catch-all sent the user to the login
    page with ``next=//evil.com/x``, which login handlers then redirect to."""
    srv = await serve(Application([(r"(/.*)", Private)], login_url="/login"))
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", "//evil.com/x"))
    resp = await conn.response()
    conn.close()
    assert resp.status == 302
    assert resp.header("Location") == "/login?next=%2Fevil.com%2Fx"


# -- hostile content ----------------------------------------------------------------------


def test_json_decode_of_deep_nesting_is_a_value_error() -> None:
    """Bug: ``[[[[...`` raised RecursionError, which handlers catching ValueError (the
    documented failure) turned into a 500."""
    with pytest.raises(ValueError):
        escape.json_decode(b"[" * 200_000)


@pytest.mark.parametrize(
    "source",
    [
        "{{ " + "(" * 2000 + "1" + ")" * 2000 + " }}",
        "{% if x %}" * 120 + "{% end %}" * 120,
    ],
)
def test_deeply_nested_template_is_a_parse_error(source: str) -> None:
    """Bug: nesting too deep for Jinja2's parser or Python's compiler escaped Template()
    as RecursionError / IndentationError instead of a ParseError."""
    with pytest.raises(jinja2.TemplateSyntaxError):
        Template(source, name="deep.html")
