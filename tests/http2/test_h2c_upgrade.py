"""``Upgrade: h2c`` on a cleartext HTTP/1.1 connection (RFC 7540 §3.2), on either
HTTP/1.1 engine: a 101, then the request answered as stream 1 and the connection
going on in HTTP/2; declined (and served over HTTP/1.1) for a request with a body,
bad settings, TLS, or a server without http2."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import ssl

import pytest

from tornadish._server.h2_protocol import H2ServerProtocol
from tornadish.httpserver import HTTPServer

from tests.http2.h2client import H2Client
from tests.http2.test_h2_server import make_app


def http1_body(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    raise AssertionError(head)


async def test_upgrade_serves_the_request_as_stream_1(serve, http_engine) -> None:
    srv = await serve(make_app(), http2=True)
    client, head = await H2Client.upgrade(
        srv.port, "GET /hello/up?q=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: a=9\r\n"
    )
    try:
        lines = head.lower().split(b"\r\n")
        assert lines[0].startswith(b"http/1.1 101")
        assert b"upgrade: h2c" in lines and b"connection: upgrade" in lines
        first = client.streams[1]
        await asyncio.wait_for(asyncio.shield(first.ended), 5)
        assert first.status == 200
        data = json.loads(first.body)
        assert data["version"] == "HTTP/2.0" and data["q"] == "1" and data["cookie"] == "9"
        assert data["host"] == "127.0.0.1"
        # The client's settings from HTTP2-Settings were taken; the connection goes on.
        r = await client.request("POST", "/echo", body=b"x" * 100_000)
        assert r.status == 200 and len(r.body) == 100_000
        assert (await client.request("GET", "/hello/again")).status == 200
        # The HTTP/2 connection took the HTTP/1.1 one's place in the server's registry.
        (conn,) = srv.server.connections
        assert isinstance(conn, H2ServerProtocol)
    finally:
        await client.close()


async def test_a_request_with_a_body_is_served_over_http1(serve, http_engine) -> None:
    srv = await serve(make_app(), http2=True)
    body = b"b" * 5000
    client, head = await H2Client.upgrade(
        srv.port,
        f"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n",
        body,
    )
    try:
        assert head.startswith(b"HTTP/1.1 200 "), head
        got = await asyncio.wait_for(client.reader.readexactly(http1_body(head)), 5)
        assert got == body
        assert hashlib.sha256(body).hexdigest().encode() in head  # X-Sha
    finally:
        await client.close()


@pytest.mark.parametrize("settings", ["!!!not base64!!!", "AAMAAABkAAQAAP__AA"])
async def test_bad_settings_decline_the_upgrade(serve, http_engine, settings) -> None:
    srv = await serve(make_app(), http2=True)
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    try:
        writer.write(
            b"GET /hello/bad HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
            b"Upgrade: h2c\r\nHTTP2-Settings: " + settings.encode() + b"\r\n\r\n"
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200 "), head
        body = await asyncio.wait_for(reader.readexactly(http1_body(head)), 5)
        assert json.loads(body)["version"] == "HTTP/1.1"
    finally:
        writer.close()


async def test_without_http2_the_upgrade_header_is_ignored(serve, http_engine) -> None:
    srv = await serve(make_app())
    client, head = await H2Client.upgrade(srv.port, "GET /hello/no HTTP/1.1\r\nHost: x\r\n")
    try:
        assert head.startswith(b"HTTP/1.1 200 "), head
    finally:
        await client.close()


async def test_no_h2c_over_tls(serve, self_signed_cert) -> None:
    certfile, keyfile = self_signed_cert
    srv = await serve(
        make_app(), http2=True, ssl_options={"certfile": certfile, "keyfile": keyfile}
    )
    context = ssl.create_default_context(cafile=certfile)
    context.set_alpn_protocols(["http/1.1"])
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", srv.port, ssl=context, server_hostname="127.0.0.1"
    )
    try:
        writer.write(
            b"GET /hello/tls HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
            b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n"
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200 "), head
    finally:
        writer.close()


async def test_graceful_shutdown_reaches_an_upgraded_connection(io_loop) -> None:
    server = HTTPServer(make_app(), http2=True)
    server.listen(0, "127.0.0.1")
    await server.wait_started()
    assert server.port is not None
    client, head = await H2Client.upgrade(server.port, "GET /hello/x HTTP/1.1\r\nHost: x\r\n")
    try:
        assert head.startswith(b"HTTP/1.1 101 ")
        await asyncio.wait_for(asyncio.shield(client.streams[1].ended), 5)
        await asyncio.wait_for(server.shutdown(grace=5), 5)
        await asyncio.wait_for(asyncio.shield(client.closed), 5)
        assert client.goaway is not None and client.goaway.last_stream_id == 1
    finally:
        await client.close()


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
async def test_curl_http2_upgrades_over_http(serve, http_engine) -> None:
    srv = await serve(make_app(), http2=True)
    proc = await asyncio.create_subprocess_exec(
        "curl",
        "-sS",
        "--http2",
        "-w",
        "\n%{http_version} %{http_code}",
        f"{srv.base_url}/hello/curl",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err
    body, _, status = out.rpartition(b"\n")
    assert status == b"2 200"
    assert json.loads(body)["version"] == "HTTP/2.0"
    # curl asks for the upgrade on a POST too: declined, answered over HTTP/1.1.
    proc = await asyncio.create_subprocess_exec(
        "curl",
        "-sS",
        "--http2",
        "--data-binary",
        "posted",
        "-w",
        "\n%{http_version} %{http_code}",
        f"{srv.base_url}/echo",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err
    assert out == b"posted\n1.1 200"
