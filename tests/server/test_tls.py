"""HTTPServer over TLS: ``ssl_options`` as a dict or an SSLContext, and a bad key."""

from __future__ import annotations

import asyncio
import json
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


async def test_failed_handshake_is_logged_as_tornado_logs_it(serve, cert, caplog) -> None:
    # asyncio's own ssl= drops a failed handshake silently; tornadish logs it as Tornado
    # does ("SSL Error on <fd> <peer>: ..."), at WARNING and without a traceback.
    certfile, keyfile = cert
    srv = await serve(app(), ssl_options={"certfile": certfile, "keyfile": keyfile})
    conn = await RawConn.open(srv.port)
    conn.send(request())  # plain HTTP on the TLS port
    assert await conn.read_until_eof(timeout=2) == b""
    conn.close()
    records = [r for r in caplog.records if r.getMessage().startswith("SSL Error on ")]
    assert len(records) == 1, caplog.text
    assert records[0].levelname == "WARNING" and records[0].exc_info is None
    assert "127.0.0.1" in records[0].getMessage()


async def test_abandoned_handshake_is_not_a_warning(serve, cert, caplog) -> None:
    # A port scanner or a client that gives up is noise at scale: DEBUG only.
    certfile, keyfile = cert
    srv = await serve(app(), ssl_options={"certfile": certfile, "keyfile": keyfile})
    conn = await RawConn.open(srv.port)
    conn.close()
    client_ctx = ssl.create_default_context(cafile=certfile)
    async with httpx.AsyncClient(verify=client_ctx) as client:
        assert (await client.get(f"https://127.0.0.1:{srv.port}/")).text == "Hello"
    assert not [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")], caplog.text


async def test_request_in_the_handshakes_last_flight_is_served(serve, cert) -> None:
    # The client's Finished and its first request can arrive in one read; the request
    # must reach the HTTP protocol after connection_made, not be lost or misattributed.
    certfile, keyfile = cert
    srv = await serve(app(), ssl_options={"certfile": certfile, "keyfile": keyfile})
    client_ctx = ssl.create_default_context(cafile=certfile)
    for _ in range(20):
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", srv.port, ssl=client_ctx, server_hostname="localhost"
        )
        writer.write(b"GET /info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = await asyncio.wait_for(reader.read(), 3)
        writer.close()
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), data
        info = json.loads(body)
        assert info["protocol"] == "https" and info["remote_ip"] == "127.0.0.1", info


async def test_shutdown_cancels_handshakes_in_flight(serve, cert) -> None:
    certfile, keyfile = cert
    srv = await serve(app(), ssl_options={"certfile": certfile, "keyfile": keyfile})
    conn = await RawConn.open(srv.port)  # connects, never says hello
    for _ in range(50):
        if srv.server._handshakes:
            break
        await asyncio.sleep(0.01)
    assert srv.server._handshakes
    await asyncio.wait_for(srv.server.shutdown(grace=1), 5)
    assert await conn.read_until_eof(timeout=2) == b""
    assert not srv.server._handshakes
    conn.close()
