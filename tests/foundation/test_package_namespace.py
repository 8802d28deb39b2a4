"""``import tornadish`` reaches every public module, as ``import tornado`` does (6.3+)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import tornadish


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout.strip()


def test_importing_the_package_imports_no_submodule() -> None:
    out = _run(
        "import sys, tornadish; print(sorted(m for m in sys.modules if m.startswith('tornadish.')))"
    )
    assert out == "[]"


def test_tornado_hello_world_runs_with_only_the_name_changed() -> None:
    # Tornado's own hello world since 6.3, with ``tornado`` -> ``tornadish``.
    code = (
        "import asyncio\n"
        "import tornadish\n"
        "class MainHandler(tornadish.web.RequestHandler):\n"
        "    def get(self):\n"
        "        self.write('Hello, world')\n"
        "def make_app():\n"
        "    return tornadish.web.Application([(r'/', MainHandler)])\n"
        "async def main():\n"
        "    app = make_app()\n"
        "    server = app.listen(0, '127.0.0.1')\n"
        "    port = server.port\n"
        "    client = tornadish.httpclient.AsyncHTTPClient()\n"
        "    response = await client.fetch(f'http://127.0.0.1:{port}/')\n"
        "    print(response.body.decode())\n"
        "    server.stop()\n"
        "asyncio.run(main())\n"
    )
    assert _run(code) == "Hello, world"


@pytest.mark.parametrize("name", tornadish.SUBMODULES)
def test_each_public_module_is_an_attribute(name: str) -> None:
    module = getattr(tornadish, name)
    assert module.__name__ == f"tornadish.{name}"
    assert name in dir(tornadish)


def test_unknown_attributes_still_raise() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nonesuch'"):
        tornadish.nonesuch  # noqa: B018


def test_all_names_submodules_that_import_without_touching_an_event_loop() -> None:
    # Tornado's contract for ``__all__``: each entry is ``tornadish.<name>``, importable
    # with no default event loop (asyncio.set_event_loop(None) makes any use an error).
    code = (
        "import asyncio, importlib, warnings\n"
        "with warnings.catch_warnings():\n"
        "    warnings.simplefilter('ignore', DeprecationWarning)\n"
        "    asyncio.set_event_loop(None)\n"
        "import tornadish\n"
        "for name in tornadish.__all__:\n"
        "    importlib.import_module('tornadish.' + name)\n"
        "print('ok')\n"
    )
    assert _run(code) == "ok"


def test_helpers_and_version_beside_the_submodules() -> None:
    assert {"run", "serve"} <= set(dir(tornadish))
    assert callable(tornadish.run) and callable(tornadish.serve)
    assert isinstance(tornadish.version, str) and tornadish.version_info[:3] >= (0, 1, 0)
    assert not {"run", "serve", "version", "version_info"} & set(tornadish.__all__)
