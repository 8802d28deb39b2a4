"""The documentation site builds with warnings as errors, and covers every public module.

``mkdocs build --strict`` fails on a broken link, a page missing from the navigation, or a
docstring the API reference cannot render, so running it here keeps the docs honest as
the code changes. The tools come with the ``test`` (and ``docs``) extras; without them
the build test is skipped and says why.
"""

from __future__ import annotations

import importlib.util
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import tornadish

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python")


def _public_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(tornadish.__path__, "tornadish."):
        parts = info.name.split(".")
        if not any(p.startswith("_") for p in parts[1:]):
            names.append(info.name)
    return sorted(names)


def _missing_tools() -> list[str]:
    missing = []
    for name in TOOLS:
        try:
            found = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            missing.append(name)
    return missing


def test_every_public_module_has_an_api_page_in_the_nav() -> None:
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    undocumented = []
    for name in _public_modules():
        if name == "tornadish.__main__":
            continue
        page = "api/" + name.removeprefix("tornadish.").replace(".", "_") + ".md"
        path = ROOT / "docs" / page
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        if f"::: {name}" not in text or page not in nav:
            undocumented.append(f"{name} (expected docs/{page}, listed in mkdocs.yml)")
    assert not undocumented, undocumented


@pytest.mark.timeout(300)
def test_docs_build_strict(tmp_path: Path) -> None:
    missing = _missing_tools()
    if missing:
        pytest.skip(f"docs tools not installed ({', '.join(missing)}): pip install -e '.[docs]'")
    site = tmp_path / "site"
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # The API reference was really generated from the code, cross-references resolved.
    web = (site / "api" / "web" / "index.html").read_text(encoding="utf-8")
    for anchor in ("tornadish.web.Application", "tornadish.web.RequestHandler.get_argument"):
        assert f'id="{anchor}"' in web, anchor
    assert re.search(r'<a class="autorefs autorefs-internal"[^>]*href="[^"]*#tornadish\.', web)
    # Doctest blocks became code, not paragraphs of ">>>" text.
    assert '<span class="gp">&gt;&gt;&gt; </span>' in web
    guide = (site / "templates" / "index.html").read_text(encoding="utf-8")
    assert "Tornado syntax" in guide
