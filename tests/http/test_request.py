"""tornadish._http.request.HTTPServerRequest: the query-string field limit Tornado
applies when a request is built (tests/web/test_request.py: a server answers 400)."""

from __future__ import annotations

import pytest
import tornado.httputil as th

from tornadish._http.forms import (
    ParseBodyConfig,
    ParseUrlEncodedConfig,
    get_parse_body_config,
    set_parse_body_config,
)
from tornadish._http.headers import HTTPHeaders, HTTPInputError
from tornadish._http.parse import RequestStartLine
from tornadish._http.request import HTTPServerRequest


def _query(n: int) -> str:
    return "/?" + "&".join(f"a={i}" for i in range(n))


def test_query_with_too_many_fields_is_refused_when_the_request_is_built() -> None:
    limit = get_parse_body_config().urlencoded.max_arguments
    ok = HTTPServerRequest(start_line=RequestStartLine("GET", _query(limit), "HTTP/1.0"))
    assert len(ok.arguments["a"]) == limit
    for make in (
        lambda uri: HTTPServerRequest(start_line=RequestStartLine("GET", uri, "HTTP/1.0")),
        lambda uri: HTTPServerRequest("GET", uri),
        lambda uri: HTTPServerRequest.from_wire("GET", uri, "HTTP/1.1", HTTPHeaders(), None),
    ):
        with pytest.raises(HTTPInputError, match="Max number of fields exceeded"):
            make(_query(limit + 1))
    with pytest.raises(th.HTTPInputError, match="Max number of fields exceeded"):
        th.HTTPServerRequest(start_line=th.RequestStartLine("GET", _query(limit + 1), "HTTP/1.0"))


def test_query_limit_follows_the_configured_limit() -> None:
    set_parse_body_config(ParseBodyConfig(urlencoded=ParseUrlEncodedConfig(max_arguments=3)))
    try:
        assert HTTPServerRequest("GET", "/?a&b&c").query == "a&b&c"
        with pytest.raises(HTTPInputError):
            HTTPServerRequest("GET", "/?a&b&c&d")
    finally:
        set_parse_body_config(ParseBodyConfig())
