"""AsyncHTTPClient against tornadish's own server: the Tornado API, redirects, errors,
callbacks, gzip, uploads. Pooling, queueing, timeouts and other servers are in
test_httpclient_pool.py; TLS in test_httpclient_tls.py."""

from __future__ import annotations

import asyncio
import datetime
import gzip
import json
from collections.abc import Callable
from typing import Any

import pytest

from tornadish import gen
from tornadish.httpclient import (
    AsyncHTTPClient,
    HTTPClientError,
    HTTPError,
    HTTPRequest,
    HTTPResponse,
    HTTPStreamClosedError,
)
from tornadish.httputil import HTTPHeaders
from tornadish.log import app_log
from tornadish.testing import AsyncHTTPSTestCase, AsyncHTTPTestCase, ExpectLog, gen_test
from tornadish.web import Application, RequestHandler


class EchoHandler(RequestHandler):
    """Answers with what it received, as JSON."""

    def _echo(self) -> None:
        self.finish(
            {
                "method": self.request.method,
                "uri": self.request.uri,
                "body": self.request.body.decode("latin-1"),
                "headers": dict(self.request.headers.items()),
            }
        )

    get = post = put = patch = delete = options = _echo

    def head(self) -> None:
        self.set_header("X-Head", "yes")
        self.finish()


class RedirectHandler(RequestHandler):
    """``/redirect?code=302&to=/echo``; ``/redirect?n=3`` chains n redirects."""

    def _go(self) -> None:
        n = int(self.get_argument("n", "0"))
        if n:
            self.redirect(f"/redirect?n={n - 1}" if n > 1 else "/echo")
            return
        self.set_status(int(self.get_argument("code", "302")))
        self.set_header("Location", self.get_argument("to", "/echo"))
        self.finish("redirect body")

    get = post = put = delete = head = _go


class StatusHandler(RequestHandler):
    def get(self, code: str) -> None:
        self.set_status(int(code))
        self.finish(f"status {code}" if code not in ("204", "304") else None)


class GzipHandler(RequestHandler):
    def get(self) -> None:
        self.set_header("Content-Encoding", "gzip")
        self.finish(gzip.compress(b"compressible " * 1000))


class ChunkedHandler(RequestHandler):
    async def get(self) -> None:
        for i in range(5):
            self.write(f"part{i};")
            await self.flush()
        self.finish()


class BigHandler(RequestHandler):
    def get(self) -> None:
        size = int(self.get_argument("size"))
        self.finish(b"x" * size)


def make_app(**settings: Any) -> Application:
    return Application(
        [
            (r"/echo", EchoHandler),
            (r"/redirect", RedirectHandler),
            (r"/status/(\d+)", StatusHandler),
            (r"/gzip", GzipHandler),
            (r"/chunked", ChunkedHandler),
            (r"/big", BigHandler),
        ],
        **settings,
    )


@pytest.fixture
def client(io_loop: Any) -> Any:
    client = AsyncHTTPClient(force_instance=True)
    yield client
    client.close()


def echoed(response: HTTPResponse) -> dict[str, Any]:
    return json.loads(response.body)  # type: ignore[no-any-return]


# -- the basics ---------------------------------------------------------------------------


async def test_fetch_returns_a_tornado_shaped_response(
    serve: Any, client: AsyncHTTPClient, loop_factory: Callable[[], Any]
) -> None:
    srv = await serve(make_app())
    response = await client.fetch(srv.base_url + "/echo?a=1")
    assert response.code == 200
    assert response.reason == "OK"
    assert isinstance(response.headers, HTTPHeaders)
    assert response.headers["Content-Type"].startswith("application/json")
    assert echoed(response)["uri"] == "/echo?a=1"
    assert response.buffer is not None and response.buffer.getvalue() == response.body
    assert response.effective_url == srv.base_url + "/echo?a=1"
    assert response.error is None
    assert response.request.url == srv.base_url + "/echo?a=1"
    assert isinstance(response.request_time, float) and 0 <= response.request_time < 5
    assert isinstance(response.start_time, float) and response.start_time > 1e9
    assert response.time_info == {}
    response.rethrow()  # no error: nothing raised
    text = repr(response)
    assert text.startswith("HTTPResponse(") and "code=200" in text and "reason='OK'" in text


