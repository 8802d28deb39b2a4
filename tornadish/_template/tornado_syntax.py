"""Tornado template syntax, translated to Jinja2 source.

One job: :func:`translate` turns a template written in Tornado's syntax into Jinja2
source that means the same thing, and :func:`install` adds to a Jinja2 environment the
few runtime helpers that source calls. Jinja2 then lexes, compiles and caches it.

Rules the translation keeps:

- **Line numbers survive.** Every construct is replaced by Jinja2 text with at most as
  many newlines as the original; the difference is added back as an empty Jinja2
  comment (``{#\\n\\n#}``) right after it. Whitespace filtering, which collapses
  newlines, pads the same way. So an error Jinja2 reports at line *n* is at line *n*
  of the file the user wrote.
- **Expressions stay Jinja2 where Jinja2 means the same thing.** An expression is
  parsed with Python's :mod:`ast`; if every node is one Jinja2 compiles to the same
  Python (names, attributes, calls, subscripts, arithmetic, comparisons, literals, ...)
  the text is kept. Otherwise (comprehensions, lambdas, ``is None``, f-strings, ...)
  it is evaluated by Python itself through ``_tt_py("<source>", name=name, ...)``,
  with the free names passed in from the template scope. Text Python cannot parse is
  assumed to be Jinja2 (``x|upper``, ``a ~ b``) and kept too.
- **Tornado's autoescape and whitespace are per file.** ``{% autoescape None %}``
  anywhere applies to the whole file, as in Tornado, so the file is scanned first.
"""

from __future__ import annotations

import ast
import io
import itertools
import re
import tokenize
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

import jinja2

from tornadish._template.runtime import install

__all__ = ["ParseError", "filter_whitespace", "install", "tornado_terms", "translate"]


class ParseError(jinja2.TemplateSyntaxError):
    """A template could not be parsed (Tornado's ``tornado.template.ParseError``).

    A :class:`jinja2.TemplateSyntaxError`, so Jinja2's machinery and ``except`` clauses
    written for either library catch it. ``str(e)`` is Tornado's
    ``"<message> at <file>:<line>"``.
    """

    def __init__(self, message: str, filename: str | None = None, lineno: int = 0) -> None:
        super().__init__(message, lineno, filename, filename)

    def __str__(self) -> str:
        return f"{self.message} at {self.filename or self.name or '<string>'}:{self.lineno}"


def filter_whitespace(mode: str, text: str) -> str:
    """Collapse whitespace in template text according to ``mode``.

    ``"all"`` keeps it unchanged; ``"single"`` turns each run of whitespace into one
    character, a newline when the run held one; ``"oneline"`` turns every run into a
    single space.

    >>> filter_whitespace("single", "a  \\n\\n  b")
    'a\\nb'
    """
    if mode == "all":
        return text
    if mode == "single":
        text = re.sub(r"[\t ]+", " ", text)
        return re.sub(r"\s*\n\s*", "\n", text)
    if mode == "oneline":
        return re.sub(r"\s+", " ", text)
    raise ValueError(f"invalid whitespace mode {mode}")


# -- expressions ---------------------------------------------------------------------

# Python nodes Jinja2 parses from the same text and compiles to the same operation.
_SAME_IN_JINJA: tuple[type[ast.AST], ...] = (
    ast.Expression,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.Attribute,
    ast.Subscript,
    ast.Slice,
    ast.Call,
    ast.keyword,
    ast.BinOp,
    ast.UnaryOp,
    ast.BoolOp,
    ast.Compare,
    ast.IfExp,
    ast.List,
    ast.Tuple,
    ast.Dict,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.FloorDiv,
    ast.Mod,
    ast.Pow,
    ast.Not,
    ast.USub,
    ast.UAdd,
    ast.And,
    ast.Or,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.NotIn,
)


def _callee_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Call):
        node = node.func
    return node.id if isinstance(node, ast.Name) else None


