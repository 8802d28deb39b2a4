"""The implementation behind :mod:`tornadish.template` (its public face re-exports it).

Rules of this module: Jinja2 compiles, caches and renders; what reaches the user speaks
of the user's templates. A template that cannot be found raises
:class:`TemplateNotFound`, which names it and the places searched, with a traceback
that ends in :meth:`BaseLoader.load` (or, for ``{% include %}``/``{% extends %}``, at
the including template's line), not in Jinja2's loading machinery; a syntax error in a
Tornado-syntax template is worded in Tornado's tags.
"""

from __future__ import annotations

import datetime
import os.path
import posixpath
from collections.abc import Callable, Mapping
from typing import Any

import jinja2

from tornadish import escape
from tornadish._template.tornado_syntax import (
    ParseError,
    filter_whitespace,
    install,
    tornado_terms,
    translate,
)

__all__ = [
    "BaseLoader",
    "DictLoader",
    "JinjaLoaderAdapter",
    "Loader",
    "ParseError",
    "Template",
    "TemplateNotFound",
    "TemplateSyntaxError",
    "filter_whitespace",
]

#: The same class as :class:`ParseError` under Jinja2's name.
TemplateSyntaxError = ParseError


class TemplateNotFound(jinja2.TemplateNotFound, FileNotFoundError):
    """No template of that name: ``str(e)`` names it and where the loader looked.

    A :class:`jinja2.TemplateNotFound` and a :class:`FileNotFoundError` (what Tornado's
    loader raises), so ``except`` clauses written for either catch it.

    >>> DictLoader({"a.html": ""}).load("b.html")
    Traceback (most recent call last):
    tornadish.template.TemplateNotFound: template 'b.html' not found; looked in: the DictLoader's templates a.html
    """  # noqa: E501

    __module__ = "tornadish.template"  # where users import it from, as tracebacks say

    def __init__(self, name: str, searched: str) -> None:
        super().__init__(name, f"template {name!r} not found; looked in: {searched}")
        #: Where the loader looked (a directory, the names it holds ...).
        self.searched = searched


_DEFAULT_AUTOESCAPE = "xhtml_escape"
_UNSET: Any = object()

# What Tornado puts into every template's namespace.
_TEMPLATE_NAMESPACE: dict[str, Any] = {
    "escape": escape.xhtml_escape,
    "xhtml_escape": escape.xhtml_escape,
    "url_escape": escape.url_escape,
    "json_encode": escape.json_encode,
    "squeeze": escape.squeeze,
    "linkify": escape.linkify,
    "datetime": datetime,
    "_tt_utf8": escape.utf8,
    "_tt_string_types": (str, bytes),
}


def _default_whitespace(name: str) -> str:
    return "single" if name.endswith((".html", ".js")) else "all"


class _Environment(jinja2.Environment):
    """Resolves ``{% include %}``/``{% extends %}`` names relative to the including
    template, as Tornado's loaders do."""

    tornadish_loader: BaseLoader | None = None

    def join_path(self, template: str, parent: str) -> str:
        owner = self.tornadish_loader
        return owner.resolve_path(template, parent) if owner is not None else template


class _JinjaLoader(jinja2.BaseLoader):
    """The Jinja2 side of a :class:`BaseLoader`: reads through it, translating
    Tornado syntax."""

    def __init__(self, owner: BaseLoader) -> None:
        self.owner = owner

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        try:
            source, filename, uptodate = self.owner._get_source(template)
        except TemplateNotFound:
            raise
        except jinja2.TemplateNotFound:
            # Jinja2's own says only the name: say where this loader looked.
            raise TemplateNotFound(template, self.owner.searched()) from None
        source = self.owner._translate(source, template)
        return source, filename, uptodate


