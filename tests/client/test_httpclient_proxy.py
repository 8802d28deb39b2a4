"""AsyncHTTPClient and websocket_connect through real proxies: tinyproxy for HTTP
(plain forwarding, CONNECT tunnels, Basic proxy authentication) and microsocks for
SOCKS5 (the ``socks`` extra, python-socks), against tornadish servers on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from tornadish.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest, ProxyError
from tornadish.web import Application, RequestHandler
from tornadish.websocket import WebSocketHandler, websocket_connect

from tests.support.proxies import ProxyServer, microsocks, tinyproxy


class Seen(RequestHandler):
    """What reached the server: the request line's target, Via (tinyproxy adds it to
    forwarded requests), the scheme."""

    def get(self) -> None:
        self.write(
            {
                "uri": self.request.uri,
                "via": self.request.headers.get("Via"),
                "proxy_auth": self.request.headers.get("Proxy-Authorization"),
                "protocol": self.request.protocol,
            }
        )


class Echo(WebSocketHandler):
    def on_message(self, message: str | bytes) -> None:
        self.write_message(message)


def make_app() -> Application:
    return Application([(r"/seen", Seen), (r"/ws", Echo)])


@pytest.fixture(scope="module")
def http_proxy() -> Iterator[ProxyServer]:
    with tinyproxy() as proxy:
        yield proxy


@pytest.fixture(scope="module")
def http_proxy_auth() -> Iterator[ProxyServer]:
    with tinyproxy("alice", "s3cret") as proxy:
        yield proxy


@pytest.fixture(scope="module")
def socks_proxy() -> Iterator[ProxyServer]:
    pytest.importorskip("python_socks", reason="SOCKS needs the socks extra (python-socks)")
    with microsocks() as proxy:
        yield proxy


@pytest.fixture(scope="module")
def socks_proxy_auth() -> Iterator[ProxyServer]:
    pytest.importorskip("python_socks", reason="SOCKS needs the socks extra (python-socks)")
    with microsocks("bob", "hunter2") as proxy:
        yield proxy


@pytest.fixture
def client(io_loop: Any) -> Iterator[AsyncHTTPClient]:
    client = AsyncHTTPClient(force_instance=True)
    yield client
    client.close()


@pytest.fixture
def cert(self_signed_cert: tuple[str, str]) -> tuple[str, str]:
    if shutil.which("openssl") is None:
        pytest.skip("needs openssl")
    return self_signed_cert


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _seen(client: AsyncHTTPClient, url: str, **options: Any) -> dict[str, Any]:
    response = await client.fetch(url, **options)
    result: dict[str, Any] = json.loads(response.body)
    return result


async def test_plain_http_is_forwarded_by_an_http_proxy(serve, http_proxy, client) -> None:
    srv = await serve(make_app())
    url = f"http://127.0.0.1:{srv.port}/seen?a=1"
    # Tornado's options...
    seen = await _seen(client, url, proxy_host="127.0.0.1", proxy_port=http_proxy.port)
    assert seen["via"] and "tinyproxy" in seen["via"], seen
    assert seen["uri"] == "/seen?a=1" and seen["protocol"] == "http"
    # ... and the URL form.
    seen = await _seen(client, url, proxy=http_proxy.url)
    assert seen["via"] and "tinyproxy" in seen["via"], seen
    # Without a proxy nothing is in between.
    assert (await _seen(client, url))["via"] is None


async def test_https_goes_through_a_connect_tunnel(serve, http_proxy, client, cert) -> None:
    certfile, keyfile = cert
    srv = await serve(make_app(), ssl_options={"certfile": certfile, "keyfile": keyfile})
    url = f"https://127.0.0.1:{srv.port}/seen"
    seen = await _seen(client, url, proxy=http_proxy.url, ca_certs=certfile)
    # A tunnel: the proxy saw only bytes, so it added nothing; TLS ran end to end.
    assert seen == {"uri": "/seen", "via": None, "proxy_auth": None, "protocol": "https"}
    # (It did go through the proxy: with none listening there, the fetch fails.)
    with pytest.raises(OSError):
        await client.fetch(url, proxy=f"http://127.0.0.1:{_closed_port()}", ca_certs=certfile)
    # The certificate is still checked against the origin's name, inside the tunnel.
    with pytest.raises(Exception, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        await client.fetch(url, proxy=http_proxy.url)


async def test_proxy_credentials(serve, http_proxy_auth, client, cert) -> None:
    srv = await serve(make_app())
    url = f"http://127.0.0.1:{srv.port}/seen"
    good = {"proxy_host": "127.0.0.1", "proxy_port": http_proxy_auth.port}
    seen = await _seen(client, url, proxy_username="alice", proxy_password="s3cret", **good)
    assert "tinyproxy" in (seen["via"] or "")
    assert seen["proxy_auth"] is None  # for the proxy, not passed on to the origin
    assert (await _seen(client, url, proxy=http_proxy_auth.url))["via"]
    # Wrong or missing credentials: the proxy's refusal (tinyproxy says 401 to a
    # forwarded request, 407 to CONNECT) is the response, for a forwarded request...
    with pytest.raises(HTTPClientError) as refused:
        await client.fetch(url, proxy=f"http://alice:wrong@127.0.0.1:{http_proxy_auth.port}")
    assert refused.value.code in (401, 407)
    # ... and a ProxyError carrying it for a tunnel.
    certfile, keyfile = cert
    tls = await serve(make_app(), ssl_options={"certfile": certfile, "keyfile": keyfile})
    tls_url = f"https://127.0.0.1:{tls.port}/seen"
    with pytest.raises(ProxyError) as tunnel_refused:
        await client.fetch(tls_url, ca_certs=certfile, **good)
    assert tunnel_refused.value.code == 407
    seen = await _seen(client, tls_url, ca_certs=certfile, proxy=http_proxy_auth.url)
    assert seen["protocol"] == "https"
    with pytest.raises(ValueError, match="proxy_auth_mode"):
        await client.fetch(url, proxy_auth_mode="digest", proxy_username="a", **good)


async def test_socks5(serve, socks_proxy, socks_proxy_auth, client, cert) -> None:
    srv = await serve(make_app())
    url = f"http://127.0.0.1:{srv.port}/seen"
    for proxy in (socks_proxy.url, socks_proxy.url.replace("socks5", "socks5h")):
        seen = await _seen(client, url, proxy=proxy)
        # SOCKS relays bytes: an origin-form request, nothing added.
        assert seen == {"uri": "/seen", "via": None, "proxy_auth": None, "protocol": "http"}
    assert (await _seen(client, url, proxy=socks_proxy_auth.url))["uri"] == "/seen"
    with pytest.raises(ProxyError):
        await client.fetch(url, proxy=f"socks5://bob:nope@127.0.0.1:{socks_proxy_auth.port}")
    certfile, keyfile = cert
    tls = await serve(make_app(), ssl_options={"certfile": certfile, "keyfile": keyfile})
    seen = await _seen(
        client, f"https://127.0.0.1:{tls.port}/seen", proxy=socks_proxy.url, ca_certs=certfile
    )
    assert seen["protocol"] == "https"
    with pytest.raises(OSError):
        await client.fetch(url, proxy=f"socks5://127.0.0.1:{_closed_port()}")


async def test_environment_proxies_and_no_proxy(
    serve, http_proxy, client, monkeypatch: pytest.MonkeyPatch
) -> None:
    srv = await serve(make_app())
    url = f"http://127.0.0.1:{srv.port}/seen"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("HTTP_PROXY", http_proxy.url)
    # Only with trust_env: the environment is not read otherwise (Tornado never reads it).
    assert (await _seen(client, url))["via"] is None
    assert "tinyproxy" in (await _seen(client, url, trust_env=True))["via"]
    env_client = AsyncHTTPClient(force_instance=True, defaults={"trust_env": True})
    try:
        assert "tinyproxy" in (await _seen(env_client, url))["via"]
        # NO_PROXY names hosts reached directly.
        monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
        assert (await _seen(env_client, url))["via"] is None
        monkeypatch.setenv("NO_PROXY", "example.com")
        assert (await _seen(env_client, url))["via"]
    finally:
        env_client.close()


@pytest.mark.parametrize("secure", [False, True], ids=["ws", "wss"])
async def test_websocket_through_an_http_proxy(serve, http_proxy, cert, secure) -> None:
    certfile, keyfile = cert
    options: dict[str, Any] = {}
    if secure:
        options["ssl_options"] = {"certfile": certfile, "keyfile": keyfile}
    srv = await serve(make_app(), **options)
    scheme = "wss" if secure else "ws"
    request = HTTPRequest(
        f"{scheme}://127.0.0.1:{srv.port}/ws",
        proxy_host="127.0.0.1",
        proxy_port=http_proxy.port,
        ca_certs=certfile if secure else None,
    )
    conn = await websocket_connect(request)
    try:
        await conn.write_message("through the tunnel")
        assert await conn.read_message() == "through the tunnel"
    finally:
        conn.close()
    request.proxy_port = _closed_port()
    with pytest.raises(OSError):
        await websocket_connect(request)


async def test_a_refused_tunnel_is_a_proxy_error_naming_the_status(serve, client) -> None:
    # A server that is no proxy answers CONNECT with an error: reported as such.
    srv = await serve(make_app())
    with pytest.raises(ProxyError) as refused:
        await client.fetch(
            "https://127.0.0.1:1/", proxy=f"http://127.0.0.1:{srv.port}", request_timeout=5
        )
    assert refused.value.code == 405 or refused.value.code == 404, refused.value
