"""Every code example of the documentation runs against tornadish as it is.

The guide pages (``docs/*.md``) mark each fenced ``python`` block with an HTML comment
right after it (invisible on the site):

- ``<!-- check ... -->``: the block is run as a module (``__name__`` is not
  ``"__main__"``, so ``if __name__ == "__main__":`` parts that would serve forever are
  skipped), then the comment's body runs as the body of an ``async def`` in the block's
  namespace. When the body uses ``fetch``, ``base_url`` or ``ws_connect``, the block's
  ``app`` (or ``make_app()``) is served on 127.0.0.1 for it: ``await fetch(path, **kw)``
  returns the response (error statuses too), ``ws_connect(path)`` opens a WebSocket.
- ``<!-- not-run: reason -->``: the block is only compiled (it needs a network service,
  an OAuth provider, or runs forever).

Blocks run in a temporary directory into which every fenced block of the page that has
a ``title="path"`` (a template, a CSV file) has been written first. The docstring
examples (``>>>``) of the tornadish modules run as doctests.
"""

from __future__ import annotations

import asyncio
import doctest
import importlib
import pkgutil
import re
import sys
import textwrap
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import tornadish

DOCS = Path(__file__).resolve().parents[2] / "docs"
_FENCE = re.compile(r"^(?P<indent> *)(?P<ticks>`{3,})(?P<info>.*)$")
_TITLE = re.compile(r'title="([^"]+)"')
_MARKER = re.compile(r"^\s*<!--\s*(check|not-run:)(.*?)-->", re.DOTALL)
_SERVER_NAMES = re.compile(r"\b(fetch|base_url|ws_connect)\b")
CHECK_TIMEOUT = 30.0


@dataclass
class Block:
    page: str
    line: int
    lang: str
    title: str | None
    code: str
    marker: str | None = None  # "check" or "not-run:"
    body: str = ""

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def parse_page(path: Path) -> list[Block]:
    """The fenced blocks of a Markdown page, each with the marker comment after it."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        indent, ticks, info = m.group("indent"), m.group("ticks"), m.group("info").strip()
        start = i + 1
        j = start
        while j < len(lines) and lines[j].strip() != ticks:
            j += 1
        code = textwrap.dedent("\n".join(line[len(indent) :] for line in lines[start:j]))
        lang = info.split()[0].lstrip("{.") if info else ""
        title = _TITLE.search(info)
        block = Block(path.name, start, lang, title.group(1) if title else None, code + "\n")
        rest = "\n".join(lines[j + 1 :]).lstrip("\n")
        marker = _MARKER.match(rest)
        if marker is not None:
            block.marker = marker.group(1)
            block.body = textwrap.dedent(marker.group(2)).strip("\n")
        blocks.append(block)
        i = j + 1
    return blocks


def _pages() -> list[Path]:
    return sorted(DOCS.glob("*.md"))


def _python_blocks() -> Iterator[Block]:
    for page in _pages():
        for block in parse_page(page):
            if block.lang in ("python", "py"):
                yield block


def _runnable() -> list[Any]:
    return [pytest.param(b, id=b.id) for b in _python_blocks() if b.marker == "check"]


def test_the_guide_has_pages() -> None:
    names = {p.name for p in _pages()}
    assert {"index.md", "handlers.md", "templates.md", "migrating.md"} <= names


def test_every_python_block_is_checked_or_says_why_not() -> None:
    unmarked = [b.id for b in _python_blocks() if b.marker is None]
    assert not unmarked, f"python blocks without <!-- check --> or <!-- not-run: -->: {unmarked}"


def test_unrun_blocks_say_why_and_compile() -> None:
    for block in _python_blocks():
        if block.marker == "not-run:":
            assert block.body, f"{block.id}: not-run needs a reason"
            compile(block.code, block.id, "exec")


def _write_page_files(page: str, into: Path) -> None:
    for block in parse_page(DOCS / page):
        if block.title is not None and block.lang not in ("python", "py"):
            target = into / block.title
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.code, encoding="utf-8")


class _Served:
    """The example's application on a free port, with the helpers a check uses."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        app = namespace.get("app")
        if app is None and "make_app" in namespace:
            app = namespace["make_app"]()
        if app is None:
            raise AssertionError("a check that fetches needs an `app` or `make_app`")
        self.app = app
        self.clients: list[Any] = []

    async def __aenter__(self) -> dict[str, Any]:
        from tornadish.httpclient import AsyncHTTPClient
        from tornadish.websocket import websocket_connect

        self._serve = tornadish.serve(self.app, port=0, address="127.0.0.1", grace=5)
        server = await self._serve.__aenter__()
        base_url = f"http://127.0.0.1:{server.port}"
        client = AsyncHTTPClient(force_instance=True)
        self.http_client = client

        async def fetch(path: str, raise_error: bool = False, **kwargs: Any) -> Any:
            return await client.fetch(base_url + path, raise_error=raise_error, **kwargs)

        async def ws_connect(path: str, **kwargs: Any) -> Any:
            conn = await websocket_connect("ws" + base_url[4:] + path, **kwargs)
            self.clients.append(conn)
            return conn

        return {"fetch": fetch, "base_url": base_url, "ws_connect": ws_connect}

    async def __aexit__(self, *exc: object) -> None:
        for conn in self.clients:
            conn.close()
        self.http_client.close()
        await self._serve.__aexit__(None, None, None)


