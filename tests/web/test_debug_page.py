"""The debug page (``serve_traceback``/``debug=True``) as a browser gets it, over real
sockets: the exception and the request first, the user's frames open with their source,
tornadish's folded and named by their public modules, secrets masked; every other client
keeps Tornado's plain-text traceback (tests/web/test_web_errors.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tornadish._web import debug_page
from tornadish.web import Application, HTTPError, RequestHandler

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
HERE = Path(__file__).name


async def fetch(
    base_url: str, path: str, accept: str | None = BROWSER, **kw: Any
) -> httpx.Response:
    headers = kw.pop("headers", {})
    if accept is not None:
        headers["Accept"] = accept
    async with httpx.AsyncClient() as c:
        return await c.get(base_url + path, headers=headers, **kw)


def lookup(orders: dict[str, int], key: str) -> int:
    password = "hunter" + "2"  # noqa: F841 - a local the page must not show
    return orders[key]


class Crash(RequestHandler):
    def get(self) -> None:
        limit = 3  # noqa: F841 - a local the page shows
        lookup({}, "<missing & key>")


class Chained(RequestHandler):
    def get(self) -> None:
        try:
            lookup({}, "a")
        except KeyError as e:
            raise RuntimeError("while looking up") from e


class Context(RequestHandler):
    def get(self) -> None:
        try:
            lookup({}, "a")
        except KeyError:
            if self.get_argument("quiet", ""):
                raise RuntimeError("and then this") from None
            raise RuntimeError("and then this")  # noqa: B904 - the implicit context is the point


class MissingArgument(RequestHandler):
    def get(self) -> None:
        self.write(self.get_argument("needed"))


def app(**settings: Any) -> Application:
    settings.setdefault("serve_traceback", True)
    return Application(
        [
            (r"/crash", Crash),
            (r"/chained", Chained),
            (r"/context", Context),
            (r"/argument", MissingArgument),
        ],
        **settings,
    )


def line_of(text: str) -> int:
    """The line of this file that holds ``text``."""
    lines = Path(__file__).read_text().splitlines()
    return next(n for n, line in enumerate(lines, 1) if text in line)


async def test_a_browser_gets_the_exception_the_request_and_its_own_frames(serve: Any) -> None:
    srv = await serve(app())
    r = await fetch(srv.base_url, "/crash?x=1")
    assert r.status_code == 500
    assert r.headers["content-type"] == "text/html; charset=UTF-8"
    page = r.text
    assert "<title>500: Internal Server Error · KeyError</title>" in page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    # The exception, escaped; the request; the handler; where it went through the code.
    assert "KeyError: &#x27;&lt;missing &amp; key&gt;&#x27;" in page
    assert "<missing" not in page
    assert f"<dd>GET {srv.base_url}/crash?x=1</dd>" in page
    assert "<dd>tests.web.test_debug_page.Crash</dd>" in page
    raise_line = line_of("return orders[key]")
    assert f"{HERE}, line {raise_line}, in lookup</a>" in page  # "Your code", linked
    # Both of the user's frames are open, with the lines around them, the line itself marked.
    call_line = line_of('lookup({}, "<missing & key>")')
    for line, text in ((call_line, "lookup({}, &quot;&lt;missing"), (raise_line, "orders[key]")):
        assert re.search(rf'<span class="here"><i>{line}</i>\s*[^<]*{re.escape(text)}', page)
        assert f"<i>{line - 1}</i>" in page and f"<i>{line + 1}</i>" in page
    assert f"{HERE}, line {call_line}, in <b>Crash.get</b>" in page
    # Locals, folded; a secret-looking name masked.
    assert "<td>limit</td><td>3</td>" in page
    assert "<td>password</td><td>********</td>" in page and "hunter2" not in page


async def test_framework_frames_are_folded_and_named_by_public_modules(serve: Any) -> None:
    srv = await serve(app())
    page = (await fetch(srv.base_url, "/argument")).text
    assert "<h1>400: Bad Request</h1>" in page
    assert (
        "tornadish.web.MissingArgumentError: HTTP 400: Bad Request (Missing argument needed)"
        in page
    )
    line = line_of('self.get_argument("needed")')
    assert f"{HERE}, line {line}, in MissingArgument.get" in page
    # The frames of tornadish after the user's: folded, by the name the user called.
    folded = re.findall(r'<details class="quiet"><summary>(\d+) frames? in ([^<]*)</summary>', page)
    assert folded and all(where.startswith("tornadish.web") for _, where in folded), folded
    assert "<li>tornadish.web.RequestHandler.get_argument</li>" in page
    # Nothing names a private module or file of tornadish.
    assert not re.search(r"tornadish[./]_[a-z]", page), re.findall(
        r".{40}tornadish[./]_.{40}", page
    )
    assert "handler.py" not in page


async def test_chained_exceptions_read_in_pythons_order(serve: Any) -> None:
    srv = await serve(app())
    page = (await fetch(srv.base_url, "/chained")).text
    cause = page.index('<p class="exc">KeyError: &#x27;a&#x27;</p>')
    words = page.index("The above exception was the direct cause of the following exception:")
    effect = page.rindex('<p class="exc">RuntimeError: while looking up</p>')
    assert cause < words < effect
    assert '<h1>500: Internal Server Error</h1><p class="exc">RuntimeError' in page

    page = (await fetch(srv.base_url, "/context")).text
    assert "During handling of the above exception, another exception occurred:" in page
    page = (await fetch(srv.base_url, "/context?quiet=1")).text
    assert '<p class="exc">KeyError' not in page and "During handling" not in page  # from None


async def test_a_404_lists_the_routes_tried(serve: Any) -> None:
    srv = await serve(app())
    page = (await fetch(srv.base_url, "/nowhere")).text
    assert "<h1>404: Not Found</h1>" in page
    assert "The application's routes, tried in order (4)" in page
    assert "<td>/crash$</td><td>tests.web.test_debug_page.Crash</td>" in page
    assert "<dd>tornadish.web.ErrorHandler</dd>" in page


async def test_request_headers_are_shown_with_credentials_masked(serve: Any) -> None:
    srv = await serve(app())
    headers = {"Cookie": "session=s3cret", "Authorization": "Bearer t0ken", "X-Trace": "abc"}
    page = (await fetch(srv.base_url, "/crash", headers=headers)).text
    assert "<td>X-Trace</td><td>abc</td>" in page
    assert "<td>Cookie</td><td>********</td>" in page
    assert "<td>Authorization</td><td>********</td>" in page
    assert "s3cret" not in page and "t0ken" not in page


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "text/html;q=0"])
async def test_other_clients_get_tornados_plain_text_traceback(
    serve: Any, accept: str | None
) -> None:
    srv = await serve(app())
    r = await fetch(srv.base_url, "/crash", accept=accept)
    assert r.status_code == 500 and r.headers["content-type"].startswith("text/plain")
    assert r.text.startswith("Traceback (most recent call last):")
    assert r.text.rstrip().endswith("KeyError: '<missing & key>'")


@pytest.mark.parametrize(
    "settings", [{"serve_traceback": False}, {"debug": True, "serve_traceback": False}]
)
async def test_without_serve_traceback_a_browser_gets_the_plain_page(
    serve: Any, settings: dict[str, Any]
) -> None:
    srv = await serve(app(**settings))
    r = await fetch(srv.base_url, "/crash")
    assert r.status_code == 500
    assert r.text == (
        "<html><title>500: Internal Server Error</title>"
        "<body>500: Internal Server Error</body></html>"
    )


async def test_a_page_that_cannot_be_built_falls_back_to_the_text(
    serve: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: Any) -> str:
        raise RuntimeError("page bug")

    monkeypatch.setattr(debug_page._Page, "render", broken)
    srv = await serve(app())
    r = await fetch(srv.base_url, "/crash")
    assert r.status_code == 500 and r.headers["content-type"].startswith("text/plain")
    assert "KeyError" in r.text
    assert any("Could not build the debug page" in rec.getMessage() for rec in caplog.records)


async def test_a_template_error_opens_the_template_at_its_line(serve: Any, tmp_path: Path) -> None:
    (tmp_path / "boom.html").write_text(
        "<ul>\n{% for x in items %}\n  <li>{{ 1 / x }}</li>\n{% end %}\n</ul>\n"
    )

    class Page(RequestHandler):
        def get(self) -> None:
            self.render("boom.html", items=[1, 0])

    srv = await serve(
        Application([(r"/", Page)], serve_traceback=True, template_path=str(tmp_path))
    )
    page = (await fetch(srv.base_url, "/")).text
    assert "ZeroDivisionError: division by zero" in page
    assert f"{tmp_path / 'boom.html'}, line 3" in page
    assert re.search(r'<span class="here"><i>3</i>\s*&lt;li&gt;\{\{ 1 / x \}\}', page)
    assert "<td>x</td><td>0</td>" in page and "<td>items</td><td>[1, 0]</td>" in page
    assert "_tt_" not in page and "<td>ZeroDivisionError</td>" not in page  # no builtins


async def test_an_http_error_raised_by_the_user(serve: Any) -> None:
    class Gone(RequestHandler):
        def get(self) -> None:
            raise HTTPError(410, "log only", reason="Long Gone")

    srv = await serve(Application([(r"/", Gone)], serve_traceback=True))
    page = (await fetch(srv.base_url, "/")).text
    assert "<title>410: Long Gone · HTTPError</title>" in page
    assert "tornadish.web.HTTPError: HTTP 410: Long Gone (log only)" in page
    assert "routes, tried in order" not in page  # a 404 only


@pytest.mark.parametrize(
    "accept,html",
    [
        ("text/html", True),
        ("TEXT/HTML; charset=utf-8", True),
        ("application/xhtml+xml", True),
        (BROWSER, True),
        ("text/html;q=0.1, */*", True),
        ("text/html;q=0", False),
        ("text/html; q=0.0", False),
        ("*/*", False),
        ("text/*", False),
        ("application/json", False),
        ("", False),
    ],
)
def test_what_asks_for_html(accept: str, html: bool) -> None:
    assert debug_page.wants_html(accept) is html


def test_public_names() -> None:
    public = debug_page.public_name
    assert public("tornadish._web.handler", "RequestHandler.write") == (
        "tornadish.web.RequestHandler.write"
    )
    assert (
        public("tornadish._template.tornado_syntax", "ParseError")
        == "tornadish.template.ParseError"
    )
    assert public("tornadish._web.handler_run", "Nowhere.run") == "tornadish.web: Nowhere.run"
    assert public("tornadish._server.protocol", "_X.f") == "tornadish.httpserver: _X.f"
    assert public("tornadish.gen", "coroutine") == "tornadish.gen.coroutine"
    assert public("myapp", "Main.get") == "myapp.Main.get"
