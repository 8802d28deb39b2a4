"""Choosing the WebSocket engine: ``ws=`` on ``HTTPServer`` (so ``Application.listen``),
``tornadish.run``, ``--ws`` and ``websocket_connect`` wins over ``TORNADISH_WS``, which
wins over ``"auto"``; a bad name or a missing ``websockets`` fails at once, saying what
to install."""

from __future__ import annotations

import asyncio
import struct
from typing import Any

import pytest

from tornadish import __main__ as cli
from tornadish._http import engines
from tornadish._http.ws_websockets import WebsocketsSession
from tornadish._http.ws_wsproto import WsprotoSession
from tornadish._runner.run import run
from tornadish.httpserver import HTTPServer
from tornadish.web import Application
from tornadish.websocket import WebSocketHandler, websocket_connect

from .test_websocket_hostile import HANDSHAKE, RawSocket


class Echo(WebSocketHandler):
    def on_message(self, message: str | bytes) -> None:
        self.write_message(message, binary=isinstance(message, bytes))


def app() -> Application:
    return Application([(r"/ws", Echo)])


# A binary frame whose 2-byte payload length is written in the 16-bit form: wsproto
# refuses it (1002), the websockets library takes it — which engine parses shows.
WIDE = bytes([0x82, 0x80 | 126]) + struct.pack("!H", 2) + b"\0\0\0\0" + b"hi"


async def _answer_to_a_wide_frame(port: int) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(HANDSHAKE + b"\r\n" + WIDE)
    await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 3)
    answer = await RawSocket(reader, writer).read_frame()
    writer.close()
    return answer


@pytest.mark.parametrize("ws", ["wsproto", "websockets"])
async def test_the_server_parses_with_the_engine_it_was_given(
    serve: Any, ws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if ws == "websockets":
        pytest.importorskip("websockets")
    # The environment names the other engine: the argument wins.
    monkeypatch.setenv("TORNADISH_WS", "websockets" if ws == "wsproto" else "wsproto")
    srv = await serve(app(), ws=ws)
    assert srv.server.params.ws == ws
    opcode, payload = await _answer_to_a_wide_frame(srv.port)
    if ws == "wsproto":
        assert (opcode, payload[:2]) == (0x8, struct.pack("!H", 1002))
    else:
        assert (opcode, payload) == (0x2, b"hi")


async def test_the_environment_sets_the_default(
    serve: Any, ws_engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    srv = await serve(app())
    assert srv.server.params.ws == ws_engine  # the ws_engine fixture set TORNADISH_WS
    monkeypatch.delenv("TORNADISH_WS")
    expected = "websockets" if engines.installed("websockets") else "wsproto"
    assert HTTPServer(app()).params.ws == expected


@pytest.mark.parametrize("ws", ["wsproto", "websockets"])
async def test_the_client_parses_with_the_engine_it_was_given(serve: Any, ws: str) -> None:
    if ws == "websockets":
        pytest.importorskip("websockets")
    srv = await serve(app())
    conn = await websocket_connect(f"ws://127.0.0.1:{srv.port}/ws", ws=ws)
    assert conn.protocol is not None
    expected = WsprotoSession if ws == "wsproto" else WebsocketsSession
    assert type(conn.protocol._session) is expected
    await conn.write_message(b"\x00" * 70_000, binary=True)
    assert await conn.read_message() == b"\x00" * 70_000
    conn.close()


async def test_a_bad_name_fails_before_anything_runs(serve: Any) -> None:
    with pytest.raises(ValueError, match="ws engine must be one of"):
        HTTPServer(app(), ws="fast")
    with pytest.raises(ValueError, match="ws engine must be one of"):
        run(app(), port=0, ws="fast")
    with pytest.raises(ValueError, match="ws engine must be one of"):
        await websocket_connect("ws://127.0.0.1:1/ws", ws="fast")


async def test_a_missing_websockets_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engines, "installed", lambda package: False)
    with pytest.raises(ImportError, match=r"pip install 'tornadish\[speed\]'"):
        HTTPServer(app(), ws="websockets")
    with pytest.raises(ImportError, match=r"pip install 'tornadish\[speed\]'"):
        run(app(), port=0, ws="websockets")
    assert HTTPServer(app(), ws="auto").params.ws == "wsproto"


def test_the_command_line_takes_ws() -> None:
    args = cli._parser().parse_args(["run", "app:app", "--ws", "wsproto"])
    assert args.ws == "wsproto"
    assert cli._parser().parse_args(["run", "app:app"]).ws is None
    with pytest.raises(SystemExit):
        cli._parser().parse_args(["run", "app:app", "--ws", "fast"])