async def test_request_headers_sent_by_default(serve: Any, client: AsyncHTTPClient) -> None:
    srv = await serve(make_app())
    headers = echoed(await client.fetch(srv.base_url + "/echo"))["headers"]
    assert headers["Host"] == f"127.0.0.1:{srv.port}"
    assert headers["Accept-Encoding"] == "gzip"
    assert headers["User-Agent"].startswith("Tornadish/")
    assert "Connection" not in headers  # HTTP/1.1 keep-alive is the default
    assert "Content-Length" not in headers


async def test_user_headers_user_agent_and_if_modified_since(
    serve: Any, client: AsyncHTTPClient
) -> None:
    srv = await serve(make_app())
    when = datetime.datetime(2023, 11, 14, 22, 13, 20)
    response = await client.fetch(
        srv.base_url + "/echo",
        # A bytes value, as Tornado accepts (Bug: AttributeError 'bytes'.encode).
        headers={"X-Custom": "1", "Host": "example.com", "If-None-Match": b'"abc"'},
        user_agent="probe/1.0",
        if_modified_since=when,
    )
    headers = echoed(response)["headers"]
    assert headers["X-Custom"] == "1"
    assert headers["If-None-Match"] == '"abc"'
    assert headers["Host"] == "example.com"
    assert headers["User-Agent"] == "probe/1.0"
    assert headers["If-Modified-Since"] == "Tue, 14 Nov 2023 22:13:20 GMT"


async def test_headers_as_httpheaders_with_repeated_values(
    serve: Any, client: AsyncHTTPClient
) -> None:
    srv = await serve(make_app())
    headers = HTTPHeaders()
    headers.add("X-Multi", "a")
    headers.add("X-Multi", "b")
    request = HTTPRequest(srv.base_url + "/echo", headers=headers)
    assert echoed(await client.fetch(request))["headers"]["X-Multi"] == "a,b"
    assert headers.get_list("X-Multi") == ["a", "b"]  # the caller's headers are untouched


