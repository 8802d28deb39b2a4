"""``request.get_ssl_certificate()`` over a real TLS socket: the client's certificate,
read through the connection contract (``get_extra_info("ssl_object")``)."""

from __future__ import annotations

import ssl
from typing import Any

import httpx
import pytest

from tornadish.web import Application, RequestHandler


class CertHandler(RequestHandler):
    def get(self) -> None:
        cert = self.request.get_ssl_certificate()
        der = self.request.get_ssl_certificate(binary_form=True)
        subject = dict(pair[0] for pair in cert["subject"]) if cert else None
        self.write({"subject": subject, "der": len(der) if der else 0})


@pytest.fixture(scope="module")
def cert(self_signed_cert: tuple[str, str]) -> tuple[str, str]:
    return self_signed_cert


async def test_client_certificate_reaches_the_handler(serve: Any, cert: tuple[str, str]) -> None:
    certfile, keyfile = cert
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(certfile, keyfile)
    server_ctx.verify_mode = ssl.CERT_OPTIONAL
    server_ctx.load_verify_locations(certfile)  # the client presents the same self-signed cert
    srv = await serve(Application([(r"/", CertHandler)]), ssl_options=server_ctx)
    url = f"https://127.0.0.1:{srv.port}/"

    with_cert = ssl.create_default_context(cafile=certfile)
    with_cert.load_cert_chain(certfile, keyfile)
    async with httpx.AsyncClient(verify=with_cert) as client:
        answer = (await client.get(url)).json()
    assert answer["subject"] == {"commonName": "127.0.0.1"}
    assert answer["der"] > 0

    without = ssl.create_default_context(cafile=certfile)
    async with httpx.AsyncClient(verify=without) as client:
        assert (await client.get(url)).json() == {"subject": None, "der": 0}


async def test_no_certificate_over_plain_http(serve: Any) -> None:
    srv = await serve(Application([(r"/", CertHandler)]))
    async with httpx.AsyncClient() as client:
        answer = (await client.get(f"http://127.0.0.1:{srv.port}/")).json()
    assert answer == {"subject": None, "der": 0}
