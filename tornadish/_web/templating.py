"""Templates, UI modules and locales for :class:`~tornadish.web.RequestHandler`.

``TemplateMixin`` is one of RequestHandler's bases: ``render``/``render_string``,
the template namespace, the loader per template directory (kept on the application,
so each directory's Jinja2 environment compiles a template once), UI-module plumbing
(``self.ui``, ``modules.X(...)``, JS/CSS injection) and ``self.locale``.

Settings read: ``template_path``, ``template_loader``, ``template_syntax``
(``"tornado"`` by default: Tornado's tags on top of Jinja2's; or ``"jinja"``),
``autoescape``, ``template_whitespace``, ``compiled_template_cache``, ``autoreload``,
``ui_modules``, ``ui_methods``.
"""

from __future__ import annotations

import os.path
import sys
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar

import jinja2
from markupsafe import Markup

from tornadish import escape
from tornadish import locale as _locale
from tornadish._web.uimodule import UIModule
from tornadish.locale import Locale

if TYPE_CHECKING:
    from tornadish._http.request import HTTPServerRequest
    from tornadish._template.loader import BaseLoader
    from tornadish._web.application import Application

__all__ = ["TemplateMixin"]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class _UIModuleNamespace:
    """``modules`` in templates: ``modules.Name(...)`` renders UI module ``Name``."""

    def __init__(self, handler: TemplateMixin, ui_modules: dict[str, type[UIModule]]) -> None:
        self.handler = handler
        self.ui_modules = ui_modules

    def __getitem__(self, key: str) -> Callable[..., Markup]:
        return self.handler._ui_module(key, self.ui_modules[key])

    def __getattr__(self, key: str) -> Callable[..., Markup]:
        try:
            return self[key]
        except KeyError as e:
            raise AttributeError(str(e)) from None


def _no_static_url(path: str, *args: Any, **kwargs: Any) -> str:
    raise RuntimeError(
        f"static_url({path!r}) needs static file support: set the 'static_path' setting"
    )


