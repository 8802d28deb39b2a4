"""What Jinja2 source translated from Tornado syntax calls at render time.

:func:`install` adds it to an environment: Python's builtins (a Tornado template may
call any), the ``_tt_*`` helpers the translation emits, loop controls and escaping of
``{{ }}`` output exactly as Tornado's ``xhtml_escape`` does.
"""

from __future__ import annotations

import builtins
import importlib
import itertools
from collections.abc import Callable
from types import CodeType
from typing import Any

import jinja2
from jinja2.utils import Namespace
from markupsafe import Markup

from tornadish import escape

__all__ = ["install"]


def _raw(value: Any) -> Markup:
    """Output ``value`` unescaped (bytes are UTF-8)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    return value if isinstance(value, Markup) else Markup(str(value))


@jinja2.pass_eval_context
def _finalize(eval_ctx: jinja2.nodes.EvalContext, value: Any) -> Any:
    """Escape ``{{ }}`` output exactly as Tornado's ``xhtml_escape`` does."""
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if eval_ctx.autoescape and not hasattr(value, "__html__"):
        return Markup(escape.xhtml_escape(str(value)))
    return value


def _text(value: Any) -> str:
    """Plain ``str`` of a captured block (``Markup`` would escape what it is joined
    with)."""
    return str.__str__(value) if isinstance(value, str) else str(value)


def _import(module: str, top: bool) -> Any:
    mod = importlib.import_module(module)
    return importlib.import_module(module.split(".")[0]) if top else mod


def _from(module: str, attr: str) -> Any:
    mod = importlib.import_module(module)
    try:
        return getattr(mod, attr)
    except AttributeError:
        return importlib.import_module(f"{module}.{attr}")


def _try(
    body: Callable[[], str],
    handlers: list[tuple[Any, Callable[[Any], str]]],
    orelse: Callable[[], str] | None,
    final: Callable[[], str] | None,
) -> Markup:
    parts: list[str] = []
    try:
        parts.append(body())
        if orelse is not None:
            parts.append(orelse())
    except Exception as e:
        for types, handler in handlers:
            if types is None or isinstance(e, types):
                parts.append(handler(e))
                break
        else:
            raise
    finally:
        if final is not None:
            parts.append(final())
    return Markup("".join(parts))


def _namespace(**names: Any) -> Namespace:
    return Namespace({k: v for k, v in names.items() if not isinstance(v, jinja2.Undefined)})


def install(env: jinja2.Environment) -> None:
    """Add what translated templates call to ``env``: Python's builtins (a Tornado
    template may call any), the ``_tt_*`` helpers, loop controls and Tornado-exact
    escaping of ``{{ }}``."""
    codes: dict[str, CodeType] = {}  # compiled once per distinct expression

    def compiled(source: str, mode: str) -> CodeType:
        code = codes.get(source)
        if code is None:
            code = codes[source] = compile(source, "<template expression>", mode)
        return code

    def scope(names: dict[str, Any]) -> dict[str, Any]:
        # Globals, not locals: comprehensions and lambdas only see globals.
        g: dict[str, Any] = {"__builtins__": builtins}
        for k, v in names.items():
            if not isinstance(v, jinja2.Undefined):
                g[k] = v
        return g

    def py(source: str, **names: Any) -> Any:
        return eval(compiled(source, "eval"), scope(names))

    def run(source: str, **names: Any) -> str:
        exec(compiled(source, "exec"), scope(names))
        return ""

    env.add_extension("jinja2.ext.loopcontrols")
    env.globals.update(
        {k: v for k, v in vars(builtins).items() if not k.startswith("_")},
    )
    env.globals.update(
        _tt_py=py,
        _tt_exec=run,
        _tt_import=_import,
        _tt_from=_from,
        _tt_try=_try,
        _tt_text=_text,
        _tt_forever=itertools.count,
        _tt_namespace=_namespace,
    )
    env.filters["_tt_raw"] = _raw
    env.finalize = _finalize