async def test_post_put_patch_bodies(serve: Any, client: AsyncHTTPClient) -> None:
    srv = await serve(make_app())
    response = await client.fetch(srv.base_url + "/echo", method="POST", body="a=1&b=é")
    data = echoed(response)
    assert data["method"] == "POST"
    assert data["body"].encode("latin-1") == "a=1&b=é".encode()
    assert data["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert data["headers"]["Content-Length"] == str(len("a=1&b=é".encode()))
    for method in ("PUT", "PATCH"):
        data = echoed(await client.fetch(srv.base_url + "/echo", method=method, body=b"raw"))
        assert (data["method"], data["body"]) == (method, "raw")
        assert "Content-Type" not in data["headers"]
    data = echoed(await client.fetch(srv.base_url + "/echo", method="POST", body=""))
    assert data["headers"]["Content-Length"] == "0"


async def test_method_and_body_must_agree(serve: Any, client: AsyncHTTPClient) -> None:
    srv = await serve(make_app())
    with pytest.raises(ValueError, match="Body must not be None for method POST"):
        await client.fetch(srv.base_url + "/echo", method="POST")
    with pytest.raises(ValueError, match="Body must be None for method GET"):
        await client.fetch(srv.base_url + "/echo", body="x")
    response = await client.fetch(srv.base_url + "/echo", body="x", allow_nonstandard_methods=True)
    assert echoed(response)["body"] == "x"
    response = await client.fetch(
        srv.base_url + "/echo", method="DELETE", allow_nonstandard_methods=True
    )
    assert echoed(response)["method"] == "DELETE"


async def test_head_has_no_body_and_keeps_the_connection(
    serve: Any, client: AsyncHTTPClient
) -> None:
    srv = await serve(make_app())
    response = await client.fetch(srv.base_url + "/echo", method="HEAD")
    assert response.code == 200 and response.body == b""
    assert response.headers["X-Head"] == "yes"
    assert echoed(await client.fetch(srv.base_url + "/echo"))["method"] == "GET"


async def test_basic_auth_from_arguments_and_from_the_url(
    serve: Any, client: AsyncHTTPClient
) -> None:
    srv = await serve(make_app())
    response = await client.fetch(srv.base_url + "/echo", auth_username="u", auth_password="p")
    assert echoed(response)["headers"]["Authorization"] == "Basic dTpw"
    response = await client.fetch(srv.base_url + "/echo", auth_username="u")
    assert echoed(response)["headers"]["Authorization"] == "Basic dTo="
    url = srv.base_url.replace("http://", "http://us%40r:p%3Ass@") + "/echo"
    auth = echoed(await client.fetch(url))["headers"]["Authorization"]
    assert auth == "Basic " + __import__("base64").b64encode(b"us@r:p:ss").decode()
    with pytest.raises(ValueError, match="unsupported auth_mode digest"):
        await client.fetch(srv.base_url + "/echo", auth_username="u", auth_mode="digest")


async def test_fragment_is_not_sent_but_kept_in_effective_url(
    serve: Any, client: AsyncHTTPClient
) -> None:
    srv = await serve(make_app())
    response = await client.fetch(srv.base_url + "/echo?q=1#frag")
    assert echoed(response)["uri"] == "/echo?q=1"
    assert response.effective_url.endswith("#frag")


async def test_bad_urls_and_unsupported_options(client: AsyncHTTPClient) -> None:
    with pytest.raises(ValueError, match="Unsupported url scheme"):
        await client.fetch("ftp://127.0.0.1/")
    with pytest.raises(ValueError, match="No host"):
        await client.fetch("http:///path")
    with pytest.raises(ValueError, match="Unsupported proxy URL"):
        await client.fetch("http://127.0.0.1:1/", proxy="ftp://proxy:21")
    with pytest.raises(NotImplementedError, match="prepare_curl_callback"):
        await client.fetch("http://127.0.0.1:1/", prepare_curl_callback=lambda curl: None)
    request = HTTPRequest("http://127.0.0.1:1/")
    with pytest.raises(ValueError, match="kwargs can't be used"):
        client.fetch(request, method="POST")


# -- errors -------------------------------------------------------------------------------


async def test_error_status_raises_with_the_response(serve: Any, client: AsyncHTTPClient) -> None:
    srv = await serve(make_app())
    with pytest.raises(HTTPClientError) as info:
        await client.fetch(srv.base_url + "/status/404")
    error = info.value
    assert HTTPError is HTTPClientError
    assert error.code == 404 and error.message == "Not Found"
    assert str(error) == repr(error) == "HTTP 404: Not Found"
    assert error.response is not None and error.response.body == b"status 404"
    assert error.response.error is error


async def test_raise_error_false_returns_error_responses(
    serve: Any, client: AsyncHTTPClient
) -> None:
    srv = await serve(make_app())
    for code in (304, 404, 500, 503):
        response = await client.fetch(srv.base_url + f"/status/{code}", raise_error=False)
        assert response.code == code
        assert isinstance(response.error, HTTPClientError) and response.error.code == code
        with pytest.raises(HTTPClientError):
            response.rethrow()
    response = await client.fetch(srv.base_url + "/status/299", raise_error=False)
    assert response.error is None and response.reason == "Unknown"


def test_http_client_error_defaults() -> None:
    assert str(HTTPClientError(599)) == "HTTP 599: Unknown"
    assert HTTPClientError(500, "boom").message == "boom"
    response = HTTPResponse(HTTPRequest("http://x/"), 200)
    assert response.body == b"" and response.error is None
    assert response.effective_url == "http://x/"


async def test_fetch_on_closed_client_raises(io_loop: Any) -> None:
    client = AsyncHTTPClient(force_instance=True)
    client.close()
    with pytest.raises(RuntimeError, match="closed AsyncHTTPClient"):
        client.fetch("http://127.0.0.1:1/")


# -- redirects -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "method", "expected_method", "body_kept"),
    [
        (301, "POST", "GET", False),
        (302, "POST", "GET", False),
        (303, "POST", "GET", False),
        (303, "PUT", "GET", False),
        (307, "POST", "POST", True),
        (308, "POST", "POST", True),
        (301, "PUT", "PUT", True),
        (302, "PUT", "PUT", True),
        (307, "PUT", "PUT", True),
    ],
)
async def test_redirect_methods_and_bodies(
    serve: Any,
    client: AsyncHTTPClient,
    code: int,
    method: str,
    expected_method: str,
    body_kept: bool,
) -> None:
    srv = await serve(make_app())
    response = await client.fetch(
        srv.base_url + f"/redirect?code={code}",
        method=method,
        body="payload",
        headers={"Content-Type": "text/plain", "X-Keep": "1"},
    )
    data = echoed(response)
    assert response.code == 200
    assert response.effective_url == srv.base_url + "/echo"
    assert data["method"] == expected_method
    assert data["body"] == ("payload" if body_kept else "")
    assert data["headers"]["X-Keep"] == "1"
    assert ("Content-Type" in data["headers"]) == body_kept
    assert data["headers"]["Host"] == f"127.0.0.1:{srv.port}"


