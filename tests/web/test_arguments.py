"""Request arguments: query and body, decoding, control characters, missing and invalid
values, multipart files and fields."""

from __future__ import annotations

from typing import Any

import pytest

from tornadish.web import Application, RequestHandler

from tests.support.web import compare, get


class ArgsHandler(RequestHandler):
    def get(self) -> None:
        self._answer()

    def post(self) -> None:
        self._answer()

    def _answer(self) -> None:
        self.write(
            {
                "arg": self.get_argument("a", "dflt"),
                "args": self.get_arguments("a"),
                "nostrip": self.get_arguments("a", strip=False),
                "query": self.get_query_arguments("a"),
                "query1": self.get_query_argument("a", None),
                "body": self.get_body_arguments("a"),
                "body1": self.get_body_argument("a", None),
                "none": self.get_argument("missing", None),
            }
        )


async def test_query_and_body_arguments(serve: Any) -> None:
    srv = await serve(Application([(r"/", ArgsHandler)]))
    r = await get(srv, "/?a=q1&a=%20q2%20&b=z")
    assert r.json() == {
        "arg": "q2",
        "args": ["q1", "q2"],
        "nostrip": ["q1", " q2 "],
        "query": ["q1", "q2"],
        "query1": "q2",
        "body": [],
        "body1": None,
        "none": None,
    }
    r = await get(srv, "/?a=q", "POST", data={"a": ["b1", "  b2\t"]})
    assert r.json() == {
        "arg": "b2",
        "args": ["q", "b1", "b2"],
        "nostrip": ["q", "b1", "  b2\t"],
        "query": ["q"],
        "query1": "q",
        "body": ["b1", "b2"],
        "body1": "b2",
        "none": None,
    }
    r = await get(srv, "/", "POST", data={"a": "x"}, files={"f": ("n.txt", b"data")})
    assert r.json()["body"] == ["x"]
    assert r.json()["arg"] == "x"
    r = await get(srv, "/")
    assert r.json()["arg"] == "dflt"


async def test_arguments_blank_plus_and_percent_decoding(serve: Any) -> None:
    def make(base: Any) -> Any:
        class H(base):  # type: ignore[misc]
            def get(self) -> None:
                self.write({k: self.get_arguments(k) for k in ("a", "b", "c", "d")})

        return H

    ours, _ = await compare(serve, make, "/?a=&b=x+y&c=%C3%A9%2B&d")
    assert ours.json() == {"a": [""], "b": ["x y"], "c": ["é+"], "d": [""]}


async def test_argument_control_characters_removed(serve: Any) -> None:
    def make(base: Any) -> Any:
        class H(base):  # type: ignore[misc]
            def get(self) -> None:
                self.write({"v": self.get_argument("v", strip=False)})

        return H

    ours, _ = await compare(serve, make, "/?v=a%00b%07c%1fd%09e%0Af%0Dg%7F")
    assert ours.json()["v"] == "a b c d\te\nf\rg\x7f"


async def test_missing_argument_is_400(serve: Any, caplog: pytest.LogCaptureFixture) -> None:
    def make(base: Any) -> Any:
        class H(base):  # type: ignore[misc]
            def get(self) -> None:
                self.write(self.get_argument("needed"))

            def post(self) -> None:
                self.write(self.get_body_argument("needed"))

        return H

    ours, _ = await compare(serve, make, "/")
    assert ours.status_code == 400
    assert ours.reason_phrase == "Bad Request"
    ours, _ = await compare(serve, make, "/?needed=1", method="POST", data={"other": "1"})
    assert ours.status_code == 400
    assert any("Missing argument needed" in r.getMessage() for r in caplog.records)


async def test_invalid_utf8_argument_is_400(serve: Any) -> None:
    def make(base: Any) -> Any:
        class H(base):  # type: ignore[misc]
            def get(self) -> None:
                self.write(self.get_argument("a"))

            def post(self) -> None:
                self.write(self.get_argument("a"))

        return H

    ours, _ = await compare(serve, make, "/?a=%FF%FE")
    assert ours.status_code == 400
    ours, _ = await compare(
        serve,
        make,
        "/",
        method="POST",
        content=b"a=%C3%28",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert ours.status_code == 400


async def test_multipart_upload_files_and_fields(serve: Any) -> None:
    class Upload(RequestHandler):
        def post(self) -> None:
            files = self.request.files
            self.write(
                {
                    "title": self.get_body_argument("title"),
                    "tags": self.get_body_arguments("tag"),
                    "files": {
                        name: [
                            [f["filename"], f["body"].decode("latin-1"), f["content_type"]]
                            for f in fs
                        ]
                        for name, fs in files.items()
                    },
                    "attr": files["doc"][0].filename,
                }
            )

    srv = await serve(Application([(r"/up", Upload)]))
    r = await get(
        srv,
        "/up",
        "POST",
        data={"title": "Holiday", "tag": ["a", "b"]},
        files=[
            ("doc", ("notes.txt", b"line1\r\nline2", "text/plain")),
            ("doc", ("pic.png", b"\x89PNG\x00\xff", "image/png")),
            ("raw", ("blob", b"", "application/octet-stream")),
        ],
    )
    assert r.status_code == 200, r.text
    assert r.json() == {
        "title": "Holiday",
        "tags": ["a", "b"],
        "files": {
            "doc": [
                ["notes.txt", "line1\r\nline2", "text/plain"],
                ["pic.png", "\x89PNG\x00\xff", "image/png"],
            ],
            "raw": [["blob", "", "application/octet-stream"]],
        },
        "attr": "notes.txt",
    }
