"""Handler-side templates over real sockets: render, namespace, UI modules, locale."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tornadish import locale
from tornadish.web import Application, RequestHandler, UIModule

SEEDS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "template", "templates", "seeds")


@pytest.fixture(autouse=True)
def _reset_locale() -> Iterator[None]:
    yield
    locale._translations = {}
    locale._supported_locales = frozenset(["en_US"])
    locale._use_gettext = False
    locale._default_locale = "en_US"
    locale.Locale._cache.clear()


class MemberBar(UIModule):
    def render(self) -> str:
        return "<nav>members</nav>"


class HTTPSCheck(UIModule):
    def render(self) -> str | bytes:
        if self.request.headers.get("X-Forwarded-Ssl") != "on":
            return self.render_string("modules/ssl.html")
        return ""


class Widget(UIModule):
    def render(self, n: int) -> str:
        return f"<w>{n}</w>"

    def embedded_javascript(self) -> str:
        return "var w = 1;"

    def javascript_files(self) -> list[str]:
        return ["w.js", "https://cdn.example/x.js", "w.js"]

    def embedded_css(self) -> str:
        return ".w{}"

    def css_files(self) -> str:
        return "/w.css"

    def html_head(self) -> str:
        return "<meta name=w>"

    def html_body(self) -> str:
        return "<div id=end></div>"


def shout(handler: RequestHandler, text: str) -> str:
    return text.upper() + handler.request.path


class Page(RequestHandler):
    def get(self, name: str) -> Any:
        kwargs: dict[str, Any] = dict(status_code=404, exception="gone", a=2, b=3)
        return self.render(name, **kwargs)


class User(Page):
    def get_current_user(self) -> str:
        return "bob"


def make_app(**settings: Any) -> Application:
    defaults: dict[str, Any] = dict(
        template_path=SEEDS,
        template_syntax="tornado",
        static_path=os.path.join(SEEDS, "static"),
        ui_modules={"MemberBar": MemberBar, "HTTPSCheck": HTTPSCheck, "Widget": Widget},
        ui_methods={"shout": shout, "_hidden": shout, "NotAMethod": shout},
        version="1.2",
        cookie_secret="s",
        xsrf_cookies=True,
    )
    defaults.update(settings)
    return Application([(r"/user/(.*)", User), (r"/(.*)", Page)], **defaults)


async def get(srv: Any, path: str, **kw: Any) -> httpx.Response:
    async with httpx.AsyncClient() as c:
        return await c.get(srv.base_url + path, **kw)


async def test_seed_base_layout_renders(serve: Any) -> None:
    srv = await serve(make_app())
    r = await get(srv, "/base.html")
    assert r.status_code == 200
    assert "<title>My Site :: Unextended Template</title>" in r.text
    assert 'href="/static/css/site.css?v=' in r.text
    assert "recaptcha_ajax.js" in r.text  # not logged in
    assert '<div id="header">My Site</div>' in r.text
    assert "Version</li>" not in r.text and "Version: 1.2" in r.text
    assert "No Content Specified" in r.text


async def test_seed_extends_with_logged_in_user_and_module(serve: Any) -> None:
    srv = await serve(make_app())
    r = await get(srv, "/user/error.html")
    assert "<title>My Site :: Error Title</title>" in r.text
    assert '<body class="authenticated">' in r.text
    assert "<nav>members</nav>" in r.text  # {{ modules.MemberBar() }}: HTML, unescaped
    assert '<h2 class="error">404 - gone</h2>' in r.text
    assert "recaptcha" not in r.text


async def test_seed_xsrf_form_html_both_forms(serve: Any) -> None:
    srv = await serve(make_app())
    for page in ("login.html", "new_message.html"):
        r = await get(srv, "/" + page)
        assert '<input type="hidden" name="_xsrf" value="' in r.text, page
        assert "_xsrf" in r.cookies


async def test_seed_uimodule_render_string(serve: Any) -> None:
    srv = await serve(make_app())
    r = await get(srv, "/https_check.html")
    assert "Click here to use a secure connection" in r.text
    assert f"https://127.0.0.1:{srv.port}/https_check.html" in r.text
    r = await get(srv, "/https_check.html", headers={"X-Forwarded-Ssl": "on"})
    assert "secure connection" not in r.text


async def test_seed_use_methods_through_handler(
    serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(SEEDS)
    srv = await serve(make_app())
    try:
        r = await get(srv, "/methods.html")
    finally:
        sys.modules.pop("methods", None)
    assert "<p>5</p>" in r.text


async def test_module_resources_injected(serve: Any, tmp_path: Any) -> None:
    (tmp_path / "w.html").write_text(
        "<html><head><title>t</title></head><body>{% module Widget(1) %}"
        "{{ modules.Widget(2) }}</body></html>"
    )
    srv = await serve(make_app(template_path=str(tmp_path)))
    r = await get(srv, "/w.html")
    html = r.text
    assert "<w>1</w><w>2</w>" in html
    head, body = html.split("</head>")
    assert '<link href="/w.css" type="text/css" rel="stylesheet"/>' in head
    assert '<style type="text/css">\n.w{}\n</style>' in head
    assert head.rstrip().endswith("<meta name=w>")
    assert body.count('src="https://cdn.example/x.js"') == 1
    assert body.count('<script src="/static/w.js') == 1
    assert "//<![CDATA[\nvar w = 1;\n//]]>" in body
    assert body.index("x.js") < body.index("var w = 1") < body.index("<div id=end>")
    assert body.rstrip().endswith("</body></html>")


async def test_ui_methods_get_handler(serve: Any, tmp_path: Any) -> None:
    (tmp_path / "m.html").write_text("{{ shout('hi') }}|{{ _hidden is defined }}")
    srv = await serve(make_app(template_path=str(tmp_path)))
    r = await get(srv, "/m.html")
    assert r.text == "HI/m.html|False"


async def test_template_module_and_linkify_builtins(serve: Any, tmp_path: Any) -> None:
    (tmp_path / "part.html").write_text("{{ set_resources(embedded_css='.p{}') }}<p>{{ x }}</p>")
    (tmp_path / "t.html").write_text(
        "<html><head></head><body>{% module Template('part.html', x=1) %}"
        "{% module Template('part.html', x=2) %}"
        "{% module linkify('see http://a.b') %}</body></html>"
    )
    srv = await serve(make_app(template_path=str(tmp_path)))
    r = await get(srv, "/t.html")
    assert "<p>1</p><p>2</p>" in r.text
    assert r.text.count(".p{}") == 1
    assert '<a href="http://a.b">http://a.b</a>' in r.text


async def test_default_syntax_takes_tornado_and_jinja_tags(serve: Any, tmp_path: Any) -> None:
    (tmp_path / "t.html").write_text(
        "{% for i in range(2) %}{{ i }}{% end %}{% for i in range(2) %}{{ i }}{% endfor %}"
        "{{ '<' }}{% raw '<' %}"
    )
    srv = await serve(Application([(r"/(.*)", Page)], template_path=str(tmp_path)))
    assert (await get(srv, "/t.html")).text == "0101&lt;<"


async def test_jinja_syntax_setting(serve: Any, tmp_path: Any) -> None:
    (tmp_path / "j.html").write_text(
        "{% for i in range(2) %}{{ i }}{% endfor %}{{ '<' }}{{ request.path }}"
        "{{ modules.MemberBar() }}{{ reverse_url('r', 'x') }}"
    )
    (tmp_path / "j.txt").write_text("{{ '<' }}")
    app = Application(
        [(r"/(.*)", Page, {}, "r")],
        template_path=str(tmp_path),
        ui_modules=[{"MemberBar": MemberBar}],
        template_syntax="jinja",
    )
    srv = await serve(app)
    r = await get(srv, "/j.html")
    assert r.text == "01&lt;/j.html<nav>members</nav>/x"
    assert (await get(srv, "/j.txt")).text == "<"  # autoescape only for .html/.xml


async def test_autoescape_none_setting(serve: Any, tmp_path: Any) -> None:
    (tmp_path / "a.html").write_text("{{ '<b>' }}")
    for syntax in ("jinja", "tornado"):
        srv = await serve(
            Application(
                [(r"/(.*)", Page)],
                template_path=str(tmp_path),
                autoescape=None,
                template_syntax=syntax,
            )
        )
        assert (await get(srv, "/a.html")).text == "<b>", syntax


async def test_compiled_once_unless_debug(serve: Any, tmp_path: Any) -> None:
    path = tmp_path / "c.html"
    path.write_text("one")
    srv = await serve(make_app(template_path=str(tmp_path)))
    assert (await get(srv, "/c.html")).text == "one"
    path.write_text("two!")
    os.utime(path, (1, 1))
    assert (await get(srv, "/c.html")).text == "one"
    srv2 = await serve(make_app(template_path=str(tmp_path), compiled_template_cache=False))
    assert (await get(srv2, "/c.html")).text == "two!"
    path.write_text("three")
    assert (await get(srv2, "/c.html")).text == "three"


async def test_template_error_is_500_naming_file_and_line(serve: Any, tmp_path: Any) -> None:
    (tmp_path / "bad.html").write_text("ok\n{% if x %}\n")
    srv = await serve(make_app(template_path=str(tmp_path), serve_traceback=True))
    r = await get(srv, "/bad.html")
    assert r.status_code == 500
    assert "bad.html:2" in r.text


async def test_locale_from_accept_language(serve: Any) -> None:
    locale.load_translations(os.path.join(SEEDS, "translations"))
    srv = await serve(make_app())
    r = await get(srv, "/welcome.html", headers={"Accept-Language": "fr;q=0.9, de-de;q=0.8"})
    assert "Willkommen auf unserer Seite." in r.text
    r = await get(srv, "/welcome.html", headers={"Accept-Language": "de;q=0, fr"})
    assert "Welcome to our site." in r.text
    r = await get(srv, "/welcome.html")
    assert "Welcome to our site." in r.text


async def test_user_locale_overrides_browser(serve: Any, tmp_path: Any) -> None:
    locale.load_translations(os.path.join(SEEDS, "translations"))

    class German(Page):
        def get_user_locale(self) -> locale.Locale:
            return locale.get("de_DE")

    (tmp_path / "l.html").write_text("{{ locale.code }} {{ _('New') }}")
    srv = await serve(Application([(r"/(.*)", German)], template_path=str(tmp_path)))
    r = await get(srv, "/l.html", headers={"Accept-Language": "en"})
    assert r.text == "de_DE Neu"


async def test_render_after_finish_raises(serve: Any, tmp_path: Any) -> None:
    (tmp_path / "x.html").write_text("x")
    seen: list[str] = []

    class Twice(RequestHandler):
        def get(self) -> None:
            self.finish("done")
            try:
                self.render("x.html")
            except RuntimeError as e:
                seen.append(str(e))

    srv = await serve(Application([(r"/", Twice)], template_path=str(tmp_path)))
    assert (await get(srv, "/")).text == "done"
    assert seen == ["Cannot render() after finish()"]
