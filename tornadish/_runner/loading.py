"""Loading the application a command line names (``module:attribute``), and telling a
mistake on the command line from a bug in the user's code.

Rules:

- A target that names nothing (no colon, no such module) is a :class:`UsageError`: the
  command line is wrong, and one line says so.
- A module that has no such attribute is an :class:`AppError` (the module exists; an
  edit can fix it, which ``--reload`` waits for), as is any exception the user's code
  raises while the module is imported or the factory called.
- An :class:`AppError` tells the error the way the user needs it: their own files and
  lines, and the exception — not the frames of ``importlib`` or of tornadish, which only
  carried the call. It also names the files whose change may fix it.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
import traceback
from typing import Any

__all__ = ["AppError", "UsageError", "load_app"]

# The frames of the machinery between the command line and the user's code.
_TORNADISH_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_IMPORTLIB_DIR = os.path.dirname(os.path.abspath(importlib.__file__ or "")) + os.sep


class UsageError(Exception):
    """A mistake on the command line; its message is one line for stderr."""


class AppError(Exception):
    """The application could not be loaded because of its own code.

    ``str(error)`` is one line (what failed, where, and the exception);
    :meth:`details` is the short traceback of the user's frames.
    """

    def __init__(self, target: str, exc: BaseException) -> None:
        self.target = target
        self.exc = exc
        self.frames = [f for f in traceback.extract_tb(exc.__traceback__) if _is_users(f.filename)]
        super().__init__(f"cannot load {target}: {_where(exc, self.frames)}{_summary(exc)}")

    def details(self) -> str:
        """The user's frames (most recent call last) and the exception, as Python
        would print them with everything but the user's own files left out."""
        lines = ["Traceback (most recent call last):\n"] if self.frames else []
        lines += traceback.format_list(self.frames)
        lines += traceback.format_exception_only(type(self.exc), self.exc)
        return "".join(lines).rstrip("\n")

    def files(self) -> list[str]:
        """The files whose change may fix this: those of the user's frames, and the
        file a syntax error is in (a module that failed to import is not in
        ``sys.modules``, so a watcher of modules would not see it)."""
        paths = [f.filename for f in self.frames]
        if isinstance(self.exc, SyntaxError) and self.exc.filename:
            paths.append(self.exc.filename)
        return sorted({os.path.abspath(p) for p in paths if os.path.isfile(p)})


def load_app(target: str) -> Any:
    """Import ``module:attribute`` and return the application it names (calling it
    first when it is a factory rather than an application).

    Raises :class:`UsageError` when ``target`` names no module, and
    :class:`AppError` when the module lacks the attribute or the user's code raises.
    """
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise UsageError(f"expected module:app, got {target!r}")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and _is_prefix(exc.name, module_name):
            raise UsageError(f"cannot import {target}: no module named {exc.name!r}") from None
        raise AppError(target, exc) from exc
    except Exception as exc:
        raise AppError(target, exc) from exc
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            missing = AttributeError(f"module {module_name!r} has no attribute {attr!r}")
            raise AppError(target, missing) from None
    # An application has start_request (the server's delegate interface); a plain
    # callable without it is a factory. Old-style request callbacks take a request, so
    # only a callable that takes no arguments is called.
    if not hasattr(obj, "start_request") and callable(obj) and _takes_no_arguments(obj):
        try:
            obj = obj()
        except Exception as exc:
            raise AppError(target, exc) from exc
    return obj


def _is_prefix(name: str, module_name: str) -> bool:
    """Whether the missing module ``name`` is ``module_name`` or a package above it
    (the command line is wrong), not a module the user's code imports."""
    return module_name == name or module_name.startswith(name + ".")


def _takes_no_arguments(fn: Any) -> bool:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    return all(
        p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        for p in sig.parameters.values()
    )


def _is_users(filename: str) -> bool:
    if filename.startswith("<"):  # <frozen importlib._bootstrap>, <string>
        return False
    path = os.path.abspath(filename)
    return not path.startswith((_TORNADISH_DIR, _IMPORTLIB_DIR))


def _where(exc: BaseException, frames: list[traceback.FrameSummary]) -> str:
    """``path:line: `` of the innermost place in the user's code, if any."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{_shown(exc.filename)}:{exc.lineno}: "
    if frames:
        return f"{_shown(frames[-1].filename)}:{frames[-1].lineno}: "
    return ""


def _summary(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):  # its str() repeats the file and line
        return f"{type(exc).__name__}: {exc.msg}"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _shown(path: str) -> str:
    """A path relative to the current directory when it is under it (shorter, and
    what the user typed), else absolute."""
    absolute = os.path.abspath(path)
    relative = os.path.relpath(absolute)
    return absolute if relative.startswith("..") else relative