def _jinja_can_take(
    tree: ast.AST, source: str, filters: Collection[str], tests: Collection[str]
) -> bool:
    """True when Jinja2 reads ``source`` (parsed by Python as ``tree``) the same way."""
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            # ``x|upper`` is a Jinja2 filter that Python happens to parse.
            if _callee_name(node.right) not in filters:
                return False
            continue
        if isinstance(node, ast.Compare) and any(
            isinstance(op, (ast.Is, ast.IsNot)) for op in node.ops
        ):
            # ``x is defined`` is a Jinja2 test; ``x is None`` is Python.
            if len(node.ops) != 1 or _callee_name(node.comparators[0]) not in tests:
                return False
            continue
        if isinstance(node, (ast.BitOr, ast.Is, ast.IsNot)):
            continue
        if isinstance(node, ast.Starred):
            continue  # only legal inside calls, where Jinja2 has it too
        if isinstance(node, ast.Dict) and any(k is None for k in node.keys):
            return False
        if isinstance(node, ast.Constant) and not isinstance(
            node.value, (str, int, float, bool, type(None))
        ):
            return False
        if not isinstance(node, _SAME_IN_JINJA) and not isinstance(node, (ast.BitOr,)):
            return False
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.STRING and tok.string[0] not in "'\"":
                return False  # r"", b"", f"" prefixes: Jinja2 has none
    except (tokenize.TokenError, SyntaxError):
        return False
    return True


def _free_names(tree: ast.AST) -> list[str]:
    """Names ``tree`` reads that are not bound inside it (comprehension and lambda
    variables are bound)."""
    loaded: dict[str, None] = {}
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                loaded[node.id] = None
            else:
                bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    return [n for n in loaded if n not in bound]


def _jinja_string(text: str) -> str:
    """A Jinja2 string literal whose value is ``text`` (Jinja2 decodes literals with
    ``unicode-escape``, so encode with it)."""
    return '"' + text.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'


def _python_call(helper: str, source: str, tree: ast.AST, hoisted: Collection[str] = ()) -> str:
    args = "".join(f", {n}=_tt_ns.{n}" if n in hoisted else f", {n}={n}" for n in _free_names(tree))
    return f"{helper}({_jinja_string(source)}{args})"


def _qualify(source: str, tree: ast.AST, hoisted: Collection[str]) -> str:
    """``source`` with reads of the ``hoisted`` names made ``_tt_ns.<name>``."""
    free = set(_free_names(tree)) & set(hoisted)
    if not free:
        return source
    lines = source.split("\n")
    starts = [0]
    for ln in lines:
        starts.append(starts[-1] + len(ln) + 1)

    def offset(lineno: int, col: int) -> int:
        # ast columns count UTF-8 bytes.
        text = lines[lineno - 1].encode("utf-8")[:col].decode("utf-8")
        return starts[lineno - 1] + len(text)

    spots = sorted(
        (
            offset(n.lineno, n.col_offset)
            for n in ast.walk(tree)
            if isinstance(n, ast.Name) and n.id in free
        ),
        reverse=True,
    )
    for pos in spots:
        source = source[:pos] + "_tt_ns." + source[pos:]
    return source


def _set_targets(statement: str) -> list[str]:
    """Names a Tornado ``{% set %}`` statement assigns."""
    try:
        module = ast.parse(statement.strip())
    except SyntaxError:
        return []
    names = []
    for stmt in module.body:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else []
        if isinstance(stmt, ast.AugAssign):
            targets = [stmt.target]
        for t in targets:
            names += [
                n.id
                for n in ast.walk(t)
                if isinstance(n, ast.Name) and isinstance(t, (ast.Name, ast.Tuple))
            ]
    return names


# -- the reader ----------------------------------------------------------------------


@dataclass
class _Block:
    kind: str
    line: int
    data: dict[str, Any] = field(default_factory=dict)


_LOOPS = ("for", "while")
_OPENERS = ("if", "for", "while", "block", "apply", "try", "macro", "call", "filter", "with")
_JINJA_BLOCK_TAGS = ("macro", "call", "filter", "with")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")