def _make_environment(
    syntax: str,
    autoescape: str | None,
    *,
    loader: jinja2.BaseLoader | None = None,
    auto_reload: bool = False,
    namespace: Mapping[str, Any] | None = None,
) -> _Environment:
    if syntax == "tornado":
        # Escaping is decided per file by the translation; the environment escapes
        # whatever it is told to.
        env = _Environment(
            loader=loader,
            autoescape=True,
            auto_reload=auto_reload,
            keep_trailing_newline=True,
            undefined=jinja2.StrictUndefined,
        )
        install(env)
    elif syntax == "jinja":
        env = _Environment(
            loader=loader,
            autoescape=(
                False
                if autoescape is None
                else jinja2.select_autoescape(["html", "htm", "xml", "xhtml"])
            ),
            auto_reload=auto_reload,
        )
    else:
        raise ValueError(f"template syntax must be 'tornado' or 'jinja', not {syntax!r}")
    env.globals.update(_TEMPLATE_NAMESPACE)
    if namespace:
        env.globals.update(namespace)
    return env


class Template:
    """A compiled template (Tornado's ``tornado.template.Template``).

    ``whitespace`` is ``"all"``, ``"single"`` or ``"oneline"`` (default: the loader's,
    else ``"single"`` for ``.html``/``.js`` names and ``"all"`` otherwise);
    ``autoescape`` the name of the escaping function (``None`` for none).
    Syntax errors raise :class:`ParseError` at construction.

    >>> Template("{% for i in range(3) %}{{ i }}{% end %}").generate()
    b'012'
    """

    def __init__(
        self,
        template_string: str | bytes,
        name: str = "<string>",
        loader: BaseLoader | None = None,
        compress_whitespace: bool | Any = _UNSET,
        autoescape: str | Any | None = _UNSET,
        whitespace: str | None = None,
    ) -> None:
        self.name = name
        self.loader = loader
        if compress_whitespace is not _UNSET:
            if whitespace is not None:
                raise ValueError("cannot set both whitespace and compress_whitespace")
            whitespace = "single" if compress_whitespace else "all"
        if whitespace is None:
            if loader is not None and loader.whitespace:
                whitespace = loader.whitespace
            else:
                whitespace = _default_whitespace(name)
        filter_whitespace(whitespace, "")  # validate
        self.whitespace = whitespace
        if autoescape is not _UNSET:
            self.autoescape: str | None = autoescape
        elif loader is not None:
            self.autoescape = loader.autoescape
        else:
            self.autoescape = _DEFAULT_AUTOESCAPE
        self.namespace: dict[str, Any] = dict(loader.namespace) if loader is not None else {}
        syntax = loader.syntax if loader is not None else "tornado"
        env = (
            loader.environment if loader is not None else _make_environment(syntax, self.autoescape)
        )
        source = escape.to_unicode(template_string)
        if syntax == "tornado":
            source = translate(
                source,
                name,
                autoescape=self.autoescape,
                whitespace=whitespace,
                filters=env.filters,
                tests=env.tests,
            )
        #: The Jinja2 source the template was compiled from.
        self.code = source
        try:
            code = env.compile(source, name=name, filename=name)
        except jinja2.TemplateSyntaxError as e:
            raise _parse_error(e, syntax) from None
        except (SyntaxError, RecursionError) as e:
            raise _too_deep(e, name) from None
        self.compiled: jinja2.Template = env.template_class.from_code(
            env, code, env.make_globals(None), None
        )

    @classmethod
    def _wrap(cls, compiled: jinja2.Template, name: str, loader: BaseLoader) -> Template:
        self = cls.__new__(cls)
        self.name = name
        self.loader = loader
        self.whitespace = loader.whitespace or _default_whitespace(name)
        self.autoescape = loader.autoescape
        self.namespace = dict(loader.namespace)
        self.code = ""
        self.compiled = compiled
        return self

    def generate(self, **kwargs: Any) -> bytes:
        """Render with ``kwargs`` as the namespace; returns UTF-8 bytes."""
        return self.compiled.render(**kwargs).encode("utf-8")

    def render_text(self, **kwargs: Any) -> str:
        """Like :meth:`generate`, returning ``str``."""
        return self.compiled.render(**kwargs)