def _failing_line(e: BaseException, block: Block) -> str:
    """The line of the check (or of the example) an exception came from, for the report."""
    import traceback

    for frame in reversed(traceback.extract_tb(e.__traceback__)):
        if frame.filename.startswith(block.id):
            source = block.body if frame.filename.endswith("(check)") else block.code
            lines = source.splitlines()
            at = frame.lineno or 0
            lineno = at - 1 if frame.filename.endswith("(check)") else at
            text = lines[lineno - 1] if 0 < lineno <= len(lines) else "?"
            return f"{type(e).__name__}: {e} at {frame.filename} line {lineno}: {text.strip()}"
    return f"{type(e).__name__}: {e}"


def _run_check(block: Block, namespace: dict[str, Any]) -> None:
    source = "async def __docs_check__():\n" + textwrap.indent(block.body or "pass", "    ")
    exec(compile(source, f"{block.id} (check)", "exec"), namespace)
    check: Callable[[], Any] = namespace["__docs_check__"]

    async def main() -> None:
        if _SERVER_NAMES.search(block.body):
            async with _Served(namespace) as helpers:
                namespace.update(helpers)
                await asyncio.wait_for(check(), CHECK_TIMEOUT)
        else:
            await asyncio.wait_for(check(), CHECK_TIMEOUT)

    loop = asyncio.new_event_loop()
    try:
        try:
            loop.run_until_complete(main())
        except Exception as e:
            raise AssertionError(f"{block.id}: {_failing_line(e, block)}") from e
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        asyncio.set_event_loop(None)
        loop.close()


@pytest.fixture
def restore_module_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Examples may load translations (module state, as Tornado's API has it): undo."""
    from tornadish import locale

    for name in ("_default_locale", "_translations", "_supported_locales", "_use_gettext"):
        monkeypatch.setattr(locale, name, getattr(locale, name))
    cache = dict(locale.Locale._cache)
    yield
    locale.Locale._cache.clear()
    locale.Locale._cache.update(cache)


@pytest.mark.parametrize("block", _runnable())
@pytest.mark.usefixtures("restore_module_state")
def test_docs_example_runs(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_page_files(block.page, tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = types.ModuleType("docs_example")
    module.__file__ = str(tmp_path / "docs_example.py")
    monkeypatch.setitem(sys.modules, "docs_example", module)
    namespace = module.__dict__
    namespace["__docs_source__"] = block.code  # for checks that run the example elsewhere
    exec(compile(block.code, block.id, "exec"), namespace)
    _run_check(block, namespace)


# -- the docstrings ----------------------------------------------------------------


def _modules() -> list[str]:
    names = ["tornadish"]
    for info in pkgutil.walk_packages(tornadish.__path__, "tornadish."):
        if info.name != "tornadish.__main__":
            names.append(info.name)
    return names


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in finder.find(module, name, globs=dict(vars(module))):
        runner.run(test)
    results = runner.summarize(verbose=False)
    assert results.failed == 0, f"{results.failed} docstring example(s) of {name} failed"
