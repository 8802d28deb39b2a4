"""HTTPServer over TLS: ``ssl_options`` as a dict or an SSLContext, and a bad key."""

from __future__ import annotations

import ssl

import httpx
import pytest

from tornadish.httpserver import HTTPServer

from tests.support.rawhttp import RawConn, request
from tests.support.server_app import app


@pytest.fixture(scope="module")
def cert(self_signed_cert: tuple[str, str]) -> tuple[str, str]:
    return self_signed_cert


@pytest.mark.parametrize("as_context", [False, True], ids=["dict", "SSLContext"])
async def test_ssl_options(serve, cert, loop_factory, as_context) -> None:
    certfile, keyfile = cert
    if as_context:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certfile, keyfile)
        srv = await serve(app(), ssl_options=ctx)
    else:
        srv = await serve(app(), ssl_options={"certfile": certfile, "keyfile": keyfile})
    client_ctx = ssl.create_default_context(cafile=certfile)
    url = f"https://127.0.0.1:{srv.port}"
    async with httpx.AsyncClient(verify=client_ctx) as client:
        infos = [(await client.get(url + "/info")).json() for _ in range(2)]
        r = await client.post(url + "/echo", content=b"secret" * 1000)
    assert infos[0]["protocol"] == "https"
    assert infos[0]["conn"] == infos[1]["conn"]  # keep-alive over TLS
    assert r.content == b"secret" * 1000
    # A plain-HTTP client on the TLS port gets nothing useful and the server lives on.
    conn = await RawConn.open(srv.port)
    conn.send(request())
    await conn.read_until_eof(timeout=2)
    conn.close()
    async with httpx.AsyncClient(verify=False) as client:
        assert (await client.get(url + "/")).text == "Hello"


async def test_ssl_options_bad_key_raises(cert) -> None:
    with pytest.raises(ValueError):
        HTTPServer(app(), ssl_options={"certfile": cert[0], "bogus": 1})