async def test_redirect_chain_and_request_of_the_response(
    serve: Any, client: AsyncHTTPClient
) -> None:
    srv = await serve(make_app())
    request = HTTPRequest(srv.base_url + "/redirect?n=3")
    response = await client.fetch(request)
    assert response.code == 200 and echoed(response)["uri"] == "/echo"
    assert response.request is request


async def test_too_many_redirects_give_the_last_redirect(
    serve: Any, client: AsyncHTTPClient
) -> None:
    srv = await serve(make_app())
    with pytest.raises(HTTPClientError) as info:
        await client.fetch(srv.base_url + "/redirect?n=9", max_redirects=3)
    assert info.value.code == 302
    response = info.value.response
    assert response is not None
    assert response.effective_url == srv.base_url + "/redirect?n=6"
    assert response.headers["Location"] == "/redirect?n=5"
    response = await client.fetch(srv.base_url + "/redirect", max_redirects=0, raise_error=False)
    assert response.code == 302 and response.body == b"redirect body"


async def test_follow_redirects_false(serve: Any, client: AsyncHTTPClient) -> None:
    srv = await serve(make_app())
    with pytest.raises(HTTPClientError) as info:
        await client.fetch(srv.base_url + "/redirect?code=301", follow_redirects=False)
    assert info.value.code == 301
    assert info.value.response is not None
    assert info.value.response.headers["Location"] == "/echo"


async def test_cross_origin_redirect_drops_credentials(serve: Any, client: AsyncHTTPClient) -> None:
    first = await serve(make_app())
    second = await serve(make_app())
    headers = {"Cookie": "session=secret", "X-Other": "kept"}
    url = first.base_url + f"/redirect?code=307&to={second.base_url}/echo"
    response = await client.fetch(
        url, method="POST", body="b", headers=headers, auth_username="u", auth_password="p"
    )
    sent = echoed(response)["headers"]
    assert response.effective_url == second.base_url + "/echo"
    assert "Authorization" not in sent and "Cookie" not in sent
    assert sent["X-Other"] == "kept"
    assert sent["Host"] == f"127.0.0.1:{second.port}"
    # Same origin: credentials stay.
    response = await client.fetch(
        first.base_url + "/redirect?code=302", headers=headers, auth_username="u"
    )
    sent = echoed(response)["headers"]
    assert sent["Authorization"] == "Basic dTo=" and sent["Cookie"] == "session=secret"


async def test_redirect_responses_skip_the_callbacks(serve: Any, client: AsyncHTTPClient) -> None:
    srv = await serve(make_app())
    lines: list[str] = []
    chunks: list[bytes] = []
    await client.fetch(
        srv.base_url + "/redirect?n=2",
        header_callback=lines.append,
        streaming_callback=chunks.append,
    )
    assert [line for line in lines if line.startswith("HTTP/")] == ["HTTP/1.1 200 OK\r\n"]
    assert b"redirect body" not in b"".join(chunks)
    assert json.loads(b"".join(chunks))["uri"] == "/echo"


