"""Response headers over HTTP/2 are judged as over HTTP/1.1: a header the handler sets
with an upper-case name is sent (lower-cased on HTTP/2), one that HTTP forbids (a name
that is no token, CR/LF/NUL in a value, whitespace around it) is a 500 on both, never
a malformed response on the wire."""

from __future__ import annotations

import httpx
import pytest

from tornadish.web import Application, RequestHandler

from tests.http2.h2client import H2Client


class SetHeader(RequestHandler):
    """Sets the header ``name: value`` given in the query (``<NUL>`` in it: a NUL, which
    arguments lose); ``raw=1`` goes past ``set_header``'s own check of the value
    (straight into the headers)."""

    def get(self) -> None:
        name = self.get_argument("name")
        value = self.get_argument("value", strip=False).replace("<NUL>", "\x00")
        if self.get_argument("raw", None):
            self._headers[name] = value
        else:
            self.set_header(name, value)
        self.write("ok")


CASES = [
    ({"name": "X-UPPER-Case", "value": "yes"}, 200),
    ({"name": "X Bad", "value": "v"}, 500),
    ({"name": "X-Bad\r\nInjected", "value": "v"}, 500),
    ({"name": "X-Colon:", "value": "v"}, 500),
    ({"name": "X-Value", "value": "a\r\nInjected: 1"}, 500),
    ({"name": "X-Value", "value": "a\r\nInjected: 1", "raw": "1"}, 500),
    ({"name": "X-Value", "value": "a<NUL>b", "raw": "1"}, 500),
    ({"name": "X-Value", "value": "trailing ", "raw": "1"}, 500),
    ({"name": "X-Value", "value": "tab\tinside"}, 200),
]
IDS = [
    "upper-case-name",
    "space-in-name",
    "crlf-in-name",
    "colon-in-name",
    "crlf-in-value",
    "crlf-in-raw-value",
    "nul-in-raw-value",
    "trailing-space",
    "tab-inside",
]


@pytest.mark.parametrize(("query", "status"), CASES, ids=IDS)
async def test_a_header_gets_the_same_answer_over_http2_as_over_http1(
    serve, query: dict[str, str], status: int
) -> None:
    srv = await serve(Application([(r"/set", SetHeader)]), http2=True)
    async with httpx.AsyncClient() as http1:
        r1 = await http1.get(f"{srv.base_url}/set", params=query)
    client = await H2Client.connect(srv.port)  # (its h2 refuses a malformed response)
    try:
        r2 = await client.request("GET", "/set?" + str(httpx.QueryParams(query)))
    finally:
        await client.close()
    assert r1.status_code == status
    assert r2.status == status and r2.reset_code is None
    if status == 200:
        name = query["name"].lower().encode()
        assert dict(r2.headers)[name] == r1.headers[query["name"]].encode()
        assert not [n for n, _ in r2.headers if n != n.lower()]
