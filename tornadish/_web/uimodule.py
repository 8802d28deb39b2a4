"""UI modules: reusable page pieces that can also add JS/CSS to the page.

A module is rendered from a template with ``{% module Name(args) %}`` (Tornado syntax)
or ``{{ modules.Name(args) }}``; one instance per handler and module name is created on
first use, and after the page is rendered the handler asks every module used for its
``embedded_javascript()``, ``css_files()``, ... and puts them into the page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any

from tornadish import escape

if TYPE_CHECKING:
    from tornadish._web.handler import RequestHandler

__all__ = ["TemplateModule", "UIModule"]


class UIModule:
    """A re-usable, modular UI unit on a page.

    >>> class Entry(UIModule):
    ...     def render(self, entry):
    ...         return self.render_string("modules/entry.html", entry=entry)
    ...     def css_files(self):
    ...         return "entry.css"
    """

    def __init__(self, handler: RequestHandler) -> None:
        self.handler = handler
        self.request = handler.request
        self.ui = handler.ui
        self.locale = handler.locale

    @property
    def current_user(self) -> Any:
        """The handler's ``current_user``."""
        return self.handler.current_user

    def render(self, *args: Any, **kwargs: Any) -> str | bytes:
        """Override: the module's HTML."""
        raise NotImplementedError()

    def embedded_javascript(self) -> str | None:
        """JavaScript to put, inside a ``<script>``, at the end of the page body."""
        return None

    def javascript_files(self) -> Iterable[str] | str | None:
        """JavaScript URLs (relative ones go through ``static_url``) for the page."""
        return None

    def embedded_css(self) -> str | None:
        """CSS to put, inside a ``<style>``, into the page head."""
        return None

    def css_files(self) -> Iterable[str] | str | None:
        """Stylesheet URLs (relative ones go through ``static_url``) for the page."""
        return None

    def html_head(self) -> str | None:
        """HTML to put at the end of the page's ``<head>``."""
        return None

    def html_body(self) -> str | None:
        """HTML to put at the end of the page's ``<body>``."""
        return None

    def render_string(self, path: str, **kwargs: Any) -> bytes:
        """Render template ``path`` with the handler's namespace and ``kwargs``."""
        return self.handler.render_string(path, **kwargs)


class _linkify(UIModule):
    def render(self, text: str, **kwargs: Any) -> str:
        return escape.linkify(text, **kwargs)


class _xsrf_form_html(UIModule):
    def render(self) -> str:
        return self.handler.xsrf_form_html()


class TemplateModule(UIModule):
    """Renders a template as a module: ``{% module Template("foo.html", arg=42) %}``.

    The template may call ``set_resources(embedded_javascript=..., css_files=...,
    ...)`` to contribute to the page like a module class would; resources of the same
    template are included once however many times it is rendered.
    """

    def __init__(self, handler: RequestHandler) -> None:
        super().__init__(handler)
        # Keyed by path, so a template rendered ten times contributes once.
        self._resource_list: list[dict[str, Any]] = []
        self._resource_dict: dict[str, dict[str, Any]] = {}

    def render(self, path: str, **kwargs: Any) -> bytes:
        def set_resources(**resources: Any) -> str:
            if path not in self._resource_dict:
                self._resource_list.append(resources)
                self._resource_dict[path] = resources
            elif self._resource_dict[path] != resources:
                raise ValueError(
                    "set_resources called with different resources for the same template"
                )
            return ""

        return self.render_string(path, set_resources=set_resources, **kwargs)

    def _get_resources(self, key: str) -> Iterable[Any]:
        return (r[key] for r in self._resource_list if key in r)

    def embedded_javascript(self) -> str:
        return "\n".join(self._get_resources("embedded_javascript"))

    def javascript_files(self) -> Iterable[str]:
        return _flatten(self._get_resources("javascript_files"))

    def embedded_css(self) -> str:
        return "\n".join(self._get_resources("embedded_css"))

    def css_files(self) -> Iterable[str]:
        return _flatten(self._get_resources("css_files"))

    def html_head(self) -> str:
        return "".join(self._get_resources("html_head"))

    def html_body(self) -> str:
        return "".join(self._get_resources("html_body"))


def _flatten(values: Iterable[Any]) -> list[str]:
    out: list[str] = []
    for v in values:
        if isinstance(v, (str, bytes)):
            out.append(escape.to_unicode(v))
        else:
            out.extend(v)
    return out


BUILTIN_MODULES: dict[str, type[UIModule]] = {
    "linkify": _linkify,
    "xsrf_form_html": _xsrf_form_html,
    "Template": TemplateModule,
}


def collect_modules(spec: Any, into: dict[str, type[UIModule]]) -> None:
    """Add the UIModule classes of ``spec`` (a module, a dict or a list of them) —
    the ``ui_modules`` setting — to ``into``."""
    if isinstance(spec, ModuleType):
        collect_modules({n: getattr(spec, n) for n in dir(spec)}, into)
    elif isinstance(spec, list):
        for m in spec:
            collect_modules(m, into)
    elif isinstance(spec, Mapping):
        for name, cls in spec.items():
            if isinstance(cls, type) and issubclass(cls, UIModule):
                into[name] = cls
    elif spec is not None:
        raise TypeError(f"ui_modules must be a module, dict or list, not {spec!r}")


def collect_methods(spec: Any, into: dict[str, Callable[..., Any]]) -> None:
    """Add the functions of ``spec`` (a module, dict or list of them) — the
    ``ui_methods`` setting — to ``into``: public, callable, lower-case names."""
    if isinstance(spec, ModuleType):
        collect_methods({n: getattr(spec, n) for n in dir(spec)}, into)
    elif isinstance(spec, list):
        for m in spec:
            collect_methods(m, into)
    elif isinstance(spec, Mapping):
        for name, fn in spec.items():
            # Lower-case initial: a module's classes (capitalised) are not methods.
            if not name.startswith("_") and callable(fn) and name[0].lower() == name[0]:
                into[name] = fn
    elif spec is not None:
        raise TypeError(f"ui_methods must be a module, dict or list, not {spec!r}")


def setup_application(app: Any) -> None:
    """Resolve the ``ui_modules``/``ui_methods`` settings of ``app`` once."""
    modules: dict[str, type[UIModule]] = dict(BUILTIN_MODULES)
    collect_modules(app.settings.get("ui_modules"), modules)
    methods: dict[str, Callable[..., Any]] = {}
    collect_methods(app.settings.get("ui_methods"), methods)
    app.ui_modules = modules
    app.ui_methods = methods