class TemplateMixin:
    """Template rendering, UI modules and locale for request handlers."""

    _template_loaders: ClassVar[dict[str, BaseLoader]] = {}
    """Tornado's process-wide loader cache, which its tests clear between cases. tornadish
    keeps one cache per application (``application._template_loaders``), so this one stays
    empty and clearing it is all a fresh application needs."""

    if TYPE_CHECKING:
        application: Application
        request: HTTPServerRequest
        _finished: bool

        @property
        def current_user(self) -> Any: ...

        def finish(self, chunk: str | bytes | dict[str, Any] | None = None) -> Awaitable[None]: ...

        def reverse_url(self, name: str, *args: Any) -> str: ...

    # -- locale ----------------------------------------------------------------------

    @property
    def locale(self) -> Locale:
        """The user's locale: :meth:`get_user_locale`, else the browser's
        ``Accept-Language`` (:meth:`get_browser_locale`). Computed once; assignable."""
        loc: Locale | None = self.__dict__.get("_locale")
        if loc is None:
            loc = self.get_user_locale() or self.get_browser_locale()
            self._locale = loc
        return loc

    @locale.setter
    def locale(self, value: Locale) -> None:
        self._locale = value

    def get_user_locale(self) -> Locale | None:
        """Override to choose the locale from the user (a profile setting, say);
        ``None`` falls back to the browser's."""
        return None

    def get_browser_locale(self, default: str = "en_US") -> Locale:
        """The best supported locale for the request's ``Accept-Language`` (q-values
        respected; ``q=0`` excludes), or ``default``."""
        header = self.request.headers.get("Accept-Language")
        if header:
            ranked: list[tuple[float, int, str]] = []
            for i, item in enumerate(header.split(",")):
                code, _, params = item.strip().partition(";")
                q = 1.0
                params = params.strip()
                if params.startswith("q="):
                    try:
                        q = float(params[2:])
                    except ValueError:
                        q = 0.0
                    if not q >= 0:  # negative or NaN
                        q = 0.0
                if q > 0 and code.strip():
                    # Stable: equal weights keep the order the browser sent.
                    ranked.append((-q, i, code.strip()))
            if ranked:
                ranked.sort()
                return _locale.get(*(code for _, _, code in ranked))
        return _locale.get(default)

    # -- UI modules and methods ------------------------------------------------------

    @property
    def ui(self) -> dict[str, Any]:
        """The ``ui_methods`` bound to this handler, plus ``modules``/``_tt_modules``."""
        ui: dict[str, Any] | None = self.__dict__.get("_ui")
        if ui is None:
            app = self.application
            ui = {name: self._ui_method(fn) for name, fn in app.ui_methods.items()}
            ui["_tt_modules"] = ui["modules"] = _UIModuleNamespace(self, app.ui_modules)
            self._ui = ui
        return ui

    def _ui_method(self, method: Callable[..., Any]) -> Callable[..., Any]:
        # ui_methods take the handler first, as in Tornado.
        return lambda *args, **kwargs: method(self, *args, **kwargs)

    def _ui_module(self, name: str, module: type[UIModule]) -> Callable[..., Markup]:
        def render(*args: Any, **kwargs: Any) -> Markup:
            active: dict[str, UIModule] = self.__dict__.setdefault("_active_modules", {})
            instance = active.get(name)
            if instance is None:
                instance = active[name] = module(self)  # type: ignore[arg-type]
            # Markup: a module's output is HTML, not text to escape, with either syntax.
            return Markup(escape.to_unicode(instance.render(*args, **kwargs)))

        return render

    # -- rendering ---------------------------------------------------------------------

    def render(self, template_name: str, **kwargs: Any) -> Awaitable[None]:
        """Render ``template_name`` with ``kwargs`` and finish the response with it.

        JS and CSS from the UI modules used go before ``</body>`` and ``</head>``.
        Returns :meth:`finish`'s awaitable.
        """
        if self._finished:
            raise RuntimeError("Cannot render() after finish()")
        html = self.render_string(template_name, **kwargs)
        modules = self.__dict__.get("_active_modules")
        if modules:
            html = self._inject_module_resources(html, modules.values())
        return self.finish(html)

    def _inject_module_resources(self, html: bytes, modules: Iterable[UIModule]) -> bytes:
        js_embed: list[bytes] = []
        js_files: list[str] = []
        css_embed: list[bytes] = []
        css_files: list[str] = []
        heads: list[bytes] = []
        bodies: list[bytes] = []
        for m in modules:
            _add(js_embed, m.embedded_javascript())
            _add_files(js_files, m.javascript_files())
            _add(css_embed, m.embedded_css())
            _add_files(css_files, m.css_files())
            _add(heads, m.html_head())
            _add(bodies, m.html_body())
        # Same placement and order as Tornado: each piece right before the closing tag.
        if js_files:
            html = _before(html, b"</body>", escape.utf8(self.render_linked_js(js_files)) + b"\n")
        if js_embed:
            html = _before(html, b"</body>", self.render_embed_js(js_embed) + b"\n")
        if css_files:
            html = _before(
                html, b"</head>", escape.utf8(self.render_linked_css(css_files)) + b"\n", first=True
            )
        if css_embed:
            html = _before(html, b"</head>", self.render_embed_css(css_embed) + b"\n", first=True)
        if heads:
            html = _before(html, b"</head>", b"".join(heads) + b"\n", first=True)
        if bodies:
            html = _before(html, b"</body>", b"".join(bodies) + b"\n")
        return html

    def _static_or_absolute(self, paths: Iterable[str]) -> list[str]:
        out: list[str] = []
        for p in paths:
            if not p.startswith(("/", "http:", "https:")):
                p = self._static_url_function()(p)
            if p not in out:
                out.append(p)
        return out

    def render_linked_js(self, js_files: Iterable[str]) -> str:
        """``<script src>`` tags for ``js_files`` (relative paths via ``static_url``;
        duplicates once)."""
        return "".join(
            '<script src="' + escape.xhtml_escape(p) + '" type="text/javascript"></script>'
            for p in self._static_or_absolute(js_files)
        )

    def render_embed_js(self, js_embed: Iterable[bytes]) -> bytes:
        """A ``<script>`` block holding the modules' embedded JavaScript."""
        return (
            b'<script type="text/javascript">\n//<![CDATA[\n'
            + b"\n".join(js_embed)
            + b"\n//]]>\n</script>"
        )

    def render_linked_css(self, css_files: Iterable[str]) -> str:
        """``<link rel="stylesheet">`` tags for ``css_files``."""
        return "".join(
            '<link href="' + escape.xhtml_escape(p) + '" type="text/css" rel="stylesheet"/>'
            for p in self._static_or_absolute(css_files)
        )

    def render_embed_css(self, css_embed: Iterable[bytes]) -> bytes:
        """A ``<style>`` block holding the modules' embedded CSS."""
        return b'<style type="text/css">\n' + b"\n".join(css_embed) + b"\n</style>"

    def render_string(self, template_name: str, **kwargs: Any) -> bytes:
        """Render ``template_name`` with the template namespace and ``kwargs``."""
        template_path = self.get_template_path()
        if not template_path:
            template_path = _caller_directory()
        loaders: dict[str, BaseLoader] = self.application.__dict__.setdefault(
            "_template_loaders", {}
        )
        loader = loaders.get(template_path)
        if loader is None:
            loader = loaders[template_path] = self.create_template_loader(template_path)
        t = loader.load(template_name)
        namespace = self.get_template_namespace()
        namespace.update(kwargs)
        return t.generate(**namespace)

    def get_template_namespace(self) -> dict[str, Any]:
        """The names every template rendered by this handler sees (override to add).

        ``handler``, ``request``, ``current_user``, ``locale``, ``_``, ``pgettext``,
        ``static_url``, ``xsrf_form_html``, ``reverse_url``, ``modules`` and the
        ``ui_methods``; the escaping helpers (``escape``, ``xhtml_escape``,
        ``url_escape``, ``json_encode``, ``squeeze``, ``linkify``, ``datetime``) come
        with every template.
        """
        loc = self.locale
        namespace: dict[str, Any] = {
            "handler": self,
            "request": self.request,
            "current_user": self.current_user,
            "locale": loc,
            "_": loc.translate,
            "pgettext": loc.pgettext,
            "static_url": self._static_url_function(),
            "reverse_url": self.reverse_url,
        }
        xsrf = getattr(self, "xsrf_form_html", None)
        if xsrf is not None:
            # Markup: ``{{ xsrf_form_html() }}`` must give a form field, not its text.
            namespace["xsrf_form_html"] = lambda: Markup(xsrf())
        namespace.update(self.ui)
        return namespace

    def _static_url_function(self) -> Callable[..., str]:
        fn: Callable[..., str] | None = getattr(self, "static_url", None)
        return fn if fn is not None else _no_static_url

    def create_template_loader(self, template_path: str) -> BaseLoader:
        """The loader for ``template_path`` (the ``template_loader`` setting if given).

        Made once per directory and kept on the application.
        """
        from tornadish._template.loader import BaseLoader, JinjaLoaderAdapter, Loader

        settings = self.application.settings
        custom = settings.get("template_loader")
        syntax = settings.get("template_syntax", "tornado")
        auto_reload = not settings.get("compiled_template_cache", True) or bool(
            settings.get("autoreload")
        )
        kwargs: dict[str, Any] = {"syntax": syntax, "auto_reload": auto_reload}
        if "autoescape" in settings:
            kwargs["autoescape"] = settings["autoescape"]
        if "template_whitespace" in settings:
            kwargs["whitespace"] = settings["template_whitespace"]
        if isinstance(custom, BaseLoader):
            return custom
        if isinstance(custom, jinja2.BaseLoader):
            return JinjaLoaderAdapter(custom, **kwargs)
        if custom is not None:
            raise TypeError(f"template_loader must be a template or Jinja2 loader: {custom!r}")
        return Loader(template_path, **kwargs)

    def get_template_path(self) -> str | None:
        """The directory templates are loaded from (the ``template_path`` setting;
        without it, the directory of the file that called ``render``)."""
        path: str | None = self.application.settings.get("template_path")
        return path


def _caller_directory() -> str:
    # The first frame outside this package is the application's handler module.
    frame = sys._getframe(1)
    while (
        frame.f_back is not None
        and os.path.dirname(os.path.abspath(frame.f_code.co_filename)) == _PACKAGE_DIR
    ):
        frame = frame.f_back
    return os.path.dirname(os.path.abspath(frame.f_code.co_filename))


def _add(into: list[bytes], part: str | bytes | None) -> None:
    if part:
        into.append(escape.utf8(part))


def _add_files(into: list[str], part: Iterable[str] | str | bytes | None) -> None:
    if not part:
        return
    if isinstance(part, (str, bytes)):
        into.append(escape.to_unicode(part))
    else:
        into.extend(part)


def _before(html: bytes, tag: bytes, insert: bytes, first: bool = False) -> bytes:
    """``insert`` right before ``tag`` (its first occurrence if ``first``, else its
    last); unchanged when the page has no such tag."""
    at = html.find(tag) if first else html.rfind(tag)
    if at < 0:
        return html
    return html[:at] + insert + html[at:]