class _Translator:
    def __init__(
        self,
        source: str,
        name: str | None,
        autoescape: str | None,
        whitespace: str,
        filters: Collection[str],
        tests: Collection[str],
    ) -> None:
        self.source = source
        self.name = name
        self.autoescape = autoescape
        self.whitespace = whitespace
        self.filters = filters
        self.tests = tests
        self.out: list[str] = []
        self.stack: list[_Block] = []
        self.counter = itertools.count()
        self.extends = False
        self.hoisted: set[str] = set()

    def error(self, message: str, line: int) -> ParseError:
        return ParseError(message, self.name, line)

    # Tokens: ("text", text, line) or (kind, inner, line, raw_tag) for {{ }}, {% %}, {# #}.
    def tokens(self) -> Iterator[tuple[str, str, int, str]]:
        src = self.source
        pos = 0
        line = 1
        text: list[str] = []
        text_line = 1
        n = len(src)
        while True:
            start = src.find("{", pos)
            while start != -1 and (start + 1 >= n or src[start + 1] not in "{%#"):
                start = src.find("{", start + 1)
            if start == -1:
                text.append(src[pos:])
                break
            text.append(src[pos:start])
            line += src.count("\n", pos, start)
            if start + 2 < n and src[start + 2] == "!":
                # ``{{!`` (and ``{%!``, ``{#!``) is the literal opener.
                if "".join(text):
                    yield ("text", "".join(text), text_line, "")
                text = []
                yield ("lit", src[start : start + 2], line, "")
                pos = start + 3
                text_line = line
                continue
            if text and "".join(text):
                yield ("text", "".join(text), text_line, "")
            text = []
            closer = {"{": "}}", "%": "%}", "#": "#}"}[src[start + 1]]
            end = src.find(closer, start + 2)
            if end == -1:
                what = {"}}": "expression", "%}": "block", "#}": "comment"}[closer]
                raise self.error(f"Missing end {what} {closer}", line)
            raw = src[start : end + 2]
            yield (src[start + 1], src[start + 2 : end], line, raw)
            line += raw.count("\n")
            pos = end + 2
            text_line = line
        if "".join(text):
            yield ("text", "".join(text), text_line, "")

    def run(self) -> str:
        toks = list(self.tokens())
        # Tornado's autoescape directive is file-wide: find it before translating.
        depth: list[str] = []
        for kind, inner, _line, _ in toks:
            if kind == "%":
                op, _sep, rest = inner.strip().partition(" ")
                if op == "autoescape":
                    fn = rest.strip()
                    self.autoescape = None if fn == "None" else fn
                elif op == "extends":
                    self.extends = True
                elif op in _OPENERS or (op == "set" and "=" not in rest):
                    depth.append(op)
                elif (op == "end" or op.startswith("end")) and depth:
                    depth.pop()
                elif op == "set" and any(k in _LOOPS for k in depth):
                    self.hoisted.update(_set_targets(rest))
        if self.hoisted:
            # Jinja2 gives each loop iteration a fresh scope; Tornado (Python) does not.
            # Names set inside loops live in one namespace object so they persist.
            names = ", ".join(f"{n}={n}" for n in sorted(self.hoisted))
            self.out.append("{% set _tt_ns = _tt_namespace(" + names + ") %}")
        for kind, inner, line, raw in toks:
            if kind == "text":
                self.text(inner)
            elif kind == "lit":
                if not (self.extends and not self.stack):
                    self.out.append("{{ '" + inner + "' }}")
            elif kind == "#":
                self.emit("", raw)
            elif kind == "{":
                if not inner.strip():
                    raise self.error("Empty expression", line)
                self.emit("{{ " + self.output_expr(inner, line) + " }}", raw)
            else:
                self.statement(inner, line, raw)
        if self.stack:
            block = self.stack[-1]
            raise self.error(f"Missing {{% end %}} block for {block.kind}", block.line)
        return "".join(self.out)

    def emit(self, text: str, raw: str) -> None:
        """Append ``text`` standing for ``raw``, padding to keep the line count."""
        self.out.append(text)
        missing = raw.count("\n") - text.count("\n")
        if missing > 0:
            self.out.append("{#" + "\n" * missing + "#}")

    def text(self, value: str) -> None:
        if self.extends and not self.stack:
            # Tornado ignores what a child template has outside its blocks.
            self.emit("", value)
            return
        if "<pre>" not in value:
            value_out = filter_whitespace(self.whitespace, value)
        else:
            value_out = value
        if value_out.endswith("{"):
            # Would join with the next tag's brace into a Jinja2 opener.
            value_out = value_out[:-1] + "{{ '{' }}"
        self.emit(value_out, value)

    # -- expressions --

    def expr(self, source: str, line: int, helper: str = "_tt_py") -> str:
        """Jinja2 text for the Python (or Jinja2) expression ``source``."""
        stripped = source.strip()
        try:
            tree = ast.parse(stripped, mode="eval")
        except SyntaxError:
            return stripped  # not Python: take it as Jinja2 (``x|f``, ``a ~ b``)
        if _jinja_can_take(tree, stripped, self.filters, self.tests):
            if self.hoisted:
                return _qualify(stripped, tree, self.hoisted)
            return stripped
        return _python_call(helper, stripped, tree, self.hoisted)

    def output_expr(self, source: str, line: int) -> str:
        """The inside of ``{{ }}`` printing ``source`` with this file's autoescape."""
        if self.autoescape == "xhtml_escape":
            return self.expr(source, line)
        if self.autoescape is None:
            return f"({self.expr(source, line)})|_tt_raw"
        return f"({self.expr(f'{self.autoescape}({source.strip()})', line)})|_tt_raw"

    # -- statements --

    def statement(self, inner: str, line: int, raw: str) -> None:
        content = inner.strip()
        if not content:
            raise self.error("Empty block tag ({% %})", line)
        m = re.match(r"(\w+)\s*(.*)\Z", content, re.DOTALL)
        if m is None:
            raise self.error(f"Unknown operator: {content!r}", line)
        op, suffix = m.group(1), m.group(2).strip()
        handler: Callable[[str, int], str] | None = getattr(self, "op_" + op, None)
        if handler is None:
            if op.startswith("end"):
                self.emit(self.close(line, op[3:]), raw)
                return
            raise self.error(f"Unknown operator: {op!r}", line)
        self.emit(handler(suffix, line), raw)

    def push(self, kind: str, line: int, **data: Any) -> None:
        self.stack.append(_Block(kind, line, data))

    def top(self, op: str, line: int, allowed: tuple[str, ...]) -> _Block:
        if not self.stack or self.stack[-1].kind not in allowed:
            raise self.error(f"{op} outside {'/'.join(allowed)} block", line)
        return self.stack[-1]

    def need(self, op: str, suffix: str, line: int) -> None:
        if not suffix:
            raise self.error(f"{op} missing expression", line)

    def op_end(self, suffix: str, line: int) -> str:
        return self.close(line, None)

    def close(self, line: int, expected: str | None) -> str:
        if not self.stack:
            raise self.error("Extra {% end %} block", line)
        block = self.stack.pop()
        kind = block.kind
        if expected and expected not in (kind, kind.split("_")[0]):
            raise self.error(f"end{expected} closes a {kind} block", line)
        if kind in ("for", "while"):
            return "{% endfor %}"
        if kind in ("for_else", "while_else"):
            return ""
        if kind == "if":
            return "{% endif %}"
        if kind == "block":
            return "{% endblock %}"
        if kind == "apply":
            var = block.data["var"]
            call = self.expr(f"{block.data['fn']}(_tt_text({var}))", line)
            return "{% endset %}{{ (" + call + ")|_tt_raw }}"
        if kind == "try":
            return self.close_try(block, line)
        return "{% end" + kind + " %}"

    def op_if(self, suffix: str, line: int) -> str:
        self.need("if", suffix, line)
        self.push("if", line)
        return "{% if " + self.expr(suffix, line) + " %}"

    def op_elif(self, suffix: str, line: int) -> str:
        self.need("elif", suffix, line)
        block = self.top("elif", line, ("if",))
        if "else" in block.data:
            raise self.error("{% elif %} after {% else %} in an if block", line)
        return "{% elif " + self.expr(suffix, line) + " %}"

    def op_else(self, suffix: str, line: int) -> str:
        if self.stack and self.stack[-1].kind.endswith("_else"):
            kind = self.stack[-1].kind[: -len("_else")]
            raise self.error(f"a second {{% else %}} in a {kind} block", line)
        block = self.top("else", line, ("if", "for", "while", "try"))
        if block.kind == "if":
            if "else" in block.data:
                raise self.error("a second {% else %} in an if block", line)
            block.data["else"] = line
            return "{% else %}"
        if block.kind == "try":
            return self.try_clause(block, "else", line)
        # Python's for/while-else runs when the loop was not left by ``break``;
        # without a break that is always, so the body simply follows the loop.
        if block.data.get("breaks"):
            raise self.error(f"{{% else %}} after a {block.kind} loop with {{% break %}}", line)
        block.kind += "_else"
        return "{% endfor %}"

    def op_for(self, suffix: str, line: int) -> str:
        self.need("for", suffix, line)
        self.push("for", line)
        try:
            node = ast.parse(f"for {suffix}: pass").body[0]
        except SyntaxError:
            return "{% for " + suffix + " %}"  # Jinja2's own for (``if``, ``recursive``)
        assert isinstance(node, ast.For)
        target = ast.get_source_segment(f"for {suffix}: pass", node.target)
        iterable = ast.get_source_segment(f"for {suffix}: pass", node.iter)
        assert target is not None and iterable is not None
        if not all(isinstance(n, (ast.Name, ast.Tuple, ast.Store)) for n in ast.walk(node.target)):
            raise self.error(f"Unsupported loop target {target!r}", line)
        return "{% for " + target + " in " + self.expr(iterable, line) + " %}"

    def op_while(self, suffix: str, line: int) -> str:
        self.need("while", suffix, line)
        self.push("while", line)
        # An endless Jinja2 loop that breaks as soon as the condition fails.
        cond = self.expr(suffix, line)
        return "{% for _tt_w in _tt_forever() %}{% if not (" + cond + ") %}{% break %}{% endif %}"

    def loop_control(self, op: str, line: int) -> str:
        for block in reversed(self.stack):
            if block.kind in _LOOPS:
                block.data["breaks"] = block.data.get("breaks") or op == "break"
                return "{% " + op + " %}"
            if block.kind in ("try", "apply", "macro", "call"):
                break
        raise self.error(f"{op} outside of loop", line)

    def op_break(self, suffix: str, line: int) -> str:
        return self.loop_control("break", line)

    def op_continue(self, suffix: str, line: int) -> str:
        return self.loop_control("continue", line)

    def op_block(self, suffix: str, line: int) -> str:
        if not _IDENT.match(suffix):
            raise self.error(f"Invalid block name {suffix!r}", line)
        self.push("block", line)
        # ``scoped``: Tornado inlines blocks, so they see the loop variables around them.
        return "{% block " + suffix + " scoped %}"

    def template_name(self, op: str, suffix: str, line: int) -> str:
        name = suffix.strip().strip('"').strip("'")
        if not name:
            raise self.error(f"{op} missing file path", line)
        return _jinja_string(name)

    def op_extends(self, suffix: str, line: int) -> str:
        return "{% extends " + self.template_name("extends", suffix, line) + " %}"

    def op_include(self, suffix: str, line: int) -> str:
        return "{% include " + self.template_name("include", suffix, line) + " %}"

    def op_comment(self, suffix: str, line: int) -> str:
        return ""

    def op_autoescape(self, suffix: str, line: int) -> str:
        return ""  # applied to the whole file in run()

    def op_whitespace(self, suffix: str, line: int) -> str:
        mode = suffix.strip()
        try:
            filter_whitespace(mode, "")
        except ValueError:
            raise self.error(f"Invalid whitespace mode {mode!r}", line) from None
        self.whitespace = mode
        return ""

    def op_raw(self, suffix: str, line: int) -> str:
        self.need("raw", suffix, line)
        return "{{ (" + self.expr(suffix, line) + ")|_tt_raw }}"

    def op_module(self, suffix: str, line: int) -> str:
        self.need("module", suffix, line)
        return "{{ (" + self.expr("_tt_modules." + suffix, line) + ")|_tt_raw }}"

    def op_apply(self, suffix: str, line: int) -> str:
        self.need("apply", suffix, line)
        var = f"_tt_apply{next(self.counter)}"
        self.push("apply", line, var=var, fn=suffix)
        return "{% set " + var + " %}"

    def op_set(self, suffix: str, line: int) -> str:
        self.need("set", suffix, line)
        try:
            module = ast.parse(suffix)
        except SyntaxError:
            module = None
        if module is None or len(module.body) != 1:
            if "=" not in suffix and _IDENT.match(suffix):
                self.push("set", line)  # Jinja2's block set
            return "{% set " + suffix + " %}"
        stmt = module.body[0]
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target = stmt.targets[0]
            if all(isinstance(n, (ast.Name, ast.Tuple, ast.Store)) for n in ast.walk(target)):
                t_src = ast.get_source_segment(suffix, target)
                v_src = ast.get_source_segment(suffix, stmt.value)
                assert t_src is not None and v_src is not None
                return self.assign(target, t_src, self.expr(v_src, line), line)
        if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
            op_src = suffix[len(stmt.target.id) :].lstrip().split("=", 1)[0]
            v_src = ast.get_source_segment(suffix, stmt.value)
            value = f"{stmt.target.id} {op_src} ({v_src})"
            return self.assign(stmt.target, stmt.target.id, self.expr(value, line), line)
        if isinstance(stmt, ast.Assign) and any(
            isinstance(t, (ast.Name, ast.Tuple, ast.List)) for t in stmt.targets
        ):
            # Python would rebind a name, which ``exec`` cannot do in the template.
            raise self.error(f"Unsupported set statement {suffix!r}", line)
        if isinstance(stmt, (ast.Assign, ast.AugAssign, ast.Expr)):
            # Assigning into an object (``d["k"] = v``) or calling for effect: Python
            # runs it; the objects are shared, so the change is seen by the template.
            return "{{ " + _python_call("_tt_exec", suffix, stmt) + " }}"
        raise self.error(f"Unsupported set statement {suffix!r}", line)

    def assign(self, target: ast.expr, t_src: str, value: str, line: int) -> str:
        if isinstance(target, ast.Name):
            if target.id in self.hoisted:
                t_src = "_tt_ns." + target.id
            return "{% set " + t_src + " = " + value + " %}"
        assert isinstance(target, ast.Tuple)
        if not any(isinstance(n, ast.Name) and n.id in self.hoisted for n in ast.walk(target)):
            return "{% set " + t_src + " = " + value + " %}"
        if not all(isinstance(e, ast.Name) for e in target.elts):
            raise self.error(f"Unsupported nested unpacking in a loop: {t_src!r}", line)
        tmp = f"_tt_tmp{next(self.counter)}"
        parts = ["{% set " + tmp + " = " + value + " %}"]
        for i, e in enumerate(target.elts):
            assert isinstance(e, ast.Name)
            parts.append(self.assign(e, e.id, f"{tmp}[{i}]", line))
        return "".join(parts)

    def op_import(self, suffix: str, line: int) -> str:
        sets = []
        for part in suffix.split(","):
            words = part.split()
            if len(words) == 1 and _DOTTED.match(words[0]):
                mod = words[0]
                bind, top = mod.split(".")[0], True
            elif len(words) == 3 and words[1] == "as" and _DOTTED.match(words[0]):
                mod, bind, top = words[0], words[2], False
            else:
                raise self.error(f"Unsupported import {suffix!r}", line)
            if not _IDENT.match(bind):
                raise self.error(f"Unsupported import {suffix!r}", line)
            value = "_tt_import(" + _jinja_string(mod) + f", {top})"
            sets.append(self.assign(ast.Name(bind), bind, value, line))
        return "".join(sets)

    def op_from(self, suffix: str, line: int) -> str:
        m = re.match(r"([\w.]+)\s+import\s+\(?(.*?)\)?\s*\Z", suffix, re.DOTALL)
        if m is None or not _DOTTED.match(m.group(1)) or m.group(2).strip() == "*":
            raise self.error(f"Unsupported import {suffix!r}", line)
        mod = _jinja_string(m.group(1))
        sets = []
        for part in m.group(2).split(","):
            words = part.split()
            if len(words) == 1:
                attr = bind = words[0]
            elif len(words) == 3 and words[1] == "as":
                attr, bind = words[0], words[2]
            else:
                raise self.error(f"Unsupported import {suffix!r}", line)
            if not (_IDENT.match(attr) and _IDENT.match(bind)):
                raise self.error(f"Unsupported import {suffix!r}", line)
            value = f"_tt_from({mod}, " + _jinja_string(attr) + ")"
            sets.append(self.assign(ast.Name(bind), bind, value, line))
        return "".join(sets)

    # try/except/else/finally: each clause becomes a macro, and the closing tag calls
    # ``_tt_try`` with them, which runs the body and the clauses as Python would.
    def op_try(self, suffix: str, line: int) -> str:
        n = next(self.counter)
        self.push("try", line, n=n, handlers=[], orelse=None, final=None, clause="try")
        return "{% macro _tt_try" + str(n) + "() %}"

    def try_clause(self, block: _Block, clause: str, line: int, suffix: str = "") -> str:
        order = {"try": 0, "except": 1, "else": 2, "finally": 3}
        if order[clause] < order[block.data["clause"]] or (
            clause in ("else", "finally") and clause == block.data["clause"]
        ):
            raise self.error(f"{{% {clause} %}} out of order in try block", line)
        if clause == "else" and not block.data["handlers"]:
            raise self.error("{% else %} in try block without {% except %}", line)
        block.data["clause"] = clause
        macro = f"_tt_{clause}{block.data['n']}_{len(block.data['handlers'])}"
        param = ""
        if clause == "except":
            m = re.match(r"(.*?)(?:\s+as\s+([A-Za-z_]\w*))?\s*\Z", suffix, re.DOTALL)
            assert m is not None
            types = self.expr(m.group(1), line) if m.group(1).strip() else "none"
            param = m.group(2) or "_tt_exc"
            block.data["handlers"].append(f"({types}, {macro})")
        elif clause == "else":
            block.data["orelse"] = macro
        else:
            block.data["final"] = macro
        return "{% endmacro %}{% macro " + macro + "(" + param + ") %}"

    def op_except(self, suffix: str, line: int) -> str:
        return self.try_clause(self.top("except", line, ("try",)), "except", line, suffix)

    def op_finally(self, suffix: str, line: int) -> str:
        return self.try_clause(self.top("finally", line, ("try",)), "finally", line)

    def close_try(self, block: _Block, line: int) -> str:
        d = block.data
        if not d["handlers"] and d["final"] is None:
            raise self.error("try block without except or finally", block.line)
        call = (
            f"_tt_try(_tt_try{d['n']}, [{', '.join(d['handlers'])}], "
            f"{d['orelse'] or 'none'}, {d['final'] or 'none'})"
        )
        return "{% endmacro %}{{ " + call + "|_tt_raw }}"

    # Jinja2's own block tags keep working; ``{% end %}`` closes them too.
    def jinja_block(self, op: str, suffix: str, line: int) -> str:
        self.push(op, line)
        return "{% " + op + " " + suffix + " %}"

    def op_macro(self, suffix: str, line: int) -> str:
        return self.jinja_block("macro", suffix, line)

    def op_call(self, suffix: str, line: int) -> str:
        return self.jinja_block("call", suffix, line)

    def op_filter(self, suffix: str, line: int) -> str:
        return self.jinja_block("filter", suffix, line)

    def op_with(self, suffix: str, line: int) -> str:
        return self.jinja_block("with", suffix, line)


