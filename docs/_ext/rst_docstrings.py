"""A griffe extension: tornadish's reST-flavoured docstrings as Markdown for mkdocstrings.

The docstrings follow Tornado's habits (``literals``, ``:class:`~x.Y```, doctest blocks,
``::`` literal blocks, ``.. code-block::``). mkdocstrings renders Markdown, so each
docstring is rewritten once the whole package is loaded, before it is parsed:

- a doctest block (a paragraph starting with ``>>>``) becomes a ``pycon`` fence, without
  its ``# doctest:`` directives;
- a ``::`` literal block and a ``.. code-block:: LANG`` directive become fences (Python
  when the block parses as Python, else plain text);
- a hyperlink `` `text <url>`_ `` becomes ``[text](url)``;
- a role such as ``:class:`~tornadish.web.RequestHandler``` becomes an *optional*
  mkdocs-autorefs reference: a link when the target is rendered somewhere in the site,
  plain code otherwise (never a warning, so ``mkdocs build --strict`` stays meaningful).

Only the text outside fences is touched; the source files are not changed.
"""

from __future__ import annotations

import ast
import html
import re
import textwrap
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(class|meth|func|mod|attr|data|exc|obj|const):`(~?)([\w.]+)(\(\))?`")
_DOCTEST_DIRECTIVE = re.compile(r"\s*#\s*doctest:.*$")
_CODE_BLOCK = re.compile(r"^(\s*)\.\. code-block::\s*(\w*)\s*$")
_LINK = re.compile(r"`([^`<]+?)\s*<([^`>]+)>`__?")


class RstDocstrings(griffe.Extension):
    """Rewrite each docstring of the loaded package from reST habits to Markdown."""

    def __init__(self) -> None:
        super().__init__()
        self._done: set[int] = set()

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        self._walk(pkg, loader)

    def _walk(self, obj: griffe.Object, loader: griffe.GriffeLoader) -> None:
        if id(obj) in self._done:
            return
        self._done.add(id(obj))
        if obj.docstring is not None:
            obj.docstring.value = convert(
                obj.docstring.value, lambda name: _resolve(obj, loader, name)
            )
        for member in obj.members.values():
            if not member.is_alias:
                self._walk(member, loader)  # type: ignore[arg-type]


def _exists(loader: griffe.GriffeLoader, path: str) -> bool:
    try:
        loader.modules_collection.get_member(path)
    except Exception:
        return False
    return True


def _canonical(loader: griffe.GriffeLoader, path: str) -> str:
    try:
        found = loader.modules_collection.get_member(path)
        return str(found.canonical_path)
    except Exception:
        return path


def _resolve(obj: griffe.Object, loader: griffe.GriffeLoader, target: str) -> str | None:
    """The full path ``target`` names from ``obj``'s docstring, or ``None``."""
    candidates: list[str] = []
    if target.startswith("."):
        rest = target.lstrip(".")
        candidates += [f"{obj.module.path}.{rest}", f"{obj.package.path}.{rest}"]
    elif "." in target and target.split(".")[0] == obj.package.path:
        candidates.append(target)
    else:
        head, _, tail = target.partition(".")
        scope: griffe.Object | None = obj
        while scope is not None:
            try:
                base = scope.resolve(head)
            except Exception:
                scope = scope.parent
                continue
            candidates.append(f"{base}.{tail}" if tail else base)
            break
        if "." in target:
            candidates.append(f"{obj.package.path}.{target}")
    for path in candidates:
        if _exists(loader, path):
            return _canonical(loader, path)
    return None


def _role(match: re.Match[str], resolve: Any) -> str:
    kind, short, target, parens = match.groups()
    title = target.lstrip(".")
    if short:
        title = title.rsplit(".", 1)[-1]
    if kind in ("meth", "func") or parens:
        title += "()"
    code = f"<code>{html.escape(title)}</code>"
    path = resolve(target)
    if path is None:
        return f"`{title}`"
    return f'<autoref identifier="{html.escape(path)}" optional>{code}</autoref>'


def _inline(line: str, resolve: Any) -> str:
    """Roles and hyperlinks (`` `text <url>`_ ``) of one line of prose as Markdown."""
    line = _LINK.sub(lambda m: f"[{m.group(1)}]({m.group(2)})", line)
    return _ROLE.sub(lambda m: _role(m, resolve), line)


def _fence(lines: list[str], lang: str | None) -> list[str]:
    body = textwrap.dedent("\n".join(lines)).strip("\n")
    if lang is None:
        try:
            ast.parse(body)
            lang = "python"
        except SyntaxError:
            lang = "text"
    return ["", f"```{lang}", *body.splitlines(), "```", ""]


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def convert(text: str, resolve: Any = lambda name: None) -> str:
    """``text`` (a docstring, already dedented by griffe) as Markdown."""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith("```"):
            # An existing Markdown fence: copy it untouched.
            out.append(line)
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                out.append(lines[i])
                i += 1
            if i < len(lines):
                out.append(lines[i])
                i += 1
            continue
        if stripped.startswith(">>>"):
            block = []
            while i < len(lines) and lines[i].strip():
                block.append(_DOCTEST_DIRECTIVE.sub("", lines[i]))
                i += 1
            out += _fence(block, "pycon")
            continue
        code_block = _CODE_BLOCK.match(line)
        if code_block is not None or (stripped.endswith("::") and not stripped.startswith("..")):
            base = _indent(line)
            lang: str | None = None
            if code_block is not None:
                lang = code_block.group(2) or None
            else:
                before = line.rstrip()[:-2].rstrip()
                if before:
                    out.append(_inline(before + ":", resolve))
            j = i + 1
            block = []
            while j < len(lines) and (not lines[j].strip() or _indent(lines[j]) > base):
                block.append(lines[j])
                j += 1
            while block and not block[-1].strip():
                block.pop()
                j -= 1
            if block:
                out += _fence(block, lang)
                i = j
                continue
        out.append(_inline(line, resolve))
        i += 1
    return "\n".join(out)