# -- callbacks and bodies -------------------------------------------------------------------


async def test_streaming_callback_gets_the_body(serve: Any, client: AsyncHTTPClient) -> None:
    srv = await serve(make_app())
    chunks: list[bytes] = []
    response = await client.fetch(srv.base_url + "/chunked", streaming_callback=chunks.append)
    assert b"".join(chunks) == b"part0;part1;part2;part3;part4;"
    assert response.body == b""
    chunks.clear()
    url = srv.base_url + "/big?size=300000"
    response = await client.fetch(url, streaming_callback=chunks.append)
    assert sum(map(len, chunks)) == 300000 and len(chunks) > 1
    assert response.body == b""


async def test_header_callback_sees_raw_lines(serve: Any, client: AsyncHTTPClient) -> None:
    srv = await serve(make_app())
    lines: list[str] = []
    await client.fetch(srv.base_url + "/echo", header_callback=lines.append)
    assert lines[0] == "HTTP/1.1 200 OK\r\n"
    assert lines[-1] == "\r\n"
    assert all(line.endswith("\r\n") for line in lines)
    names = {line.split(":")[0] for line in lines[1:-1]}
    assert {"Content-Type", "Content-Length"} <= names


async def test_callback_exception_fails_the_fetch(serve: Any, client: AsyncHTTPClient) -> None:
    srv = await serve(make_app())

    def explode(chunk: bytes) -> None:
        raise KeyError("from the callback")

    # As Tornado: the callback's exception is logged, and the fetch fails as a closed stream.
    with ExpectLog(app_log, "Uncaught exception"), pytest.raises(HTTPStreamClosedError):
        await client.fetch(srv.base_url + "/echo", streaming_callback=explode)
    assert (await client.fetch(srv.base_url + "/echo")).code == 200


async def test_chunked_response(serve: Any, client: AsyncHTTPClient) -> None:
    srv = await serve(make_app())
    response = await client.fetch(srv.base_url + "/chunked")
    assert response.body == b"part0;part1;part2;part3;part4;"
    assert "Content-Length" not in response.headers


async def test_large_body(serve: Any, client: AsyncHTTPClient) -> None:
    srv = await serve(make_app())
    response = await client.fetch(srv.base_url + "/big?size=3000000")
    assert response.body == b"x" * 3000000


async def test_body_over_max_body_size_fails(serve: Any, io_loop: Any) -> None:
    srv = await serve(make_app())
    client = AsyncHTTPClient(force_instance=True, max_body_size=1000)
    try:
        assert (await client.fetch(srv.base_url + "/big?size=1000")).code == 200
        with pytest.raises(HTTPStreamClosedError) as info:
            await client.fetch(srv.base_url + "/big?size=1001")
        assert info.value.code == 599 and "too long" in info.value.message
        with pytest.raises(HTTPStreamClosedError):  # decoded size counts too
            await client.fetch(srv.base_url + "/gzip")
    finally:
        client.close()


async def test_gzip_response_is_decoded(serve: Any, client: AsyncHTTPClient) -> None:
    srv = await serve(make_app())
    response = await client.fetch(srv.base_url + "/gzip")
    assert response.body == b"compressible " * 1000
    assert "Content-Encoding" not in response.headers
    assert response.headers["X-Consumed-Content-Encoding"] == "gzip"
    raw = await client.fetch(srv.base_url + "/gzip", decompress_response=False)
    assert raw.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(raw.body) == b"compressible " * 1000
    sent = echoed(await client.fetch(srv.base_url + "/echo", decompress_response=False))
    assert "Accept-Encoding" not in sent["headers"]


async def test_gzip_with_streaming_callback(serve: Any, client: AsyncHTTPClient) -> None:
    srv = await serve(make_app())
    chunks: list[bytes] = []
    await client.fetch(srv.base_url + "/gzip", streaming_callback=chunks.append)
    assert b"".join(chunks) == b"compressible " * 1000