def _parse_error(e: jinja2.TemplateSyntaxError, syntax: str) -> ParseError:
    if isinstance(e, ParseError):
        return e
    message = e.message or "syntax error"
    if syntax == "tornado":
        # Jinja2 names its own tags (``endif``); the user wrote Tornado's.
        message = tornado_terms(message)
    err = ParseError(message, e.filename or e.name, e.lineno)
    err.source = e.source
    return err


def _too_deep(e: Exception, name: str) -> ParseError:
    # Jinja2 parses recursively and compiles each block to an indented Python block, so
    # extreme nesting fails inside its parser (RecursionError) or in Python's compiler
    # (SyntaxError: too many indentation levels). Either way the template is at fault:
    # report it as the template's syntax error, not an internal crash.
    if isinstance(e, SyntaxError) and "nested" not in str(e) and "indentation" not in str(e):
        # Something else Python refused in the code Jinja2 made ({% macro m(a, a) %}).
        # (Its line is the generated code's, not the template's.)
        return ParseError(f"template compiles to invalid Python: {e.msg}", name)
    return ParseError(f"template nested too deeply ({type(e).__name__}: {e})", name)


class BaseLoader:
    """Base class for template loaders (Tornado's API).

    ``autoescape`` names the escaping function (``None``: no escaping), ``namespace``
    is added to every template's namespace, ``whitespace`` overrides the per-name
    default; ``syntax`` is ``"tornado"`` (default) or ``"jinja"``, ``auto_reload``
    makes Jinja2 recompile templates whose source changed.
    Subclasses implement :meth:`_get_source`.
    """

    def __init__(
        self,
        autoescape: str | None = _DEFAULT_AUTOESCAPE,
        namespace: Mapping[str, Any] | None = None,
        whitespace: str | None = None,
        *,
        syntax: str = "tornado",
        auto_reload: bool = False,
    ) -> None:
        self.autoescape = autoescape
        self.namespace = dict(namespace or {})
        self.whitespace = whitespace
        self.syntax = syntax
        self.auto_reload = auto_reload
        #: Loaded templates by resolved name.
        self.templates: dict[str, Template] = {}
        env = _make_environment(
            syntax,
            autoescape,
            loader=_JinjaLoader(self),
            auto_reload=auto_reload,
            namespace=self.namespace,
        )
        env.tornadish_loader = self
        #: The :class:`jinja2.Environment` that compiles and caches this loader's templates.
        self.environment: jinja2.Environment = env

    def reset(self) -> None:
        """Forget compiled templates (they are read and compiled again when loaded)."""
        self.templates.clear()
        cache = self.environment.cache
        if cache is not None:
            cache.clear()

    def resolve_path(self, name: str, parent_path: str | None = None) -> str:
        """The name ``name`` refers to when used from template ``parent_path``."""
        return name

    def load(self, name: str, parent_path: str | None = None) -> Template:
        """The template ``name`` (compiled once; reloaded on change with
        ``auto_reload``)."""
        name = self.resolve_path(name, parent_path)
        t = self.templates.get(name)
        if t is not None and not self.auto_reload:
            return t
        try:
            compiled = self.environment.get_template(name)
        except TemplateNotFound as e:
            # Its traceback runs through Jinja2's loading machinery; the user's ends here.
            raise e.with_traceback(None) from None
        except jinja2.TemplateSyntaxError as e:
            raise _parse_error(e, self.syntax) from None
        except (SyntaxError, RecursionError) as e:
            raise _too_deep(e, name) from None
        if t is None or t.compiled is not compiled:
            t = self.templates[name] = Template._wrap(compiled, name, self)
        return t

    def _get_source(self, name: str) -> tuple[str, str | None, Callable[[], bool] | None]:
        """``(source, filename, uptodate)`` for ``name``; raise
        :class:`jinja2.TemplateNotFound` when there is none."""
        raise NotImplementedError()

    def searched(self) -> str:
        """Where this loader looks for templates, in words (for :class:`TemplateNotFound`)."""
        return f"the {type(self).__name__}"

    def _translate(self, source: str, name: str) -> str:
        if self.syntax != "tornado":
            return source
        env = self.environment
        return translate(
            source,
            name,
            autoescape=self.autoescape,
            whitespace=self.whitespace or _default_whitespace(name),
            filters=env.filters,
            tests=env.tests,
        )


