"""AsyncHTTPClient over TLS, against tornadish's server with a self-signed certificate
made for the test (by ``openssl``; no third-party package needed)."""

from __future__ import annotations

import logging
import shutil
import ssl
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tornadish.httpclient import AsyncHTTPClient
from tornadish.web import Application, RequestHandler

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


@pytest.fixture(scope="module")
def certificate(self_signed_cert: tuple[str, str]) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 and localhost: (cert path, key path)."""
    return self_signed_cert


class PeerHandler(RequestHandler):
    def get(self) -> None:
        self.finish(f"{self.request.protocol} {self.request.connection.address[1]}")  # type: ignore[union-attr]


@pytest.fixture
def client(io_loop: Any) -> Iterator[AsyncHTTPClient]:
    client = AsyncHTTPClient(force_instance=True)
    yield client
    client.close()


async def start(serve: Any, certificate: tuple[str, str]) -> str:
    cert, key = certificate
    srv = await serve(
        Application([(r"/", PeerHandler)]), ssl_options={"certfile": cert, "keyfile": key}
    )
    return f"https://127.0.0.1:{srv.port}/"


async def test_self_signed_certificate_is_refused_by_default(
    serve: Any, certificate: tuple[str, str], client: AsyncHTTPClient, caplog: Any
) -> None:
    url = await start(serve, certificate)
    caplog.set_level(logging.DEBUG, logger="tornadish.general")
    with pytest.raises(ssl.SSLCertVerificationError):
        await client.fetch(url)
    # Logged as Tornado's client logs it: one WARNING line, no traceback. (The server
    # only sees the connection go: asyncio's TLS does not send the client's alert.)
    lines = [r for r in caplog.records if r.getMessage().startswith("SSL Error on ")]
    assert len(lines) == 1, caplog.text
    assert lines[0].levelname == "WARNING" and lines[0].exc_info is None
    assert "certificate verify failed" in lines[0].getMessage()


async def test_validate_cert_false_accepts_it(
    serve: Any, certificate: tuple[str, str], client: AsyncHTTPClient
) -> None:
    url = await start(serve, certificate)
    response = await client.fetch(url, validate_cert=False)
    assert response.code == 200 and response.body.startswith(b"https ")


async def test_a_response_that_closes_the_connection(
    serve: Any,
    certificate: tuple[str, str],
    client: AsyncHTTPClient,
    loop_factory: Callable[[], Any],
) -> None:
    """``Connection: close``: the server's close_notify comes with the response's last
    bytes; the client reads the response, then closes (not from inside the TLS
    transport's delivery of them, which asyncio refuses)."""
    url = await start(serve, certificate)
    for _ in range(3):
        response = await client.fetch(url, validate_cert=False, headers={"Connection": "close"})
        assert response.code == 200 and response.body.startswith(b"https ")


async def test_ca_certs_verifies_it(
    serve: Any,
    certificate: tuple[str, str],
    client: AsyncHTTPClient,
    loop_factory: Callable[[], Any],
) -> None:
    url = await start(serve, certificate)
    bodies = {(await client.fetch(url, ca_certs=certificate[0])).body for _ in range(5)}
    assert len(bodies) == 1  # one kept-alive TLS connection
    localhost = url.replace("127.0.0.1", "localhost")
    assert (await client.fetch(localhost, ca_certs=certificate[0])).code == 200


async def test_ssl_options_context_and_dict(
    serve: Any, certificate: tuple[str, str], client: AsyncHTTPClient
) -> None:
    url = await start(serve, certificate)
    context = ssl.create_default_context(cafile=certificate[0])
    assert (await client.fetch(url, ssl_options=context)).code == 200
    assert (await client.fetch(url, ssl_options={"ca_certs": certificate[0]})).code == 200
    unchecked = {"cert_reqs": ssl.CERT_NONE}
    assert (await client.fetch(url, ssl_options=unchecked)).code == 200


async def test_connections_with_different_tls_settings_are_not_shared(
    serve: Any, certificate: tuple[str, str], client: AsyncHTTPClient
) -> None:
    url = await start(serve, certificate)
    unverified = (await client.fetch(url, validate_cert=False)).body
    verified = (await client.fetch(url, ca_certs=certificate[0])).body
    assert unverified != verified
    assert (await client.fetch(url, validate_cert=False)).body == unverified


async def test_host_name_is_checked_against_the_certificate(
    serve: Any, certificate: tuple[str, str], io_loop: Any
) -> None:
    url = await start(serve, certificate)
    client = AsyncHTTPClient(force_instance=True, hostname_mapping={"other.test": "127.0.0.1"})
    try:
        with pytest.raises(ssl.SSLCertVerificationError):
            await client.fetch(url.replace("127.0.0.1", "other.test"), ca_certs=certificate[0])
    finally:
        client.close()


async def test_client_defaults_can_turn_verification_off(
    serve: Any, certificate: tuple[str, str], client: AsyncHTTPClient
) -> None:
    url = await start(serve, certificate)
    client.defaults["validate_cert"] = False  # what AsyncHTTPSTestCase does
    assert (await client.fetch(url)).code == 200
