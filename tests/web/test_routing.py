"""Routing over real sockets: Application handlers, URLSpec/url, path arguments,
host-based routing with add_handlers, reverse_url, the default 404 and
default_handler_class. Tornado is the reference for reversing and the 404 page."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tornadish.routing import (
    AnyMatches,
    HostMatches,
    PathMatches,
    Rule,
    RuleRouter,
    URLSpec,
    url,
)
from tornadish.web import Application, RequestHandler


async def fetch(srv: Any, path: str, method: str = "GET", **kw: Any) -> httpx.Response:
    async with httpx.AsyncClient() as c:
        return await c.request(method, srv.base_url + path, **kw)


class Echo(RequestHandler):
    """Writes its name, path args and kwargs as JSON."""

    def initialize(self, name: str = "echo", **extra: Any) -> None:
        self.name = name
        self.extra = extra

    def get(self, *args: Any, **kwargs: Any) -> None:
        self.write({"name": self.name, "args": list(args), "kwargs": kwargs, **self.extra})


# -- the handler list -------------------------------------------------------------------------


async def test_rule_forms_and_first_match_wins(serve: Any) -> None:
    app = Application(
        [
            (r"/", Echo, {"name": "root"}),
            (r"/two", Echo),
            url(r"/url", Echo, dict(name="url-helper"), name="u"),
            URLSpec(r"/spec", Echo, {"name": "spec", "flag": 1}),
            (r"/first/.*", Echo, {"name": "first"}),
            (r"/first/shadowed", Echo, {"name": "never"}),
            (re.compile(r"/compiled/(\d+)"), Echo, {"name": "compiled"}),
            (r"/four", Echo, {"name": "four"}, "four"),
        ]
    )
    srv = await serve(app)
    assert (await fetch(srv, "/")).json()["name"] == "root"
    assert (await fetch(srv, "/two")).json()["name"] == "echo"
    assert (await fetch(srv, "/url")).json()["name"] == "url-helper"
    assert (await fetch(srv, "/spec")).json() == {
        "name": "spec",
        "args": [],
        "kwargs": {},
        "flag": 1,
    }
    assert (await fetch(srv, "/first/shadowed")).json()["name"] == "first"
    assert (await fetch(srv, "/compiled/7")).json() == {
        "name": "compiled",
        "args": ["7"],
        "kwargs": {},
    }
    assert (await fetch(srv, "/four")).json()["name"] == "four"
    assert app.reverse_url("four") == "/four"
    assert url is URLSpec


async def test_patterns_match_the_whole_path(serve: Any) -> None:
    srv = await serve(Application([(r"/a", Echo), (r"/b/?", Echo, {"name": "b"})]))
    assert (await fetch(srv, "/a")).status_code == 200
    assert (await fetch(srv, "/ab")).status_code == 404
    assert (await fetch(srv, "/a/")).status_code == 404
    assert (await fetch(srv, "/xa")).status_code == 404
    assert (await fetch(srv, "/b")).json()["name"] == "b"
    assert (await fetch(srv, "/b/")).json()["name"] == "b"
    # The query string plays no part in routing.
    assert (await fetch(srv, "/a?x=/b")).status_code == 200


async def test_positional_groups_become_decoded_args(serve: Any) -> None:
    srv = await serve(
        Application([(r"/file/([^/]+)/(.*)", Echo), (r"/opt/(\d+)?/?(x)?", Echo, {"name": "opt"})])
    )
    r = await fetch(srv, "/file/a%20b/c%2Fd/%C3%A9+plus")
    assert r.json()["args"] == ["a b", "c/d/é+plus"]  # '+' is not a space in a path
    r = await fetch(srv, "/opt/")
    assert r.json() == {"name": "opt", "args": [None, None], "kwargs": {}}
    r = await fetch(srv, "/opt/12/x")
    assert r.json()["args"] == ["12", "x"]


async def test_named_groups_become_decoded_kwargs(serve: Any) -> None:
    srv = await serve(Application([(r"/user/(?P<uid>\d+)/(?P<slug>[^/]*)", Echo)]))
    r = await fetch(srv, "/user/42/hello%20there")
    assert r.json()["args"] == []
    assert r.json()["kwargs"] == {"uid": "42", "slug": "hello there"}


def test_mixing_named_and_unnamed_groups_is_refused() -> None:
    with pytest.raises(ValueError, match="mixes named and unnamed"):
        URLSpec(r"/(?P<a>\d+)/(\d+)", Echo)


async def test_invalid_utf8_in_path_argument_is_400(serve: Any) -> None:
    srv = await serve(Application([(r"/p/(.*)", Echo), (r"/n/(?P<v>.*)", Echo)]))
    assert (await fetch(srv, "/p/%FF")).status_code == 400
    assert (await fetch(srv, "/n/%C3%28")).status_code == 400
    assert (await fetch(srv, "/p/ok")).status_code == 200


async def test_path_args_match_tornado(serve: Any) -> None:
    import tornado.httpserver
    import tornado.netutil
    import tornado.web

    class TEcho(tornado.web.RequestHandler):
        def get(self, *args: Any, **kwargs: Any) -> None:
            self.write({"name": "echo", "args": list(args), "kwargs": kwargs})

    rules = [r"/file/([^/]+)/(.*)", r"/user/(?P<uid>\d+)/(?P<slug>[^/]*)", r"/o/(\d+)?"]
    srv = await serve(Application([(p, Echo) for p in rules]))
    tserver = tornado.httpserver.HTTPServer(tornado.web.Application([(p, TEcho) for p in rules]))
    socks = tornado.netutil.bind_sockets(0, "127.0.0.1")
    tserver.add_sockets(socks)
    tbase = f"http://127.0.0.1:{socks[0].getsockname()[1]}"
    try:
        async with httpx.AsyncClient() as c:
            for path in (
                "/file/a%20b/c%2Fd/%C3%A9+plus",
                "/user/42/hello%20there",
                "/o/",
                "/o/5",
                "/file/%25/x",
                "/nowhere",
            ):
                ours = await c.get(srv.base_url + path)
                theirs = await c.get(tbase + path)
                assert ours.status_code == theirs.status_code, path
                if ours.status_code == 200:
                    assert ours.json() == theirs.json(), path
    finally:
        tserver.stop()
        await tserver.close_all_connections()


# -- default 404 and default_handler_class --------------------------------------------------------


async def test_default_404_matches_tornado(serve: Any) -> None:
    import tornado.httpserver
    import tornado.netutil
    import tornado.web

    srv = await serve(Application([(r"/", Echo)]))
    tserver = tornado.httpserver.HTTPServer(tornado.web.Application([(r"/", Echo)]))
    socks = tornado.netutil.bind_sockets(0, "127.0.0.1")
    tserver.add_sockets(socks)
    try:
        async with httpx.AsyncClient() as c:
            for method in ("GET", "POST", "DELETE", "HEAD"):
                ours = await c.request(method, srv.base_url + "/missing")
                theirs = await c.request(
                    method, f"http://127.0.0.1:{socks[0].getsockname()[1]}/missing"
                )
                assert ours.status_code == theirs.status_code == 404
                assert ours.content == theirs.content
                assert ours.headers["content-type"] == theirs.headers["content-type"]
                assert ours.headers["content-length"] == theirs.headers["content-length"]
    finally:
        tserver.stop()
        await tserver.close_all_connections()
    assert (await fetch(srv, "/missing")).text == (
        "<html><title>404: Not Found</title><body>404: Not Found</body></html>"
    )


async def test_empty_application_and_no_handlers(serve: Any) -> None:
    srv = await serve(Application())
    assert (await fetch(srv, "/")).status_code == 404


async def test_default_handler_class(serve: Any) -> None:
    class Fallback(RequestHandler):
        def initialize(self, message: str) -> None:
            self.message = message

        def get(self) -> None:
            self.set_status(404)
            self.write(f"{self.message}: {self.request.path}")

    class NoArgs(RequestHandler):
        def get(self) -> None:
            self.write("fallback")

    srv = await serve(
        Application(
            [(r"/", Echo)],
            default_handler_class=Fallback,
            default_handler_args={"message": "custom"},
        )
    )
    r = await fetch(srv, "/x/y")
    assert (r.status_code, r.text) == (404, "custom: /x/y")
    assert (await fetch(srv, "/")).json()["name"] == "echo"
    srv2 = await serve(Application([], default_handler_class=NoArgs))
    assert (await fetch(srv2, "/anything")).text == "fallback"


async def test_404_for_post_with_xsrf_cookies_is_not_403(serve: Any) -> None:
    srv = await serve(Application([(r"/", Echo)], xsrf_cookies=True))
    r = await fetch(srv, "/missing", "POST", data={"a": "1"})
    assert r.status_code == 404


# -- host-based routing -----------------------------------------------------------------------


async def test_add_handlers_host_routing(serve: Any) -> None:
    app = Application([(r"/", Echo, {"name": "wildcard"}), (r"/only-wild", Echo, {"name": "w2"})])
    app.add_handlers(r"www\.example\.com", [(r"/", Echo, {"name": "www"})])
    app.add_handlers(
        r".*\.example\.com",
        [(r"/", Echo, {"name": "any-sub"}), (r"/sub", Echo, {"name": "sub-only"})],
    )
    app.add_handlers(r"www\.example\.com", [(r"/late", Echo, {"name": "www-late"})])
    srv = await serve(app)

    async def name(host: str, path: str = "/") -> Any:
        r = await fetch(srv, path, headers={"Host": host})
        return r.json()["name"] if r.status_code == 200 else r.status_code

    assert await name("www.example.com") == "www"
    assert await name("WWW.Example.COM:8080") == "www"  # case and port do not matter
    assert await name("api.example.com") == "any-sub"
    assert await name("www.example.com", "/sub") == "sub-only"  # next host rule
    assert await name("www.example.com", "/late") == "www-late"
    assert await name("other.org") == "wildcard"
    assert await name("example.com") == "wildcard"  # pattern is anchored
    assert await name("www.example.com.evil.org") == "wildcard"
    # A host whose rules have no matching path falls back to the wildcard rules.
    assert await name("www.example.com", "/only-wild") == "w2"
    assert await name("other.org", "/sub") == 404


async def test_add_handlers_matches_tornado(serve: Any) -> None:
    import tornado.httpserver
    import tornado.netutil
    import tornado.web

    class TEcho(tornado.web.RequestHandler):
        def initialize(self, name: str = "echo") -> None:
            self.name = name

        def get(self) -> None:
            self.write(self.name)

    def build(app_cls: Any, h: Any) -> Any:
        app = app_cls([(r"/", h, {"name": "wild"}), (r"/w", h, {"name": "w"})])
        app.add_handlers(r"a\.test", [(r"/", h, {"name": "a"})])
        app.add_handlers(r".*\.test", [(r"/", h, {"name": "dot-test"}), (r"/d", h, {"name": "d"})])
        return app

    srv = await serve(build(Application, Echo))
    tserver = tornado.httpserver.HTTPServer(build(tornado.web.Application, TEcho))
    socks = tornado.netutil.bind_sockets(0, "127.0.0.1")
    tserver.add_sockets(socks)
    tbase = f"http://127.0.0.1:{socks[0].getsockname()[1]}"
    try:
        async with httpx.AsyncClient() as c:
            for host in ("a.test", "A.TEST:99", "b.test", "test", "x.org"):
                for path in ("/", "/w", "/d", "/zz"):
                    ours = await c.get(srv.base_url + path, headers={"Host": host})
                    theirs = await c.get(tbase + path, headers={"Host": host})
                    assert ours.status_code == theirs.status_code, (host, path)
                    if ours.status_code == 200:
                        assert ours.json()["name"] == theirs.text, (host, path)
    finally:
        tserver.stop()
        await tserver.close_all_connections()


async def test_default_host(serve: Any) -> None:
    import tornado.httpserver
    import tornado.netutil
    import tornado.web

    class TEcho(tornado.web.RequestHandler):
        def initialize(self, name: str = "echo") -> None:
            self.name = name

        def get(self) -> None:
            self.write(self.name)

    def build(app_cls: Any, h: Any) -> Any:
        app = app_cls([(r"/", h, {"name": "wildcard"})], default_host="www.example.com")
        app.add_handlers(
            r"www\.example\.com",
            [(r"/", h, {"name": "www"}), (r"/www-only", h, {"name": "www-only"})],
        )
        app.add_handlers(r"other\.com", [(r"/other-only", h, {"name": "other-only"})])
        return app

    srv = await serve(build(Application, Echo))
    tserver = tornado.httpserver.HTTPServer(build(tornado.web.Application, TEcho))
    socks = tornado.netutil.bind_sockets(0, "127.0.0.1")
    tserver.add_sockets(socks)
    tbase = f"http://127.0.0.1:{socks[0].getsockname()[1]}"
    results = {}
    try:
        async with httpx.AsyncClient() as c:
            for host in ("www.example.com", "unknown.org", "other.com"):
                for proxied in (False, True):
                    headers = {"Host": host, **({"X-Real-Ip": "1.2.3.4"} if proxied else {})}
                    for path in ("/", "/www-only", "/other-only"):
                        ours = await c.get(srv.base_url + path, headers=headers)
                        theirs = await c.get(tbase + path, headers=headers)
                        assert ours.status_code == theirs.status_code, (host, proxied, path)
                        got = ours.json()["name"] if ours.status_code == 200 else 404
                        if ours.status_code == 200:
                            assert got == theirs.text
                        results[host, proxied, path] = got
    finally:
        tserver.stop()
        await tserver.close_all_connections()
    # Unknown hosts get the default host's handlers after the wildcard ones ...
    assert results["unknown.org", False, "/"] == "wildcard"
    assert results["unknown.org", False, "/www-only"] == "www-only"
    assert results["other.com", False, "/www-only"] == "www-only"
    # ... unless the request came through a proxy (X-Real-Ip), as in Tornado.
    assert results["unknown.org", True, "/www-only"] == 404
    assert results["www.example.com", True, "/www-only"] == "www-only"
    assert results["unknown.org", False, "/other-only"] == 404


# -- reverse_url --------------------------------------------------------------------------------


def test_reverse_url() -> None:
    app = Application(
        [
            url(r"/", Echo, name="home"),
            url(r"/user/(\d+)", Echo, name="user"),
            url(r"/file/([^/]+)/(.*)", Echo, name="file"),
            url(r"/named/(?P<a>\w+)", Echo, name="named"),
            url(r"/dots\.html", Echo, name="dots"),
            url(r"/pct/(\d+)%", Echo, name="pct"),
        ]
    )
    assert app.reverse_url("home") == "/"
    assert app.reverse_url("user", 42) == "/user/42"
    assert app.reverse_url("user", "42") == "/user/42"
    # As in Tornado, "/" is left alone (urllib.parse.quote's default safe characters).
    assert app.reverse_url("file", "a b", "c/d?e#f") == "/file/a%20b/c/d%3Fe%23f"
    assert app.reverse_url("file", "é", b"\xff") == "/file/%C3%A9/%FF"
    assert app.reverse_url("file", "x+y", "100%") == "/file/x%2By/100%25"
    assert app.reverse_url("named", "v") == "/named/v"
    assert app.reverse_url("dots") == "/dots.html"
    assert app.reverse_url("pct", 5) == "/pct/5%"
    with pytest.raises(KeyError):
        app.reverse_url("nope")
    with pytest.raises((ValueError, AssertionError)):
        app.reverse_url("user")  # wrong number of arguments
    with pytest.raises((ValueError, AssertionError)):
        app.reverse_url("user", 1, 2)


def test_reverse_url_matches_tornado() -> None:
    import tornado.web

    cases: list[tuple[str, tuple[Any, ...]]] = [
        (r"/", ()),
        (r"/user/(\d+)", (42,)),
        (r"/file/([^/]+)/(.*)", ("a b", "c/d?e#f")),
        (r"/file/([^/]+)/(.*)", ("é", b"\xff")),
        (r"/file/([^/]+)/(.*)", ("x+y", "100%")),
        (r"/named/(?P<a>\w+)", ("v",)),
        (r"/dots\.html", ()),
        (r"^/anchored/(\d+)$", (1,)),
        (r"/(a|b)/(\d+)", ("a", 1)),
        (r"/esc\-dash/(\w+)", ("q",)),
    ]
    for pattern, args in cases:
        ours = URLSpec(pattern, Echo).reverse(*args)
        theirs = tornado.web.URLSpec(pattern, Echo).reverse(*args)
        assert ours == theirs, pattern


@pytest.mark.parametrize(
    "pattern,tornado_raises",
    [
        (r"/x(?:y)?", True),
        (r"/\d+", True),
        (r"/((a)|b)", True),
        # Tornado "reverses" these into strings the pattern does not match
        # ("/a|/b", "/[ab]", ...); tornadish refuses.
        (r"/a|/b", False),
        (r"/(\d+)+", False),
        (r"/[ab]", False),
        (r"/a*", False),
    ],
)
def test_unreversible_pattern_raises(pattern: str, tornado_raises: bool) -> None:
    import tornado.web

    app = Application([url(pattern, Echo, name="r")])
    n = re.compile(pattern).groups
    with pytest.raises(ValueError):
        app.reverse_url("r", *range(n))
    if tornado_raises:
        with pytest.raises((ValueError, TypeError)):
            tornado.web.URLSpec(pattern, Echo).reverse(*range(n))


async def test_reverse_url_from_handler_and_nested_routers(serve: Any) -> None:
    class Linker(RequestHandler):
        def get(self) -> None:
            self.write(
                {
                    "item": self.reverse_url("item", "a b"),
                    "host": self.reverse_url("host-page"),
                    "nested": self.reverse_url("inner", 7),
                }
            )

    app = Application(
        [
            url(r"/links", Linker, name="links"),
            url(r"/item/([^/]+)", Echo, name="item"),
            Rule(PathMatches(r"/api/.*"), [url(r"/api/inner/(\d+)", Echo, name="inner")]),
        ]
    )
    app.add_handlers(r"h\.test", [url(r"/host-page", Echo, name="host-page")])
    srv = await serve(app)
    r = await fetch(srv, "/links")
    assert r.json() == {"item": "/item/a%20b", "host": "/host-page", "nested": "/api/inner/7"}
    r = await fetch(srv, "/api/inner/7")
    assert r.json()["args"] == ["7"]
    assert (await fetch(srv, "/api/other")).status_code == 404


# -- Rule / matcher objects ---------------------------------------------------------------------


async def test_rules_with_matchers_and_nested_lists(serve: Any) -> None:
    app = Application(
        [
            Rule(HostMatches(r"rules\.test"), [(r"/", Echo, {"name": "host-rule"})]),
            Rule(PathMatches(r"/prefix/.*"), [(r"/prefix/(\w+)", Echo, {"name": "nested"})]),
            Rule(AnyMatches(), [(r"/any", Echo, {"name": "any"})]),
        ]
    )
    srv = await serve(app)
    r = await fetch(srv, "/", headers={"Host": "rules.test"})
    assert r.json()["name"] == "host-rule"
    r = await fetch(srv, "/prefix/abc")
    assert r.json() == {"name": "nested", "args": ["abc"], "kwargs": {}}
    assert (await fetch(srv, "/any")).json()["name"] == "any"
    assert (await fetch(srv, "/prefix/a/b")).status_code == 404


async def test_rule_router_serving_a_callable_and_an_application(serve: Any) -> None:
    from tornadish.httputil import HTTPServerRequest

    seen: list[str] = []

    def callback(request: HTTPServerRequest) -> None:
        seen.append(request.path)
        body = b"from callable"
        request.connection.send_response(  # type: ignore[union-attr]
            200, "OK", [(b"Content-Length", str(len(body)).encode())], body, True
        )

    inner_app = Application([(r"/app/(\w+)", Echo, {"name": "inner-app"})])
    router = RuleRouter(
        [
            Rule(PathMatches(r"/app/.*"), inner_app),
            Rule(PathMatches(r"/cb"), callback),
        ]
    )
    srv = await serve(router)
    r = await fetch(srv, "/app/x")
    assert r.json() == {"name": "inner-app", "args": ["x"], "kwargs": {}}
    r = await fetch(srv, "/cb")
    assert r.text == "from callable"
    assert seen == ["/cb"]
    assert (await fetch(srv, "/none")).status_code == 404


def test_urlspec_attributes_and_repr() -> None:
    spec = URLSpec(r"/x/(\d+)", Echo, {"name": "n"}, name="x")
    assert spec.regex.pattern == r"/x/(\d+)$"
    assert spec.handler_class is Echo
    assert spec.kwargs == {"name": "n"}
    assert spec.name == "x"
    assert "URLSpec" in repr(spec) and "/x/" in repr(spec)
    assert URLSpec(r"/y$", Echo).regex.pattern == r"/y$"
    with pytest.raises(re.error):
        URLSpec(r"/(unclosed", Echo)


def test_handler_given_as_import_string() -> None:
    spec = URLSpec(r"/x", "tornadish.web.RequestHandler")
    assert spec.handler_class is RequestHandler


async def test_broken_matcher_gives_500_not_a_dropped_connection(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from tornadish.routing import Matcher

    class Broken(Matcher):
        def match(self, request: Any) -> dict[str, Any] | None:
            if request.path == "/broken":
                raise RuntimeError("matcher bug")
            return None

    srv = await serve(Application([Rule(Broken(), Echo), (r"/ok", Echo)]))
    async with httpx.AsyncClient(base_url=srv.base_url) as c:
        r = await c.get("/broken")
        assert r.status_code == 500
        assert (await c.get("/ok")).status_code == 200
    assert any(
        rec.name == "tornadish.application"
        and rec.exc_info
        and "matcher bug" in str(rec.exc_info[1])
        for rec in caplog.records
    )


async def test_custom_router_serving_handlers_through_get_handler_delegate(serve: Any) -> None:
    # A Router of the user's as the server's callback, picking handlers itself: the
    # request it built is the one the handler sees, not routed again by the application.
    from tornadish.routing import Router

    class ByMethod(Router):
        def __init__(self, app: Application) -> None:
            self.app = app

        def find_handler(self, request: Any, **kwargs: Any) -> Any:
            return self.app.get_handler_delegate(
                request, Echo, {"name": request.method}, path_args=[request.path.encode()]
            )

    srv = await serve(ByMethod(Application()))
    r = await fetch(srv, "/anything")
    assert r.json() == {"name": "GET", "args": ["/anything"], "kwargs": {}}


async def test_router_target_finding_nothing_falls_through_to_the_next_rule(serve: Any) -> None:
    from tornadish.routing import ReversibleRouter

    class Only(ReversibleRouter):
        """Serves /only/here and finds nothing for other paths its rule matched."""

        def __init__(self, app: Application) -> None:
            self.app = app

        def find_handler(self, request: Any, **kwargs: Any) -> Any:
            if request.path != "/only/here":
                return None
            return self.app.get_handler_delegate(request, Echo, {"name": "router"})

        def reverse_url(self, name: str, *args: Any) -> str | None:
            return "/only/here" if name == "only" else None

    app = Application()
    app.add_handlers(
        ".*",
        [
            Rule(PathMatches(r"/only/.*"), Only(app)),
            (r"/only/there", Echo, {"name": "next rule"}),
        ],
    )
    srv = await serve(app)
    assert (await fetch(srv, "/only/here")).json()["name"] == "router"
    assert (await fetch(srv, "/only/there")).json()["name"] == "next rule"
    assert (await fetch(srv, "/only/nowhere")).status_code == 404
    assert app.reverse_url("only") == "/only/here"
