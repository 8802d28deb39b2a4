"""The debug page: an uncaught exception explained in HTML, for a browser in debug mode.

With ``serve_traceback`` (on with ``debug=True``), :meth:`RequestHandler.write_error`
answers through :func:`write_traceback`: a browser — a request whose ``Accept`` names
``text/html``, as browsers' page loads do — gets this page, and every other client
(curl, ``fetch()`` in a test, an API client) Tornado's plain-text traceback, unchanged.
The page is written for the person who wrote the handler, as Django's technical 500 and
Werkzeug's debugger are:

- what failed comes first: the exception, the request (method and URL), the handler,
  and the line of *the user's* code the exception came through;
- the user's frames are open, each with the source lines around it and its local
  variables (folded; names that look secret are masked, as Django does);
- the frames of tornadish, of the standard library and of installed packages are
  folded, one line per run of them ("3 frames in tornadish.web, asyncio"), there when
  wanted and out of the way otherwise. tornadish's are named by what a user can
  import (``tornadish.web.RequestHandler._execute``), never by a private path
  (``tornadish/_web/handler.py``) nor its line numbers, which mean nothing outside the
  framework;
- chained exceptions (``raise ... from``, an error while handling another) appear in
  Python's order, with Python's words between them;
- a 404 lists the application's routes.

Rules: the page is one self-contained document (inline style, no script, no template
engine: it must render when templates are what failed), every text from the request or
the exception is escaped, and building it never raises — :func:`debug_page` answers
``None`` instead (the handler then serves the plain-text traceback).
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import html
import importlib
import linecache
import os
import re
import reprlib
import sys
import sysconfig
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any

from tornadish.log import gen_log

if TYPE_CHECKING:
    from tornadish._web.handler import RequestHandler

__all__ = ["debug_page", "public_name", "wants_html", "write_traceback"]

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]

CONTEXT_LINES = 5  # source lines shown before and after the line of each user frame

_PACKAGE = "tornadish"
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
# Where installed code lives (the standard library, site-packages of this environment):
# frames there are "library" frames, folded like tornadish's own.
_LIBRARY_DIRS = tuple(
    sorted(
        {
            os.path.abspath(p) + os.sep
            for key in ("stdlib", "platstdlib", "purelib", "platlib")
            if (p := sysconfig.get_paths().get(key))
        }
    )
)
# The public module a private folder (or module) is the inside of, when the function
# a frame runs is not itself exported under a public name.
_FACES = {
    "_web": "web",
    "_server": "httpserver",
    "_http": "httputil",
    "_io": "iostream",
    "_client": "httpclient",
    "_asgi": "asgi",
    "_template": "template",
    "_pubsub": "pubsub",
    "_auth": "auth",
    "_ioloop_fds": "ioloop",
    "_runner": "",  # tornadish.run, tornadish.serve and the command line
    "__main__": "",
}
# Local variables and request headers whose values are not shown: a page pasted into
# a bug report must not carry a password or a session (Django's SafeExceptionReporterFilter).
_SECRET_NAME = re.compile(
    r"passw|passphrase|^pwd$|secret|token|api_?key|private_?key|credential|signature", re.I
)
_SECRET_HEADER = re.compile(r"cookie|authorization|token|api-?key|secret", re.I)
_MASK = "********"
_CAUSE = "The above exception was the direct cause of the following exception:"
_CONTEXT = "During handling of the above exception, another exception occurred:"

_BUILTINS: dict[str, Any] = vars(builtins)
_repr = reprlib.Repr()
_repr.maxstring = _repr.maxother = 300
_repr.maxlist = _repr.maxdict = _repr.maxset = _repr.maxtuple = 20


def wants_html(accept: str) -> bool:
    """Whether an ``Accept`` header asks for HTML: names ``text/html`` (or
    ``application/xhtml+xml``) with a quality above zero. ``*/*`` alone does not: a
    client that takes anything gets the plain-text traceback, as from Tornado.

    >>> wants_html("text/html,application/xhtml+xml,*/*;q=0.8"), wants_html("*/*")
    (True, False)
    """
    for item in accept.split(","):
        kind, _, params = item.partition(";")
        if kind.strip().lower() not in ("text/html", "application/xhtml+xml"):
            continue
        q = re.search(r"(?:^|;)\s*q\s*=\s*([0-9.]+)", params)
        try:
            if q is None or float(q.group(1)) > 0:
                return True
        except ValueError:
            return True
    return False


def write_traceback(handler: RequestHandler, status_code: int, exc_info: ExcInfo) -> None:
    """Answer with the traceback of ``exc_info`` (``write_error`` under
    ``serve_traceback``): the debug page for a browser, else Tornado's plain text."""
    page = debug_page(handler, status_code, exc_info)
    if page is not None:
        handler.finish(page)
        return
    handler.set_header("Content-Type", "text/plain")
    for line in traceback.format_exception(*exc_info):
        handler.write(line)
    handler.finish()


def debug_page(handler: RequestHandler, status_code: int, exc_info: ExcInfo) -> str | None:
    """The debug page for ``exc_info`` raised while ``handler`` served its request, or
    None when the client did not ask for HTML or the page could not be built (the
    error is logged: the plain-text traceback is the answer then)."""
    if not wants_html(handler.request.headers.get("Accept", "")):
        return None
    try:
        return _Page(handler, status_code, exc_info).render()
    except Exception:
        gen_log.error("Could not build the debug page", exc_info=True)
        return None


# -- frames -------------------------------------------------------------------------------------


@dataclass
class _Frame:
    """One frame of a traceback, as the page shows it."""

    kind: str  # "app" (the user's code), "framework" (tornadish) or "library"
    label: str  # "app.py, line 12"; "tornadish.web.RequestHandler._execute"; "asyncio..."
    owner: str  # what a folded run names: "tornadish.web", "asyncio", "jinja2"
    function: str
    lineno: int
    source: list[tuple[int, str]] = field(default_factory=list)
    local_vars: list[tuple[str, str]] = field(default_factory=list)


def _kind(filename: str) -> str:
    if filename.startswith("<"):  # <frozen ...>, <string>: not a file of the user's
        return "library"
    path = os.path.abspath(filename)
    if path.startswith(_PACKAGE_DIR):
        return "framework"
    if path.startswith(_LIBRARY_DIRS):
        return "library"
    return "app"


def public_name(module: str, qualname: str) -> str:
    """What a user knows a function or class of tornadish by.

    ``RequestHandler.get`` of ``tornadish._web.handler`` is
    ``tornadish.web.RequestHandler.get`` (``tornadish.web`` exports the class); an
    internal is named after the public module it is the inside of
    (``tornadish.web: HandlerRun.start``). Other modules keep their names.
    """
    parts = module.split(".")
    private = [p for p in parts[1:] if p.startswith("_")]
    if parts[0] != _PACKAGE or not private:
        return f"{module}.{qualname}"
    exporter = _exported_by(module, qualname.split(".")[0])
    if exporter is not None:
        return f"{exporter}.{qualname}"
    face = _FACES.get(private[0], "")
    return f"{_PACKAGE}.{face}: {qualname}" if face else f"{_PACKAGE}: {qualname}"


@functools.lru_cache(maxsize=512)
def _exported_by(module: str, name: str) -> str | None:
    """The public module of tornadish that exports ``name`` of ``module`` — the folder's
    own face first (``tornadish.web`` for ``tornadish._web``) — among those loaded."""
    face = _FACES.get(module.split(".")[1], "")
    preferred = f"{_PACKAGE}.{face}"
    if face:
        # By name, not an import statement: the web core does not depend on the faces;
        # this only looks up what they call things (an application that renders
        # templates may never have imported tornadish.template itself).
        with contextlib.suppress(ImportError):
            importlib.import_module(preferred)
    loaded = [n for n in list(sys.modules) if n.startswith(_PACKAGE + ".") and "._" not in n]
    for candidate in sorted(loaded, key=lambda n: (n != preferred, n)):
        obj = vars(sys.modules[candidate]).get(name)
        if getattr(obj, "__module__", None) == module and getattr(obj, "__qualname__", "") == name:
            return candidate
    return None


def _method_name(frame: FrameType, function: str) -> str | None:
    """A method by the public class a user calls it on: ``get_argument``, defined on an
    internal mixin of ``RequestHandler``, is ``tornadish.web.RequestHandler.get_argument``."""
    owner, _, method = function.rpartition(".")
    instance = frame.f_locals.get("self")
    if not owner or "<" in owner or instance is None:
        return None
    mro = type(instance).__mro__
    module = str(frame.f_globals.get("__name__"))
    if not any(c.__qualname__ == owner and c.__module__ == module for c in mro):
        return None  # not a method of this object's class: say nothing rather than guess
    for cls in mro:
        if cls.__module__.startswith(_PACKAGE + ".") and hasattr(cls, method):
            name = public_name(cls.__module__, cls.__qualname__)
            if ":" not in name:  # an exported class
                return f"{name}.{method}"
    return None


# A dotted name inside tornadish with a private part: "tornadish._web.templating._Names".
_PRIVATE_NAME = re.compile(r"\btornadish(?:\.\w+)*\._\w+(?:\.\w+)*")


def _public_text(text: str) -> str:
    """``text`` (a repr, a message) with tornadish's private dotted names made public."""

    def public(match: re.Match[str]) -> str:
        parts = match.group(0).split(".")
        for cut in range(len(parts) - 1, 1, -1):
            module = ".".join(parts[:cut])
            if module in sys.modules:
                return public_name(module, ".".join(parts[cut:]))
        return match.group(0)

    return _PRIVATE_NAME.sub(public, text)


def _owner(label: str) -> str:
    """``tornadish.web`` of ``tornadish.web.RequestHandler.get`` or ``tornadish.web: run``."""
    return ".".join(label.split(":")[0].split(".")[:2])


def _display_path(filename: str) -> str:
    """A user's file as they would type it: relative to the working directory if under it."""
    try:
        relative = os.path.relpath(filename)
    except ValueError:  # on another drive (Windows)
        return filename
    return filename if relative.startswith("..") else relative


def _frame(frame: FrameType, lineno: int) -> _Frame:
    code = frame.f_code
    function = _qualname(frame)
    module = str(frame.f_globals.get("__name__") or "")
    kind = _kind(code.co_filename)
    if kind == "framework":
        # Not the file nor its line: neither means anything outside tornadish.
        label = _method_name(frame, function) or public_name(module, function)
        return _Frame(kind, label, _owner(label), function, lineno)
    if kind == "library":
        where = module or code.co_filename
        label = f"{where}.{function}, line {lineno}"
        return _Frame(kind, label, where.split(".")[0], function, lineno)
    label = f"{_display_path(code.co_filename)}, line {lineno}"
    out = _Frame(kind, label, module, function, lineno)
    linecache.checkcache(code.co_filename)  # the file as it is now: it may have changed
    lines = linecache.getlines(code.co_filename, frame.f_globals)
    numbers = range(max(1, lineno - CONTEXT_LINES), min(len(lines), lineno + CONTEXT_LINES) + 1)
    out.source = [(n, lines[n - 1].rstrip("\r\n")) for n in numbers]
    out.local_vars = [
        (k, _value(k, v))
        for k, v in sorted(frame.f_locals.items())
        # Not the builtins a module-level frame (a template's) sees, nor dunders, nor
        # the helpers tornadish's templates are compiled with.
        if not (k.startswith(("__", "_tt_")) or _BUILTINS.get(k, _BUILTINS) is v)
    ]
    return out


def _qualname(frame: FrameType) -> str:
    """``RequestHandler.get`` where the code's name says ``get``: its ``co_qualname``
    (Python 3.11+), or on 3.10 the class of ``self`` (or ``cls``) that holds this code."""
    code = frame.f_code
    qualname = getattr(code, "co_qualname", None)
    if isinstance(qualname, str):
        return qualname
    owner = frame.f_locals.get("self", frame.f_locals.get("cls"))
    classes = owner.__mro__ if isinstance(owner, type) else type(owner).__mro__
    for cls in classes if owner is not None else ():
        found = vars(cls).get(code.co_name)
        if getattr(getattr(found, "__func__", found), "__code__", None) is code:
            return f"{cls.__qualname__}.{code.co_name}"
    return code.co_name


def _value(name: str, value: Any) -> str:
    if _SECRET_NAME.search(name):
        return _MASK
    try:
        return _public_text(_repr.repr(value))
    except Exception as e:  # a __repr__ that fails must not take the page with it
        return f"<repr() failed: {type(e).__name__}>"


_Link = tuple[BaseException, TracebackType | None, str]


def _chain(exc: BaseException, tb: TracebackType | None) -> list[_Link]:
    """``exc``'s chain of exceptions, oldest first, each with the words that tie it to the
    one before (Python's: ``The above exception was the direct cause ...``)."""
    links: list[_Link] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if current.__cause__ is not None:
            words, earlier = _CAUSE, current.__cause__
        elif current.__context__ is not None and not current.__suppress_context__:
            words, earlier = _CONTEXT, current.__context__
        else:
            words, earlier = "", None
        links.append((current, tb if current is exc else current.__traceback__, words))
        current = earlier
    return links[::-1]


def _describe(exc: BaseException) -> str:
    """Python's last line(s) of a traceback, with tornadish's exceptions by their public
    names (``tornadish.web.HTTPError: HTTP 404: Not Found``)."""
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    cls = type(exc)
    written = f"{cls.__module__}.{cls.__qualname__}"
    if cls.__module__.startswith(_PACKAGE + ".") and text.startswith(written):
        text = public_name(cls.__module__, cls.__qualname__) + text[len(written) :]
    return text


# -- the page -----------------------------------------------------------------------------------

_STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1f2328;background:#fff;
  overflow-wrap:anywhere}
header{background:#fbeaea;border-bottom:1px solid #e5b3b3;padding:1em 1.2em}
header h1{font-size:1.25em;margin:0 0 .3em}
.exc{font:600 1em/1.4 ui-monospace,monospace;margin:.6em 0;white-space:pre-wrap}
main{padding:.5em 1.2em 2em;max-width:72em}
dl.facts{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:.2em 1em;margin:.8em 0}
dt{color:#57606a}dd{margin:0;font-family:ui-monospace,monospace}
h2{font-size:1.05em;margin:1.6em 0 .5em}
.link{color:#57606a;font-style:italic;margin:1.2em 0 .4em}
.frame{border:1px solid #d0d7de;border-left:4px solid #cf222e;border-radius:6px;
  margin:.5em 0;overflow:hidden}
.frame .where{background:#f6f8fa;padding:.35em .7em;font-family:ui-monospace,monospace}
pre{margin:0;padding:.4em 0;overflow-x:auto;font:13px/1.5 ui-monospace,monospace}
pre span{display:block;padding:0 .7em;white-space:pre}
pre span.here{background:#ffebe9;font-weight:600}
pre i{display:inline-block;min-width:3.5em;color:#8c959f;font-style:normal;user-select:none}
details{margin:.4em 0}summary{cursor:pointer;color:#57606a}
.frame details{margin:0;padding:.2em .7em}
details.quiet ol{margin:.3em 0;padding-left:2em;font:13px/1.6 ui-monospace,monospace;
  color:#57606a}
table{border-collapse:collapse;table-layout:fixed;width:100%;
  font:13px/1.5 ui-monospace,monospace}
td{border-top:1px solid #eaeef2;padding:.15em .7em;vertical-align:top;white-space:pre-wrap}
td:first-child{color:#57606a;width:30%}
footer{color:#57606a;font-size:.85em;margin-top:2em}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _table(rows: list[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in rows)
    return f"<table>{cells}</table>"


class _Page:
    """The page of one exception, built in one go by :meth:`render`."""

    def __init__(self, handler: RequestHandler, status_code: int, exc_info: ExcInfo) -> None:
        self.handler = handler
        self.request = handler.request
        self.title = f"{status_code}: {handler._reason}"
        self.status_code = status_code
        self.exc = exc_info[1]
        self.chain = [
            (exc, [_frame(f, n) for f, n in traceback.walk_tb(tb)], words)
            for exc, tb, words in _chain(exc_info[1], exc_info[2])
        ]

    def render(self) -> str:
        name = type(self.exc).__name__
        parts = [
            '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta name="robots" content="noindex">',
            f"<title>{_e(self.title)} · {_e(name)}</title>",
            f"<style>{_STYLE}</style></head><body>",
            f'<header><h1>{_e(self.title)}</h1><p class="exc">{_e(_describe(self.exc))}</p>',
            "</header><main>",
            self._facts(),
            *self._tracebacks(),
            self._routes(),
            self._headers(),
            "<footer>This page is shown because the application runs with "
            "<code>debug=True</code> (or <code>serve_traceback=True</code>), which is for "
            "development only. Clients other than browsers get the traceback as plain "
            "text.</footer>",
            "</main></body></html>\n",
        ]
        return "\n".join(p for p in parts if p)

    def _facts(self) -> str:
        """The request, the handler and where the exception went through the user's code
        (and where it was raised, when that is further in), as HTML."""
        cls = type(self.handler)
        rows = [
            ("Request", _e(f"{self.request.method} {self.request.full_url()}")),
            ("Handler", _e(public_name(cls.__module__, cls.__qualname__))),
        ]
        frames = self.chain[-1][1]
        mine = [i for i, f in enumerate(frames) if f.kind == "app"]
        if mine:
            last = frames[mine[-1]]
            anchor = f"frame-{len(self.chain) - 1}-{mine[-1]}"
            text = _e(f"{last.label}, in {last.function}")
            rows.append(("Your code", f'<a href="#{anchor}">{text}</a>'))
        if frames and (not mine or mine[-1] != len(frames) - 1):
            rows.append(("Raised in", _e(frames[-1].label)))
        rows.append(("Python", _e(f"{sys.version.split()[0]} ({sys.executable})")))
        body = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
        return f'<dl class="facts">{body}</dl>'

    def _tracebacks(self) -> Iterator[str]:
        yield "<h2>Traceback <small>(most recent call last)</small></h2>"
        for number, (exc, frames, words) in enumerate(self.chain):
            if number:
                yield f'<p class="link">{_e(words)}</p>'
            yield from self._frames(frames, number)
            yield f'<p class="exc">{_e(_describe(exc))}</p>'

    def _frames(self, frames: list[_Frame], number: int) -> Iterator[str]:
        """The user's frames open; each run of other frames folded into one line."""
        run: list[_Frame] = []
        for index, frame in enumerate(frames):
            if frame.kind != "app":
                run.append(frame)
                continue
            yield from _folded(run)
            run = []
            yield _open(frame, f"frame-{number}-{index}")
        yield from _folded(run)

    def _routes(self) -> str:
        """For a 404, the routes the path was tried against (as Django's 404 page)."""
        if self.status_code != 404:
            return ""
        application = getattr(self.handler, "application", None)
        rows = list(_route_rows(getattr(application, "default_router", None), "", set()))
        if not rows:
            return ""
        return (
            f"<details open><summary>The application's routes, tried in order "
            f"({len(rows)})</summary>{_table(rows)}</details>"
        )

    def _headers(self) -> str:
        rows = [
            (k, _MASK if _SECRET_HEADER.search(k) else v) for k, v in self.request.headers.get_all()
        ]
        return f"<details><summary>Request headers</summary>{_table(rows)}</details>"


def _folded(run: list[_Frame]) -> Iterator[str]:
    if not run:
        return
    owners = list(dict.fromkeys(f.owner for f in run))
    items = "".join(f"<li>{_e(f.label)}</li>" for f in run)
    s = "s" if len(run) > 1 else ""
    yield (
        f'<details class="quiet"><summary>{len(run)} frame{s} in {_e(", ".join(owners))}'
        f"</summary><ol>{items}</ol></details>"
    )


def _open(frame: _Frame, anchor: str) -> str:
    here = ' class="here"'
    lines = "".join(
        f"<span{here if n == frame.lineno else ''}><i>{n}</i>{_e(text)}</span>"
        for n, text in frame.source
    )
    return "".join(
        [
            f'<div class="frame" id="{anchor}">',
            f'<div class="where">{_e(frame.label)}, in <b>{_e(frame.function)}</b></div>',
            f"<pre>{lines}</pre>" if lines else "",
            f"<details><summary>Local variables</summary>{_table(frame.local_vars)}</details>"
            if frame.local_vars
            else "",
            "</div>",
        ]
    )


def _route_rows(router: Any, host: str, seen: set[int]) -> Iterator[tuple[str, str]]:
    """(pattern, target) for each rule of ``router``, nested routers flattened."""
    if router is None or id(router) in seen:
        return
    seen.add(id(router))
    for rule in getattr(router, "rules", ()):
        matcher, target = rule.matcher, rule.target
        regex = getattr(matcher, "regex", None)
        host_pattern = getattr(matcher, "host_pattern", None)
        where = f"{host_pattern.pattern} " if host_pattern is not None else host
        if regex is None and hasattr(target, "rules"):
            yield from _route_rows(target, where, seen)
            continue
        cls = target if isinstance(target, type) else type(target)
        pattern = regex.pattern if regex is not None else "(any path)"
        yield where + pattern, public_name(cls.__module__, cls.__qualname__)