def _relative_to_parent(name: str, parent_path: str | None) -> str:
    if parent_path and not parent_path.startswith(("<", "/")) and not name.startswith("/"):
        return posixpath.normpath(posixpath.join(posixpath.dirname(parent_path), name))
    return name


class Loader(BaseLoader):
    """Loads templates from ``root_directory``.

    >>> loader = Loader("/path/to/templates")                    # doctest: +SKIP
    >>> loader.load("index.html").generate(title="Home")         # doctest: +SKIP
    """

    def __init__(self, root_directory: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.root = os.path.abspath(root_directory)

    def searched(self) -> str:
        return self.root

    def resolve_path(self, name: str, parent_path: str | None = None) -> str:
        if parent_path and not parent_path.startswith(("<", "/")) and not name.startswith("/"):
            # Relative to the including file, but never outside the root.
            current = os.path.join(self.root, parent_path)
            candidate = os.path.abspath(os.path.join(os.path.dirname(current), name))
            if candidate.startswith(self.root + os.sep):
                return candidate[len(self.root) + 1 :].replace(os.sep, "/")
        return name

    def _get_source(self, name: str) -> tuple[str, str | None, Callable[[], bool] | None]:
        path = os.path.abspath(os.path.join(self.root, name))
        if not (path.startswith(self.root + os.sep) or path == self.root):
            raise jinja2.TemplateNotFound(name)
        try:
            with open(path, "rb") as f:
                source = f.read().decode("utf-8")
        except OSError:
            raise jinja2.TemplateNotFound(name) from None
        mtime = os.path.getmtime(path)

        def uptodate() -> bool:
            try:
                return os.path.getmtime(path) == mtime
            except OSError:
                return False

        return source, path, uptodate


class DictLoader(BaseLoader):
    """Loads templates from a dict of ``{name: source}``."""

    def __init__(self, dict: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dict = dict

    def searched(self) -> str:
        names = sorted(self.dict)
        if not names:
            return "the DictLoader, which holds no template"
        shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        return f"the DictLoader's templates {shown}"

    def resolve_path(self, name: str, parent_path: str | None = None) -> str:
        return _relative_to_parent(name, parent_path)

    def _get_source(self, name: str) -> tuple[str, str | None, Callable[[], bool] | None]:
        try:
            source = self.dict[name]
        except KeyError:
            raise jinja2.TemplateNotFound(name) from None
        return escape.to_unicode(source), name, None


class JinjaLoaderAdapter(BaseLoader):
    """A :class:`BaseLoader` reading through a Jinja2 loader (the ``template_loader``
    setting may be one): ``JinjaLoaderAdapter(jinja2.PackageLoader("app"))``."""

    def __init__(self, jinja_loader: jinja2.BaseLoader, **kwargs: Any) -> None:
        self.jinja_loader = jinja_loader
        super().__init__(**kwargs)

    def _get_source(self, name: str) -> tuple[str, str | None, Callable[[], bool] | None]:
        return self.jinja_loader.get_source(self.environment, name)

    def searched(self) -> str:
        # FileSystemLoader's directories; PackageLoader's package and folder.
        paths = getattr(self.jinja_loader, "searchpath", None)
        if isinstance(paths, (list, tuple)) and paths:
            return ", ".join(str(p) for p in paths)
        package = getattr(self.jinja_loader, "package_name", None)
        if package:
            return f"package {package}, {getattr(self.jinja_loader, 'package_path', '')}"
        return repr(self.jinja_loader)