# Jinja2's words for what it expected, and Tornado's (see :func:`tornado_terms`).
_JINJA_TERMS = (
    (re.compile(r"Jinja was looking for the following tags: "), "Expected "),
    (re.compile(r"innermost block that needs to be closed is '(\w+)'"), r"open block is {% \1 %}"),
    (re.compile(r"'end(?:if|for|block|macro|call|filter|with|set|autoescape|raw)'"), "{% end %}"),
    (re.compile(r"(tag|Expected|or) '(\w+)'"), r"\1 {% \2 %}"),
    (re.compile(r"'end of print statement'"), "'}}'"),
    (re.compile(r"'end of statement block'"), "'%}'"),
)


def tornado_terms(message: str) -> str:
    """Jinja2's syntax error ``message`` in the words of a Tornado-syntax template:
    ``{% end %}`` where Jinja2 names its ``endif``, tags as they are written.

    >>> tornado_terms("Encountered unknown tag 'else'. Jinja was looking for the "
    ...     "following tags: 'endif'. The innermost block that needs to be closed is 'if'.")
    'Encountered unknown tag {% else %}. Expected {% end %}. The open block is {% if %}.'
    """
    for pattern, replacement in _JINJA_TERMS:
        message = pattern.sub(replacement, message)
    return message


def translate(
    source: str,
    name: str | None = None,
    *,
    autoescape: str | None = "xhtml_escape",
    whitespace: str = "all",
    filters: Collection[str] = (),
    tests: Collection[str] = (),
) -> str:
    """Jinja2 source equivalent to the Tornado-syntax template ``source``.

    ``autoescape`` is the file's default escaping function name (``None`` for none);
    ``whitespace`` its default mode (see :func:`filter_whitespace`); ``filters`` and
    ``tests`` are the Jinja2 filter and test names, so ``x|upper`` and ``x is defined``
    are recognised as Jinja2. Raises :class:`ParseError` naming ``name`` and the line.
    """
    return _Translator(source, name, autoescape, whitespace, filters, tests).run()
