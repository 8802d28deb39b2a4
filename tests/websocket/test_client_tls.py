"""``websocket_connect`` over TLS takes its context from the same place as the HTTP
client: a self-signed certificate is refused by default and trusted through
``ca_certs`` or an ``ssl_options`` dict, as ``AsyncHTTPClient.fetch`` does."""

from __future__ import annotations

import ssl
from typing import Any

import pytest

from tornadish.httpclient import HTTPRequest
from tornadish.web import Application
from tornadish.websocket import WebSocketHandler, websocket_connect


class Echo(WebSocketHandler):
    def on_message(self, message: str | bytes) -> None:
        self.write_message(message)


async def start(serve: Any, certificate: tuple[str, str]) -> str:
    cert, key = certificate
    srv = await serve(Application([(r"/ws", Echo)]), ssl_options={"certfile": cert, "keyfile": key})
    return f"wss://127.0.0.1:{srv.port}/ws"


async def echo(target: Any) -> Any:
    conn = await websocket_connect(target)
    await conn.write_message("secure")
    message = await conn.read_message()
    conn.close()
    return message


async def test_self_signed_certificate_is_refused_by_default(
    serve: Any, self_signed_cert: tuple[str, str]
) -> None:
    url = await start(serve, self_signed_cert)
    with pytest.raises(ssl.SSLCertVerificationError):
        await websocket_connect(url)
    # An HTTPRequest that leaves validate_cert unset still checks.
    with pytest.raises(ssl.SSLCertVerificationError):
        await websocket_connect(HTTPRequest(url))


async def test_ca_certs_and_ssl_options_dict_trust_it(
    serve: Any, self_signed_cert: tuple[str, str]
) -> None:
    url = await start(serve, self_signed_cert)
    cert = self_signed_cert[0]
    assert await echo(HTTPRequest(url, ca_certs=cert)) == "secure"
    assert await echo(HTTPRequest(url, ssl_options={"ca_certs": cert})) == "secure"
    unchecked = {"cert_reqs": ssl.CERT_NONE}
    assert await echo(HTTPRequest(url, ssl_options=unchecked)) == "secure"
    context = ssl.create_default_context(cafile=cert)
    assert await echo(HTTPRequest(url, ssl_options=context)) == "secure"