# -- request bodies from a producer --------------------------------------------------------


async def test_body_producer_is_sent_chunked(serve: Any, client: AsyncHTTPClient) -> None:
    srv = await serve(make_app())

    async def producer(write: Callable[[bytes], Any]) -> None:
        for part in (b"one,", b"two,", b"three"):
            await write(part)
            await asyncio.sleep(0)

    response = await client.fetch(srv.base_url + "/echo", method="POST", body_producer=producer)
    data = echoed(response)
    assert data["body"] == "one,two,three"
    assert data["headers"]["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in data["headers"]


async def test_body_producer_with_content_length(serve: Any, client: AsyncHTTPClient) -> None:
    srv = await serve(make_app())

    async def producer(write: Callable[[bytes], Any]) -> None:
        await write(b"abc")
        await write(b"def")

    response = await client.fetch(
        srv.base_url + "/echo",
        method="PUT",
        body_producer=producer,
        headers={"Content-Length": "6"},
    )
    data = echoed(response)
    assert data["body"] == "abcdef" and data["headers"]["Content-Length"] == "6"
    assert "Transfer-Encoding" not in data["headers"]


async def test_large_upload_waits_for_the_transport(serve: Any, client: AsyncHTTPClient) -> None:
    received: list[int] = []

    class Count(RequestHandler):
        def post(self) -> None:
            received.append(len(self.request.body))
            self.finish("ok")

    srv = await serve(Application([(r"/count", Count)]))
    block = b"z" * 65536

    async def producer(write: Callable[[bytes], Any]) -> None:
        for _ in range(80):  # 5 MiB: far beyond the transport's high-water mark
            await write(block)

    response = await client.fetch(srv.base_url + "/count", method="POST", body_producer=producer)
    assert response.body == b"ok" and received == [80 * 65536]


async def test_body_producer_error_propagates(serve: Any, client: AsyncHTTPClient) -> None:
    srv = await serve(make_app())

    async def producer(write: Callable[[bytes], Any]) -> None:
        await write(b"partial")
        raise OSError("disk on fire")

    with pytest.raises(OSError, match="disk on fire"):
        await client.fetch(srv.base_url + "/echo", method="POST", body_producer=producer)
    assert (await client.fetch(srv.base_url + "/echo")).code == 200


async def test_expect_100_continue(serve: Any, client: AsyncHTTPClient) -> None:
    srv = await serve(make_app())
    response = await client.fetch(
        srv.base_url + "/echo", method="POST", body="after continue", expect_100_continue=True
    )
    data = echoed(response)
    assert data["body"] == "after continue"
    assert data["headers"]["Expect"] == "100-continue"


# -- the seeds' patterns --------------------------------------------------------------------


async def test_fetch_inside_a_handler(serve: Any) -> None:
    """Seed pattern: ``response = await AsyncHTTPClient().fetch(url)`` in a handler."""

    class Weather(RequestHandler):
        async def get(self) -> None:
            client = AsyncHTTPClient()
            response = await client.fetch(self.settings["weather_uri"])
            body = json.loads(response.body)
            self.finish(f"Currently {body['temp']} degrees")

    class Catalog(RequestHandler):
        def get(self) -> None:
            self.finish({"temp": 21})

    app = Application([(r"/", Weather), (r"/catalog", Catalog)])
    srv = await serve(app)
    app.settings["weather_uri"] = srv.base_url + "/catalog"
    response = await AsyncHTTPClient().fetch(srv.base_url + "/")
    assert response.body == b"Currently 21 degrees"


async def test_gen_multi_over_fetches(serve: Any) -> None:
    """Seed pattern: ``await gen.multi([client.fetch(u) for u in urls])`` (and a dict)."""
    srv = await serve(make_app())
    http_client = AsyncHTTPClient()
    urls = [srv.base_url + f"/echo?i={i}" for i in range(12)]
    responses = await gen.multi([http_client.fetch(url) for url in urls])
    assert [echoed(r)["uri"] for r in responses] == [f"/echo?i={i}" for i in range(12)]
    by_url = await gen.multi({url: http_client.fetch(url) for url in urls[:3]})
    assert {url: echoed(r)["uri"] for url, r in by_url.items()} == {
        url: url[len(srv.base_url) :] for url in urls[:3]
    }
    resp1, resp2 = await gen.multi([http_client.fetch(urls[0]), http_client.fetch(urls[1])])
    assert (resp1.code, resp2.code) == (200, 200)


# -- instances and configuration ------------------------------------------------------------


async def test_one_shared_instance_per_loop(io_loop: Any) -> None:
    shared = AsyncHTTPClient()
    assert AsyncHTTPClient() is shared
    assert AsyncHTTPClient(max_clients=99) is shared  # an existing instance is not changed
    assert shared.max_clients == 10
    private = AsyncHTTPClient(force_instance=True)
    assert private is not shared
    private.close()
    shared.close()
    fresh = AsyncHTTPClient()
    assert fresh is not shared
    fresh.close()


async def test_configure_sets_constructor_defaults(io_loop: Any) -> None:
    try:
        AsyncHTTPClient.configure(None, max_clients=3, defaults={"user_agent": "cfg/1"})
        client = AsyncHTTPClient(force_instance=True)
        assert client.max_clients == 3
        assert client.defaults["user_agent"] == "cfg/1"
        assert client.defaults["connect_timeout"] == 20.0
        client.close()
        with pytest.raises(ValueError):
            AsyncHTTPClient.configure(dict)  # type: ignore[arg-type]
    finally:
        AsyncHTTPClient.configure(None)
    assert AsyncHTTPClient.configured_class() is AsyncHTTPClient


async def test_client_defaults_apply_to_unset_options(serve: Any, io_loop: Any) -> None:
    srv = await serve(make_app())
    client = AsyncHTTPClient(force_instance=True, defaults={"user_agent": "from-defaults"})
    try:
        sent = echoed(await client.fetch(srv.base_url + "/echo"))["headers"]
        assert sent["User-Agent"] == "from-defaults"
        sent = echoed(await client.fetch(srv.base_url + "/echo", user_agent="explicit"))["headers"]
        assert sent["User-Agent"] == "explicit"
    finally:
        client.close()


def test_request_arguments_and_defaults() -> None:
    request = HTTPRequest("http://example.com/", body="é", use_gzip=False)
    assert request.body == "é".encode()
    assert isinstance(request.headers, HTTPHeaders)
    assert request.method == "GET"
    assert request.connect_timeout is None and request.request_timeout is None
    assert request.decompress_response is False
    assert HTTPRequest._DEFAULTS["request_timeout"] == 20.0
    assert HTTPRequest._DEFAULTS["max_redirects"] == 5
    request.headers = {"a": "b"}
    assert request.headers["A"] == "b"


# -- the testing kit uses this client --------------------------------------------------------


class TestAsyncHTTPTestCase(AsyncHTTPTestCase):
    def get_app(self) -> Application:
        return make_app()

    def test_fetch_returns_errors_as_responses(self) -> None:
        assert self.fetch("/echo").code == 200
        assert self.fetch("/status/404").code == 404
        with pytest.raises(HTTPClientError):
            self.fetch("/status/404", raise_error=True)

    @gen_test
    async def test_http_client_in_a_coroutine(self) -> None:
        response = await self.http_client.fetch(self.get_url("/echo"))
        assert echoed(response)["method"] == "GET"


class TestAsyncHTTPSTestCase(AsyncHTTPSTestCase):
    def get_app(self) -> Application:
        return make_app()

    def test_fetch_over_tls(self) -> None:
        response = self.fetch("/echo")
        assert response.code == 200 and response.effective_url.startswith("https://")


@pytest.fixture
def app() -> Application:
    return make_app()


async def test_pytest_plugin_fetch_fixture(fetch: Any) -> None:
    assert echoed(await fetch("/echo?via=plugin"))["uri"] == "/echo?via=plugin"
    assert (await fetch("/status/500")).code == 500
