"""HTTPServer(http2=True) with real HTTP/2 clients: curl (nghttp2) by prior knowledge
and by ALPN over TLS, nghttp (prior knowledge, Upgrade: h2c, TLS, uploads, many
streams) and h2load for load (Debian's nghttp2-client, installed when
running as root)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import shutil
import subprocess

import pytest

from tests.http2.test_h2_server import make_app

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")


async def _curl(*args: str) -> tuple[int, bytes, bytes]:
    proc = await asyncio.create_subprocess_exec(
        "curl", "-sS", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    return proc.returncode or 0, out, err


async def test_curl_prior_knowledge(serve, tmp_path) -> None:
    srv = await serve(make_app(), http2=True)
    rc, out, err = await _curl("-i", "--http2-prior-knowledge", f"{srv.base_url}/hello/curl?q=2")
    assert rc == 0, err
    assert out.startswith(b"HTTP/2 200"), out[:200]
    assert b'"q": "2"' in out and b'"version": "HTTP/2.0"' in out
    body = os.urandom(300_000)
    (tmp_path / "body").write_bytes(body)
    rc, out, err = await _curl(
        "--http2-prior-knowledge",
        "-H",
        "Content-Type: application/octet-stream",
        "--data-binary",
        f"@{tmp_path / 'body'}",
        f"{srv.base_url}/echo",
    )
    assert rc == 0, err
    assert hashlib.sha256(out).digest() == hashlib.sha256(body).digest()
    rc, out, err = await _curl("--http2-prior-knowledge", f"{srv.base_url}/big?n={1 << 20}")
    assert rc == 0 and len(out) == 1 << 20, err


async def test_curl_http2_over_tls_by_alpn(serve, self_signed_cert) -> None:
    certfile, keyfile = self_signed_cert
    srv = await serve(
        make_app(), http2=True, ssl_options={"certfile": certfile, "keyfile": keyfile}
    )
    url = f"https://127.0.0.1:{srv.port}/hello/tls"
    rc, out, err = await _curl("-i", "--http2", "--cacert", certfile, url)
    assert rc == 0, err
    assert out.startswith(b"HTTP/2 200"), out[:200]
    assert b'"protocol": "https"' in out
    # A client that does not offer h2 is served HTTP/1.1 on the same port.
    rc, out, err = await _curl("-i", "--http1.1", "--cacert", certfile, url)
    assert rc == 0, err
    assert out.startswith(b"HTTP/1.1 200"), out[:200]


def _h2load() -> str:
    found = shutil.which("h2load")
    if found:
        return found
    if os.geteuid() != 0:
        pytest.skip("h2load not installed (Debian package nghttp2-client; needs root to install)")
    try:
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "nghttp2-client"],
            check=True,
            capture_output=True,
            timeout=300,
        )
    except (subprocess.SubprocessError, OSError) as e:
        pytest.skip(f"could not install nghttp2-client: {e}")
    found = shutil.which("h2load")
    if not found:
        pytest.skip("nghttp2-client installed no h2load")
    return found


@pytest.fixture(scope="module")
def h2load() -> str:
    return _h2load()


@pytest.mark.timeout_async(150)
async def test_h2load_5000_requests_none_failed(serve, h2load) -> None:
    srv = await serve(make_app(), http2=True)
    proc = await asyncio.create_subprocess_exec(
        h2load,
        "-n",
        "5000",
        "-c",
        "10",
        "-m",
        "10",
        f"{srv.base_url}/hello/load",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    text = out.decode()
    match = re.search(
        r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
        r"(\d+) failed, (\d+) errored",
        text,
    )
    assert match, text
    total, _started, done, succeeded, failed, errored = map(int, match.groups())
    assert (total, done, succeeded, failed, errored) == (5000, 5000, 5000, 0, 0), text
    assert "status codes: 5000 2xx" in text, text


@pytest.mark.timeout_async(60)
async def test_a_timed_h2load_run_ends_without_errors_in_the_log(serve, h2load, caplog) -> None:
    # At the end of a timed run h2load sends GOAWAY with requests still in flight:
    # their answers are dropped quietly (and nothing is written to closing sockets,
    # which asyncio would warn about).
    srv = await serve(make_app(), http2=True)
    proc = await asyncio.create_subprocess_exec(
        h2load,
        *("-D", "1", "-c", "10", "-m", "10"),
        f"{srv.base_url}/sleep?t=0.005&n=1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, out.decode()
    await asyncio.sleep(0.2)  # the handlers in flight finish
    noisy = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert noisy == []


@pytest.fixture(scope="module")
def nghttp() -> str:
    found = shutil.which("nghttp")
    if found is None:
        _h2load()  # the same Debian package (nghttp2-client) brings nghttp
        found = shutil.which("nghttp")
    if found is None:
        pytest.skip("nghttp2-client installed no nghttp")
    return found


async def _nghttp(nghttp: str, *args: str) -> tuple[int, str, bytes]:
    proc = await asyncio.create_subprocess_exec(
        nghttp, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, err.decode(errors="replace"), out


async def test_nghttp_prior_knowledge_upgrade_and_tls(serve, nghttp, self_signed_cert) -> None:
    srv = await serve(make_app(), http2=True)
    # Prior knowledge (nghttp's default for http://): the frames as nghttp saw them.
    rc, err, out = await _nghttp(nghttp, "-v", f"{srv.base_url}/hello/ng")
    assert rc == 0, err
    text = out.decode()
    assert ":status: 200" in text and "recv SETTINGS frame" in text, text[-2000:]
    assert '"version": "HTTP/2.0"' in text
    # Upgrade: h2c (-u): the 101, then the request served as stream 1.
    rc, err, out = await _nghttp(nghttp, "-uv", f"{srv.base_url}/hello/up")
    assert rc == 0, err
    text = out.decode()
    assert "HTTP Upgrade response" in text and "HTTP Upgrade success" in text, text[-2000:]
    assert '"name": "up"' in text
    certfile, keyfile = self_signed_cert
    tls = await serve(
        make_app(), http2=True, ssl_options={"certfile": certfile, "keyfile": keyfile}
    )
    rc, err, out = await _nghttp(nghttp, "-v", f"https://127.0.0.1:{tls.port}/hello/tls")
    assert rc == 0, err
    text = out.decode()
    assert "The negotiated protocol: h2" in text and ":status: 200" in text, text[-2000:]


async def test_nghttp_uploads_and_many_streams_on_one_connection(serve, nghttp, tmp_path) -> None:
    srv = await serve(make_app(), http2=True)
    body = os.urandom(300_000)
    (tmp_path / "body").write_bytes(body)
    # -d posts the file; the echo comes back through both directions' flow control.
    rc, err, out = await _nghttp(nghttp, "-d", str(tmp_path / "body"), f"{srv.base_url}/echo")
    assert rc == 0, err
    assert hashlib.sha256(out).digest() == hashlib.sha256(body).digest()
    # Twenty URIs, one connection, each its own stream (-n: bodies not printed).
    uris = [f"{srv.base_url}/hello/s{i}" for i in range(20)]
    rc, err, out = await _nghttp(nghttp, "-nv", *uris)
    assert rc == 0, err
    text = out.decode()
    assert text.count(":status: 200") == 20, text[-2000:]
    streams = {
        int(s)
        for s in re.findall(
            r"recv HEADERS frame <length=\d+, flags=0x0[45], stream_id=(\d+)>", text
        )
    }
    assert len(streams) == 20, sorted(streams)
    assert text.count("recv SETTINGS frame <length=") >= 1 and "send SETTINGS" in text
