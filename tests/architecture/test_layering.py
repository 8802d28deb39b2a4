"""The package's shape, as ``docs/architecture.md`` draws it, checked on every run.

Layers, bottom up (a module may import its own layer and those below, never above):

0. foundation — Tornado's modules that know nothing of HTTP, flat under their names:
   ``escape util log concurrent ioloop gen netutil autoreload options locale locks
   queues``, and ``_ioloop_fds`` (the file-descriptor half of ``ioloop``)
1. ``_http/``   — protocol, pure: headers, parsing, the h11 session, the connection contract
2. ``_io/``     — asyncio glue every role shares: flow control, the WebSocket connection,
   worker processes and ``Subprocess`` (so ``process`` is a face: ``Subprocess`` needs
   ``PipeIOStream``)
3. ``_server/ _client/ _asgi/ _template/ _pubsub/`` — glue per role, the template
   engine, and publish/subscribe across processes; these peers never import one another
4. ``_web/``    — the web core: application, handler, security, static files, ...
5. face — the other public modules (``web``, ``websocket``, ``httpserver``, ...),
   ``_runner/``, ``_auth/`` (what ``auth`` is built of) and ``__main__``

Every import counts for the direction, even one under ``if TYPE_CHECKING:`` or inside a
function. Cycles are looked for among the imports that run (module level or inside a
function); a type-only back reference is no cycle. The one cycle allowed is the one
Tornado's API forces: ``gen`` <-> ``ioloop``. ``tornadish/__init__.py`` is the package's
namespace: its lazy attributes may name anything, and anything may import ``tornadish``
itself (for ``version``).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "tornadish"

FOUNDATION = frozenset(
    "escape util log concurrent ioloop gen netutil autoreload options locale "  # noqa: SIM905
    "locks queues _ioloop_fds".split()
)
FOLDER_RANK = {
    "_http": 1,
    "_io": 2,
    "_server": 3,
    "_client": 3,
    "_asgi": 3,
    "_template": 3,
    "_pubsub": 3,
    "_web": 4,
    "_runner": 5,
    "_auth": 5,
}
FACE = 5
ALLOWED_CYCLES = [frozenset({"tornadish.gen", "tornadish.ioloop"})]
MAX_LINES = 800


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int
    runtime: bool  # False under ``if TYPE_CHECKING:``


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(module: str, path: Path) -> Iterator[Import]:
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def resolve(node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        base = package.split(".")
        base = base[: len(base) - node.level + 1]
        return ".".join(base + ([node.module] if node.module else []))

    def visit(nodes: list[ast.stmt], runtime: bool) -> Iterator[Import]:
        for node in nodes:
            if isinstance(node, ast.If) and _is_type_checking(node.test):
                yield from visit(node.body, False)
                yield from visit(node.orelse, runtime)
                continue
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("tornadish"):
                        yield Import(module, alias.name, node.lineno, runtime)
            elif isinstance(node, ast.ImportFrom):
                target = resolve(node)
                if not target.startswith("tornadish"):
                    continue
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    # ``from tornadish._http import h11_session`` imports the submodule.
                    yield Import(module, sub if sub in MODULES else target, node.lineno, runtime)
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    yield from visit([child], runtime)

    yield from visit(tree.body, True)


IMPORTS = [imp for module, path in MODULES.items() for imp in _imports(module, path)]


def rank(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1:
        return 0  # the package itself (``version``); see the module docstring
    head = parts[1]
    if head in FOUNDATION:
        return 0
    return FOLDER_RANK.get(head, FACE)


def _folder(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_private_module_lives_in_a_layer_folder() -> None:
    """The folder tree shows the layers: no private module loose at the top (but the
    foundation's own helpers, listed in FOUNDATION)."""
    loose = [m for m in MODULES if m.count(".") == 1 and _folder(m).startswith("_")]
    loose = [m for m in loose if _folder(m) not in FOLDER_RANK and m != "tornadish.__main__"]
    loose = [m for m in loose if _folder(m) not in FOUNDATION]
    assert loose == []


def test_imports_only_point_down() -> None:
    upward = [
        f"{imp.source}:{imp.line} imports {imp.target} (layer {rank(imp.target)} > "
        f"{rank(imp.source)})"
        for imp in IMPORTS
        if imp.source != "tornadish" and rank(imp.target) > rank(imp.source)
    ]
    assert upward == []


def test_glue_peers_do_not_import_one_another() -> None:
    peers = {name for name, r in FOLDER_RANK.items() if r == 3}
    crossing = [
        f"{imp.source}:{imp.line} imports {imp.target}"
        for imp in IMPORTS
        if _folder(imp.source) in peers
        and _folder(imp.target) in peers
        and _folder(imp.source) != _folder(imp.target)
    ]
    assert crossing == []


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative-free (the graph is small)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return found


def test_no_import_cycles() -> None:
    graph: dict[str, set[str]] = {}
    for imp in IMPORTS:
        if imp.runtime and imp.source != "tornadish" and imp.target != "tornadish":
            if imp.target != imp.source and imp.target in MODULES:
                graph.setdefault(imp.source, set()).add(imp.target)
    cycles = [sorted(c) for c in _strongly_connected(graph) if frozenset(c) not in ALLOWED_CYCLES]
    assert cycles == []


def test_the_layering_check_sees_a_violation() -> None:
    """The checks above are only worth something if they can fail."""
    assert rank("tornadish.web") > rank("tornadish._web.handler") > rank("tornadish._http.parse")
    fake = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _strongly_connected(fake) == [{"a", "b", "c"}]
    source = "if TYPE_CHECKING:\n    from tornadish.web import X\nfrom tornadish import gen\n"
    path = PACKAGE.parent / "build" / "layering_probe.py"
    path.parent.mkdir(exist_ok=True)
    path.write_text(source)
    try:
        found = list(_imports("tornadish._http.probe", path))
    finally:
        path.unlink()
    assert [(i.target, i.runtime) for i in found] == [
        ("tornadish.web", False),
        ("tornadish.gen", True),
    ]


def test_no_module_is_longer_than_800_lines() -> None:
    long = {m: n for m, p in MODULES.items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_each_module_imports_on_its_own(module: str) -> None:
    """As aiohttp checks: any module imported first, in a fresh interpreter, works."""
    if module == "tornadish.__main__":
        pytest.skip("running it is the CLI; tests/runner/test_run.py covers it")
    subprocess.run(
        [sys.executable, "-W", "error::ImportWarning", "-c", f"import {module}"],
        check=True,
        timeout=60,
    )
