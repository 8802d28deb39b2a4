"""ETags: computed like Tornado, 304 on a match, none on POST or errors, explicit ones kept."""

from __future__ import annotations

import hashlib
from typing import Any

from tornadish.web import Application, RequestHandler

from tests.support.web import compare, get


class EtagHandler(RequestHandler):
    def get(self) -> None:
        self.write("etag body")

    def post(self) -> None:
        self.write("etag body")


async def test_etag_and_304(serve: Any) -> None:
    srv = await serve(Application([(r"/", EtagHandler)]))
    r = await get(srv, "/")
    etag = r.headers["etag"]
    assert etag == '"%s"' % hashlib.sha1(b"etag body").hexdigest()
    for inm in (etag, "W/" + etag, "*", f'"other", {etag}', f'"a", W/{etag}, "b"'):
        r304 = await get(srv, "/", headers={"If-None-Match": inm})
        assert r304.status_code == 304, inm
        assert r304.content == b""
        assert r304.headers["etag"] == etag
        assert "content-length" not in r304.headers or r304.headers["content-length"] == "0"
        assert "content-type" not in r304.headers
    for inm in ('"other"', 'W/"other"', '"a", "b"', "garbage"):
        r200 = await get(srv, "/", headers={"If-None-Match": inm})
        assert r200.status_code == 200, inm
        assert r200.text == "etag body"


async def test_etag_matches_tornado(serve: Any) -> None:
    def make(base: Any) -> Any:
        class H(base):  # type: ignore[misc]
            def get(self) -> None:
                self.write("etag body")

        return H

    ours, _ = await compare(serve, make, "/", headers_to_compare=("etag",))
    inm = ours.headers["etag"]
    for value in (inm, "W/" + inm, "*", f'"x", {inm}'):
        await compare(
            serve, make, "/", headers={"If-None-Match": value}, headers_to_compare=("etag",)
        )


async def test_no_etag_on_post_or_error_or_custom_none(serve: Any) -> None:
    class NoEtag(RequestHandler):
        def compute_etag(self) -> None:
            return None

        def get(self) -> None:
            self.write("x")

    class Err(RequestHandler):
        def get(self) -> None:
            self.set_status(404)
            self.write("x")

    srv = await serve(Application([(r"/", EtagHandler), (r"/none", NoEtag), (r"/err", Err)]))
    r = await get(srv, "/", "POST")
    assert r.status_code == 200 and "etag" not in r.headers
    # If-None-Match on a POST does not turn it into a 304.
    r = await get(srv, "/", "POST", headers={"If-None-Match": "*"})
    assert r.status_code == 200 and r.text == "etag body"
    r = await get(srv, "/none", headers={"If-None-Match": "*"})
    assert r.status_code == 200 and "etag" not in r.headers
    r = await get(srv, "/err")
    assert "etag" not in r.headers


async def test_explicit_etag_header_is_kept(serve: Any) -> None:
    class H(RequestHandler):
        def get(self) -> None:
            self.set_header("Etag", '"v1"')
            self.write("x")

    srv = await serve(Application([(r"/", H)]))
    r = await get(srv, "/")
    assert r.headers["etag"] == '"v1"'
